//! The command line as a newcomer meets it (issue 11): the `file` source over compressed and
//! binary files, closed pipes on every listing command, the MITRE ids, and the small gaps
//! (`health --url` without a scheme, `--help`, `--version`, the `alerts` header, terminals,
//! colours, JSON logs). `detect`'s own input handling and `--explain` are in `cli_detect`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::binary;
use crate::support::cli_inputs::{
    alerts_of, garbage, gzip, nodeport_line, run, text, write_config,
};

#[test]
fn alerts_carry_techniques_under_their_tactics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.jsonl"),
        nodeport_line("m1", "web") + "\n",
    )
    .unwrap();
    let out = run(&["detect", "a.jsonl"], dir.path());
    let alerts = alerts_of(&out);
    assert_eq!(
        alerts[0]["mitre"],
        serde_json::json!([
            {"tactic": "Initial Access", "tactic_id": "TA0001", "technique_id": "T1190", "technique": "Exploit Public-Facing Application"},
            {"tactic": "Persistence", "tactic_id": "TA0003", "technique_id": "T1133", "technique": "External Remote Services"}
        ])
    );
}

/// Runs the binary with its stdout closed before it writes: it must end as if all went well.
fn assert_quiet_on_closed_pipe(args: &[&str], dir: &Path) {
    let mut child = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    for bad in ["panicked", "Broken pipe", "os error 32"] {
        assert!(!stderr.contains(bad), "{args:?}: {stderr}");
    }
}

/// A scan of a folder with a gzip export, a plain log and a binary file, through the binary;
/// returns the folder (with its state database) and the scan's output.
fn scan_folder() -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(
        logs.join("export-1"),
        gzip(&(nodeport_line("s-1", "from-gzip") + "\n")),
    )
    .unwrap();
    std::fs::write(
        logs.join("audit.log"),
        nodeport_line("s-2", "from-text") + "\n",
    )
    .unwrap();
    std::fs::write(logs.join("core.dump"), garbage()).unwrap();
    write_config(dir.path(), "state.db", "logs", "");
    let out = run(
        &["scan", "--config", "config.toml", "--since", "1h"],
        dir.path(),
    );
    (dir, out)
}

#[test]
fn file_source_reads_gzip_whole_and_skips_binary_with_a_warning() {
    let (_dir, out) = scan_folder();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let mut services: Vec<String> = alerts_of(&out)
        .iter()
        .map(|a| a["service"].as_str().unwrap().to_owned())
        .collect();
    services.sort();
    assert_eq!(services, vec!["from-gzip", "from-text"], "{stderr}");
    assert!(
        stderr.contains("WARN") && stderr.contains("file is not text (binary data); skipped"),
        "{stderr}"
    );
    assert!(stderr.contains("core.dump"), "{stderr}");
    assert!(
        stderr.ends_with("scan: records=2 alerts found=2 newly queued=2 already in the outbox (queued or delivered before)=0\n"),
        "{stderr}"
    );
}

#[test]
fn a_second_scan_says_its_alerts_were_already_in_the_outbox() {
    let (dir, first) = scan_folder();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let again = run(
        &["scan", "--config", "config.toml", "--since", "1h"],
        dir.path(),
    );
    let stderr = text(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    assert!(alerts_of(&again).is_empty(), "nothing is delivered twice");
    assert!(
        stderr.ends_with("scan: records=2 alerts found=2 newly queued=0 already in the outbox (queued or delivered before)=2\n"),
        "{stderr}"
    );
}

#[test]
fn listing_commands_end_quietly_when_the_reader_goes_away() {
    let (dir, out) = scan_folder();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let many: String = (0..3000)
        .map(|i| nodeport_line(&format!("p{i}"), &format!("svc-{i}")) + "\n")
        .collect();
    std::fs::write(dir.path().join("many.jsonl"), many).unwrap();
    assert_quiet_on_closed_pipe(&["detect", "many.jsonl"], dir.path());
    assert_quiet_on_closed_pipe(
        &["alerts", "--db", "state.db", "--status", "all"],
        dir.path(),
    );
    assert_quiet_on_closed_pipe(
        &["alerts", "--db", "state.db", "--status", "all", "--json"],
        dir.path(),
    );
}

#[test]
fn the_alerts_table_has_a_header() {
    let (dir, out) = scan_folder();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = run(
        &["alerts", "--db", "state.db", "--status", "all"],
        dir.path(),
    );
    let stdout = text(&listed.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "out: 2 delivered", "{stdout}");
    assert_eq!(lines[1], "");
    let header: Vec<&str> = lines[2].split("  ").filter(|c| !c.is_empty()).collect();
    let header: Vec<&str> = header.iter().map(|c| c.trim()).collect();
    assert_eq!(
        header,
        [
            "SINK",
            "STATE",
            "ATTEMPTS",
            "UPDATED",
            "SEVERITY",
            "RULE",
            "ALERT ID",
            "CLUSTER",
            "SERVICE",
            "LAST ERROR"
        ]
    );
    assert_eq!(lines.len(), 5, "{stdout}");
    // Aligned: every row's cells start under their header.
    for row in &lines[3..] {
        assert!(row.starts_with("out "), "{stdout}");
        let state_column = lines[2].find("STATE").unwrap();
        assert_eq!(row.find("delivered"), Some(state_column), "{stdout}");
    }
    let json = run(
        &[
            "alerts", "--db", "state.db", "--status", "all", "--output", "json",
        ],
        dir.path(),
    );
    let rows: Vec<serde_json::Value> = text(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["state"] == "delivered"));
}

#[test]
fn health_accepts_host_and_port_without_a_scheme() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: the request is made (no URL error) and fails to connect.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("127.0.0.1:{port}");
    let out = run(&["health", "--url", &url, "--timeout", "2s"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!("http://{url}/healthz: ")),
        "{stdout}"
    );
    assert!(stdout.contains("Connection refused"), "{stdout}");

    let out = run(&["health", "--url", "ftp://127.0.0.1:1"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "nodeport-watch: --url ftp://127.0.0.1:1: the scheme `ftp` is not served; give http://HOST:PORT (e.g. http://127.0.0.1:9090)\n"
    );
}

#[test]
fn help_lists_the_formats_and_version_names_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let help = text(&run(&["detect", "--help"], dir.path()).stdout);
    assert!(
        help.contains("[default: auto] [possible values: auto, k8s, eks, gke, aks]"),
        "{help}"
    );
    let version = text(&run(&["--version"], dir.path()).stdout);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_owned(), |o| text(&o.stdout).trim().to_owned());
    assert_eq!(
        version,
        format!(
            "nodeport-watch {} (commit {head})\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

/// Runs `command` (a shell command line) under `script`, so it sees a terminal; returns what
/// the terminal showed once `done` says enough was read, after sending `input`.
fn on_a_terminal(command: &str, env: &[(&str, &str)], done: &str, input: &[u8]) -> String {
    use std::io::Read;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let mut child = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("`script` (util-linux) runs a command on a pseudo-terminal");
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while !text(&seen).contains(done) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "waited 20s for {done:?}; the terminal showed {:?}",
                    text(&seen)
                );
            }
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(5)) {
        seen.extend(chunk);
    }
    let _ = child.kill();
    let _ = child.wait();
    text(&seen)
}

#[test]
fn detect_on_a_terminal_says_it_reads_the_terminal() {
    let bin = binary();
    let shown = on_a_terminal(
        &format!("{} detect", bin.display()),
        &[("NO_COLOR", "1")],
        "end with Ctrl-D",
        b"\x04",
    );
    assert!(
        shown.starts_with("nodeport-watch detect: reading audit records from the terminal; give a file (or pipe one in), end with Ctrl-D"),
        "{shown:?}"
    );
    // Ctrl-D ends the input: the run finishes with its summary.
    assert!(shown.contains("records=0 events=0"), "{shown:?}");
}

#[test]
fn log_colours_honour_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, garbage()).unwrap();
    let command = format!("{} detect {}", binary().display(), junk.display());
    let coloured = on_a_terminal(&command, &[], "alerts=0", b"");
    assert!(coloured.contains("\x1b["), "{coloured:?}");
    let plain = on_a_terminal(&command, &[("NO_COLOR", "1")], "alerts=0", b"");
    assert!(
        plain.contains("WARN") && !plain.contains('\x1b'),
        "{plain:?}"
    );
}

#[test]
fn the_daemon_logs_its_listen_address_plainly_and_health_reaches_it() {
    use std::time::{Duration, Instant};

    use crate::support::daemon::{Daemon, free_port};

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(dir.path().join("audit.jsonl"), "").unwrap();
    write_config(
        dir.path(),
        ":memory:",
        &dir.path().join("audit.jsonl").display().to_string(),
        &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let mut daemon = Daemon::start(&dir.path().join("config.toml"), &dir.path().join("log"));
    let url = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = run(&["health", "--url", &url, "--timeout", "1s"], dir.path());
        if out.status.success() {
            assert_eq!(
                text(&out.stdout),
                format!("http://{url}/healthz: HTTP 200 ok\n")
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon never answered: {}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon.terminate();
    let log = daemon.log_text();
    assert!(log.contains(&format!("listen={url}")), "{log}");
    assert!(!log.contains("Some("), "{log}");
}

#[test]
fn validate_speaks_json_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), ":memory:", "logs", "");
    let out = run(
        &[
            "validate",
            "--log-format",
            "json",
            "--config",
            "config.toml",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "info");
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("config.toml: configuration valid (1 sources, 1 sinks"),
        "{lines:?}"
    );

    std::fs::write(dir.path().join("bad.toml"), "[state]\npath = 5\n").unwrap();
    let out = run(
        &["validate", "--log-format", "json", "--config", "bad.toml"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(!stderr.is_empty());
    for line in stderr.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(v["level"], "error", "{line}");
    }
}
