//! Shell completions and the manual page (issue 16 item 4), generated from the command-line
//! definition: every subcommand and its options appear, the bash script is valid bash, and the
//! page renders with the system's roff (`groff`) without warnings.

use std::process::{Command, Stdio};

use crate::support::binary;

const SUBCOMMANDS: &[&str] = &[
    "detect",
    "run",
    "scan",
    "validate",
    "alerts",
    "health",
    "status",
    "exposures",
    "prune",
    "completions",
    "man",
    "config-schema",
];

fn generate(args: &[&str]) -> String {
    let out = Command::new(binary()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_cover_every_subcommand_in_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = generate(&["completions", shell]);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell}: no `{sub}`");
        }
        // Options of a subcommand, not only the names.
        assert!(script.contains("requeue"), "{shell}: no `alerts --requeue`");
    }
    let refused = Command::new(binary())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

#[test]
fn the_bash_completion_script_is_valid_bash_and_completes() {
    let script = generate(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nodeport-watch.bash");
    std::fs::write(&path, &script).unwrap();
    // Source the script, find the function it registered, and ask it to complete
    // `nodeport-watch al` as bash would.
    let probe = format!(
        "source {}; spec=$(complete -p nodeport-watch); fn=${{spec#*-F }}; fn=${{fn%% *}}; \
         COMP_WORDS=(nodeport-watch al); COMP_CWORD=1; COMP_LINE='nodeport-watch al'; \
         COMP_POINT=${{#COMP_LINE}}; \"$fn\" nodeport-watch al nodeport-watch; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replies = String::from_utf8(out.stdout).unwrap();
    assert_eq!(replies.lines().collect::<Vec<_>>(), ["alerts"], "{replies}");
}

#[test]
fn the_manual_page_documents_every_subcommand_and_renders() {
    let page = generate(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH nodeport-watch 1"),
        "{page:.200}"
    );
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!(".SH \"{}\"", sub.to_uppercase()))
                || page.contains(&format!(".SH {}", sub.to_uppercase())),
            "no section for {sub}"
        );
    }
    assert!(page.contains("requeue"), "subcommand options are listed");
    let groff = which("groff").expect("groff renders the page (Debian: groff-base)");
    let mut child = Command::new(groff)
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), page.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.trim().is_empty(), "groff warns: {warnings}");
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
