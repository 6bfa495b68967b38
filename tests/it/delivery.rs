//! A sink that is down for a while, then back: every alert arrives exactly once, in order;
//! a rejected alert becomes a dead letter that `alerts --requeue` brings back.
//!
//! The deliverer runs in-process on a paused tokio clock (backoff and `Retry-After` waits pass
//! instantly, and are measured in virtual time); the receiver is real HTTP on loopback, and the
//! re-queue goes through the real binary.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nodeport_watch::config::Secret;
use nodeport_watch::config::sinks::{HttpSettings, WebhookSettings};
use nodeport_watch::delivery::{Deliverer, OutboxSignal, RetryPolicy};
use nodeport_watch::model::StoredCursor;
use nodeport_watch::sinks::OutputFormat;
use nodeport_watch::sinks::webhook::WebhookSink;
use nodeport_watch::state::{
    Checkpoints, Commit, DeliveryState, Fence, OutboxAdmin, RoutedAlert, SqliteStore,
};
use tokio_util::sync::CancellationToken;

use crate::support::daemon::run;
use crate::support::fixtures;
use crate::support::receiver::{Receiver, Reply};
use crate::support::wait::eventually;

const WAIT: Duration = Duration::from_secs(3600);

fn webhook(url: String) -> WebhookSettings {
    WebhookSettings {
        url: Secret::new(url),
        format: OutputFormat::Native,
        headers: vec![],
        hmac_secret: None,
        signature_header: "x-signature".into(),
        idempotency_header: "idempotency-key".into(),
        http: HttpSettings {
            timeout: Duration::from_secs(10),
        },
    }
}

async fn enqueue(store: &SqliteStore, ids: &[String]) {
    let alerts = ids
        .iter()
        .map(|id| RoutedAlert {
            alert: fixtures::alert(id),
            sinks: vec!["hook".into()],
        })
        .collect();
    store
        .commit(
            Commit {
                cursor_key: "live/test".into(),
                cursor: StoredCursor {
                    kind: "test".into(),
                    version: 1,
                    json: "{}".into(),
                },
                alerts,
                seen: Default::default(),
                exposures: Vec::new(),
            },
            &Fence::Sole,
        )
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn outage_then_recovery_delivers_each_alert_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let store = SqliteStore::open(&db).unwrap();
    let ids: Vec<String> = (0..12).map(|i| format!("alert-{i:02}")).collect();
    enqueue(&store, &ids).await;

    // Phase 1: nothing listens on the port — connection refused.
    let port = crate::support::daemon::free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let sink = Arc::new(WebhookSink::new(&webhook(url)).unwrap());
    let policy = RetryPolicy {
        min_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(5),
        max_attempts: None,
        idle_poll: Duration::from_secs(1),
    };
    let signal = OutboxSignal::default();
    let deliverer = Deliverer::new("hook", sink, Arc::new(store.clone()), &signal, policy);
    let stop = CancellationToken::new();
    let task = tokio::spawn(deliverer.run(stop.clone()));

    let first_attempts = || {
        let store = store.clone();
        async move {
            let rows = store
                .deliveries(&[DeliveryState::Pending], Some("hook"), 100)
                .await
                .unwrap();
            rows.iter()
                .find(|r| r.alert.id == "alert-00")
                .unwrap()
                .attempts
        }
    };
    let start = tokio::time::Instant::now();
    while first_attempts().await < 4 {
        assert!(
            start.elapsed() < WAIT,
            "the first alert was never retried 4 times"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Phase 2: the receiver is back on that port but answers 503 three times, then 429 with
    // Retry-After twice, then accepts everything except alert-04 (400, for good).
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let rx = Receiver::on(listener).await;
    let answered = Arc::new(Mutex::new(0usize));
    let count = Arc::clone(&answered);
    let rejecting = Arc::new(Mutex::new(true));
    let reject = Arc::clone(&rejecting);
    rx.script(move |req| {
        let mut n = count.lock().unwrap();
        *n += 1;
        match *n {
            1..=3 => Reply::Status(503),
            4..=5 => Reply::With(429, vec![("retry-after", "3".into())]),
            _ if req.header("idempotency-key") == Some("alert-04") && *reject.lock().unwrap() => {
                Reply::Status(400)
            }
            _ => Reply::Status(200),
        }
    });

    let remaining = || {
        let store = store.clone();
        async move {
            store
                .deliveries(&[DeliveryState::Pending], Some("hook"), 100)
                .await
                .unwrap()
                .len()
        }
    };
    let start = tokio::time::Instant::now();
    while remaining().await > 0 {
        assert!(start.elapsed() < WAIT, "alerts still pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let requests = rx.requests();
    let accepted: Vec<&str> = requests
        .iter()
        .enumerate()
        .filter(|(i, r)| *i >= 5 && r.header("idempotency-key") != Some("alert-04"))
        .map(|(_, r)| r.header("idempotency-key").unwrap())
        .collect();
    let expected: Vec<&str> = ids
        .iter()
        .map(String::as_str)
        .filter(|id| *id != "alert-04")
        .collect();
    assert_eq!(accepted, expected, "each alert once, in outbox order");
    // Every failed attempt was about the head of the queue: order is never broken.
    assert!(
        requests[..5]
            .iter()
            .all(|r| r.header("idempotency-key") == Some("alert-00"))
    );
    // Retry-After: 3 was honoured after each 429 (virtual time).
    for i in [3, 4] {
        let gap = requests[i + 1].at - requests[i].at;
        assert!(gap >= Duration::from_secs(3), "retried {gap:?} after a 429");
    }
    // The body is the alert whose id is in the header.
    for r in &requests {
        assert_eq!(r.json()["id"], r.header("idempotency-key").unwrap());
    }

    let dead = store
        .deliveries(&[DeliveryState::Dead], Some("hook"), 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].alert.id, "alert-04");
    assert!(dead[0].last_error.as_deref().unwrap().contains("HTTP 400"));

    // `alerts` lists the dead letter; `alerts --requeue` brings it back.
    let db_arg = db.to_str().unwrap();
    let listed = run(&["alerts", "--db", db_arg, "--status", "dead"]);
    assert!(listed.status.success());
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("alert-04") && listed.contains("HTTP 400"),
        "{listed}"
    );
    assert!(listed.contains("hook: 1 dead, 11 delivered"), "{listed}");

    *rejecting.lock().unwrap() = false;
    let requeued = run(&["alerts", "--db", db_arg, "--requeue", "--sink", "hook"]);
    assert!(requeued.status.success());
    assert!(String::from_utf8_lossy(&requeued.stdout).contains("re-queued 1"));
    // The deliverer finds it on its next look at the outbox.
    let before = rx.requests().len();
    let got = rx.wait_for(before + 1, WAIT).await;
    assert_eq!(got[before].header("idempotency-key"), Some("alert-04"));
    let delivered = eventually(
        "the re-queued alert to be marked delivered",
        WAIT,
        async || {
            let n = delivered_count(&store);
            (n == 12).then_some(n)
        },
    )
    .await;
    assert_eq!(delivered, 12);

    stop.cancel();
    task.await.unwrap();
}

/// Delivered rows, read synchronously through a fresh connection (the test's own polling).
fn delivered_count(store: &SqliteStore) -> usize {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM deliveries WHERE sink = 'hook' AND state = 'delivered'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as usize
}
