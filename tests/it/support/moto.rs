//! moto's server, a real AWS emulator, for the CloudWatch Logs and EventBridge tests.
//!
//! The first test that needs it installs moto from PyPI into a virtualenv under `target/`
//! (`target/moto-venv`) through the shared [`installer`], once: later tests and later runs reuse
//! it.
//!
//! Each test starts its own `moto_server` on a free loopback port and it is killed when the
//! [`Moto`] value is dropped. Set `NODEPORT_WATCH_PYTHON` to choose the interpreter (default
//! `python3`).

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::installer::{self, Manager};

/// Pinned so every run tests against the same emulator. `jsonpath-ng` is moto's `events`
/// extra: without it EventBridge rules fail to deliver to their targets.
const REQUIREMENTS: &[&str] = &[
    "moto==5.2.5",
    "flask==3.1.3",
    "flask-cors==6.0.5",
    "jsonpath-ng==1.8.0",
];

/// The virtualenv's `bin/`, installing it first if needed.
pub fn venv_bin() -> PathBuf {
    installer::install("moto-venv", Manager::Pip, REQUIREMENTS)
        .unwrap_or_else(|e| panic!("{e}"))
        .join("bin")
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

impl Moto {
    /// The server's process id (to sample its own CPU).
    pub fn pid(&self) -> u32 {
        self.child.id()
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
