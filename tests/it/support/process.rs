//! What `/proc` says about a child process: resident memory, threads and CPU time, for the
//! measurements.

use std::time::{Duration, Instant};

/// A `kB` field of `/proc/PID/status` (`VmRSS:`, `VmHWM:`), or a count (`Threads:`).
pub fn status_field(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// User + system CPU time so far. `/proc/PID/stat` counts in USER_HZ, which Linux fixes at
/// 100 per second for user space whatever the kernel's own tick.
pub fn cpu_time(pid: u32) -> Duration {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces; the fields after it are plain numbers.
    let after_name = &text[text.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    Duration::from_millis((fields[11] + fields[12]) * 10)
}

/// The share of one core `pid` used over `span` (0.13 = 13%), and its most threads seen.
pub async fn cpu_share_and_threads(pid: u32, span: Duration) -> (f64, u64) {
    let start = Instant::now();
    let before = cpu_time(pid);
    let mut threads = 0;
    while start.elapsed() < span {
        threads = threads.max(status_field(pid, "Threads:"));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let used = cpu_time(pid) - before;
    (used.as_secs_f64() / start.elapsed().as_secs_f64(), threads)
}

/// The `p`th percentile (nearest rank) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
