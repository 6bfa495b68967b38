//! `[server]`: where the health and metrics endpoints listen, and what "ready" means.

use std::net::SocketAddr;

use super::raw::RawServer;
use crate::validation::Problems;

pub const DEFAULT_READINESS_INTERVALS: u32 = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// A source is stale once its last successful poll is older than this many of its intervals.
    pub readiness_intervals: u32,
}

pub(super) fn build(raw: &RawServer, p: &mut Problems) -> Option<ServerSettings> {
    let listen = parse_listen(&raw.listen)
        .map_err(|e| p.push("server.listen", e))
        .ok();
    let readiness_intervals = raw
        .readiness_intervals
        .unwrap_or(DEFAULT_READINESS_INTERVALS);
    if readiness_intervals == 0 {
        p.push("server.readiness_intervals", "must be at least 1");
    }
    Some(ServerSettings {
        listen: listen?,
        readiness_intervals,
    })
}

/// `0.0.0.0:9090`, `[::]:9090`, `127.0.0.1:9090`, or `:9090` (every interface).
pub fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    let full = match value.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => value.to_owned(),
    };
    full.parse()
        .map_err(|_| format!("`{value}` is not an address like `0.0.0.0:9090` or `127.0.0.1:9090`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen(":9090").unwrap().to_string(), "0.0.0.0:9090");
        assert_eq!(parse_listen("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert!(parse_listen("localhost:9090").is_err());
        assert!(parse_listen("9090").is_err());
    }
}
