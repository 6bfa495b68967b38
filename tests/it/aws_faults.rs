//! The `aws_cloudwatch` source behind a proxy that throttles and fails: nothing is lost, nothing
//! is read twice, and the checkpoint never moves on a failed page.

use nodeport_watch::clock::ManualClock;
use nodeport_watch::ingest::DriverError;
use nodeport_watch::model::StoredCursor;
use nodeport_watch::sources::{PollMode, Progress, SourceErrorKind};
use nodeport_watch::state::Checkpoints;

use crate::support::aws_proxy::{Fault, Proxy};
use crate::support::cloudwatch::{
    Harness, at, create_stream, nodeport, noise, now_ms, put, seeding_client, service_write,
    source_toml,
};
use crate::support::moto::Moto;

const GROUP: &str = "/aws/eks/prod/cluster";
const STREAM: &str = "kube-apiserver-audit-0123456789abcdef0123456789abcdef";

async fn stored(h: &Harness) -> Option<StoredCursor> {
    h.store.load_cursor("live/eks").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_throttling_and_server_errors_lose_nothing_and_never_move_the_checkpoint() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.endpoint).await;
    let client = seeding_client(&moto.endpoint);
    create_stream(&client, GROUP, STREAM).await;
    let t0 = now_ms() - 120_000;
    // A third are Service writes: with pushdown, AWS returns pages holding only those, so a
    // poll reads several pages.
    let mut events: Vec<(i64, String)> = (0..2_400)
        .map(|i| {
            let id = format!("n{i}");
            let message = match i % 3 {
                0 => service_write(&id, "create", "ClusterIP", 201),
                _ => noise(&id, "get", "configmaps"),
            };
            (t0 + i * 20, message)
        })
        .collect();
    events.extend((0..6).map(|i| (t0 + i * 9_000 + 5, nodeport(&format!("np{i}")))));
    put(&client, GROUP, STREAM, &events).await;
    let service_writes = 800 + 6;
    proxy.evaluate_patterns(true);

    // Calls (0-based): 0 ok, 1 throttled (second page of the first poll), 2-3 throttled, 4 ok,
    // 5-6 answered 503, 7 ok.
    proxy.fail_calls(1, 3, Fault::Throttle);
    proxy.fail_calls(5, 2, Fault::ServerError);

    let state = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(now_ms()));
    let toml = source_toml(
        &proxy.endpoint,
        "clusters = [\"prod\"]\nlookback = \"5m\"\nmax_batch_entries = 1000\nmax_pages = 2",
    );
    let h = Harness::new(&toml, &state.path().join("state.db"), clock.clone());
    let mut driver = h.driver(PollMode::Live).await;

    let mut errors = Vec::new();
    let mut records = 0;
    let mut finished = false;
    for _ in 0..20 {
        let before = stored(&h).await;
        let calls_before = proxy.filter_calls();
        match driver.step().await {
            Ok(report) => {
                assert_eq!((report.already_seen, report.duplicates), (0, 0));
                records += report.stats.records;
                assert_ne!(
                    stored(&h).await,
                    before,
                    "a successful batch moves the checkpoint"
                );
                if report.progress != Progress::More {
                    finished = true;
                    break;
                }
            }
            Err(DriverError::Source(e)) => {
                assert_eq!(
                    stored(&h).await,
                    before,
                    "a failed page never moves the checkpoint"
                );
                errors.push((e.kind, proxy.filter_calls() - calls_before));
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert!(finished, "the source caught up");
    use SourceErrorKind::{Throttled, Transient};
    assert_eq!(
        errors,
        [
            // Held back from the first poll, whose first page was committed: no new call.
            (Throttled, 0),
            (Throttled, 1),
            (Throttled, 1),
            (Transient, 0),
            (Transient, 1),
        ]
    );
    assert_eq!(proxy.faults_answered(), 5);
    // 8 reads with the window's JSON pattern, and one for its cut messages once it was complete.
    assert_eq!(
        proxy.filter_calls(),
        9,
        "the SDK does not retry behind our back"
    );
    assert_eq!(
        records, service_writes,
        "every Service write read exactly once"
    );
    let expected: Vec<String> = (0..6).map(|i| format!("np{i}")).collect();
    assert_eq!(
        h.alerts().await.keys().cloned().collect::<Vec<_>>(),
        expected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_missing_log_group_or_an_unreachable_endpoint_is_reported_not_fatal_to_others() {
    let moto = Moto::start();
    let client = seeding_client(&moto.endpoint);
    create_stream(&client, GROUP, STREAM).await;
    put(
        &client,
        GROUP,
        STREAM,
        &[(now_ms() - 30_000, nodeport("np"))],
    )
    .await;

    let state = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(now_ms()));
    // `ghost` has no log group (audit logging off): it must not hold `prod` back.
    let toml = source_toml(
        &moto.endpoint,
        "clusters = [\"ghost\", \"prod\"]\nlookback = \"2m\"",
    );
    let h = Harness::new(&toml, &state.path().join("state.db"), clock.clone());
    let mut driver = h.driver(PollMode::Live).await;
    let totals = crate::support::cloudwatch::drain(&mut driver, 10).await;
    assert_eq!(totals.inserted, 1);
    assert!(h.alerts().await.contains_key("np"));

    // Nothing listens here: a transient failure, the checkpoint stays.
    let closed = format!("http://127.0.0.1:{}", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    });
    let toml = source_toml(&closed, "clusters = [\"prod\"]");
    let down = Harness::new(&toml, &state.path().join("down.db"), clock);
    let mut driver = down.driver(PollMode::Live).await;
    match driver.step().await {
        Err(DriverError::Source(e)) => {
            assert_eq!(e.kind, SourceErrorKind::Transient, "{e}");
        }
        other => panic!("expected a source error, got {other:?}"),
    }
    assert_eq!(stored(&down).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_log_group_denied_to_us_does_not_blind_the_source_to_the_others() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.endpoint).await;
    let client = seeding_client(&moto.endpoint);
    let t = now_ms() - 30_000;
    for (group, id) in [
        ("/aws/eks/a/cluster", "a-np"),
        ("/aws/eks/b/cluster", "b-np"),
    ] {
        create_stream(&client, group, STREAM).await;
        put(&client, group, STREAM, &[(t, nodeport(id))]).await;
    }
    proxy.deny_group("/aws/eks/a/cluster");

    let state = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(now_ms()));
    let toml = source_toml(
        &proxy.endpoint,
        "clusters = [\"a\", \"b\"]\nlookback = \"2m\"",
    );
    let h = Harness::new(&toml, &state.path().join("state.db"), clock);
    let mut driver = h.driver(PollMode::Live).await;
    // `a` goes first (same watermark, first name) and is refused: an error an operator must fix.
    match driver.step().await {
        Err(DriverError::Source(e)) => {
            assert_eq!(e.kind, SourceErrorKind::Fatal);
            assert!(e.message.contains("AccessDenied"), "{e}");
        }
        other => panic!("expected the access error, got {other:?}"),
    }
    // The next poll reads `b` instead of failing on `a` again.
    let report = driver.step().await.unwrap();
    assert_eq!(report.inserted, 1);
    assert_eq!(
        h.alerts().await.keys().cloned().collect::<Vec<_>>(),
        ["b-np"]
    );
    // `a` is still retried, and still reported.
    assert!(driver.step().await.is_err());
    let cursor = stored(&h)
        .await
        .unwrap()
        .decode::<nodeport_watch::sources::aws_cloudwatch::CloudWatchCursor>()
        .unwrap();
    assert_eq!(
        cursor.groups["/aws/eks/a/cluster"].watermark_ms,
        cursor.origin_ms
    );
}
