//! `nodeport-watch run --config config/demo.toml`, as the README tells a new user to run it:
//! exactly the demo's alerts on stdout, then a clean exit on SIGTERM.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nodeport_watch::model::Alert;

use crate::support::{binary, root};

const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn the_demo_prints_its_alerts_and_stops_cleanly_on_sigterm() {
    let mut child = Command::new(binary())
        .args(["run", "--config"])
        .arg(root().join("config/demo.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });

    let expected: BTreeSet<(String, String, String, String)> = [
        ("nodeport", "demo-eks", "payments", "payments-debug"),
        ("nodeport", "demo-eks", "payments", "payments-api"),
        ("nodeport", "prod-eu", "shop", "checkout-nodeport"),
        ("external-ips", "prod-eu", "shop", "cart"),
        ("nodeport", "aks-prod-weu", "monitoring", "grafana"),
        ("nodeport", "aks-prod-weu", "monitoring", "prometheus-ui"),
    ]
    .into_iter()
    .map(|(a, b, c, d)| (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned()))
    .collect();

    let key = |a: &Alert| {
        (
            a.rule.as_str().to_owned(),
            a.cluster.clone().unwrap(),
            a.namespace.clone().unwrap(),
            a.service.clone().unwrap(),
        )
    };
    let mut alerts: Vec<Alert> = Vec::new();
    while alerts.len() < expected.len() {
        let line = rx
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("only {} alerts before the deadline", alerts.len()));
        alerts.push(serde_json::from_str(&line).expect("stdout carries alert JSON lines"));
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || done_tx.send(child.wait()).ok());
    let exit = done_rx
        .recv_timeout(DEADLINE)
        .expect("the daemon stops after SIGTERM")
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    reader.join().unwrap();
    alerts.extend(rx.try_iter().map(|l| serde_json::from_str(&l).unwrap()));

    assert_eq!(alerts.len(), expected.len(), "no alert twice, none extra");
    assert_eq!(alerts.iter().map(key).collect::<BTreeSet<_>>(), expected);
    let truncated = alerts
        .iter()
        .find(|a| a.service.as_deref() == Some("prometheus-ui"))
        .unwrap();
    assert!(
        !truncated.degraded.is_empty(),
        "the cut AKS record is reported degraded"
    );
    assert!(alerts.iter().all(|a| a.source.starts_with("demo-")));
}
