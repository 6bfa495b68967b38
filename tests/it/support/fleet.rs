//! Replicas of the real binary on one PostgreSQL database, polling one provider's API and
//! delivering to one webhook receiver: the harness of `replicas`, `replicas_failover` and
//! `replicas_aws`.
//!
//! The fleet is generic over that API, `S`: the fake Cloud Logging (`fleet_gke`, the default)
//! or moto behind a counting proxy (`fleet_aws`). Those files write the `[[sources]]` tables
//! and events; this one runs the processes and reads the leases, which do not depend on the
//! provider. Every source polls every second, so the lease time is 3 s (see
//! `runtime::fleet::timing`). A replica is named in the store `host-pid-random`;
//! [`Fleet::replica_id`] finds a daemon's id by its pid.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::daemon::{Daemon, free_port};
use super::fake_logging::FakeLogging;
use super::postgres::PgServer;
use super::receiver::Receiver;
use super::wait::eventually;

pub const WAIT: Duration = Duration::from_secs(60);

/// One fleet at a time in this test process: three debug-build daemons per test on a 2-core
/// machine are enough load; several fleets at once delay lease renewals past the 3 s lease
/// time, and the test would measure the machine rather than the failover.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static FLEETS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    FLEETS.lock().await
}
/// The sources' poll interval, and the lease time the daemon derives from it.
pub const INTERVAL: Duration = Duration::from_secs(1);
pub const TTL: Duration = Duration::from_secs(3);

pub struct Fleet<'a, S = FakeLogging> {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// The provider API the sources read (see the module doc).
    pub api: S,
    pub rx: Receiver,
    pub server: &'a PgServer,
    pub database: String,
    pub daemons: Vec<Daemon>,
    /// Each daemon's `[server]` port and pid (kept after it is killed).
    pub ports: Vec<u16>,
    pids: Vec<u32>,
    /// Environment variables of every daemon (a provider's credentials).
    env: Vec<(&'static str, &'static str)>,
    /// Events written so far: numbers each new one.
    written: usize,
}

/// A lease row as the test reads it.
#[derive(Clone, Debug)]
pub struct LeaseRow {
    pub name: String,
    pub owner: String,
    pub epoch: i64,
    pub live: bool,
}

impl<'a, S> Fleet<'a, S> {
    /// A fresh database on `server` and a configuration with one webhook sink and `sources`
    /// (`[[sources]]` tables reading `api`); the daemons get `env`. No daemon runs yet.
    pub async fn with_sources(
        server: &'a PgServer,
        api: S,
        sources: &str,
        env: &[(&'static str, &'static str)],
    ) -> Fleet<'a, S> {
        let dir = tempfile::tempdir().unwrap();
        let rx = Receiver::start().await;
        let database = server.database().await;
        let text = format!(
            "[state]\nurl = \"{}\"\n\n[delivery]\nmin_backoff = \"20ms\"\nmax_backoff = \"200ms\"\n\
             poll_interval = \"200ms\"\n\n[[sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\n\
             {sources}",
            server.url(&database),
            rx.url("/hook"),
        );
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).unwrap();
        Fleet {
            dir,
            config,
            api,
            rx,
            server,
            database,
            daemons: Vec::new(),
            ports: Vec::new(),
            pids: Vec::new(),
            env: env.to_vec(),
            written: 0,
        }
    }

    /// The number of the next event a test writes, for ids unique in the fleet.
    pub fn next_event(&mut self) -> usize {
        self.written += 1;
        self.written
    }

    /// Starts one more replica, serving `/readyz` and `/metrics` on a port of its own;
    /// returns its index in `daemons`.
    pub fn spawn(&mut self) -> usize {
        let i = self.daemons.len();
        let port = free_port();
        let config = self.dir.path().join(format!("replica-{i}.toml"));
        let shared = std::fs::read_to_string(&self.config).unwrap();
        std::fs::write(
            &config,
            format!("{shared}\n[server]\nlisten = \"127.0.0.1:{port}\"\n"),
        )
        .unwrap();
        let log = self.dir.path().join(format!("replica-{i}.log"));
        let daemon = Daemon::start_with_env(&config, &log, &self.env);
        self.pids.push(daemon.pid());
        self.daemons.push(daemon);
        self.ports.push(port);
        i
    }

    /// `GET path` on daemon `i`'s server: the status and body, `None` while it does not answer.
    pub async fn get(&self, i: usize, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path}", self.ports[i]);
        let response = reqwest::get(url).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// Every lease, live by the database's clock.
    pub async fn leases(&self) -> Vec<LeaseRow> {
        let Ok(client) = self.server.connect(&self.database).await else {
            return Vec::new();
        };
        let rows = client
            .query(
                "SELECT name, owner, epoch, expires_at > now() FROM leases ORDER BY name",
                &[],
            )
            .await
            .unwrap_or_default();
        rows.iter()
            .map(|r| LeaseRow {
                name: r.get(0),
                owner: r.get(1),
                epoch: r.get(2),
                live: r.get(3),
            })
            .collect()
    }

    /// The live holder of `lease`, if any.
    pub async fn holder(&self, lease: &str) -> Option<String> {
        self.leases()
            .await
            .into_iter()
            .find(|l| l.name == lease && l.live)
            .map(|l| l.owner)
    }

    /// Live leases per owner.
    pub async fn spread(&self) -> HashMap<String, usize> {
        let mut spread = HashMap::new();
        for lease in self.leases().await.into_iter().filter(|l| l.live) {
            *spread.entry(lease.owner).or_default() += 1;
        }
        spread
    }

    /// Until `n` replicas each hold exactly `each` live source leases.
    pub async fn wait_for_spread(&self, n: usize, each: usize) -> HashMap<String, usize> {
        eventually(
            &format!("{n} replicas holding {each} sources each"),
            WAIT,
            async || {
                let mut spread = HashMap::new();
                for lease in self.leases().await {
                    if lease.live && lease.name.starts_with("source/") {
                        *spread.entry(lease.owner).or_insert(0) += 1;
                    }
                }
                (spread.len() == n && spread.values().all(|c| *c == each)).then_some(spread)
            },
        )
        .await
    }

    /// The quota keys recorded for `lease` (what its source draws on).
    pub async fn quota_keys(&self, lease: &str) -> Vec<String> {
        let Ok(client) = self.server.connect(&self.database).await else {
            return Vec::new();
        };
        client
            .query(
                "SELECT quota_key FROM lease_quota_keys WHERE lease = $1 ORDER BY quota_key",
                &[&lease],
            )
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Until the outbox has no delivery pending: nothing is in flight to the sink, so a
    /// replica killed now cannot leave an alert sent but unmarked (sent again by the next
    /// holder, with the same id).
    pub async fn wait_for_outbox_settled(&self) {
        let client = self.server.connect(&self.database).await.unwrap();
        eventually("every delivery marked", WAIT, async || {
            let row = client
                .query_one(
                    "SELECT count(*) FROM deliveries WHERE state = 'pending'",
                    &[],
                )
                .await
                .ok()?;
            (row.get::<_, i64>(0) == 0).then_some(())
        })
        .await;
    }

    /// The replica id daemon `i` registered (`host-PID-random`).
    pub async fn replica_id(&self, i: usize) -> String {
        let pid = self.pids[i];
        let client = self.server.connect(&self.database).await.unwrap();
        eventually("the replica to register", WAIT, async || {
            let rows = client.query("SELECT id FROM replicas", &[]).await.ok()?;
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .find(|id| id.split('-').rev().nth(1) == Some(pid.to_string().as_str()))
        })
        .await
    }

    /// Waits until `lease` has a live holder other than `victim_id` (a replica just killed or
    /// paused) and returns it.
    pub async fn heir(&self, lease: &str, victim_id: &str) -> String {
        eventually(&format!("{lease} taken over"), WAIT, async || {
            self.holder(lease).await.filter(|owner| *owner != victim_id)
        })
        .await
    }

    /// Index of the daemon holding `lease`.
    pub async fn daemon_holding(&self, lease: &str) -> usize {
        let owner = eventually("the lease to be held", WAIT, async || {
            self.holder(lease).await
        })
        .await;
        let pid = owner.split('-').rev().nth(1).unwrap().to_owned();
        self.pids
            .iter()
            .position(|p| p.to_string() == pid)
            .unwrap_or_else(|| panic!("no daemon with pid {pid} holds {lease}"))
    }

    /// How many times each alert id was delivered.
    pub fn deliveries(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for request in self.rx.requests() {
            let id = request.json()["id"].as_str().unwrap_or_default().to_owned();
            *counts.entry(id).or_default() += 1;
        }
        counts
    }

    /// The audit IDs of the alerts delivered, one per delivery, sorted.
    pub fn delivered_audit_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .rx
            .requests()
            .iter()
            .map(|r| r.json()["audit_id"].as_str().unwrap_or_default().to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// Until `n` distinct alerts have been delivered.
    pub async fn wait_for_alerts(&self, n: usize, deadline: Duration) {
        eventually(
            &format!("{n} distinct alerts delivered"),
            deadline,
            async || (self.deliveries().len() >= n).then_some(()),
        )
        .await;
    }

    /// Every alert delivered exactly once, and `n` of them.
    pub fn assert_each_once(&self, n: usize) {
        let deliveries = self.deliveries();
        let twice: Vec<_> = deliveries.iter().filter(|(_, c)| **c > 1).collect();
        assert!(twice.is_empty(), "delivered more than once: {twice:?}");
        assert_eq!(deliveries.len(), n, "distinct alerts delivered");
    }

    /// Every one of `n` alerts delivered at least once: nothing lost. (Across a store outage
    /// an alert whose delivery could not be recorded is sent again, with the same id.)
    pub fn assert_none_lost(&self, n: usize) {
        assert_eq!(self.deliveries().len(), n, "distinct alerts delivered");
    }

    /// The log of daemon `i`.
    pub fn log(&self, i: usize) -> String {
        self.daemons[i].log_text()
    }

    /// Sends `signal` (`STOP`, `CONT`) to daemon `i`.
    pub fn signal(&self, i: usize, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.pids[i].to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}
