//! `detect` as a newcomer meets it (issue 11): gzip read by content, binary and damaged input
//! counted as skipped (never as irrelevant), folders, and `--explain` giving the detector's own
//! reason for every event with the audit-level warning.

use std::process::Output;

use serde_json::Value;

use crate::support::cli_inputs::{
    alerts_of, garbage, gzip, nodeport_line, run, service_line, text, write_config,
};

#[test]
fn detect_reads_gzip_by_content_like_the_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let plain = format!(
        "{}\n{}\n",
        nodeport_line("gz-1", "web"),
        nodeport_line("gz-2", "api")
    );
    std::fs::write(dir.path().join("audit.jsonl"), &plain).unwrap();
    // No `.gz` in the name: the content decides.
    std::fs::write(dir.path().join("export.log"), gzip(&plain)).unwrap();

    let from_plain = run(&["detect", "audit.jsonl"], dir.path());
    let from_gzip = run(&["detect", "export.log"], dir.path());
    assert_eq!(
        from_gzip.status.code(),
        Some(0),
        "{}",
        text(&from_gzip.stderr)
    );
    let ids =
        |out: &Output| -> Vec<Value> { alerts_of(out).iter().map(|a| a["id"].clone()).collect() };
    assert_eq!(ids(&from_gzip).len(), 2);
    assert_eq!(ids(&from_gzip), ids(&from_plain));
    assert!(
        text(&from_gzip.stderr).starts_with(
            "records=2 events=2 irrelevant=0 skipped=0 degraded=0 suppressed=0 alerts=2\n"
        ),
        "{}",
        text(&from_gzip.stderr)
    );
}

#[test]
fn detect_counts_binary_and_damaged_gzip_as_skipped_never_irrelevant() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("random.bin"), garbage()).unwrap();
    let out = run(&["detect", "random.bin"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("records=1 events=0 irrelevant=0 skipped=1 (binary=1) "),
        "{stderr}"
    );
    assert!(
        stderr.contains("WARN") && stderr.contains("not text (binary data)"),
        "{stderr}"
    );

    // A gzip stream cut in the middle: the records before the cut are read, the cut is skipped.
    let mut lines = nodeport_line("cut-1", "first") + "\n";
    for i in 0..2000 {
        lines.push_str(&format!("{{\"kind\":\"Event\",\"auditID\":\"n{i}\",\"verb\":\"get\",\"objectRef\":{{\"resource\":\"pods\",\"name\":\"p{i}\"}},\"x\":\"{}\"}}\n", "y".repeat(i % 97)));
    }
    let packed = gzip(&lines);
    std::fs::write(dir.path().join("cut.gz"), &packed[..packed.len() / 2]).unwrap();
    let out = run(&["detect", "cut.gz"], dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let alerts = alerts_of(&out);
    assert_eq!(alerts.len(), 1, "{stderr}");
    assert_eq!(alerts[0]["service"], "first");
    assert!(stderr.contains("corrupt_compressed=1"), "{stderr}");
    assert!(
        stderr.contains("compressed stream is damaged or cut short"),
        "{stderr}"
    );
}

#[test]
fn detect_on_a_folder_reads_its_files_and_an_empty_one_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("a.jsonl"), nodeport_line("f-1", "one") + "\n").unwrap();
    std::fs::write(
        logs.join("b.gz"),
        gzip(&(nodeport_line("f-2", "two") + "\n")),
    )
    .unwrap();
    std::fs::write(logs.join(".hidden"), nodeport_line("f-3", "hidden") + "\n").unwrap();
    let out = run(&["detect", "logs"], dir.path());
    let services: Vec<Value> = alerts_of(&out)
        .iter()
        .map(|a| a["service"].clone())
        .collect();
    assert_eq!(services, vec!["one", "two"], "{}", text(&out.stderr));

    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let out = run(&["detect", "empty"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "nodeport-watch detect: folder empty holds no files\n"
    );
}

#[test]
fn explain_gives_the_detectors_reason_for_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let np = r#","requestObject":{"kind":"Service","spec":{"type":"NodePort","selector":{"a":"b"},"ports":[{"port":8080,"targetPort":8080}]}}"#;
    let lines = [
        nodeport_line("e1", "web"),
        nodeport_line("e1", "web").replace("ResponseComplete", "ResponseStarted"),
        service_line("e2", "dry", &format!(r#","requestURI":"/api/v1/namespaces/ns/services?dryRun=All"{np}"#)),
        service_line("e3", "meta", ""),
        service_line("e4", "cip", r#","requestObject":{"kind":"Service","spec":{"type":"ClusterIP","ports":[{"port":80}]}}"#),
        service_line("e5", "den", r#","requestObject":{"kind":"Service","spec":{"type":"ClusterIP"}}"#)
            .replace(r#""code":201"#, r#""code":403"#),
        service_line("e6", "bad", r#","requestObject":{"kind":"Service","spec":{"type":"ClusterIP"}}"#)
            .replace(r#""code":201"#, r#""code":422"#),
        service_line("e7", "early", np)
            .replace("ResponseComplete", "RequestReceived")
            .replace(r#","responseStatus":{"code":201}"#, ""),
        service_line("e8", "lb", r#","requestObject":{"kind":"Service","spec":{"type":"LoadBalancer","ports":[{"port":80}]}}"#),
        service_line("e9", "labels", r#","requestObject":{"metadata":{"labels":{"a":"b"}}}"#).replace(r#""verb":"create""#, r#""verb":"patch""#),
        service_line("e10", "sandboxed", np).replace(r#""namespace":"ns""#, r#""namespace":"sandbox""#),
        r#"{"kind":"Event","auditID":"e11","verb":"get","objectRef":{"resource":"pods","name":"p"}}"#.to_owned(),
        "services are down; create a ticket".to_owned(),
        service_line("e13", "web", "")
            .replace(r#""verb":"create""#, r#""verb":"update""#)
            .replace(r#""name":"web""#, r#""name":"web","subresource":"status""#),
    ];
    std::fs::write(dir.path().join("audit.jsonl"), lines.join("\n") + "\n").unwrap();
    write_config(
        dir.path(),
        ":memory:",
        "audit.jsonl",
        "[[detection.exceptions]]\nnamespaces = [\"sandbox\"]\nreason = \"sandbox may expose\"\n",
    );
    let out = run(
        &[
            "detect",
            "--explain",
            "--config",
            "config.toml",
            "audit.jsonl",
        ],
        dir.path(),
    );
    let stderr = text(&out.stderr);
    let explained: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("explain: "))
        .collect();
    assert_eq!(
        explained,
        vec![
            "explain: audit.jsonl:1: create services ns/web: ALERT nodeport",
            "explain: audit.jsonl:2: create services ns/web: no alert: duplicate_stage (nodeport already reported from another stage of this request)",
            "explain: audit.jsonl:3: create services ns/dry: no alert: dry_run (a dry run: nothing was changed)",
            "explain: audit.jsonl:4: create services ns/meta: no alert: no_body (no request or response body logged (audit level Metadata))",
            "explain: audit.jsonl:5: create services ns/cip: no alert: not_exposed (the Service is not NodePort or LoadBalancer and has no externalIPs)",
            "explain: audit.jsonl:6: create services ns/den: no alert: denied (refused, and it did not try to expose the Service)",
            "explain: audit.jsonl:7: create services ns/bad: no alert: failed (rejected or failed, and it did not try to expose the Service)",
            "explain: audit.jsonl:8: create services ns/early: no alert: request_received_stage (RequestReceived stage: the outcome is in a later stage)",
            "explain: audit.jsonl:9: create services ns/lb: no alert: rule_not_enabled (loadbalancer fired but is not enabled)",
            "explain: audit.jsonl:10: patch services ns/labels: no alert: type_unchanged (a patch that does not change the type or the node ports)",
            "explain: audit.jsonl:11: create services sandbox/sandboxed: no alert: excepted (nodeport silenced by an exception: sandbox may expose)",
            "explain: audit.jsonl:12: record: no alert: irrelevant (cannot be a Service write)",
            "explain: audit.jsonl:13: record: no alert: skipped (invalid_json)",
            "explain: audit.jsonl:14: update services ns/web: no alert: not_service_write (not a create, update or patch of a Service)",
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains("events without an alert: not_service_write=1, dry_run=1, request_received_stage=1, denied=1, failed=1, not_exposed=1, type_unchanged=1, no_body=1, excepted=1, duplicate_stage=1, rule_not_enabled=1\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(records: lines or documents read; events: audit events found in them;"),
        "{stderr}"
    );
    // The Metadata-level write gets the audit-policy fix, named.
    assert!(
        stderr.contains("1 Service write(s) were logged without a request or response body (audit level `Metadata`)")
            && stderr.contains("`- level: RequestResponse` (or at least `Request`) with `resources: [{group: \"\", resources: [\"services\"]}]`"),
        "{stderr}"
    );
}

/// Three alerts over two namespaces, one Service name holding a forged line and an escape.
fn summary_input(dir: &std::path::Path) {
    let lines = [
        nodeport_line("sum-1", "web"),
        nodeport_line("sum-2", "api"),
        nodeport_line("sum-3", "evil\\nFAKE ROW\\u001b[2J").replace("\"ns\"", "\"other\""),
    ];
    std::fs::write(dir.join("audit.jsonl"), lines.join("\n")).unwrap();
}

#[test]
fn detect_output_is_json_lines_in_a_pipe_and_a_table_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    summary_input(dir.path());
    // Tests run with stdout piped: JSON lines, as before tables existed.
    let piped = run(&["detect", "audit.jsonl"], dir.path());
    assert_eq!(alerts_of(&piped).len(), 3);

    let table = run(&["detect", "--output", "table", "audit.jsonl"], dir.path());
    let stdout = text(&table.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "a header and one row per alert: {stdout}");
    assert!(lines[0].starts_with("TIME") && lines[0].contains("SERVICE"));
    let service = lines[0].find("SERVICE").unwrap();
    assert_eq!(lines[1].get(service..service + 3), Some("web"), "{stdout}");
    // The hostile name stays in its row, escaped.
    assert!(stdout.contains("evil\\nFAKE ROW\\u{1b}[2J"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'));
}

#[test]
fn detect_summary_counts_by_rule_cluster_and_namespace() {
    let dir = tempfile::tempdir().unwrap();
    summary_input(dir.path());
    let out = run(
        &[
            "detect",
            "--summary",
            "--output",
            "table",
            "--cluster",
            "c1",
            "audit.jsonl",
        ],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["RULE", "CLUSTER", "NAMESPACE", "ALERTS"],
        "{stdout}"
    );
    assert_eq!(rows[1], ["nodeport", "c1", "ns", "2"], "{stdout}");
    assert_eq!(rows[2], ["nodeport", "c1", "other", "1"], "{stdout}");
    assert_eq!(rows[3], ["total:", "3", "alert(s)"], "{stdout}");

    let json = run(&["detect", "--summary", "audit.jsonl"], dir.path());
    let counts: Vec<Value> = text(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(counts.len(), 2);
    assert_eq!(counts[0]["namespace"], "ns");
    assert_eq!(counts[0]["alerts"], 2);
}
