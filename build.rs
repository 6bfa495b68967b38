//! Stamps the git commit into `nodeport-watch --version`, so a report names the exact build.
//!
//! `NODEPORT_WATCH_COMMIT` in the environment wins (a container build has no `.git`: pass it
//! as a build argument); otherwise `git rev-parse` is asked, and outside a checkout the commit
//! is "unknown" rather than a failed build.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=NODEPORT_WATCH_COMMIT");
    let commit = std::env::var("NODEPORT_WATCH_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    // A new commit or checkout moves HEAD's reflog: stamp again then.
    for path in ["HEAD", "logs/HEAD"] {
        if let Some(file) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    println!("cargo:rustc-env=NODEPORT_WATCH_COMMIT={commit}");
}
