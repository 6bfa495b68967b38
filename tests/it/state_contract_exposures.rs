//! The exposure part of the state-store contract (issue 14): every backend keeps exposures in
//! the commit's transaction, ties alerts to them, queues resolutions to the sinks of the open
//! alert, ignores older writes and replays, lists, counts and reminds. The cases run through
//! `state_contract!` on SQLite (file, memory) and PostgreSQL.

use std::sync::Arc;

use nodeport_watch::alert::Router;
use nodeport_watch::clock::ManualClock;
use nodeport_watch::detect::Detector;
use nodeport_watch::exposure::{ExposureFilter, Showing, Status};
use nodeport_watch::model::AlertStatus;
use nodeport_watch::normalize::RecordContext;
use nodeport_watch::pipeline::{BatchOutcome, Pipeline, RecordLabel};
use nodeport_watch::state::{Commit, Fence, StateStore};

use crate::state_contract::t0;
use crate::support::store::cursor;

/// One EKS-style audit event: `verb` on `resource` `namespace/name` at second `at`.
pub fn event(id: &str, at: u32, verb: &str, resource: &str, target: &str, body: &str) -> String {
    let (namespace, name) = target.split_once('/').unwrap_or((target, target));
    let namespace = if resource == "namespaces" {
        ""
    } else {
        namespace
    };
    format!(
        r#"{{"kind":"Event","auditID":"{id}","stage":"ResponseComplete","verb":"{verb}","requestURI":"/api/v1/x","user":{{"username":"user-{id}"}},"objectRef":{{"resource":"{resource}","namespace":"{namespace}","name":"{name}"}},"responseStatus":{{"code":200}},"requestReceivedTimestamp":"2026-03-01T12:00:{at:02}.000000Z","stageTimestamp":"2026-03-01T12:00:{at:02}.100000Z"{body}}}"#
    )
}

pub const NODE_PORT: &str = r#","requestObject":{"kind":"Service","spec":{"type":"NodePort","selector":{"a":"b"},"ports":[{"port":80,"targetPort":80,"nodePort":30080}]}}"#;
pub const CLUSTER_IP: &str = r#","requestObject":{"spec":{"type":"ClusterIP"}}"#;

/// The pipeline's outcome for `records`, routed to `hook` and `chat` (which wants no
/// resolutions), as the commit of cursor position `position`.
pub fn batch(records: &[String], position: u64) -> Commit {
    let mut router = Router::to_all(["hook".to_owned(), "chat".to_owned()]);
    router = Router::new(
        router
            .routes()
            .iter()
            .cloned()
            .map(|mut r| {
                r.notify_closed = r.sink == "hook";
                r
            })
            .collect(),
    );
    let pipeline = Pipeline::new(
        "test",
        Arc::new(Detector::default()),
        Arc::new(router),
        false,
        Arc::new(ManualClock::new(t0())),
    );
    let mut out = BatchOutcome::default();
    let ctx = RecordContext {
        cluster: Some("prod"),
        ..RecordContext::default()
    };
    for record in records {
        let label = RecordLabel {
            stream: "test",
            record_id: None,
        };
        pipeline.process_bytes(record.as_bytes(), &ctx, label, &mut out);
    }
    Commit {
        cursor_key: "live/test".into(),
        cursor: cursor(position),
        alerts: out.alerts,
        seen: Default::default(),
        exposures: out.exposures,
    }
}

fn showing(showing: Showing) -> ExposureFilter {
    ExposureFilter {
        showing,
        ..ExposureFilter::default()
    }
}

/// Open, then closed by a patch to ClusterIP: the alert carries the exposure id, the
/// resolution reaches the sink of the open alert that wants it, with the closing request's user.
pub async fn an_exposure_opens_and_closes_in_the_commit(store: Arc<dyn StateStore>) {
    let open = batch(
        &[event("a", 1, "create", "services", "shop/web", NODE_PORT)],
        1,
    );
    let report = store.commit(open, &Fence::Sole).await.unwrap();
    assert_eq!((report.inserted, report.opened, report.closed), (1, 1, 0));
    let listed = store.exposures(&showing(Showing::Open), 10).await.unwrap();
    let [exposure] = listed.as_slice() else {
        panic!("{listed:?}")
    };
    assert_eq!(exposure.key.service.service, "web");
    assert_eq!(exposure.snapshot.node_ports, [30080]);
    assert_eq!(
        exposure.opened.as_ref().unwrap().user.as_deref(),
        Some("user-a")
    );
    let alert = &store.pending("hook", 10).await.unwrap().ready[0].alert;
    assert_eq!(alert.exposure_id.as_deref(), Some(exposure.id.as_str()));
    assert_eq!(alert.status, AlertStatus::Open);

    let close = batch(
        &[event("b", 2, "patch", "services", "shop/web", CLUSTER_IP)],
        2,
    );
    let report = store.commit(close, &Fence::Sole).await.unwrap();
    assert_eq!((report.opened, report.closed), (0, 1));
    assert!(
        store
            .exposures(&showing(Showing::Open), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let closed = store
        .exposures(&showing(Showing::Closed), 10)
        .await
        .unwrap();
    assert_eq!(closed[0].status, Status::Closed);
    assert_eq!(closed[0].id, exposure.id);
    let hook = store.pending("hook", 10).await.unwrap().ready;
    assert_eq!(hook.len(), 2);
    let resolution = &hook[1].alert;
    assert_eq!(resolution.status, AlertStatus::Closed);
    assert_eq!(resolution.exposure_id, alert.exposure_id);
    assert_eq!(resolution.user.username.as_deref(), Some("user-b"));
    assert_eq!(resolution.audit_id.as_deref(), Some("b"));
    // `chat` received the open alert but switched resolutions off.
    assert_eq!(store.pending("chat", 10).await.unwrap().ready.len(), 1);
}

/// A close read before the older open, and replays of both: nothing reopens, nothing closes or
/// queues twice.
pub async fn older_writes_and_replays_change_nothing(store: Arc<dyn StateStore>) {
    let open = event("a", 1, "create", "services", "shop/web", NODE_PORT);
    let delete = event("b", 5, "delete", "services", "shop/web", "");
    let report = store
        .commit(batch(std::slice::from_ref(&delete), 1), &Fence::Sole)
        .await
        .unwrap();
    assert_eq!((report.opened, report.closed), (0, 0));
    let report = store
        .commit(batch(std::slice::from_ref(&open), 2), &Fence::Sole)
        .await
        .unwrap();
    assert_eq!((report.opened, report.closed), (0, 0));
    let all = showing(Showing::All);
    assert!(store.exposures(&all, 10).await.unwrap().is_empty());

    let later = event("c", 9, "create", "services", "shop/web", NODE_PORT);
    let report = store
        .commit(batch(&[later.clone(), later.clone()], 3), &Fence::Sole)
        .await
        .unwrap();
    assert_eq!((report.inserted, report.opened), (1, 1));
    let report = store
        .commit(batch(&[later, delete], 4), &Fence::Sole)
        .await
        .unwrap();
    assert_eq!((report.inserted, report.opened, report.closed), (0, 0, 0));
    assert_eq!(
        store.exposures(&all, 10).await.unwrap()[0].status,
        Status::Open
    );
}

/// A namespace delete closes every open exposure in it, in that cluster only; listings filter
/// by cluster and namespace; counts are per cluster and rule with the oldest opening.
pub async fn a_namespace_delete_closes_its_exposures_and_counts_follow(store: Arc<dyn StateStore>) {
    let opens = [
        event("a", 1, "create", "services", "shop/web", NODE_PORT),
        event("b", 2, "create", "services", "shop/api", NODE_PORT),
        event("c", 3, "create", "services", "ops/grafana", NODE_PORT),
    ];
    store.commit(batch(&opens, 1), &Fence::Sole).await.unwrap();
    let counts = store.open_counts().await.unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (
            counts[0].cluster.as_str(),
            counts[0].rule.as_str(),
            counts[0].count
        ),
        ("prod", "nodeport", 3)
    );
    let opened_a = chrono::DateTime::parse_from_rfc3339("2026-03-01T12:00:01Z")
        .unwrap()
        .timestamp_millis();
    assert_eq!(counts[0].oldest_opened_ms, Some(opened_a));
    let shop = ExposureFilter {
        namespace: Some("shop".into()),
        ..ExposureFilter::default()
    };
    assert_eq!(store.exposures(&shop, 10).await.unwrap().len(), 2);
    let elsewhere = ExposureFilter {
        cluster: Some("dev".into()),
        ..ExposureFilter::default()
    };
    assert!(store.exposures(&elsewhere, 10).await.unwrap().is_empty());

    let report = store
        .commit(
            batch(&[event("d", 4, "delete", "namespaces", "shop", "")], 2),
            &Fence::Sole,
        )
        .await
        .unwrap();
    assert_eq!(report.closed, 2);
    let open = store.exposures(&showing(Showing::Open), 10).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].key.service.namespace, "ops");
    assert_eq!(store.open_counts().await.unwrap()[0].count, 1);
}

/// A reminder is due once per episode, queued with the open alert's sinks and marked.
pub async fn a_reminder_is_queued_once(store: Arc<dyn StateStore>) {
    store
        .commit(
            batch(
                &[event("a", 1, "create", "services", "shop/web", NODE_PORT)],
                1,
            ),
            &Fence::Sole,
        )
        .await
        .unwrap();
    let later = chrono::DateTime::parse_from_rfc3339("2026-03-09T00:00:00Z")
        .unwrap()
        .timestamp_millis();
    let due = store.due_reminders(later, 10).await.unwrap();
    let [(exposure, Some(open))] = due.as_slice() else {
        panic!("{due:?}")
    };
    let reminder = nodeport_watch::exposure::remind(open, exposure);
    assert!(reminder.reminder);
    let queued = store
        .queue_reminder(
            &exposure.key,
            &exposure.id,
            reminder.clone(),
            vec!["hook".into()],
        )
        .await
        .unwrap();
    assert!(queued);
    let again = store
        .queue_reminder(&exposure.key, &exposure.id, reminder, vec!["hook".into()])
        .await
        .unwrap();
    assert!(!again);
    assert!(store.due_reminders(later, 10).await.unwrap().is_empty());
    let hook = store.pending("hook", 10).await.unwrap().ready;
    assert_eq!(hook.len(), 2);
    assert!(hook[1].alert.reminder);
    assert_eq!(
        hook[1].alert.exposure_id.as_deref(),
        Some(exposure.id.as_str())
    );
}
