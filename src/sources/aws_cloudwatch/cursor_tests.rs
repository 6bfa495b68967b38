use chrono::TimeZone;

use std::time::Duration;

use super::*;
use crate::model::StoredCursor;
use crate::sources::TimeRange;
use crate::sources::time_axis::{ResumePoint, skip_backlog};

fn planner() -> WindowPlanner {
    WindowPlanner {
        lag: Duration::from_secs(30),
        overlap: Duration::from_secs(120),
        max_span: Duration::from_secs(600),
    }
}

fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).unwrap()
}

fn live(now_ms: i64) -> Plan<'static> {
    Plan {
        planner: planner(),
        now: at_ms(now_ms),
        scan: None,
        filter_pattern: Some("{ $.a = 1 }"),
    }
}

const T: i64 = 1_800_000_000_000;

#[test]
fn windows_restart_overlap_behind_the_watermark_and_stop_lag_behind_now() {
    let pos = GroupPosition {
        watermark_ms: T,
        page: None,
    };
    let read = live(T + 60_000).next_read("g", &pos).unwrap();
    assert_eq!((read.start_ms, read.end_ms), (T - 120_000, T + 30_000));
    assert_eq!(read.token, None);
    assert_eq!(live(T + 30_000).next_read("g", &pos), None);
}

#[test]
fn a_paused_window_resumes_from_its_token_only_for_the_same_request() {
    let mut pos = GroupPosition {
        watermark_ms: T,
        page: None,
    };
    let plan = live(T + 60_000);
    let read = plan.next_read("g", &pos).unwrap();
    pos.pause(read.window(), "tok".into(), plan.filter_pattern, plan.now);
    assert_eq!(
        pos.watermark_ms, T,
        "a paused window does not move the watermark"
    );

    // Later, even when the horizon has moved, the same window continues.
    let later = live(T + 600_000).next_read("g", &pos).unwrap();
    assert_eq!((later.start_ms, later.end_ms), (read.start_ms, read.end_ms));
    assert_eq!(later.token.as_deref(), Some("tok"));

    // Another filter pattern, or a day later: the same window from its start.
    let other = Plan {
        filter_pattern: None,
        ..plan
    };
    assert_eq!(other.next_read("g", &pos).unwrap().token, None);
    let stale = live(T + 24 * 3600 * 1000).next_read("g", &pos).unwrap();
    assert_eq!((stale.start_ms, stale.token), (read.start_ms, None));

    pos.complete(read.window());
    assert_eq!(pos.watermark_ms, T + 30_000);
    assert_eq!(pos.page, None);
}

#[test]
fn scans_stay_inside_their_range() {
    let range = TimeRange {
        since: at_ms(T),
        until: at_ms(T + 299_999),
    };
    let plan = Plan {
        scan: Some(ScanBounds::of(&range)),
        ..live(T + 3_600_000)
    };
    let pos = GroupPosition {
        watermark_ms: T,
        page: None,
    };
    let read = plan.next_read("g", &pos).unwrap();
    assert_eq!((read.start_ms, read.end_ms), (T, T + 300_000));
    let done = GroupPosition {
        watermark_ms: T + 300_000,
        page: None,
    };
    assert_eq!(plan.next_read("g", &done), None);
}

#[test]
fn the_group_furthest_behind_goes_first_and_failing_ones_last() {
    let mut cursor = CloudWatchCursor::starting_at(T);
    cursor.follow(&[("a".into(), None), ("b".into(), Some(T + 10_000))]);
    assert_eq!(
        cursor.groups["b"].watermark_ms,
        T + 10_000,
        "starts at creation"
    );
    let plan = live(T + 60_000);
    assert_eq!(plan.pick(&cursor, |_| false).unwrap().group, "a");
    assert_eq!(plan.pick(&cursor, |g| g == "a").unwrap().group, "b");
    assert!(plan.has_work(&cursor));
    for pos in cursor.groups.values_mut() {
        pos.watermark_ms = T + 30_000;
    }
    assert!(!plan.has_work(&cursor));
}

#[test]
fn a_round_reads_every_group_once_then_rests_until_the_interval() {
    let mut cursor = CloudWatchCursor::starting_at(T);
    cursor.follow(&[("a".into(), None), ("b".into(), None)]);
    // The round began at T + 60 s: its horizon is T + 30 s (lag 30 s).
    let round = planner().horizon(at_ms(T + 60_000), None);
    assert_eq!(round, T + 30_000);
    cursor.groups.get_mut("a").unwrap().watermark_ms = round;
    assert!(
        live(T + 61_000).round_has_work(&cursor, round),
        "b is unread"
    );
    // b is read a second later; a is now a second behind, which is not enough to go on.
    cursor.groups.get_mut("b").unwrap().watermark_ms = round + 1_000;
    let plan = live(T + 62_000);
    assert!(plan.has_work(&cursor), "a has a new second to read");
    assert!(!plan.round_has_work(&cursor, round));
    // A group mid-window goes on whatever the round.
    cursor.groups.get_mut("a").unwrap().page = Some(ResumePoint {
        start_ms: T,
        end_ms: round,
        next_token: "t".into(),
        request: Some("{ $.a = 1 }".into()),
        issued_ms: T + 60_000,
    });
    assert!(plan.round_has_work(&cursor, round));
}

#[test]
fn follow_adds_and_forgets_groups() {
    let mut cursor = CloudWatchCursor::starting_at(T);
    cursor.follow(&[("a".into(), Some(T - 5_000)), ("b".into(), None)]);
    assert_eq!(
        cursor.groups["a"].watermark_ms, T,
        "never before the origin"
    );
    cursor.groups.get_mut("a").unwrap().watermark_ms = T + 1;
    cursor.follow(&[("a".into(), None), ("c".into(), None)]);
    assert_eq!(cursor.groups.keys().collect::<Vec<_>>(), ["a", "c"]);
    assert_eq!(cursor.groups["a"].watermark_ms, T + 1, "kept as it was");
}

#[test]
fn seen_ids_are_kept_while_any_window_can_reach_them() {
    let mut cursor = CloudWatchCursor::starting_at(T);
    assert_eq!(cursor.forget_before(&planner()), None);
    cursor.follow(&[("a".into(), None), ("b".into(), None)]);
    cursor.groups.get_mut("a").unwrap().watermark_ms = T + 600_000;
    assert_eq!(cursor.forget_before(&planner()), Some(T - 120_000));
    cursor.groups.get_mut("b").unwrap().watermark_ms = T + 600_000;
    cursor.groups.get_mut("b").unwrap().page = Some(ResumePoint {
        start_ms: T,
        end_ms: T + 1,
        next_token: "x".into(),
        request: None,
        issued_ms: T,
    });
    assert_eq!(cursor.forget_before(&planner()), Some(T));
    assert_eq!(cursor.position(), Some(at_ms(T + 600_000)));
}

#[test]
fn skip_backlog_moves_old_watermarks_and_reports_the_gap() {
    let mut cursor = CloudWatchCursor::starting_at(T);
    cursor.follow(&[("a".into(), None), ("b".into(), None)]);
    cursor.groups.get_mut("b").unwrap().watermark_ms = T + 7_200_000;
    let now = at_ms(T + 7_200_000);
    let skipped = skip_backlog(&mut cursor, Duration::from_secs(3600), now).unwrap();
    assert_eq!(skipped.since, at_ms(T));
    assert_eq!(skipped.until, at_ms(T + 3_600_000));
    assert_eq!(cursor.groups["a"].watermark_ms, T + 3_600_000);
    assert_eq!(cursor.groups["b"].watermark_ms, T + 7_200_000);
    assert_eq!(cursor.origin_ms, T + 3_600_000);
    assert_eq!(
        skip_backlog(&mut cursor, Duration::from_secs(3600), now),
        None
    );
}

#[test]
fn round_trips_through_the_store_format() {
    let mut cursor = CloudWatchCursor::starting_at(T);
    cursor.follow(&[("/aws/eks/a/cluster".into(), None)]);
    cursor.groups.get_mut("/aws/eks/a/cluster").unwrap().page = Some(ResumePoint {
        start_ms: T,
        end_ms: T + 5,
        next_token: "tok".into(),
        request: Some("{ $.a = 1 }".into()),
        issued_ms: T,
    });
    let stored = StoredCursor::encode(&cursor).unwrap();
    assert_eq!(stored.kind, "aws_cloudwatch");
    assert_eq!(stored.decode::<CloudWatchCursor>().unwrap(), cursor);
}
