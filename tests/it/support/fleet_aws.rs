//! The AWS side of the fleet harness (`support::fleet`): `aws_cloudwatch` sources reading log
//! groups on moto, all in one account and region (moto's `123456789012`, `us-east-1`), through
//! the proxy that counts FilterLogEvents calls; and NodePort creates written there.
//!
//! The daemons find their keys in the environment (the default credential chain), as in
//! `aws_cli`: static test keys, and no instance metadata to wait for.

use aws_sdk_cloudwatchlogs::Client;

use super::aws_proxy::Proxy;
use super::cloudwatch::{create_stream, nodeport, now_ms, put, seeding_client};
use super::fleet::{Fleet, INTERVAL};
use super::moto::Moto;
use super::postgres::PgServer;

/// The EKS audit stream every group holds (the source's default `stream_prefix` reads it).
const STREAM: &str = "kube-apiserver-audit-0123456789abcdef0123456789abcdef";

const ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// The quota key of FilterLogEvents the sources draw on: one account and region.
pub const FILTER_QUOTA: &str = "aws:123456789012:us-east-1:FilterLogEvents";

/// moto, the proxy the daemons call it through, and a client writing to moto directly (the
/// proxy counts only the daemons' calls).
pub struct CloudWatch {
    pub proxy: Proxy,
    client: Client,
    /// Last, so the proxy stops before its upstream.
    _moto: Moto,
}

impl<'a> Fleet<'a, CloudWatch> {
    /// A fleet whose `sources` are (name, log groups), sharing a FilterLogEvents budget of
    /// `requests_per_second`. The groups exist, empty; no daemon runs yet.
    pub async fn aws(
        server: &'a PgServer,
        sources: &[(&str, &[&str])],
        requests_per_second: u32,
    ) -> Fleet<'a, CloudWatch> {
        let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
        let proxy = Proxy::start(&moto.endpoint).await;
        let client = seeding_client(&moto.endpoint);
        let mut text = String::new();
        for (name, groups) in sources {
            for group in *groups {
                create_stream(&client, group, STREAM).await;
            }
            let groups: Vec<String> = groups.iter().map(|g| format!("\"{g}\"")).collect();
            text.push_str(&format!(
                "\n[[sources]]\ntype = \"aws_cloudwatch\"\nname = \"{name}\"\nregion = \"us-east-1\"\n\
                 endpoint = \"{}\"\nlog_groups = [{}]\ninterval = \"{}s\"\nlag = \"1s\"\n\
                 overlap = \"1m\"\nlookback = \"10m\"\nrequests_per_second = {requests_per_second}\n",
                proxy.endpoint,
                groups.join(", "),
                INTERVAL.as_secs(),
            ));
        }
        let api = CloudWatch {
            proxy,
            client,
            _moto: moto,
        };
        Fleet::with_sources(server, api, &text, ENV).await
    }

    /// Writes a NodePort create into `group`, two seconds old (inside the overlap the next
    /// poll reads again); returns its audit ID.
    pub async fn put(&mut self, group: &str) -> String {
        let n = self.next_event();
        let audit_id = format!("{}-{n:05}", group.trim_matches('/').replace('/', "-"));
        let event = (now_ms() - 2_000, nodeport(&audit_id));
        put(&self.api.client, group, STREAM, &[event]).await;
        audit_id
    }
}
