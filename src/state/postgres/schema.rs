//! The PostgreSQL schema, migrated forward by numbered, append-only steps recorded in
//! `schema_version`, as the SQLite schema is. Every replica migrates at start; an advisory lock
//! makes the first one do it and the others wait, then find nothing left to do.

use deadpool_postgres::Object;

use super::error::PostgresError;

/// The advisory lock key taken while migrating (any fixed number; "npw-migr" in ASCII).
const MIGRATION_LOCK: i64 = 0x6e70_772d_6d69_6772;

/// Each entry upgrades the schema by one version; never edit a released entry, append one.
///
/// Times that decide ownership (`leases.expires_at`) come from the database's clock, the one
/// clock every replica shares; the others are informational.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the tables of the SQLite store (same meaning), plus what replicas share.
    r#"
    CREATE TABLE cursors (
        key        TEXT PRIMARY KEY,
        kind       TEXT NOT NULL,
        version    BIGINT NOT NULL,
        value      TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE seen (
        scope    TEXT NOT NULL,
        key      TEXT NOT NULL,
        event_ms BIGINT NOT NULL,
        PRIMARY KEY (scope, key)
    );
    CREATE INDEX seen_by_age ON seen (scope, event_ms);
    CREATE TABLE alerts (
        seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id         TEXT NOT NULL UNIQUE,
        rule       TEXT NOT NULL,
        severity   TEXT NOT NULL,
        source     TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        body       TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        sink       TEXT NOT NULL,
        alert_seq  BIGINT NOT NULL REFERENCES alerts (seq),
        state      TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts   INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (sink, alert_seq)
    );
    CREATE INDEX deliveries_by_state ON deliveries (sink, state, alert_seq);
    -- One row per unit of work a single replica owns at a time: `source/<name>` (polling and
    -- committing), `sink/<name>` (delivering a sink's queue). `epoch` grows on every change of
    -- hands, and a fenced write carries the epoch it was given.
    CREATE TABLE leases (
        name        TEXT PRIMARY KEY,
        owner       TEXT NOT NULL,
        epoch       BIGINT NOT NULL,
        expires_at  TIMESTAMPTZ NOT NULL,
        acquired_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE replicas (
        id           TEXT PRIMARY KEY,
        host         TEXT NOT NULL,
        started_at   TIMESTAMPTZ NOT NULL,
        heartbeat_at TIMESTAMPTZ NOT NULL
    );
    -- A scheduled scan occurrence claimed by the first replica to insert it.
    CREATE TABLE scan_occurrences (
        schedule   TEXT NOT NULL,
        due_at     TIMESTAMPTZ NOT NULL,
        owner      TEXT NOT NULL,
        claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (schedule, due_at)
    );
    "#,
    // 2 (faults): alert totals kept by a trigger (no scan per scrape), retention indexes.
    r#"
    CREATE TABLE alert_totals (
        rule   TEXT NOT NULL,
        source TEXT NOT NULL,
        count  BIGINT NOT NULL,
        PRIMARY KEY (rule, source)
    );
    INSERT INTO alert_totals (rule, source, count)
        SELECT rule, source, COUNT(*) FROM alerts GROUP BY 1, 2;
    CREATE FUNCTION npw_count_alert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO alert_totals (rule, source, count) VALUES (NEW.rule, NEW.source, 1)
            ON CONFLICT (rule, source) DO UPDATE SET count = alert_totals.count + 1;
        RETURN NULL;
    END
    $$;
    CREATE TRIGGER alert_totals_count AFTER INSERT ON alerts
        FOR EACH ROW EXECUTE FUNCTION npw_count_alert();
    CREATE INDEX deliveries_by_age ON deliveries (state, updated_at);
    CREATE INDEX deliveries_by_alert ON deliveries (alert_seq);
    CREATE INDEX alerts_by_age ON alerts (created_at);
    "#,
    // 3 (lifecycle): exposures, one row per Service and rule (the whole row as JSON in `body`).
    r#"
    CREATE TABLE exposures (
        cluster   TEXT NOT NULL,
        namespace TEXT NOT NULL,
        service   TEXT NOT NULL,
        rule      TEXT NOT NULL,
        status    TEXT NOT NULL CHECK (status IN ('open', 'closed', 'unexposed')),
        opened_at BIGINT,
        reminded  BOOLEAN NOT NULL DEFAULT false,
        body      TEXT NOT NULL,
        PRIMARY KEY (cluster, namespace, service, rule)
    );
    CREATE INDEX exposures_by_status ON exposures (status, cluster, rule, opened_at);
    "#,
    // 4 (replicas): the provider quota keys each leased unit draws on, for splitting budgets by lease share.
    r#"
    CREATE TABLE lease_quota_keys (
        lease     TEXT NOT NULL,
        quota_key TEXT NOT NULL,
        PRIMARY KEY (lease, quota_key)
    );
    CREATE INDEX lease_quota_keys_by_key ON lease_quota_keys (quota_key);
    "#,
];

pub(super) fn supported() -> i64 {
    MIGRATIONS.len() as i64
}

/// For a reader that must not change the database: the schema must be exactly this release's.
pub(super) async fn check(client: &Object, target: &str) -> Result<(), PostgresError> {
    // Two statements: a query naming a missing table fails when planned, whatever its CASE.
    let exists = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await?;
    let found: i64 = if exists.try_get(0)? {
        let row = client
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_version",
                &[],
            )
            .await?;
        row.try_get(0)?
    } else {
        0
    };
    match found {
        0 => Err(PostgresError::NoSchema {
            target: target.to_owned(),
        }),
        found if found > supported() => Err(PostgresError::NewerSchema {
            target: target.to_owned(),
            found,
            supported: supported(),
        }),
        found if found < supported() => Err(PostgresError::OlderSchema {
            target: target.to_owned(),
            found,
            supported: supported(),
        }),
        _ => Ok(()),
    }
}

/// Brings the schema to [`supported`], or refuses a database written by a newer release.
pub(super) async fn migrate(client: &mut Object, target: &str) -> Result<(), PostgresError> {
    let tx = client.transaction().await?;
    // Transaction-scoped: released by the commit or rollback, even if this replica dies here.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_version",
            &[],
        )
        .await?;
    let current: i64 = row.try_get(0)?;
    if current > supported() {
        return Err(PostgresError::NewerSchema {
            target: target.to_owned(),
            found: current,
            supported: supported(),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i32 + 1;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await?;
        tracing::info!(target = %target, version, "PostgreSQL state schema migrated");
    }
    tx.commit().await?;
    Ok(())
}
