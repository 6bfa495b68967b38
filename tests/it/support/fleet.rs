//! Replicas of the real binary on one PostgreSQL database, polling Cloud Logging sources on the
//! local fake and delivering to one webhook receiver: the harness of `replicas` and
//! `replicas_failover`.
//!
//! Each source reads its own project (or a shared one, for the quota test) with a 1 s poll
//! interval, so the lease time is 3 s (see `runtime::fleet::timing`). A replica is named in
//! the store `host-pid-random`; [`Fleet::replica_id`] finds a daemon's id by its pid.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;

use super::daemon::{Daemon, free_port};
use super::fake_logging::FakeLogging;
use super::gcp::nodeport_create;
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

pub struct Fleet<'a> {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub logging: FakeLogging,
    pub rx: Receiver,
    pub server: &'a PgServer,
    pub database: String,
    pub daemons: Vec<Daemon>,
    /// Each daemon's `[server]` port and pid (kept after it is killed).
    pub ports: Vec<u16>,
    pids: Vec<u32>,
    inserted: usize,
}

/// A lease row as the test reads it.
#[derive(Clone, Debug)]
pub struct LeaseRow {
    pub name: String,
    pub owner: String,
    pub epoch: i64,
    pub live: bool,
}

impl<'a> Fleet<'a> {
    /// A fresh database on `server` and a configuration with `sources` as (name, project),
    /// each project limited to `requests_per_minute`. No daemon runs yet.
    pub async fn new(
        server: &'a PgServer,
        sources: &[(&str, &str)],
        requests_per_minute: u32,
    ) -> Fleet<'a> {
        let dir = tempfile::tempdir().unwrap();
        let logging = FakeLogging::start().await;
        let rx = Receiver::start().await;
        let database = server.database().await;
        let mut text = format!(
            "[state]\nurl = \"{}\"\n\n[delivery]\nmin_backoff = \"20ms\"\nmax_backoff = \"200ms\"\n\
             poll_interval = \"200ms\"\n\n[[sinks]]\ntype = \"webhook\"\nname = \"hook\"\nurl = \"{}\"\n",
            server.url(&database),
            rx.url("/hook"),
        );
        for (name, project) in sources {
            text.push_str(&format!(
                "\n[[sources]]\ntype = \"gcp_logging\"\nname = \"{name}\"\nprojects = [\"{project}\"]\n\
                 endpoint = \"{}\"\nanonymous = true\ninterval = \"{}s\"\nlag = \"1s\"\n\
                 lookback = \"10m\"\nrequests_per_minute = {requests_per_minute}\n",
                logging.endpoint(),
                INTERVAL.as_secs(),
            ));
        }
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).unwrap();
        Fleet {
            dir,
            config,
            logging,
            rx,
            server,
            database,
            daemons: Vec::new(),
            ports: Vec::new(),
            pids: Vec::new(),
            inserted: 0,
        }
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
        let daemon = Daemon::start(&config, &log);
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

    /// Writes a NodePort create into `project`, visible to the next poll; returns its id.
    pub fn insert(&mut self, project: &str) -> String {
        self.inserted += 1;
        let time = Utc::now() - chrono::Duration::seconds(2);
        let entry = nodeport_create(project, "c1", time, self.inserted);
        let id = entry["insertId"].as_str().unwrap().to_owned();
        self.logging.insert(entry);
        id
    }

    /// How many times each alert id was delivered, and the insert ids they came from.
    pub fn deliveries(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for request in self.rx.requests() {
            let id = request.json()["id"].as_str().unwrap_or_default().to_owned();
            *counts.entry(id).or_default() += 1;
        }
        counts
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
