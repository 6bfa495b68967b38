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
    // Unusable messages in an audit stream: skipped, counted once, never an alert.
    put(
        &client,
        groups[0].0,
        AUDIT_A,
        &[
            (t0 + 5, "E1122 12:00:00 not json".to_owned()),
            (t0 + 6, format!("{}[Truncated...]", &nodeport("cut")[..200])),
        ],
    )
    .await;

    let state = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(now_ms()));
    let toml = source_toml(
        &moto.endpoint,
        "clusters = [\"alpha\", \"beta\"]\nlog_groups = [\"/custom/gamma-audit\"]\nstart_lookback = \"15m\"\nbatch_size = 4",
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
    assert_eq!(counts.skipped_messages, 2, "{counts:?}");
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
    assert_eq!(stats.counts().skipped_messages, 2, "skips are counted once");
    assert_eq!(h.alerts().await.len(), expected.len());
}
