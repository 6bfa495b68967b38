//! 1,000 simulated clusters of all three providers for `measure_mixed`, each on its emulator:
//!
//! - EKS on moto, behind the counting proxy (`aws_proxy`): 12 accounts × 3 regions, one
//!   `aws_cloudwatch` source per account and region, reaching its account by assuming
//!   `arn:aws:iam::<account>:role/…` (moto gives the assumed role's keys that account), one log
//!   group and audit stream per cluster, seeded in that account and region the same way;
//! - GKE on the fake Cloud Logging: one `gcp_logging` source per project;
//! - AKS on the fake Log Analytics: one `azure_monitor` source per workspace, with
//!   `credential = "azure_cli"` answered by the fake `az` (`fake_az`).
//!
//! Clusters are dealt round-robin to accounts/regions, projects and workspaces. Events are
//! NodePort creates with a Service name unique over the fleet (`svc-eks-7`, `svc-gke-7`, …),
//! so each alert is matched to the moment its event became visible.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::config::{Credentials, Region};
use chrono::Utc;

use super::aws_proxy::Proxy;
use super::azure_harness::service_event;
use super::azure_monitor_kit::aks_row;
use super::cloudwatch::{create_stream, nodeport, now_ms, put, static_credentials};
use super::fake_az::FakeAz;
use super::fake_log_analytics::{FakeLogAnalytics, TOKEN};
use super::fake_logging::FakeLogging;
use super::fleet_run::most_in_a_window;
use super::gcp::ServiceWrite;
use super::moto::Moto;

pub const ACCOUNTS: usize = 12;
pub const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
pub const PROJECTS: usize = 37;
pub const WORKSPACES: usize = 37;
const STREAM: &str = "kube-apiserver-audit-0123456789abcdef0123456789abcdef";
/// Between two inserted events, so a batch of alerts does not arrive at once.
const INSERT_GAP: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Eks,
    Gke,
    Aks,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Eks, Provider::Gke, Provider::Aks];

    pub fn label(self) -> &'static str {
        match self {
            Provider::Eks => "eks",
            Provider::Gke => "gke",
            Provider::Aks => "aks",
        }
    }

    /// `interval` and `lag` of this provider's sources.
    pub fn interval_and_lag(self) -> (Duration, Duration) {
        match self {
            Provider::Eks | Provider::Aks => (Duration::from_secs(30), Duration::from_secs(30)),
            Provider::Gke => (Duration::from_secs(10), Duration::from_secs(5)),
        }
    }

    /// The target for p99 visible → alert: interval + lag + 5 s.
    pub fn target(self) -> Duration {
        let (interval, lag) = self.interval_and_lag();
        interval + lag + Duration::from_secs(5)
    }
}

/// One AWS quota key (account and region): its source, its clusters and a client in it.
struct AwsKey {
    account: String,
    region: &'static str,
    clusters: Vec<usize>,
    client: aws_sdk_cloudwatchlogs::Client,
}

pub struct MixedFleet {
    pub counts: HashMap<Provider, usize>,
    moto: Moto,
    proxy: Proxy,
    logging: FakeLogging,
    analytics: FakeLogAnalytics,
    az: FakeAz,
    aws: Vec<AwsKey>,
}

fn account(a: usize) -> String {
    format!("{:012}", 210_000_000_000 + a)
}

fn workspace(w: usize) -> String {
    format!("{w:08x}-5a1e-4c0d-8e1f-{w:012x}")
}

fn log_group(i: usize) -> String {
    format!("/aws/eks/eks-{i}/cluster")
}

fn role_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/nodeport-watch-reader")
}

/// A CloudWatch Logs client on moto acting in `account`, by assuming a role there.
async fn client_in(endpoint: &str, account: &str, region: &str) -> aws_sdk_cloudwatchlogs::Client {
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_sts::config::Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .credentials_provider(static_credentials())
            .build(),
    );
    let assumed = sts
        .assume_role()
        .role_arn(role_arn(account))
        .role_session_name("seed")
        .send()
        .await
        .expect("assume the seeding role");
    let keys = assumed.credentials().expect("temporary credentials");
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version_latest()
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            keys.access_key_id(),
            keys.secret_access_key(),
            Some(keys.session_token().to_owned()),
            None,
            "seed",
        ))
        .build();
    aws_sdk_cloudwatchlogs::Client::from_conf(config)
}

impl MixedFleet {
    /// Starts the emulators and seeds them with `eks`, `gke` and `aks` clusters.
    pub async fn start(eks: usize, gke: usize, aks: usize) -> MixedFleet {
        let moto = Moto::start();
        let proxy = Proxy::start(&moto.endpoint).await;
        let mut aws = Vec::new();
        for a in 0..ACCOUNTS {
            for region in REGIONS {
                let account = account(a);
                let client = client_in(&moto.endpoint, &account, region).await;
                aws.push(AwsKey {
                    account,
                    region,
                    clusters: Vec::new(),
                    client,
                });
            }
        }
        let keys = aws.len();
        for i in 0..eks {
            let key = &mut aws[i % keys];
            create_stream(&key.client, &log_group(i), STREAM).await;
            key.clusters.push(i);
        }
        let analytics = FakeLogAnalytics::start().await;
        for w in 0..WORKSPACES {
            analytics.create_table(&workspace(w), "AKSAuditAdmin");
        }
        let counts = HashMap::from([
            (Provider::Eks, eks),
            (Provider::Gke, gke),
            (Provider::Aks, aks),
        ]);
        MixedFleet {
            counts,
            moto,
            proxy,
            logging: FakeLogging::start().await,
            analytics,
            az: FakeAz::install(TOKEN),
            aws,
        }
    }

    /// The `[[sources]]` tables: one per AWS account and region, GCP project, Azure workspace.
    pub fn sources(&self) -> String {
        let secs = |p: Provider| {
            let (interval, lag) = p.interval_and_lag();
            format!(
                "interval = \"{}s\"\nlag = \"{}s\"\n",
                interval.as_secs(),
                lag.as_secs()
            )
        };
        let mut text = String::new();
        for key in &self.aws {
            let clusters: Vec<String> = key
                .clusters
                .iter()
                .map(|i| format!("\"eks-{i}\""))
                .collect();
            text.push_str(&format!(
                "[[sources]]\ntype = \"aws_cloudwatch\"\nname = \"eks-{}-{}\"\nregion = \"{}\"\n\
                 clusters = [{}]\nrole_arn = \"{}\"\nendpoint = \"{}\"\n{}",
                key.account,
                key.region,
                key.region,
                clusters.join(", "),
                role_arn(&key.account),
                self.proxy.endpoint,
                secs(Provider::Eks)
            ));
        }
        for p in 0..PROJECTS {
            text.push_str(&format!(
                "[[sources]]\ntype = \"gcp_logging\"\nname = \"gke-{p}\"\nprojects = [\"project-{p}\"]\n\
                 anonymous = true\nendpoint = \"{}\"\n{}",
                self.logging.endpoint(),
                secs(Provider::Gke)
            ));
        }
        for w in 0..WORKSPACES {
            text.push_str(&format!(
                "[[sources]]\ntype = \"azure_monitor\"\nname = \"aks-{w}\"\nworkspace_id = \"{}\"\n\
                 endpoint = \"{}\"\ncredential = \"azure_cli\"\n{}",
                workspace(w),
                self.analytics.url,
                secs(Provider::Aks)
            ));
        }
        text
    }

    /// The daemon's environment: the fake `az` first on `PATH`, and the base AWS keys that
    /// sign the `AssumeRole` calls (moto accepts any).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PATH", self.az.path()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    /// One NodePort create in every `step`-th cluster of each provider, the providers taking
    /// turns, [`INSERT_GAP`] apart; each Service with the moment its event became visible
    /// (stored by the emulator) and its provider.
    pub async fn insert_every(&self, step: usize) -> HashMap<String, (Provider, Instant)> {
        let mut turns = Vec::new();
        for provider in Provider::ALL {
            for (n, i) in (0..self.counts[&provider]).step_by(step).enumerate() {
                turns.push((n, provider, i));
            }
        }
        turns.sort();
        let mut visible = HashMap::new();
        for (_, provider, i) in turns {
            let service = format!("svc-{}-{i}", provider.label());
            match provider {
                Provider::Eks => {
                    let key = &self.aws[i % self.aws.len()];
                    let event = nodeport(&format!("eks-{i}"));
                    put(&key.client, &log_group(i), STREAM, &[(now_ms(), event)]).await;
                }
                Provider::Gke => {
                    let project = format!("project-{}", i % PROJECTS);
                    let cluster = format!("gke-{i}");
                    let write = ServiceWrite {
                        project: &project,
                        cluster: &cluster,
                        location: "europe-west1",
                        time: Utc::now(),
                        insert_id: format!("gke-{i}"),
                        verb: "create",
                        service_type: "NodePort",
                        name: service.clone(),
                    };
                    self.logging.insert(write.entry());
                }
                Provider::Aks => {
                    let event = service_event(
                        &format!("aks-{i}"),
                        "ResponseComplete",
                        "create",
                        &service,
                        "NodePort",
                    );
                    let now = Utc::now();
                    let mut row = aks_row("AKSAuditAdmin", &event, &format!("aks-{i}"), now, now);
                    row.workspace = workspace(i % WORKSPACES);
                    self.analytics.add(row);
                }
            }
            visible.insert(service, (provider, Instant::now()));
            tokio::time::sleep(INSERT_GAP).await;
        }
        visible
    }

    /// Requests per minute per quota key, counted at the emulators over the whole run: the
    /// busiest key of each provider against its budget.
    pub fn requests(&self) -> String {
        let minute = Duration::from_secs(60);
        let key_of: HashMap<String, String> = self
            .aws
            .iter()
            .flat_map(|k| {
                k.clusters
                    .iter()
                    .map(|i| (log_group(*i), format!("{}:{}", k.account, k.region)))
            })
            .collect();
        let mut per_aws_key: HashMap<String, Vec<Instant>> = HashMap::new();
        for (group, at) in self.proxy.filter_log() {
            let key = key_of.get(&group).cloned().unwrap_or(group);
            per_aws_key.entry(key).or_default().push(at);
        }
        let aws = per_aws_key
            .into_values()
            .map(|t| most_in_a_window(t, minute))
            .max()
            .unwrap_or(0);
        let gcp = (0..PROJECTS)
            .map(|p| {
                self.logging
                    .max_requests_in_a_minute(&format!("project-{p}"))
            })
            .max()
            .unwrap_or(0);
        let seen = self.analytics.seen();
        let mut per_workspace: HashMap<String, Vec<Instant>> = HashMap::new();
        for query in &seen {
            per_workspace
                .entry(query.workspace.clone())
                .or_default()
                .push(query.at);
        }
        let azure = per_workspace
            .into_values()
            .map(|t| most_in_a_window(t, minute))
            .max()
            .unwrap_or(0);
        let identity =
            most_in_a_window(seen.iter().map(|q| q.at).collect(), Duration::from_secs(30));
        format!(
            "busiest AWS account+region: {aws} FilterLogEvents in a minute (budget 5/s = 300); \
             busiest GCP project: {gcp} entries.list in a minute (budget 50, quota 60); \
             busiest Azure workspace: {azure} queries in a minute; all workspaces on the one \
             identity: {identity} in 30 s (budget 200 per 30 s); `az` ran {} times",
            self.az.calls().len()
        )
    }

    /// moto's pid, to tell its CPU apart from the daemon's.
    pub fn moto_pid(&self) -> u32 {
        self.moto.pid()
    }
}
