//! The one emulator installer: "install these packages with pip or npm under `target/<dir>`,
//! once". moto (PyPI), Azurite (npm) and any later emulator go through it.
//!
//! `target/` is found one way: cargo tells integration tests their `target/tmp` at build time
//! (`CARGO_TARGET_TMPDIR`), and its parent is the target directory, wherever `--target-dir` or
//! `CARGO_TARGET_DIR` put it. Tests run in parallel threads and maybe processes, so an install
//! happens under an in-process cache and a lock file (`target/<dir>.lock`); it only counts once
//! a marker naming the exact packages is written after the package manager succeeded, so an
//! interrupted or outdated install is thrown away and done again. A missing `python3` or `npm`
//! is an error naming what to install, never a silent skip.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Which package manager installs the packages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    /// A virtualenv at the install directory (`bin/` holds the tools); `NODEPORT_WATCH_PYTHON`
    /// chooses the interpreter (default `python3`).
    Pip,
    /// A private npm project at the install directory (`node_modules/` holds the packages).
    Npm,
}

const MARKER: &str = ".nodeport-watch-installed";

/// The target directory of this build.
pub fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map_or_else(|| tmp.to_path_buf(), Path::to_path_buf)
}

/// Installs `packages` (pinned, `name==1.2.3` or `name@1.2.3`) with `manager` into
/// `target/<dir>` unless that exact set is already there; returns the directory.
pub fn install(dir: &str, manager: Manager, packages: &[&str]) -> Result<PathBuf, String> {
    static DONE: Mutex<Option<HashMap<String, Result<PathBuf, String>>>> = Mutex::new(None);
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    let done = done.get_or_insert_with(HashMap::new);
    if let Some(result) = done.get(dir) {
        return result.clone();
    }
    let result = install_locked(dir, manager, packages);
    done.insert(dir.to_owned(), result.clone());
    result
}

fn install_locked(dir: &str, manager: Manager, packages: &[&str]) -> Result<PathBuf, String> {
    let target = target_dir();
    fs::create_dir_all(&target).map_err(|e| format!("create {}: {e}", target.display()))?;
    let home = target.join(dir);
    let marker = home.join(MARKER);
    let wanted = packages.join(" ");
    let lock_path = target.join(format!("{dir}.lock"));
    let lock =
        File::create(&lock_path).map_err(|e| format!("create {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("lock {}: {e}", lock_path.display()))?;
    if fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(home);
    }
    if home.exists() {
        fs::remove_dir_all(&home).map_err(|e| format!("remove a stale {}: {e}", home.display()))?;
    }
    eprintln!("installing {wanted} into {}", home.display());
    match manager {
        Manager::Pip => {
            let python =
                std::env::var("NODEPORT_WATCH_PYTHON").unwrap_or_else(|_| "python3".into());
            run(
                Command::new(&python).args(["-m", "venv"]).arg(&home),
                "python3",
            )?;
            run(
                Command::new(home.join("bin/pip"))
                    .args(["install", "--disable-pip-version-check", "--quiet"])
                    .args(packages),
                "python3 with venv and pip",
            )?;
        }
        Manager::Npm => {
            fs::create_dir_all(&home).map_err(|e| e.to_string())?;
            fs::write(home.join("package.json"), "{\"private\": true}\n")
                .map_err(|e| e.to_string())?;
            run(
                Command::new("npm")
                    .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                    .args(packages)
                    .current_dir(&home),
                "node and npm",
            )?;
        }
    }
    let mut file = File::create(&marker).map_err(|e| e.to_string())?;
    file.write_all(wanted.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("write {}: {e}", marker.display()))?;
    Ok(home)
}

fn run(command: &mut Command, needs: &str) -> Result<(), String> {
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {command:?} (install {needs}): {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {status}"))
    }
}
