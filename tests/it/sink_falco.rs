//! `format = "falco"`: the webhook sink posts a Falco event that a strict falcosidekick input
//! accepts, field for field; the file sink writes the same event per line; the receiver's own
//! contract.

use std::time::Duration;

use serde_json::{Value, json};

use crate::sinks::{settings, sink};
use crate::support::falcosidekick_api::{Falcosidekick, event_problems};
use crate::support::fixtures;

const WAIT: Duration = Duration::from_secs(20);

fn expected_without_hostname(title: &str) -> Value {
    // Kubernetes field names, keys sorted (serde_json's map order).
    let ports =
        r#"[{"name":"http","nodePort":30080,"port":80,"protocol":"TCP","targetPort":8080}]"#;
    json!({
        "output": format!(
            "12:00:00.000000000: Error {title} (user=alice@example.com service=shop/web \
             type=NodePort ports={ports} cluster=prod-eu sourceips=203.0.113.7,10.0.0.1 \
             auditid=5f1c-audit)"
        ),
        "priority": "Error",
        "rule": "Kubernetes Service Exposed Through NodePort",
        "time": "2026-03-01T12:00:00.000000000Z",
        "source": "k8s_audit",
        "tags": ["k8s", "network", "nodeport-watch", "nodeport", "mitre_initial_access", "T1190"],
        "output_fields": {
            "ka.auditid": "5f1c-audit",
            "ka.verb": "create",
            "ka.user.name": "alice@example.com",
            "ka.user.groups": "(system:authenticated,devs<&>)",
            "ka.impuser.name": "bob<&>",
            "ka.target.resource": "services",
            "ka.target.namespace": "shop",
            "ka.target.name": "web",
            "ka.req.service.type": "NodePort",
            "ka.req.service.ports": ports,
            "ka.sourceips": "(203.0.113.7,10.0.0.1)",
            "ka.useragent": "kubectl/v1.31.0",
            "ka.response.code": "201",
            "nodeport_watch.alert_id": "falco-1",
            "nodeport_watch.rule": "nodeport",
            "nodeport_watch.severity": "high",
            "nodeport_watch.provider": "eks",
            "nodeport_watch.cluster": "prod-eu",
            "nodeport_watch.account": "123456789012",
            "nodeport_watch.region": "eu-west-1",
            "nodeport_watch.source": "eks-prod",
            "nodeport_watch.external_ips": "()",
            "nodeport_watch.risk_factors": "(fixed_node_port)",
        },
    })
}

/// Takes `hostname` out (it is the machine's) after checking it is a non-empty string.
fn without_hostname(mut event: Value) -> Value {
    if let Some(host) = event.as_object_mut().unwrap().remove("hostname") {
        assert!(host.as_str().is_some_and(|h| !h.is_empty()), "{host}");
    }
    event
}

#[tokio::test]
async fn webhook_falco_format_is_an_event_falcosidekick_accepts() {
    let sidekick = Falcosidekick::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        &format!(
            "[[sinks]]\ntype = \"webhook\"\nname = \"sidekick\"\nurl = \"{}\"\nformat = \"falco\"\n",
            sidekick.receiver.url("/")
        ),
    );
    let mut alert = fixtures::alert("falco-1");
    // A crafted title must not carry a terminal escape or a fake second line to an operator.
    alert.title.push_str("\u{1b}[2J\r\nfake");
    sink(&s, "sidekick").deliver(&alert).await.unwrap();
    let got = &sidekick.receiver.wait_for(1, WAIT).await[0];
    assert_eq!(sidekick.problems(), Vec::<String>::new());
    assert_eq!(got.header("idempotency-key"), Some("falco-1"));
    let clean_title = alert.title.replace("\u{1b}[2J\r\n", "[2J");
    assert_eq!(
        without_hostname(got.json()),
        expected_without_hostname(&clean_title)
    );
}

#[tokio::test]
async fn file_sink_writes_one_falco_event_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(
        dir.path(),
        "[[sinks]]\ntype = \"file\"\nname = \"falco-log\"\npath = \"events.jsonl\"\nformat = \"falco\"\n",
    );
    let alert = fixtures::alert("falco-1");
    sink(&s, "falco-log").deliver(&alert).await.unwrap();
    let text = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(event_problems(&lines[0]), Vec::<String>::new());
    assert_eq!(
        without_hostname(lines[0].clone()),
        expected_without_hostname(&alert.title)
    );
}

/// The strict input accepts Falco's own JSON output (the documented example) and refuses each
/// way of breaking falcosidekick's payload.
#[tokio::test]
async fn the_strict_falcosidekick_input_holds_to_the_payload() {
    let sidekick = Falcosidekick::start().await;
    let client = reqwest::Client::new();
    let url = sidekick.receiver.url("/");
    let post = |body: Value| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client.post(url).json(&body).send().await.unwrap();
            r.status().as_u16()
        }
    };
    let falco = json!({
        "hostname": "falco-abc",
        "output": "16:31:56.746609046: Error File below a known binary directory opened for writing (user=root command=touch /bin/hack file=/bin/hack)",
        "priority": "Error",
        "rule": "Write below binary dir",
        "source": "syscall",
        "tags": ["filesystem", "mitre_persistence"],
        "time": "2019-05-17T15:31:56.746609046Z",
        "output_fields": {"evt.time": 1558107116746609046_u64, "fd.name": "/bin/hack",
                          "proc.cmdline": "touch /bin/hack", "user.name": "root", "k8s.ns.name": null},
    });
    assert_eq!(post(falco.clone()).await, 200);
    assert!(sidekick.problems().is_empty(), "{:?}", sidekick.problems());
    let broken = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut e = falco.clone();
        f(e.as_object_mut().unwrap());
        e
    };
    let invalid = [
        json!([falco.clone()]),
        broken(&|e| {
            e.remove("output");
        }),
        broken(&|e| {
            e.insert("priority".into(), json!("Severe"));
        }),
        broken(&|e| {
            e.insert("time".into(), json!("16:31:56"));
        }),
        broken(&|e| {
            e.insert("tags".into(), json!("filesystem"));
        }),
        broken(&|e| {
            e.insert("output_fields".into(), json!({"a": {"b": 1}}));
        }),
        broken(&|e| {
            e.insert("outputs".into(), json!("typo"));
        }),
    ];
    let n = invalid.len();
    for (i, body) in invalid.into_iter().enumerate() {
        assert_eq!(post(body).await, 400, "invalid event {i} was accepted");
    }
    assert_eq!(sidekick.problems().len(), n, "{:?}", sidekick.problems());
}
