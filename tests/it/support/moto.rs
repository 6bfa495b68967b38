//! moto's server, a real AWS emulator, for the CloudWatch Logs tests.
//!
//! The first test that needs it installs moto from PyPI into a virtualenv under `target/`
//! (`target/moto-venv`), once: later tests and later runs reuse it. Tests run in parallel threads
//! (and maybe processes), so the install is guarded by an in-process mutex and a lock file; the
//! venv only counts as installed once a marker naming the exact requirements is written after pip
//! succeeded, so an interrupted install is thrown away and done again.
//!
//! Each test starts its own `moto_server` on a free loopback port and it is killed when the
//! [`Moto`] value is dropped. Set `NODEPORT_WATCH_PYTHON` to choose the interpreter (default
//! `python3`).

use std::fs::{self, File};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Pinned so every run tests against the same emulator.
const REQUIREMENTS: &[&str] = &["moto==5.2.5", "flask==3.1.3", "flask-cors==6.0.5"];

static INSTALL: Mutex<Option<PathBuf>> = Mutex::new(None);

/// `target/` of this build (the test binary lives in `target/<profile>/deps/`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| super::root().join("target"))
}

fn marker_text() -> String {
    REQUIREMENTS.join(" ")
}

/// The virtualenv's `bin/`, installing it first if needed.
pub fn venv_bin() -> PathBuf {
    let mut installed = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(bin) = installed.as_ref() {
        return bin.clone();
    }
    let target = target_dir();
    fs::create_dir_all(&target).expect("create target/");
    let venv = target.join("moto-venv");
    let marker = venv.join(".nodeport-watch-installed");
    let lock = File::create(target.join("moto-venv.lock")).expect("create the install lock");
    lock.lock().expect("take the install lock");
    if fs::read_to_string(&marker).ok().as_deref() != Some(marker_text().as_str()) {
        install(&venv, &marker);
    }
    drop(lock);
    let bin = venv.join("bin");
    *installed = Some(bin.clone());
    bin
}

fn install(venv: &Path, marker: &Path) {
    if venv.exists() {
        fs::remove_dir_all(venv).expect("remove a half-installed moto venv");
    }
    let python = std::env::var("NODEPORT_WATCH_PYTHON").unwrap_or_else(|_| "python3".into());
    eprintln!("installing {} into {}", marker_text(), venv.display());
    run(Command::new(&python).args(["-m", "venv"]).arg(venv));
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--disable-pip-version-check", "--quiet"])
        .args(REQUIREMENTS));
    let mut file = File::create(marker).expect("write the install marker");
    file.write_all(marker_text().as_bytes())
        .and_then(|()| file.sync_all())
        .expect("write the install marker");
}

fn run(command: &mut Command) {
    let status = command
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// A running `moto_server`, killed on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = venv_bin();
        let mut last_error = String::new();
        // A port found free can be taken before moto binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(bin.join("moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server");
            match wait_ready(&mut child, port) {
                Ok(()) => {
                    return Moto {
                        child,
                        port,
                        endpoint: format!("http://127.0.0.1:{port}"),
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = e;
                }
            }
        }
        panic!("moto_server did not start: {last_error}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("moto_server exited: {status}"));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("not listening after 60 s".into())
}
