//! The arrows of the data flow point one way: no import cycle between the top-level modules of
//! `src/`, nor between the parts of `src/config/`.
//!
//! The check reads the sources rather than compiling them (`cargo-modules` would cost a build
//! of its own in CI): every `crate::…`, `super::…` and `self::…` path, `use` groups included,
//! is resolved against the file's place in the module tree; a path naming an item re-exported
//! by the parent's `mod.rs` (`pub use child::{Item}`) counts as a use of that child. Unit-test
//! modules (`#[cfg(test)] mod …`, at the bottom of a file or in a file of their own) are left
//! out: they may reach anywhere.
//! A failure prints every edge that lies on a cycle, with the line that makes it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use crate::support::root;

#[test]
fn top_level_modules_form_no_cycle() {
    Graph::of(&[]).assert_acyclic("top-level modules of src/");
}

#[test]
fn config_parts_form_no_cycle() {
    Graph::of(&["config"]).assert_acyclic("parts of src/config/");
}

/// The check itself: it finds a cycle where there is one, and names the line that makes it.
#[test]
fn the_check_finds_a_planted_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    fs::create_dir_all(src.join("low")).unwrap();
    fs::write(src.join("lib.rs"), "pub mod high;\npub mod low;\n").unwrap();
    fs::write(src.join("low/mod.rs"), "mod part;\npub use part::Thing;\n").unwrap();
    fs::write(
        src.join("low/part.rs"),
        "use crate::{model, high::Up};\n// use crate::nowhere::X;\n",
    )
    .unwrap();
    fs::write(
        src.join("high.rs"),
        "use crate::low::Thing;\n#[cfg(test)]\nmod tests {\n    use crate::model::X;\n}\n",
    )
    .unwrap();
    let graph = Graph::scan(src, &[]);
    let cycle = graph.edges_on_cycles();
    let names: Vec<_> = cycle.iter().map(|(a, b, _)| format!("{a}->{b}")).collect();
    assert_eq!(names, ["high->low", "low->high"]);
    assert!(
        cycle[1]
            .2
            .ends_with("low/part.rs:1: use crate::{model, high::Up};")
    );
    assert!(
        graph
            .without(&BTreeSet::from([("low".into(), "high".into())]))
            .edges_on_cycles()
            .is_empty()
    );
}

/// Module-to-module uses under one parent module, each with the first line that makes it.
struct Graph {
    edges: BTreeMap<(String, String), String>,
}

impl Graph {
    /// The graph of the children of `parent` (the crate root when empty) in this crate's `src/`.
    fn of(parent: &[&str]) -> Graph {
        Graph::scan(&root().join("src"), parent)
    }

    fn scan(src: &Path, parent: &[&str]) -> Graph {
        let parent: Vec<String> = parent.iter().map(|s| (*s).to_owned()).collect();
        let dir = parent.iter().fold(src.to_path_buf(), |d, p| d.join(p));
        let facade = if parent.is_empty() {
            src.join("lib.rs")
        } else {
            dir.join("mod.rs")
        };
        let children = children(&dir, &facade);
        let reexports = reexports(&fs::read_to_string(&facade).unwrap_or_default());
        let mut edges = BTreeMap::new();
        let files = rust_files(&dir);
        let tests_only = test_only_files(&files);
        for file in files {
            if file == facade || file.ends_with("main.rs") && parent.is_empty() {
                continue;
            }
            if tests_only.contains(&file) {
                continue;
            }
            let module = module_path(src, &file);
            let Some(own) = module.get(parent.len()).cloned() else {
                continue;
            };
            let text = fs::read_to_string(&file).unwrap();
            for (line_no, line, path) in paths_in(&text) {
                let Some(absolute) = resolve(&module, &path) else {
                    continue;
                };
                if absolute.len() <= parent.len() || absolute[..parent.len()] != parent[..] {
                    continue;
                }
                let named = &absolute[parent.len()];
                let target = if children.contains(named) {
                    named.clone()
                } else if let Some(child) = reexports.get(named) {
                    child.clone()
                } else {
                    continue;
                };
                if target != own {
                    let shown = file.strip_prefix(src).unwrap_or(&file).display();
                    edges
                        .entry((own.clone(), target))
                        .or_insert_with(|| format!("{shown}:{line_no}: {}", line.trim()));
                }
            }
        }
        Graph { edges }
    }

    fn without(&self, tolerated: &BTreeSet<(String, String)>) -> Graph {
        let edges = self
            .edges
            .iter()
            .filter(|(edge, _)| !tolerated.contains(*edge))
            .map(|(e, w)| (e.clone(), w.clone()))
            .collect();
        Graph { edges }
    }

    fn reaches(&self, from: &str, to: &str) -> bool {
        let mut queue = VecDeque::from([from.to_owned()]);
        let mut seen = BTreeSet::new();
        while let Some(at) = queue.pop_front() {
            if at == to {
                return true;
            }
            if seen.insert(at.clone()) {
                queue.extend(
                    self.edges
                        .keys()
                        .filter(|(a, _)| *a == at)
                        .map(|(_, b)| b.clone()),
                );
            }
        }
        false
    }

    /// Every edge `a -> b` where `b` leads back to `a`, with its witness line.
    fn edges_on_cycles(&self) -> Vec<(String, String, String)> {
        self.edges
            .iter()
            .filter(|((a, b), _)| self.reaches(b, a))
            .map(|((a, b), w)| (a.clone(), b.clone(), w.clone()))
            .collect()
    }

    fn assert_acyclic(&self, what: &str) {
        let on_cycles = self.edges_on_cycles();
        let listing: Vec<String> = on_cycles
            .iter()
            .map(|(a, b, w)| format!("  {a} -> {b}   ({w})"))
            .collect();
        assert!(
            on_cycles.is_empty(),
            "the {what} import each other; these edges lie on a cycle:\n{}",
            listing.join("\n")
        );
    }
}

/// The child modules of `dir`: `x.rs` and `x/` (the facade itself excluded).
fn children(dir: &Path, facade: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path == facade || path.ends_with("main.rs") {
            continue;
        }
        if path.is_dir() {
            out.insert(file_name(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.insert(file_name(&path).trim_end_matches(".rs").to_owned());
        }
    }
    out
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    if last != "mod.rs" && last != "lib.rs" {
        parts.push(last.trim_end_matches(".rs").to_owned());
    }
    parts
}

/// Items a facade re-exports from its children: `pub use child::{A, b::C}` maps `A` and `C`
/// to `child`.
fn reexports(facade: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for statement in code_of(facade).split(';') {
        let statement = statement.trim();
        let Some(rest) = statement
            .strip_prefix("pub use ")
            .or_else(|| statement.strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        for path in expand(rest.trim()) {
            if path.len() >= 2 && !["crate", "super", "self"].contains(&path[0].as_str()) {
                let item = path.last().cloned().unwrap_or_default();
                let item = item.split(" as ").last().unwrap_or(&item).trim().to_owned();
                out.insert(item, path[0].clone());
            }
        }
    }
    out
}

/// The file without comments and without its unit-test module.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut previous = "";
    for line in text.lines() {
        if previous.trim() == "#[cfg(test)]" && line.trim_start().starts_with("mod ") {
            out.truncate(out.len() - previous.len() - 1);
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        out.push_str(code);
        out.push('\n');
        previous = code;
    }
    out
}

/// Every path starting with `crate`, `super` or `self`, expanded (`use` groups give one path
/// per member), with the line it starts on.
fn paths_in(text: &str) -> Vec<(usize, String, Vec<String>)> {
    let code = code_of(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let starts_word = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != b'$';
        let rest = &code[i..];
        let head = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|h| rest.starts_with(h));
        if let (true, Some(_)) = (starts_word, head) {
            let end = path_end(rest);
            let line_no = code[..i].matches('\n').count() + 1;
            let line = lines.get(line_no - 1).copied().unwrap_or("").to_owned();
            for path in expand(&rest[..end]) {
                out.push((line_no, line.clone(), path));
            }
            i += end.max(1);
        } else {
            i += 1;
        }
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Where a path (with balanced `{…}` groups) ends.
fn path_end(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => return i,
            _ => {}
        }
    }
    text.len()
}

/// `a::{b, c::{d}}` → `[a, b]`, `[a, c, d]`.
fn expand(path: &str) -> Vec<Vec<String>> {
    let path = path.trim();
    let Some(open) = path.find('{') else {
        let segments: Vec<String> = path
            .split("::")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        return vec![segments];
    };
    let prefix: Vec<String> = path[..open]
        .split("::")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
    let mut members = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                members.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    members.push(&inner[start..]);
    members
        .into_iter()
        .filter(|m| !m.trim().is_empty())
        .flat_map(expand)
        .map(|tail| prefix.iter().cloned().chain(tail).collect())
        .collect()
}

/// The absolute module path a path names, from a file in `module`.
fn resolve(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut at: Vec<String> = module.to_vec();
    let mut rest = path;
    match rest.first()?.as_str() {
        "crate" => {
            at.clear();
            rest = &rest[1..];
        }
        "self" => rest = &rest[1..],
        "super" => {}
        _ => return None,
    }
    while rest.first().is_some_and(|s| s == "super") {
        at.pop()?;
        rest = &rest[1..];
    }
    at.extend(rest.iter().cloned());
    Some(at)
}

/// Files that are unit-test modules kept apart from their parent
/// (`#[cfg(test)] #[path = "x_tests.rs"] mod …;`): left out like the test modules at the bottom
/// of a file.
fn test_only_files(files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    for file in files {
        let text = fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            if pair[0] == "#[cfg(test)]"
                && let Some(rest) = pair[1].strip_prefix("#[path = \"")
                && let Some(name) = rest.strip_suffix("\"]")
                && let Some(dir) = file.parent()
            {
                found.insert(dir.join(name));
            }
        }
    }
    found
}
