//! Health, readiness and metrics.
//!
//! `/readyz` is driven in-process by the real source driver over a source that can be told to
//! fail, with a manual wall clock (what readiness judges by) and a paused tokio clock (what the
//! driver's backoff sleeps on). `/metrics` is scraped from the real daemon binary after it has
//! detected and delivered alerts, and parsed strictly as Prometheus text.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use nodeport_watch::alert::Router;
use nodeport_watch::clock::{Clock, ManualClock};
use nodeport_watch::sources::PollMode;
use nodeport_watch::state::{SqliteStore, StateStore};
use nodeport_watch::telemetry::readiness::Readiness;
use nodeport_watch::telemetry::server::{self, ServerState};
use nodeport_watch::telemetry::{Health, exporter};
use tokio_util::sync::CancellationToken;

use crate::support::daemon::{Daemon, free_port, run};
use crate::support::doubles::{ScriptedSource, SwitchableStore};
use crate::support::fixtures::nodeport_line;
use crate::support::ingest;
use crate::support::prom;
use crate::support::receiver::{Receiver, Reply};
use crate::support::wait::eventually;

const WAIT: Duration = Duration::from_secs(600);

async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let r = client.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// One scripted source driven by the real driver, with `/readyz` served over it.
struct Served {
    clock: ManualClock,
    store: SwitchableStore,
    health: Arc<Health>,
    base: String,
    stop: CancellationToken,
}

/// Starts the server and the driver of `source` (registered first, as the daemon's launcher
/// does), with a 10 s poll interval and readiness at 3 intervals.
async fn serve(source: &ScriptedSource, clock: ManualClock) -> Served {
    let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
    let store = SwitchableStore {
        inner: SqliteStore::open_in_memory().unwrap(),
        broken: Arc::default(),
    };
    let store_dyn: Arc<dyn StateStore> = Arc::new(store.clone());
    let services = ingest::services(Arc::clone(&store_dyn), clock_dyn, Router::default());
    let health = Arc::clone(&services.health);
    let driver = ingest::open(&services, "flaky", source.clone(), PollMode::Live, None).await;

    let interval = Duration::from_secs(10);
    let readiness = Readiness::new(
        Arc::clone(&health),
        Arc::clone(&store_dyn),
        BTreeMap::from([("flaky".to_owned(), interval)]),
        3,
    );
    let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let state = ServerState {
        readiness: Arc::new(readiness),
        health: Arc::clone(&health),
        store: Arc::clone(&store_dyn),
        metrics: exporter::install().unwrap(),
    };
    tokio::spawn(server::serve(listener, state, stop.clone()));
    health.register("flaky");
    tokio::spawn(driver.run(interval, stop.clone()));
    Served {
        clock,
        store,
        health,
        base,
        stop,
    }
}

fn manual_clock() -> ManualClock {
    ManualClock::new(Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap())
}

#[tokio::test(start_paused = true)]
async fn readyz_says_starting_until_the_first_poll_finished() {
    let clock = manual_clock();
    let source = ScriptedSource::new(Arc::new(clock.clone()));
    let held = source.gate.clone().write_owned().await;
    let Served {
        health, base, stop, ..
    } = serve(&source, clock).await;
    let client = reqwest::Client::new();
    let readyz = format!("{base}/readyz");

    let (status, body) = get(&client, &readyz).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body,
        "starting\nstate: ok\nsource flaky: starting (first poll not finished)\n"
    );

    drop(held);
    eventually("the first poll to finish", WAIT, async || {
        health.snapshot()["flaky"].last_success.map(|_| ())
    })
    .await;
    let (status, body) = get(&client, &readyz).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ready\n"), "{body}");
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn readyz_follows_sources_and_the_state_store() {
    let clock = manual_clock();
    let source = ScriptedSource::new(Arc::new(clock.clone()));
    let Served {
        clock,
        store,
        health,
        base,
        stop,
    } = serve(&source, clock).await;
    let client = reqwest::Client::new();
    let readyz = format!("{base}/readyz");

    // Polling fine: ready.
    eventually("a first successful poll", WAIT, async || {
        health.snapshot()["flaky"].last_success.map(|_| ())
    })
    .await;
    let (status, body) = get(&client, &readyz).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("source flaky: ok"), "{body}");

    // The source keeps failing: once its last success is older than 3 intervals, not ready.
    source.set_failing(true);
    eventually("three failures in a row", WAIT, async || {
        (health.snapshot()["flaky"].consecutive_failures >= 3).then_some(())
    })
    .await;
    clock.advance(chrono::Duration::seconds(29));
    assert_eq!(get(&client, &readyz).await.0, 200, "still within 3 × 10s");
    clock.advance(chrono::Duration::seconds(2));
    let (status, body) = get(&client, &readyz).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready"), "{body}");
    assert!(
        body.contains("STALE") && body.contains("simulated outage"),
        "{body}"
    );
    // Liveness is not readiness: the process still answers.
    assert_eq!(get(&client, &format!("{base}/healthz")).await.0, 200);

    // It recovers: ready again.
    source.set_failing(false);
    eventually("a successful poll after the outage", WAIT, async || {
        (health.snapshot()["flaky"].consecutive_failures == 0).then_some(())
    })
    .await;
    let (status, body) = get(&client, &readyz).await;
    assert_eq!(status, 200, "{body}");

    // A state store that stops accepting writes makes the daemon not ready.
    store.broken.store(true, Ordering::SeqCst);
    let (status, body) = get(&client, &readyz).await;
    assert_eq!(status, 503);
    assert!(body.contains("state: NOT WRITABLE"), "{body}");
    store.broken.store(false, Ordering::SeqCst);
    assert_eq!(get(&client, &readyz).await.0, 200);

    // The same numbers show in /metrics.
    let (status, text) = get(&client, &format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let metrics = prom::parse(&text).unwrap();
    assert_eq!(
        metrics.value(
            "nodeport_watch_source_consecutive_failures",
            &[("source", "flaky")]
        ),
        Some(0.0)
    );
    let last = metrics
        .value(
            "nodeport_watch_last_success_timestamp_seconds",
            &[("source", "flaky")],
        )
        .unwrap();
    assert_eq!(last, clock.now().timestamp() as f64);
    assert_eq!(
        metrics.value(
            "nodeport_watch_checkpoint_lag_seconds",
            &[("source", "flaky")]
        ),
        Some(0.0)
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_serves_health_and_prometheus_metrics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let rx = Receiver::start().await;
    // The first attempt fails, so a retry is counted.
    let first = std::sync::atomic::AtomicBool::new(true);
    rx.script(move |_| {
        if first.swap(false, Ordering::SeqCst) {
            Reply::Status(503)
        } else {
            Reply::Status(200)
        }
    });
    let port = free_port();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[state]
path = "state.db"

[delivery]
min_backoff = "10ms"
max_backoff = "100ms"

[server]
listen = "127.0.0.1:{port}"
readiness_intervals = 5

[[sources]]
type = "file"
name = "audit"
paths = ["logs"]
interval = "100ms"

[[sinks]]
type = "webhook"
name = "hook"
url = "{url}"
"#,
            url = rx.url("/hook")
        ),
    )
    .unwrap();
    let now = Utc::now();
    let mut text = String::new();
    for i in 0..3 {
        text.push_str(&nodeport_line(&format!("m-{i}"), &format!("svc-{i}"), now));
    }
    // Not JSON, but it names services and a write verb, so it is parsed, fails, and is counted.
    text.push_str("services!! create not a record\n");
    std::fs::write(dir.path().join("logs/audit.log"), text).unwrap();

    let mut daemon = Daemon::start(&config, &dir.path().join("daemon.log"));
    rx.wait_for(4, Duration::from_secs(60)).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let metrics = eventually_http(&client, &format!("{base}/metrics"), |m| {
        m.value(
            "nodeport_watch_deliveries_total",
            &[("sink", "hook"), ("outcome", "delivered")],
        ) == Some(3.0)
    })
    .await;

    let v = |name: &str, labels: &[(&str, &str)]| {
        let found = metrics.value(name, labels);
        if found.is_none() {
            eprintln!("{name} {labels:?} missing in {:#?}", metrics.samples);
        }
        found
    };
    assert_eq!(
        v("nodeport_watch_records_total", &[("source", "audit")]),
        Some(4.0)
    );
    assert_eq!(
        v(
            "nodeport_watch_records_skipped_total",
            &[("source", "audit"), ("reason", "invalid_json")]
        ),
        Some(1.0)
    );
    assert_eq!(
        v("nodeport_watch_alerts_total", &[("source", "audit")]),
        Some(3.0)
    );
    assert_eq!(
        v(
            "nodeport_watch_outbox_alerts_total",
            &[("rule", "nodeport"), ("source", "audit")]
        ),
        Some(3.0)
    );
    assert_eq!(
        v("nodeport_watch_delivery_retries_total", &[("sink", "hook")]),
        Some(1.0)
    );
    assert_eq!(
        v(
            "nodeport_watch_outbox_deliveries",
            &[("sink", "hook"), ("state", "delivered")]
        ),
        Some(3.0)
    );
    let last = v(
        "nodeport_watch_last_success_timestamp_seconds",
        &[("source", "audit")],
    )
    .unwrap();
    assert!(last >= now.timestamp() as f64 - 1.0, "{last}");
    assert_eq!(metrics.types["nodeport_watch_records_total"], "counter");
    assert_eq!(metrics.types["nodeport_watch_outbox_deliveries"], "gauge");
    assert!(metrics.help["nodeport_watch_deliveries_total"].contains("by sink"));
    assert!(metrics.help["nodeport_watch_records_total"].contains("fetched"));

    // /healthz, /readyz, and the `health` subcommand the container image uses.
    let (status, body) = get(&client, &format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        get(&client, &format!("{base}/healthz")).await,
        (200, "ok\n".into())
    );
    let config_arg = config.to_str().unwrap();
    assert!(run(&["health", "--config", config_arg]).status.success());
    assert!(run(&["health", "--url", &base, "--ready"]).status.success());

    assert!(daemon.terminate().success());
    let down = run(&["health", "--config", config_arg, "--timeout", "2s"]);
    assert!(!down.status.success(), "a stopped daemon is not healthy");
}

/// Scrapes until `accept` is satisfied; every scrape must parse.
async fn eventually_http(
    client: &reqwest::Client,
    url: &str,
    accept: impl Fn(&prom::Exposition) -> bool,
) -> prom::Exposition {
    eventually(
        "the metrics to match",
        Duration::from_secs(60),
        async || {
            let text = client.get(url).send().await.ok()?.text().await.unwrap();
            let parsed = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            accept(&parsed).then_some(parsed)
        },
    )
    .await
}
