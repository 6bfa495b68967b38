//! One delivering process per PostgreSQL database, until replicas take turns through leases.
//!
//! As on SQLite, two daemons (or a `scan` beside a daemon) delivering from one database would
//! both send every pending alert. A process that delivers takes a session-level advisory lock,
//! [`DELIVERY_LOCK`], on a connection of its own (not a pooled one: the lock lives exactly as
//! long as that session) and keeps the session for its life; a second one is refused at start
//! and told who holds the lock (`pg_locks` joined with `pg_stat_activity`). The server drops the
//! lock with the session, however the process ends, so a crash leaves no stale lock behind.
//!
//! If the session drops while the daemon runs (a server restart, a network cut), another
//! process may take the lock meanwhile. So deliverers ask [`DeliveryLock::ensure_held`] before
//! each batch: a cheap `SELECT 1` on the dedicated session proves the lock is still ours; a dead
//! session is replaced and the lock tried again; when another process holds it, delivery
//! pauses (the batch read fails, the deliverer retries at its idle poll) and an error is logged
//! each time, until the lock is ours again.

use tokio::sync::Mutex;
use tokio_postgres::Client;
use tracing::{error, warn};

use super::config::PostgresSettings;
use super::error::{self, PostgresError};
use super::tls;

/// The advisory lock key of the delivering process: "npw-dlvr" (nodeport-watch deliverer) in
/// ASCII, read as a big-endian 64-bit integer. Advisory locks are scoped to the database.
pub const DELIVERY_LOCK: i64 = 0x6e70_772d_646c_7672;

pub(super) struct DeliveryLock {
    settings: PostgresSettings,
    /// The session holding the lock; `None` once it was found dead and not replaced yet.
    session: Mutex<Option<Client>>,
}

impl DeliveryLock {
    /// Takes the lock on a new session, or says who holds it.
    pub(super) async fn acquire(settings: &PostgresSettings) -> Result<Self, PostgresError> {
        let client = connect(settings).await?;
        if !try_lock(&client).await? {
            return Err(PostgresError::Locked {
                target: settings.display.clone(),
                holder: holder(&client).await,
            });
        }
        Ok(DeliveryLock {
            settings: settings.clone(),
            session: Mutex::new(Some(client)),
        })
    }

    /// Whether this process still holds the lock, re-taking it on a new session when the old
    /// one died. Fails (transiently) while the server cannot be reached, and with
    /// [`PostgresError::Locked`] while another process holds it: either way, do not deliver.
    pub(super) async fn ensure_held(&self) -> Result<(), PostgresError> {
        let mut session = self.session.lock().await;
        if let Some(client) = session.as_ref() {
            // The lock lives with the session: while the session answers, the lock is ours.
            match client.simple_query("SELECT 1").await {
                Ok(_) => return Ok(()),
                Err(e) => {
                    warn!(
                        target = %self.settings.display,
                        error = %error::describe(&e),
                        "the session holding the delivery lock dropped; delivery pauses until \
                         the lock is taken again"
                    );
                    *session = None;
                }
            }
        }
        let client = connect(&self.settings).await?;
        if try_lock(&client).await? {
            warn!(target = %self.settings.display, "the delivery lock is held again; delivery resumes");
            *session = Some(client);
            return Ok(());
        }
        let holder = holder(&client).await;
        error!(
            target = %self.settings.display,
            %holder,
            "DELIVERY STOPPED: another process took the delivery lock while this one's session \
             was down; this daemon delivers nothing until it can take the lock back. Stop one \
             of the two daemons"
        );
        Err(PostgresError::Locked {
            target: self.settings.display.clone(),
            holder,
        })
    }
}

async fn try_lock(client: &Client) -> Result<bool, PostgresError> {
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&DELIVERY_LOCK])
        .await?;
    Ok(row.try_get(0)?)
}

/// A session of its own, outside the pool, with the same settings and TLS.
async fn connect(settings: &PostgresSettings) -> Result<Client, PostgresError> {
    let failed = |e: tokio_postgres::Error| PostgresError::Connect {
        target: settings.display.clone(),
        detail: error::describe(&e),
        transient: error::transient_query(&e),
    };
    let pg = settings.connection_config();
    // The connection task ends with the session; its error surfaces on the next query.
    match tls::connector(settings.sslmode)? {
        Some(tls) => {
            let (client, connection) = pg.connect(tls).await.map_err(failed)?;
            tokio::spawn(connection);
            Ok(client)
        }
        None => {
            let (client, connection) = pg.connect(tokio_postgres::NoTls).await.map_err(failed)?;
            tokio::spawn(connection);
            Ok(client)
        }
    }
}

/// Who holds the lock, as far as this role may see (another role's session shows no details
/// unless this one has `pg_read_all_stats`), in one short printable line.
async fn holder(client: &Client) -> String {
    // A bigint advisory key shows in pg_locks as its high half (classid) and low half (objid).
    let high = DELIVERY_LOCK >> 32;
    let low = DELIVERY_LOCK & 0xffff_ffff;
    let row = client
        .query_opt(
            "SELECT l.pid, a.application_name, host(a.client_addr)
               FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                AND l.classid::int8 = $1 AND l.objid::int8 = $2
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              LIMIT 1",
            &[&high, &low],
        )
        .await;
    let Ok(Some(row)) = row else {
        return "a session that could not be identified".to_owned();
    };
    let pid: Option<i32> = row.try_get(0).ok().flatten();
    let name: Option<String> = row.try_get(1).ok().flatten();
    let addr: Option<String> = row.try_get(2).ok().flatten();
    let mut text = match pid {
        Some(pid) => format!("server session pid {pid}"),
        None => "a server session".to_owned(),
    };
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        // Any client can name itself anything: quote and escape it before an operator sees it.
        let shown: String = name.chars().take(64).collect();
        text.push_str(&format!(", application_name {shown:?}"));
    }
    if let Some(addr) = addr {
        text.push_str(&format!(", from {addr}"));
    }
    text
}

/// `nodeport-watch run (pid N)`: the `application_name` of this process's sessions, so a refused
/// process (and `pg_stat_activity`) can name the holder.
pub(super) fn application_name() -> String {
    let pid = std::process::id();
    match std::env::args().nth(1) {
        Some(sub) if !sub.is_empty() && sub.chars().all(|c| c.is_ascii_alphanumeric()) => {
            format!("nodeport-watch {sub} (pid {pid})")
        }
        _ => format!("nodeport-watch (pid {pid})"),
    }
}
