//! The binary's `credential = "azure_cli"` against the fake `az` (`support::fake_az`): the real
//! azure_identity credential accepts what the script prints, and its token opens the fake Log
//! Analytics, which refuses any request without it. This is the contract the fleet
//! measurements rely on to run AKS sources through the binary.

use std::time::Duration;

use chrono::Utc;

use crate::support::azure_harness::service_event;
use crate::support::azure_monitor_kit::{WS, aks_row};
use crate::support::daemon::Daemon;
use crate::support::fake_az::FakeAz;
use crate::support::fake_log_analytics::{FakeLogAnalytics, TOKEN};
use crate::support::receiver::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_cli_credential_takes_the_fake_az_token_to_the_fake_log_analytics() {
    let fake = FakeLogAnalytics::start().await;
    fake.create_table(WS, "AKSAuditAdmin");
    let now = Utc::now();
    let event = service_event(
        "np-cli",
        "ResponseComplete",
        "create",
        "web-cli",
        "NodePort",
    );
    fake.add(aks_row("AKSAuditAdmin", &event, "prod", now, now));
    let az = FakeAz::install(TOKEN);
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[state]\npath = \"state.db\"\n\n[[sources]]\ntype = \"azure_monitor\"\nname = \"aks\"\n\
             workspace_id = \"{WS}\"\nendpoint = \"{}\"\ncredential = \"azure_cli\"\n\
             interval = \"1s\"\nlag = \"1s\"\nlookback = \"10m\"\n\n\
             [[sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\n",
            fake.url,
            rx.url("/hook")
        ),
    )
    .unwrap();
    let path = az.path();
    let daemon =
        Daemon::start_with_env(&config, &dir.path().join("daemon.log"), &[("PATH", &path)]);

    let got = rx.wait_for(1, Duration::from_secs(60)).await;
    let alert = got[0].json();
    assert_eq!(alert["service"], "web-cli", "{}", daemon.log_text());
    assert_eq!(alert["cluster"], "prod");
    let calls = az.calls();
    assert!(!calls.is_empty());
    for call in &calls {
        assert_eq!(
            call, "account get-access-token -o json --scope https://api.loganalytics.io/.default",
            "how azure_identity calls az"
        );
    }
    let seen = fake.seen();
    assert!(
        seen.iter().all(|q| q.status == 200),
        "every query carried the token: {:?}",
        seen.iter().map(|q| q.status).collect::<Vec<_>>()
    );
    // The token is cached until shortly before it expires (an hour): not one `az` per query.
    assert!(
        calls.len() < seen.len() || seen.len() == 1,
        "{} az calls for {} queries",
        calls.len(),
        seen.len()
    );
}

#[test]
fn the_fake_az_refuses_arguments_the_credential_does_not_send() {
    let az = FakeAz::install(TOKEN);
    let run = |args: &[&str]| {
        std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("cd /bin && az {}", args.join(" ")))
            .env("PATH", az.path())
            .output()
            .unwrap()
    };
    let ok = run(&[
        "account",
        "get-access-token",
        "-o",
        "json",
        "--scope",
        "s/.default",
    ]);
    assert!(ok.status.success());
    let token: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(token["accessToken"], TOKEN);
    assert_eq!(token["tokenType"], "Bearer");
    let expires = token["expires_on"].as_i64().unwrap();
    let in_an_hour = Utc::now().timestamp() + 3600;
    assert!(
        (in_an_hour - 5..=in_an_hour + 5).contains(&expires),
        "{expires}"
    );
    let other = run(&["account", "show"]);
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("az account show"));
    assert_eq!(az.calls().len(), 2);
}
