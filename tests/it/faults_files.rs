//! The `file` source when a log is rotated to a name `paths` does not match: what the writer
//! added before the rename is read before the file is forgotten, also across a restart.

use std::fs;

use nodeport_watch::sources::PollMode;

use crate::file_source::{Harness, append, drain, nodeport_line};

fn following_one_file() -> Harness {
    let mut h = Harness::new();
    // Exactly one name, as a kube-apiserver `--audit-log-path` is usually given.
    h.settings.paths = vec![h.log("audit.log")];
    h
}

#[tokio::test]
async fn the_tail_of_a_file_rotated_to_an_unmatched_name_is_read() {
    let h = following_one_file();
    let log = h.log("audit.log");
    append(&log, &nodeport_line("a", "2026-06-01T10:00:00Z"));
    let mut driver = h.driver(PollMode::Live).await;
    drain(&mut driver).await;
    // Written after our last read, then the writer renames the file and starts a new one.
    append(&log, &nodeport_line("b", "2026-06-01T10:00:01Z"));
    let rotated = h.log("audit-2026-06-01T10-00-02.000.log");
    fs::rename(&log, &rotated).unwrap();
    append(&rotated, &nodeport_line("c", "2026-06-01T10:00:02Z"));
    append(&log, &nodeport_line("d", "2026-06-01T10:00:03Z"));
    drain(&mut driver).await;
    let mut alerted = h.alerted().await;
    alerted.sort();
    assert_eq!(alerted, ["a", "b", "c", "d"]);

    // Two polls with nothing new forget it; nothing is read twice meanwhile.
    drain(&mut driver).await;
    drain(&mut driver).await;
    append(&rotated, &nodeport_line("late", "2026-06-01T10:00:04Z"));
    drain(&mut driver).await;
    assert_eq!(
        h.alerted().await.len(),
        4,
        "a forgotten file is not followed"
    );
}

#[tokio::test]
async fn a_restart_after_the_rotation_still_reads_the_tail() {
    let h = following_one_file();
    let log = h.log("audit.log");
    append(&log, &nodeport_line("a", "2026-06-01T10:00:00Z"));
    drain(&mut h.driver(PollMode::Live).await).await;
    append(&log, &nodeport_line("b", "2026-06-01T10:00:01Z"));
    fs::rename(&log, h.log("audit-old.log")).unwrap();

    let mut restarted = h.driver(PollMode::Live).await;
    drain(&mut restarted).await;
    let mut alerted = h.alerted().await;
    alerted.sort();
    assert_eq!(alerted, ["a", "b"]);
}
