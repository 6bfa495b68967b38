//! Who this replica is in the shared store: `POD_NAME` when Kubernetes sets it (stable across
//! a container restart in the same pod, readable in `status`), else `host-pid-random`. The
//! random part keeps two processes apart even when a PID is reused on one host.

/// A replica's id and the host it runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaId {
    pub id: String,
    pub host: String,
}

/// At most this many characters of anything taken from the environment.
const MAX_PART: usize = 63;

impl ReplicaId {
    pub fn from_environment() -> Self {
        let host = hostname();
        let pod = std::env::var("POD_NAME").ok().map(|p| printable(&p));
        let suffix = format!("{:08x}", fastrand::u32(..));
        let id = match pod.filter(|p| !p.is_empty()) {
            // A restarted container of the same pod must not look like its predecessor, whose
            // leases may still be live: the suffix tells them apart.
            Some(pod) => format!("{pod}-{suffix}"),
            None => format!("{host}-{}-{suffix}", std::process::id()),
        };
        ReplicaId { id, host }
    }
}

/// The kernel's host name (Linux), else `HOSTNAME`, else `unknown`.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| printable(h.trim()))
        .unwrap_or_default();
    if name.is_empty() {
        "unknown".to_owned()
    } else {
        name
    }
}

/// Keeps what is safe to show an operator: letters, digits, `-`, `.`, `_`.
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(MAX_PART)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_printable_and_distinct() {
        let a = ReplicaId::from_environment();
        let b = ReplicaId::from_environment();
        assert_ne!(a.id, b.id);
        assert!(a.id.chars().all(|c| c.is_ascii_graphic()), "{}", a.id);
        assert_eq!(printable("pod-1\u{1b}[31m\n"), "pod-131m");
    }
}
