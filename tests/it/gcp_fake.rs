//! The fake Cloud Logging honours the documented `entries.list` contract (checked with plain
//! HTTP, independently of the poller): a fake that matched too much would let poller bugs pass.

use serde_json::{Value, json};

use crate::support::fake_logging::FakeLogging;
use crate::support::gcp::{at, nodeport_create};

async fn list(fake: &FakeLogging, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v2/entries:list?$alt=json;enum-encoding=int",
            fake.endpoint()
        ))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

const WRITES: &str = r#"protoPayload.methodName=("io.k8s.core.v1.services.create" OR "io.k8s.core.v1.services.patch")"#;

#[tokio::test]
async fn gcp_fake_honours_the_entries_list_contract() {
    let fake = FakeLogging::start().await;
    let t0 = at("2024-01-01T00:00:00Z");
    for n in 0..5 {
        fake.insert(nodeport_create(
            "p-one",
            "web",
            t0 + chrono::Duration::seconds(n),
            n as usize,
        ));
    }
    fake.insert(nodeport_create("p-two", "web", t0, 9));
    let mut pods = nodeport_create("p-one", "web", t0, 10);
    pods["protoPayload"]["methodName"] = "io.k8s.core.v1.pods.create".into();
    fake.insert(pods);

    // resourceNames, methodName and the time range are honoured; order is timestamp asc.
    let filter = format!(
        r#"resource.type="k8s_cluster" AND {WRITES} AND timestamp>="2024-01-01T00:00:01Z" AND timestamp<"2024-01-01T00:00:04Z""#
    );
    let (status, body) = list(
        &fake,
        json!({"resourceNames": ["projects/p-one"], "filter": filter, "orderBy": "timestamp asc", "pageSize": 2}),
    )
    .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["insertId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p-one-web-0000001", "p-one-web-0000002"]);
    let token = body["nextPageToken"].as_str().unwrap().to_owned();
    let (_, page2) = list(
        &fake,
        json!({"resourceNames": ["projects/p-one"], "filter": filter, "orderBy": "timestamp asc", "pageSize": 2, "pageToken": token}),
    )
    .await;
    assert_eq!(page2["entries"][0]["insertId"], "p-one-web-0000003");
    assert!(
        page2.get("nextPageToken").is_none(),
        "the last page has no token"
    );

    // A token is only valid with the same parameters.
    let (status, err) = list(
        &fake,
        json!({"resourceNames": ["projects/p-two"], "filter": filter, "pageSize": 2, "pageToken": token}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );

    // Descending order; the default page size is 50.
    let (_, desc) = list(
        &fake,
        json!({"resourceNames": ["projects/p-one"], "filter": WRITES, "orderBy": "timestamp desc"}),
    )
    .await;
    assert_eq!(desc["entries"][0]["insertId"], "p-one-web-0000004");
    assert_eq!(desc["entries"].as_array().unwrap().len(), 5);

    // Refusals: page size, unknown filter terms, missing resource names.
    for bad in [
        json!({"resourceNames": ["projects/p-one"], "pageSize": 1001}),
        json!({"resourceNames": ["projects/p-one"], "pageSize": -1}),
        json!({"resourceNames": ["projects/p-one"], "filter": "severity>=ERROR"}),
        json!({"resourceNames": ["projects/p-one"], "filter": "textPayload:\"x\""}),
        json!({"resourceNames": ["projects/p-one"], "filter": "logName=\"a\" OR logName=\"b\""}),
        json!({"resourceNames": ["folders/123"]}),
        json!({"filter": WRITES}),
    ] {
        let (status, err) = list(&fake, bad.clone()).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(err["error"]["status"], "INVALID_ARGUMENT", "{bad}");
    }

    // Injected failures use Google's error shape; empty pages still carry a token.
    fake.fail_next(429, 1);
    let (status, err) = list(&fake, json!({"resourceNames": ["projects/p-one"]})).await;
    assert_eq!(
        (status, err["error"]["status"].as_str()),
        (429, Some("RESOURCE_EXHAUSTED"))
    );
    fake.fail_next(500, 1);
    assert_eq!(
        list(&fake, json!({"resourceNames": ["projects/p-one"]}))
            .await
            .0,
        500
    );
    fake.empty_page_every(Some(1));
    let (_, empty) = list(
        &fake,
        json!({"resourceNames": ["projects/p-one"], "filter": WRITES}),
    )
    .await;
    assert_eq!(empty["entries"].as_array().unwrap().len(), 0);
    assert!(empty["nextPageToken"].is_string());

    // The quota refuses the request over the limit, per project, and every request is logged.
    fake.empty_page_every(None);
    fake.quota_per_minute(Some(2));
    let ok = json!({"resourceNames": ["projects/p-two"]});
    assert_eq!(list(&fake, ok.clone()).await.0, 200);
    assert_eq!(list(&fake, ok.clone()).await.0, 200);
    assert_eq!(list(&fake, ok).await.0, 429);
    let seen = fake.requests();
    assert_eq!(seen.last().unwrap().projects, ["p-two"]);
    assert_eq!(seen.last().unwrap().status, 429);
}
