//! The SQLite schema, migrated forward by `PRAGMA user_version`.

use rusqlite::Connection;

use super::super::StateError;

/// Each entry upgrades the schema by one version; never edit a released entry, append one.
const MIGRATIONS: &[&str] = &[
    // 1: checkpoints, overlap dedupe, outbox.
    r#"
    CREATE TABLE cursors (
        key        TEXT PRIMARY KEY,
        kind       TEXT NOT NULL,
        version    INTEGER NOT NULL,
        value      TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE seen (
        scope    TEXT NOT NULL,
        key      TEXT NOT NULL,
        event_ms INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
    ) WITHOUT ROWID;
    CREATE INDEX seen_by_age ON seen (scope, event_ms);
    CREATE TABLE alerts (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        rule       TEXT NOT NULL,
        severity   TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        body       TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        sink       TEXT NOT NULL,
        alert_seq  INTEGER NOT NULL REFERENCES alerts (seq),
        state      TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts   INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (sink, alert_seq)
    ) WITHOUT ROWID;
    CREATE INDEX deliveries_by_state ON deliveries (sink, state, alert_seq);
    "#,
    // 2 (faults): a readiness probe row, alert totals kept by a trigger, retention indexes.
    r#"
    CREATE TABLE writable_probe (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        written_at INTEGER NOT NULL
    );
    CREATE TABLE alert_totals (
        rule   TEXT NOT NULL,
        source TEXT NOT NULL,
        count  INTEGER NOT NULL,
        PRIMARY KEY (rule, source)
    ) WITHOUT ROWID;
    INSERT INTO alert_totals (rule, source, count)
        SELECT rule, COALESCE(json_extract(body, '$.source'), ''), COUNT(*) FROM alerts
        GROUP BY 1, 2;
    CREATE TRIGGER alert_totals_count AFTER INSERT ON alerts BEGIN
        INSERT INTO alert_totals (rule, source, count)
            VALUES (NEW.rule, COALESCE(json_extract(NEW.body, '$.source'), ''), 1)
            ON CONFLICT (rule, source) DO UPDATE SET count = count + 1;
    END;
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
        opened_at INTEGER,
        reminded  INTEGER NOT NULL DEFAULT 0,
        body      TEXT NOT NULL,
        PRIMARY KEY (cluster, namespace, service, rule)
    ) WITHOUT ROWID;
    CREATE INDEX exposures_by_status ON exposures (status, cluster, rule, opened_at);
    "#,
];

pub(super) fn migrate(conn: &mut Connection, path: &str) -> Result<(), StateError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if current > supported {
        return Err(StateError::NewerSchema {
            location: path.to_owned(),
            found: current,
            supported,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
