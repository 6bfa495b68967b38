//! Deliverers under faults: a sink that panics is restarted, counted and shown by `/readyz`;
//! a sink that hangs does not hold a real daemon past its SIGTERM grace period, and its alert
//! stays pending for the next start; an endless error body is read only up to its cap.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use nodeport_watch::clock::SystemClock;
use nodeport_watch::delivery::{Deliverer, OutboxSignal, RetryPolicy};
use nodeport_watch::runtime::supervise::{Restart, supervise};
use nodeport_watch::sinks::DeliveryError;
use nodeport_watch::state::{Fence, OutboxDelivery, SqliteStore, StateStore};
use nodeport_watch::telemetry::readiness::Readiness;
use nodeport_watch::telemetry::server::{self, ServerState};
use nodeport_watch::telemetry::{Health, exporter};
use tokio_util::sync::CancellationToken;

use crate::sinks::{settings, sink};
use crate::support::daemon::Daemon;
use crate::support::fixtures::{self, nodeport_line};
use crate::support::receiver::{Receiver, Reply};
use crate::support::sinks::{Answer, RecordingSink};
use crate::support::store::{alerts, commit};
use crate::support::wait::eventually;

const WAIT: Duration = Duration::from_secs(30);

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_panicking_sink_is_restarted_counted_and_shown_by_readyz() {
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let queued = alerts(1);
    store
        .commit(commit("live/src", 1, &queued, &["flaky"]), &Fence::Sole)
        .await
        .unwrap();
    let health = Arc::new(Health::new(Arc::new(SystemClock)));
    let sink = Arc::new(RecordingSink::scripted([
        Answer::Panic,
        Answer::Panic,
        Answer::Panic,
    ]));
    let stop = CancellationToken::new();
    let restart = Restart {
        min_backoff: Duration::from_millis(300),
        max_backoff: Duration::from_millis(600),
        stable_after: Duration::from_secs(1),
    };
    let supervisor = {
        let (sink, store, stop) = (Arc::clone(&sink), Arc::clone(&store), stop.clone());
        let signal = OutboxSignal::default();
        tokio::spawn(supervise(
            "deliverer",
            "flaky".to_owned(),
            Arc::clone(&health),
            restart,
            stop.clone(),
            move || {
                Deliverer::new(
                    "flaky",
                    Arc::clone(&sink) as _,
                    Arc::clone(&store) as Arc<dyn OutboxDelivery>,
                    &signal,
                    RetryPolicy::default(),
                )
                .run(stop.clone())
            },
        ))
    };

    let readiness = Readiness::new(Arc::clone(&health), Arc::clone(&store), BTreeMap::new(), 3);
    let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metrics = exporter::install().unwrap();
    let state = ServerState {
        readiness: Arc::new(readiness),
        health: Arc::clone(&health),
        store: Arc::clone(&store),
        metrics,
    };
    tokio::spawn(server::serve(listener, state, stop.clone()));

    let down = eventually("/readyz to report the deliverer down", WAIT, async || {
        let (status, body) = get(&format!("{base}/readyz")).await;
        (status == 503 && body.contains("deliverer flaky: DOWN after a panic")).then_some(body)
    })
    .await;
    assert!(down.starts_with("not ready\n"), "{down}");
    assert!(down.contains("a bug in the sink"), "{down}");

    // Three panics, then the sink works: the alert is delivered once, and the task is up again.
    eventually("the alert delivered after the restarts", WAIT, async || {
        (sink.ids() == [queued[0].id.clone()]).then_some(())
    })
    .await;
    let up = eventually("/readyz ready again", WAIT, async || {
        let (status, body) = get(&format!("{base}/readyz")).await;
        (status == 200).then_some(body)
    })
    .await;
    assert!(
        up.contains("deliverer flaky: ok (3 restart(s) after a panic)"),
        "{up}"
    );
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("nodeport_watch_task_restarts_total{task=\"deliverer\",name=\"flaky\"} 3"),
        "{metrics}"
    );
    stop.cancel();
    supervisor.await.unwrap();
    assert_eq!(sink.ids().len(), 1, "delivered once");
}

/// A loopback server that answers every request `400` with a body announced as 1 GiB, sends
/// 256 KiB of it, then holds the connection open.
fn endless_error_body() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 1073741824\r\n\r\n",
            );
            let _ = stream.write_all(&vec![b'x'; 256 * 1024]);
            open.push(stream);
        }
    });
    url
}

#[tokio::test]
async fn a_huge_error_body_is_read_only_up_to_the_cap() {
    let url = endless_error_body();
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        &format!(
            "[[sinks]]\ntype = \"webhook\"\nname = \"w\"\nurl = \"{url}\"\ntimeout = \"120s\"\n"
        ),
    );
    let started = Instant::now();
    let result = tokio::time::timeout(WAIT, sink(&s, "w").deliver(&fixtures::alert("a-1")))
        .await
        .expect("the refusal is reported without reading the whole body");
    let Err(DeliveryError::Rejected { message }) = result else {
        panic!("{result:?}");
    };
    assert!(
        message.starts_with("webhook answered HTTP 400: xxx"),
        "{message}"
    );
    assert!(
        message.len() < 1024,
        "the excerpt is short: {}",
        message.len()
    );
    assert!(started.elapsed() < WAIT);
}

fn write_config(dir: &Path, url: &str) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[state]\npath = \"state.db\"\n\n[delivery]\npoll_interval = \"100ms\"\n\n\
             [[sources]]\ntype = \"file\"\nname = \"audit\"\npaths = [\"audit.log\"]\ninterval = \"50ms\"\n\n\
             [[sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{url}\"\ntimeout = \"10m\"\n"
        ),
    )
    .unwrap();
    config
}

/// The deployment gives the pod 60 s (`terminationGracePeriodSeconds`); the daemon must be
/// out well before, whatever a sink does.
const TERMINATION_GRACE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_sink_does_not_hold_sigterm_and_its_alert_stays_pending() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("audit.log"),
        nodeport_line("hung-1", "web", Utc::now()),
    )
    .unwrap();
    let hung = Receiver::start().await;
    hung.script(|_| Reply::Hang);
    let config = write_config(dir.path(), &hung.url("/in"));
    let log = dir.path().join("daemon.log");
    let mut daemon = Daemon::start(&config, &log);
    let sent = hung.wait_for(1, WAIT).await[0].json()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let asked = Instant::now();
    let status = daemon.terminate();
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}\n{}", daemon.log_text());
    assert!(
        took < TERMINATION_GRACE / 2,
        "stopped in {took:?}\n{}",
        daemon.log_text()
    );
    assert!(
        daemon
            .log_text()
            .contains("send abandoned at shutdown; the alert stays pending"),
        "{}",
        daemon.log_text()
    );

    // The next start delivers it to a receiver that answers.
    let ok = Receiver::start().await;
    write_config(dir.path(), &ok.url("/in"));
    let mut daemon = Daemon::start(&config, &log);
    let got = ok.wait_for(1, WAIT).await;
    assert_eq!(got[0].json()["id"], sent.as_str());
    assert!(daemon.terminate().success());
    assert_eq!(ok.requests().len(), 1, "delivered once");
}
