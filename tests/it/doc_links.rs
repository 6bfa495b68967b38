//! The documentation holds together: every relative link in `README.md` and `docs/` reaches an
//! existing file and, with `#anchor`, one of that file's headings (GitHub's anchor rules), and
//! the README shows the two commands the project promises (the demo daemon and the test suite).
//!
//! Markdown is scanned by hand (headings and `](target)` outside code fences) rather than with
//! a Markdown crate: the docs use nothing more, and a new dev-dependency is not worth it.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::support::root;

#[test]
fn every_relative_link_reaches_a_file_and_a_heading() {
    let root = root();
    let files = markdown_files(root);
    assert!(
        files.iter().any(|f| f.ends_with("docs/README.md")),
        "docs/README.md (the index) is missing"
    );
    let broken = broken_links(root, &files);
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_shows_the_demo_and_the_test_command() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for command in [
        "cargo run --release -- run --config config/demo.toml",
        "cargo test --locked",
        "cargo install --locked --path .",
        "docker build -t nodeport-watch .",
    ] {
        assert!(
            readme.contains(command),
            "README.md no longer shows `{command}`"
        );
    }
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.contains("cargo test --locked"),
        ".ci/run no longer runs the README's test command"
    );
}

#[test]
fn the_checker_finds_a_missing_file_and_a_missing_heading() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(
        dir.path().join("README.md"),
        "# Title\n\n[ok](docs/a.md#the-a-page) [ok](#title) [web](https://example.com/x)\n\
         [gone](docs/gone.md) [no heading](docs/a.md#nowhere)\n\
         ```\n[in a fence](docs/fenced.md)\n```\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("docs/a.md"),
        "# The `a` page!\n\n[up](../README.md#title)\n",
    )
    .unwrap();
    let files = markdown_files(dir.path());
    let broken = broken_links(dir.path(), &files);
    assert_eq!(
        broken,
        vec![
            "README.md:4: docs/gone.md: no such file".to_owned(),
            "README.md:4: docs/a.md#nowhere: no heading `nowhere` in docs/a.md".to_owned(),
        ],
    );
}

/// `README.md` and every `.md` file under `docs/`.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().and_then(|e| e.to_str()) == Some("md") {
                out.push(path);
            }
        }
    }
    let mut files = vec![root.join("README.md")];
    walk(&root.join("docs"), &mut files);
    files.sort();
    files
}

/// One line per broken link: `FILE:LINE: TARGET: what is wrong`.
fn broken_links(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut broken = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = relative(root, file);
        for (number, line) in lines_outside_fences(&text) {
            for target in link_targets(line) {
                let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
                let resolved = if path.is_empty() {
                    file.clone()
                } else {
                    normalize(&file.parent().unwrap().join(path))
                };
                if !resolved.exists() {
                    broken.push(format!("{shown}:{number}: {target}: no such file"));
                    continue;
                }
                if anchor.is_empty() {
                    continue;
                }
                let headings = std::fs::read_to_string(&resolved)
                    .map(|t| heading_anchors(&t))
                    .unwrap_or_default();
                if !headings.contains(anchor) {
                    broken.push(format!(
                        "{shown}:{number}: {target}: no heading `{anchor}` in {}",
                        relative(root, &resolved)
                    ));
                }
            }
        }
    }
    broken
}

/// Lines with their 1-based numbers, leaving out fenced code blocks.
fn lines_outside_fences(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut in_fence = false;
    text.lines().enumerate().filter_map(move |(index, line)| {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            return None;
        }
        (!in_fence).then_some((index + 1, line))
    })
}

/// The targets of `[text](target)` links on a line that are neither web addresses nor mail.
fn link_targets(line: &str) -> Vec<&str> {
    line.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &line[at + 2..];
            let end = rest.find(')')?;
            Some(&rest[..end])
        })
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .filter(|t| !t.contains("://") && !t.starts_with("mailto:"))
        .collect()
}

/// The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as
/// hyphens, and `-1`, `-2`… for repeated headings.
fn heading_anchors(text: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    for (_, line) in lines_outside_fences(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        let Some(title) = line[hashes..].strip_prefix(' ') else {
            continue;
        };
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let base: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut anchor = base.clone();
        let mut repeat = 0;
        while anchors.contains(&anchor) {
            repeat += 1;
            anchor = format!("{base}-{repeat}");
        }
        anchors.insert(anchor);
    }
    anchors
}

/// `a/b/../c` as `a/c`, without touching the file system (the target may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A path under `root`, with `/` separators, as the docs write it.
fn relative(root: &Path, path: &Path) -> String {
    let path = path.strip_prefix(root).unwrap_or(path);
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
