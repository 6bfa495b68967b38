//! Every event of the public corpus gives the verdict its `index.json` documents, both through
//! the library and through `nodeport-watch detect`.

use std::fs::File;
use std::io::BufReader;

use nodeport_watch::detect::Detector;
use nodeport_watch::model::RuleId;
use nodeport_watch::normalize::{Frame, RecordReader};
use serde::Deserialize;

use crate::support::corpus_dir;
use crate::support::detect::{run_cli, run_library};

#[derive(Deserialize)]
struct Entry {
    file: String,
    provider: String,
    expected: Expected,
    verdict_reason: String,
}

#[derive(Deserialize)]
struct Expected {
    nodeport_exposure: bool,
}

fn index() -> Vec<Entry> {
    let text = std::fs::read_to_string(corpus_dir().join("index.json")).unwrap();
    let entries: Vec<Entry> = serde_json::from_str(&text).unwrap();
    assert!(entries.len() >= 50, "the corpus index lost entries");
    entries
}

/// The records of a corpus file (pretty-printed JSON documents or single lines).
fn records(file: &str) -> Vec<String> {
    let reader = BufReader::new(File::open(corpus_dir().join(file)).unwrap());
    RecordReader::new(reader, 1 << 20)
        .map(|frame| match frame.unwrap() {
            Frame::Record(bytes) => String::from_utf8(bytes).unwrap(),
            other => panic!("{file}: {other:?}"),
        })
        .collect()
}

#[test]
fn library_verdicts_match_the_index() {
    let mut positives = 0;
    for entry in index() {
        let got = run_library(&records(&entry.file), Detector::default());
        let exposed = got.alerts.iter().any(|a| a.rule == RuleId::NodePort);
        assert_eq!(
            exposed, entry.expected.nodeport_exposure,
            "{} ({}): {}",
            entry.file, entry.provider, entry.verdict_reason
        );
        assert_eq!(
            got.stats.skipped_total(),
            0,
            "{} had skipped records",
            entry.file
        );
        positives += usize::from(exposed);
    }
    assert_eq!(positives, 5);
}

#[test]
fn detect_command_verdicts_match_the_index() {
    for entry in index() {
        let input = std::fs::read(corpus_dir().join(&entry.file)).unwrap();
        let run = run_cli(&[], &input);
        assert_eq!(run.code, Some(0), "{}: {}", entry.file, run.stderr);
        let exposed = run.alerts.iter().any(|a| a.rule == RuleId::NodePort);
        assert_eq!(
            exposed, entry.expected.nodeport_exposure,
            "{}: {}",
            entry.file, entry.verdict_reason
        );
        assert!(
            run.stderr.contains("records=1 "),
            "{}: {}",
            entry.file,
            run.stderr
        );
    }
}

#[test]
fn positives_carry_the_provider_context() {
    let alert = |file: &str| {
        let got = run_library(&records(file), Detector::default());
        assert_eq!(got.alerts.len(), 1, "{file}");
        got.alerts.into_iter().next().unwrap()
    };
    let gke = alert("gke/pa-gke-svc-nodeport-create.json");
    assert_eq!(gke.cluster.as_deref(), Some("some-project-cluster"));
    assert_eq!(gke.account.as_deref(), Some("some-project"));
    assert_eq!(gke.region.as_deref(), Some("us-west1"));
    assert_eq!(gke.ports[0].node_port, Some(32361));
    assert_eq!(gke.source_ips, ["1.2.3.4"]);

    let raw = alert("raw-k8s/falco-create-service-nodeport.json");
    assert_eq!(raw.user.username.as_deref(), Some("minikube-user"));
    assert_eq!(
        raw.audit_id.as_deref(),
        Some("ceba9ec7-50b5-4bde-8b27-5909df9b35c9")
    );
    assert_eq!(raw.ports[0].node_port, Some(30080));

    let aks = alert("aks/pa-aks-svc-nodeport-create.json");
    assert_eq!(aks.service.as_deref(), Some("test-svc"));
    assert_eq!(aks.user.username.as_deref(), Some("admin@example.com"));
}
