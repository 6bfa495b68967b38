//! Inputs and runs for the command-line tests (`cli`, `cli_detect`): Service audit lines,
//! gzip and binary bytes, a `file`-source config, the binary run in a folder.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

use super::binary;

pub fn service_line(audit_id: &str, name: &str, extra: &str) -> String {
    format!(
        r#"{{"kind":"Event","auditID":"{audit_id}","stage":"ResponseComplete","verb":"create","objectRef":{{"resource":"services","namespace":"ns","name":"{name}"}},"responseStatus":{{"code":201}}{extra}}}"#
    )
}

pub fn nodeport_line(audit_id: &str, name: &str) -> String {
    service_line(
        audit_id,
        name,
        r#","requestObject":{"kind":"Service","spec":{"type":"NodePort","selector":{"a":"b"},"ports":[{"port":8080,"targetPort":8080}]}}"#,
    )
}

pub fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// Bytes that are not text: a fixed pseudo-random sequence with NULs in it.
pub fn garbage() -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

pub fn run(args: &[&str], dir: &Path) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `config.toml` in `dir`: one `file` source over `paths`, a `stdout` sink, and `extra` TOML.
pub fn write_config(dir: &Path, state: &str, paths: &str, extra: &str) {
    let config = format!(
        "{extra}\n[state]\npath = \"{state}\"\n\n[[sources]]\ntype = \"file\"\nname = \"files\"\n\
         paths = [\"{paths}\"]\n\n[[sinks]]\ntype = \"stdout\"\nname = \"out\"\n"
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn alerts_of(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
