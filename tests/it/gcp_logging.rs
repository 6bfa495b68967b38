//! The `gcp_logging` poller against the fake Cloud Logging, through the official client over
//! real HTTP: corpus verdicts, several projects and clusters, pagination past 1,000 entries.
//!
//! Every test runs on a paused tokio clock (`SimClock` makes the wall clock follow it), so
//! quota waits and poll intervals take no real time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use nodeport_watch::model::RuleId;
use nodeport_watch::sources::{PollMode, Progress, TimeRange};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::support::fake_logging::FakeLogging;
use crate::support::gcp::{ServiceWrite, SimClock, as_served, at, harness, nodeport_create};
use crate::support::{binary, corpus_dir};

/// An alert without what differs between two runs over the same entries.
fn comparable(alert: &impl serde::Serialize) -> Value {
    let mut v = serde_json::to_value(alert).unwrap();
    let map = v.as_object_mut().unwrap();
    map.remove("detected_at");
    map.remove("source");
    v
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn gcp_corpus_entries_give_the_alerts_detect_gives() {
    let fake = FakeLogging::start().await;
    let index: Vec<Value> =
        serde_json::from_slice(&std::fs::read(corpus_dir().join("index.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut served = Vec::new();
    let mut expected = BTreeMap::new();
    for (i, item) in index.iter().filter(|i| i["provider"] == "gke").enumerate() {
        let file = item["file"].as_str().unwrap();
        let raw: Value =
            serde_json::from_slice(&std::fs::read(corpus_dir().join(file)).unwrap()).unwrap();
        let entry = as_served(raw, &format!("corpus-{i}"), "2024-06-01T00:00:00Z");
        fake.insert(entry.clone());
        let id = entry["insertId"].as_str().unwrap().to_owned();
        expected.insert(id, item["expected"]["nodeport_exposure"].as_bool().unwrap());
        served.push(entry);
    }
    assert!(served.len() >= 15, "the corpus has its GKE entries");
    let projects: BTreeSet<String> = served
        .iter()
        .map(|e| {
            e["logName"]
                .as_str()
                .unwrap()
                .split('/')
                .nth(1)
                .unwrap()
                .to_owned()
        })
        .collect();
    let projects: Vec<&str> = projects.iter().map(String::as_str).collect();

    let clock = SimClock::starting_at(at("2026-01-01T00:00:00Z"));
    let h = harness(&dir, &fake, &projects, "max_span = \"1000d\"", clock);
    let range = TimeRange {
        since: at("2020-01-01T00:00:00Z"),
        until: at("2025-12-31T00:00:00Z"),
    };
    let (mut driver, _) = h.driver(PollMode::Scan(range)).await;
    while driver.step().await.unwrap().progress != Progress::Finished {}
    let polled = h.alerts().await;

    // Verdicts: an alert exactly for the entries the corpus says expose a NodePort.
    let alerted: BTreeSet<String> = polled
        .iter()
        .filter(|a| a.rule == RuleId::NodePort)
        .map(|a| a.record_id.clone().unwrap())
        .collect();
    let want: BTreeSet<String> = expected
        .iter()
        .filter(|(_, exposed)| **exposed)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(alerted, want);
    assert_eq!(want.len(), 2, "two corpus entries are NodePort creates");

    // Identity: `detect` on the entries as served gives the very same alerts.
    let jsonl = dir.path().join("served.jsonl");
    let lines: Vec<String> = served.iter().map(|e| e.to_string()).collect();
    std::fs::write(&jsonl, lines.join("\n")).unwrap();
    let out = std::process::Command::new(binary())
        .arg("detect")
        .arg(&jsonl)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut from_detect: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| comparable(&serde_json::from_str::<Value>(l).unwrap()))
        .collect();
    let mut from_poller: Vec<Value> = polled.iter().map(comparable).collect();
    let by_id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    from_detect.sort_by_key(by_id);
    from_poller.sort_by_key(by_id);
    assert_eq!(from_poller, from_detect);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn gcp_one_request_reads_several_projects_and_only_the_listed_clusters() {
    let fake = FakeLogging::start().await;
    let t0 = at("2024-03-01T10:00:00Z");
    let projects = ["alpha-1", "beta-2", "gamma-3"];
    let mut n = 0;
    for (p, project) in projects.iter().enumerate() {
        for cluster in ["web", "api", "batch"] {
            for k in 0..5 {
                n += 1;
                let time = t0 + chrono::Duration::seconds(60 + 20 * k + p as i64);
                fake.insert(nodeport_create(project, cluster, time, n));
            }
        }
        // Same minute, but nothing to report or not asked for.
        let time = t0 + chrono::Duration::seconds(90);
        let write = |verb: &'static str, ty: &'static str, id: &str| ServiceWrite {
            project,
            cluster: "web",
            location: "europe-west1",
            time,
            insert_id: format!("{project}-{id}"),
            verb,
            service_type: ty,
            name: id.to_owned(),
        };
        fake.insert(write("create", "ClusterIP", "clusterip").entry());
        let mut pods = write("create", "NodePort", "pod").entry();
        pods["protoPayload"]["methodName"] = "io.k8s.core.v1.pods.create".into();
        fake.insert(pods);
        let mut read = write("create", "NodePort", "data-access").entry();
        read["logName"] =
            format!("projects/{project}/logs/cloudaudit.googleapis.com%2Fdata_access").into();
        fake.insert(read);
    }
    // A project the source does not list.
    fake.insert(nodeport_create(
        "other-9",
        "web",
        t0 + chrono::Duration::seconds(60),
        999,
    ));

    let dir = tempfile::tempdir().unwrap();
    let clock = SimClock::starting_at(t0);
    let h = harness(
        &dir,
        &fake,
        &projects,
        "clusters = [\"web\", \"api\"]\nlocations = [\"europe-west1\"]\ninterval = \"30s\"",
        clock,
    );
    let (driver, stats) = h.driver(PollMode::Live).await;
    let cancel = CancellationToken::new();
    let task = tokio::spawn(driver.run(Duration::from_secs(30), cancel.clone()));
    tokio::time::sleep(Duration::from_secs(600)).await;
    cancel.cancel();
    task.await.unwrap().unwrap();

    let alerts = h.alerts().await;
    assert_eq!(
        alerts.len(),
        3 * 2 * 5,
        "5 NodePorts × 2 listed clusters × 3 projects"
    );
    for a in &alerts {
        assert!(projects.contains(&a.account.as_deref().unwrap()));
        assert!(
            matches!(a.cluster.as_deref(), Some("web" | "api")),
            "{:?}",
            a.cluster
        );
        assert_eq!(a.rule, RuleId::NodePort);
    }
    let requests = fake.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.projects, projects, "one request carries every project");
    }
    assert_eq!(stats.snapshot().requests as usize, requests.len());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn gcp_windows_of_many_pages_commit_in_batches_exactly() {
    let fake = FakeLogging::start().await;
    fake.empty_page_every(Some(3));
    let t0 = at("2024-03-01T10:00:00Z");
    let total = 2_500;
    for n in 0..total {
        // Ten entries share each millisecond: pages end in the middle of a tie.
        let time = t0 + chrono::Duration::milliseconds(60_000 + (n / 10) as i64);
        fake.insert(nodeport_create("paged-1", "web", time, n));
    }
    let dir = tempfile::tempdir().unwrap();
    let clock = SimClock::starting_at(t0);
    let h = harness(&dir, &fake, &["paged-1"], "max_batch_entries = 1000", clock);
    let (mut driver, stats) = h.driver(PollMode::Live).await;
    tokio::time::advance(Duration::from_secs(300)).await;

    let (mut inserted, mut duplicates, mut seen_again, mut cut) = (0, 0, 0, 0);
    loop {
        let report = driver.step().await.unwrap();
        inserted += report.inserted;
        duplicates += report.duplicates;
        seen_again += report.already_seen;
        assert!(
            report.stats.records <= 1000,
            "a batch never holds more than the bound"
        );
        cut += usize::from(driver.cursor().resume.is_some());
        if report.progress == Progress::CaughtUp {
            break;
        }
    }
    assert!(cut >= 2, "the window was committed in several batches");
    assert_eq!(inserted, total);
    assert_eq!((duplicates, seen_again), (0, 0), "no entry read twice");
    let ids: BTreeSet<String> = h.alerts().await.into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), total);
    let s = stats.snapshot();
    assert!(s.empty_pages > 0, "empty pages with a token were followed");
    assert!(fake.requests().iter().any(|r| !r.page_token.is_empty()));
    assert_eq!(s.entries as usize, total);
}
