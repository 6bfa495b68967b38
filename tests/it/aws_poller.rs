//! The `aws_cloudwatch` source against moto: what alerts, from which cluster, exactly once.

use chrono::Duration;
use nodeport_watch::clock::ManualClock;
use nodeport_watch::sources::PollMode;

use crate::support::cloudwatch::{
    Harness, at, create_stream, drain, nodeport, noise, now_ms, put, seeding_client, service_write,
    source_toml,
};
use crate::support::moto::Moto;

const AUDIT_A: &str = "kube-apiserver-audit-0123456789abcdef0123456789abcdef";
const AUDIT_B: &str = "kube-apiserver-audit-fedcba9876543210fedcba9876543210";
const COMPONENT: &str = "kube-apiserver-0123456789abcdef0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_every_nodeport_event_alerts_exactly_once_across_clusters_and_streams() {
    let moto = Moto::start();
    let client = seeding_client(&moto.endpoint);
    let groups = [
        ("/aws/eks/alpha/cluster", "alpha"),
        ("/aws/eks/beta/cluster", "beta"),
        ("/custom/gamma-audit", "/custom/gamma-audit"),
    ];
    let t0 = now_ms() - 3 * 60_000;
    let mut expected = Vec::new();
    for (g, (group, _)) in groups.iter().enumerate() {
        for (s, stream) in [AUDIT_A, AUDIT_B].iter().enumerate() {
            create_stream(&client, group, stream).await;
            let id = |n: usize| format!("g{g}-s{s}-{n}");
            let base = t0 + (g * 1000 + s * 100) as i64;
            let events = vec![
                (base, nodeport(&id(1))),
                (base + 1, noise(&id(2), "get", "endpoints")),
                (base + 2, service_write(&id(3), "create", "ClusterIP", 201)),
                (base + 3, service_write(&id(4), "create", "NodePort", 409)),
                (base + 4, noise(&id(5), "get", "services")),
                (
                    base + 60_000,
                    service_write(&id(6), "update", "NodePort", 200),
                ),
                (
                    base + 120_000,
                    service_write(&id(7), "patch", "NodePort", 200),
                ),
            ];
            expected.extend([id(1), id(6), id(7)]);
            put(&client, group, stream, &events).await;
        }
        // The API server's own log stream is not the audit log: never read.
        create_stream(&client, group, COMPONENT).await;
        put(
            &client,
            group,
            COMPONENT,
            &[
                (t0, nodeport(&format!("g{g}-component"))),
                (t0 + 1, "I1122 kube-apiserver started".to_owned()),
            ],
        )
        .await;
    }
    // A message that is not JSON: skipped, counted once, never an alert. Messages cut at the
    // size limit reach the detector: one cut before it can tell anything gives nothing, one
    // cut inside a padded body gives a degraded alert.
    let padded = format!(
        r#"{{"kind":"Event","auditID":"g0-cut","stage":"ResponseComplete","verb":"create","objectRef":{{"resource":"services","namespace":"default","name":"svc-g0-cut"}},"responseStatus":{{"code":201}},"requestObject":{{"metadata":{{"annotations":{{"pad":"{}[Truncated...]"#,
        "x".repeat(300)
    );
    put(
        &client,
        groups[0].0,
        AUDIT_A,
        &[
            (t0 + 5, "E1122 12:00:00 not json".to_owned()),
            (t0 + 6, format!("{}[Truncated...]", &nodeport("cut")[..200])),
            (t0 + 7, padded),
        ],
    )
    .await;
    expected.push("g0-cut".to_owned());

    let state = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(now_ms()));
    let toml = source_toml(
        &moto.endpoint,
        "clusters = [\"alpha\", \"beta\"]\nlog_groups = [\"/custom/gamma-audit\"]\nlookback = \"15m\"\nmax_batch_entries = 4",
    );
    let h = Harness::new(&toml, &state.path().join("state.db"), clock.clone());
    let source = h.source().await;
    let stats = source.stats();
    let mut driver = h.driver_with(source, PollMode::Live).await;
    let first = drain(&mut driver, 200).await;
    assert_eq!(first.duplicates, 0, "{first:?}");
    assert_eq!(first.inserted, expected.len());

    let alerts = h.alerts().await;
    expected.sort();
    assert_eq!(alerts.keys().cloned().collect::<Vec<_>>(), expected);
    for (id, alert) in &alerts {
        let g: usize = id[1..2].parse().unwrap();
        assert_eq!(alert.cluster.as_deref(), Some(groups[g].1), "{id}");
        assert_eq!(alert.account.as_deref(), Some("123456789012"), "{id}");
        assert_eq!(alert.region.as_deref(), Some("us-east-1"), "{id}");
        assert_eq!(
            alert.record_id.as_deref().map(|r| !r.is_empty()),
            Some(true)
        );
    }
    let counts = stats.counts();
    assert_eq!(counts.skipped_messages, 1, "{counts:?}");
    assert_eq!(
        alerts["g0-cut"].degraded,
        [nodeport_watch::model::Degradation::Truncated]
    );
    assert!(
        counts.foreign_stream_events >= 2,
        "moto ignores the stream prefix: {counts:?}"
    );

    // Later polls re-read the overlap: nothing is processed or alerted twice.
    clock.advance(Duration::seconds(30));
    let again = drain(&mut driver, 50).await;
    assert_eq!(
        (again.inserted, again.duplicates, again.records),
        (0, 0, 0),
        "{again:?}"
    );
    assert!(again.already_seen > 0, "the overlap was re-read: {again:?}");
    assert_eq!(stats.counts().skipped_messages, 1, "skips are counted once");
    assert_eq!(h.alerts().await.len(), expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_log_groups_are_discovered_by_prefix_including_new_clusters() {
    let moto = Moto::start();
    let client = seeding_client(&moto.endpoint);
    let t0 = now_ms() - 60_000;
    for (group, id) in [
        ("/aws/eks/alpha/cluster", "alpha-1"),
        ("/aws/eks/beta/cluster", "beta-1"),
        ("/other/team/audit", "other-1"),
    ] {
        create_stream(&client, group, AUDIT_A).await;
        put(&client, group, AUDIT_A, &[(t0, nodeport(id))]).await;
    }

    let state = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(now_ms()));
    let toml = source_toml(
        &moto.endpoint,
        "log_group_prefix = \"/aws/eks/\"\ndiscovery_interval = \"0s\"\nlookback = \"5m\"",
    );
    let h = Harness::new(&toml, &state.path().join("state.db"), clock.clone());
    let mut driver = h.driver(PollMode::Live).await;
    drain(&mut driver, 20).await;
    let alerts = h.alerts().await;
    assert_eq!(alerts.keys().collect::<Vec<_>>(), ["alpha-1", "beta-1"]);
    assert_eq!(alerts["beta-1"].cluster.as_deref(), Some("beta"));

    // A cluster created later is found at the next listing and read from its creation.
    create_stream(&client, "/aws/eks/gamma/cluster", AUDIT_B).await;
    put(
        &client,
        "/aws/eks/gamma/cluster",
        AUDIT_B,
        &[(now_ms() - 1_000, nodeport("gamma-1"))],
    )
    .await;
    clock.set(at(now_ms()));
    drain(&mut driver, 20).await;
    let alerts = h.alerts().await;
    assert_eq!(
        alerts.keys().collect::<Vec<_>>(),
        ["alpha-1", "beta-1", "gamma-1"]
    );
    assert_eq!(alerts["gamma-1"].cluster.as_deref(), Some("gamma"));
    let cursor: nodeport_watch::sources::aws_cloudwatch::CloudWatchCursor = driver.cursor().clone();
    assert_eq!(
        cursor.groups.keys().collect::<Vec<_>>(),
        [
            "/aws/eks/alpha/cluster",
            "/aws/eks/beta/cluster",
            "/aws/eks/gamma/cluster"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_a_role_is_assumed_per_source_and_the_account_keys_the_shared_budget() {
    use nodeport_watch::clock::Clock;
    use nodeport_watch::sources::Source;

    let moto = Moto::start();
    let proxy = crate::support::aws_proxy::Proxy::start(&moto.endpoint).await;
    let client = seeding_client(&moto.endpoint);
    create_stream(&client, "/aws/eks/prod/cluster", AUDIT_A).await;
    put(
        &client,
        "/aws/eks/prod/cluster",
        AUDIT_A,
        &[(now_ms() - 10_000, nodeport("np"))],
    )
    .await;

    let state = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(now_ms()));
    let role = "clusters = [\"prod\"]\nlookback = \"1m\"\n\
                role_arn = \"arn:aws:iam::123456789012:role/nodeport-watch-reader\"\n\
                external_id = \"shared-secret\"\nsession_name = \"npw-test\"";
    let h = Harness::new(
        &source_toml(&proxy.endpoint, role),
        &state.path().join("a.db"),
        clock.clone(),
    );
    let mut source = h.source().await;
    let cursor = source.start(&PollMode::Live, clock.now());
    let batch = source.poll(&cursor, &PollMode::Live).await.unwrap();
    assert_eq!(batch.records.len(), 1);
    assert_eq!(
        batch.records[0].origin.account.as_deref(),
        Some("123456789012")
    );
    assert_eq!(
        proxy.sts_actions(),
        ["AssumeRole"],
        "the account comes from the role ARN"
    );
    assert_eq!(
        source.quota_key().as_deref(),
        Some("aws:123456789012:us-east-1")
    );

    // Without a role, the caller's account: the same quota key, so one budget for both.
    let plain = Harness::new(
        &source_toml(&proxy.endpoint, "clusters = [\"prod\"]"),
        &state.path().join("b.db"),
        clock.clone(),
    );
    let mut source = plain.source().await;
    let cursor = source.start(&PollMode::Live, clock.now());
    source.poll(&cursor, &PollMode::Live).await.unwrap();
    assert_eq!(proxy.sts_actions(), ["AssumeRole", "GetCallerIdentity"]);
    assert_eq!(
        source.quota_key().as_deref(),
        Some("aws:123456789012:us-east-1")
    );
}
