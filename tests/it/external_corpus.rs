//! The external corpus (third-party public audit records, `shared/corpus/external/`) through
//! the real binary: its own checker runs `detect` on every file and must report `0 failed`
//! (no alert, no crash, no panic text on any of them).
//!
//! The corpus lives beside the checkout, in a sibling `shared/` folder (`../shared` of the
//! repository here and in CI; a worktree one level deeper finds it one level up, so the
//! repository's ancestors are searched in order). `NODEPORT_WATCH_SHARED` names the folder
//! explicitly. When it is not found the test FAILS saying where it looked: a missing corpus must
//! never look like a passing one. There is deliberately no opt-out variable (it would make the
//! test report "passed" without running); to leave it out on purpose, filter it by name
//! (`cargo test --test it -- --skip external_corpus`), which the report shows as filtered out.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{binary, root};

const CHECKER: &str = "corpus/external/check_external.py";

/// The `shared/` folder: `NODEPORT_WATCH_SHARED`, else the first `<ancestor>/shared` holding
/// the checker. Errors list every place looked at.
fn shared_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("NODEPORT_WATCH_SHARED") {
        let dir = PathBuf::from(dir);
        return if dir.join(CHECKER).is_file() {
            Ok(dir)
        } else {
            Err(format!(
                "NODEPORT_WATCH_SHARED={} holds no {CHECKER}",
                dir.display()
            ))
        };
    }
    let mut looked = Vec::new();
    for ancestor in root().ancestors().skip(1) {
        let dir = ancestor.join("shared");
        if dir.join(CHECKER).is_file() {
            return Ok(dir);
        }
        looked.push(dir.display().to_string());
    }
    Err(format!(
        "no {CHECKER} found in {}; check out the shared folder beside the repository or set \
         NODEPORT_WATCH_SHARED",
        looked.join(", ")
    ))
}

#[test]
fn external_corpus_gives_no_alert_and_no_crash() {
    let shared = shared_dir().unwrap_or_else(|e| panic!("external corpus missing: {e}"));
    let out = Command::new("python3")
        .arg(shared.join(CHECKER))
        .arg(binary())
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 (needed for the external corpus): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let context = format!(
        "status {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("external-detect: "))
        .unwrap_or_else(|| panic!("no summary line\n{context}"));
    assert!(summary.ends_with(" passed, 0 failed"), "{context}");
    assert!(
        !summary.starts_with("external-detect: 0 passed"),
        "{context}"
    );
    assert!(out.status.success(), "{context}");
}
