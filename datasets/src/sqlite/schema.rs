//! The SQLite catalog's schema and its numbered migrations.

use rusqlite::{Connection, params};

use crate::Result;
use crate::ident::sql_name;

/// The schema as it was when migrations were first numbered; [`v1_base`] also brings up to
/// it catalogs written before then.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS organizations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    title_en TEXT,
    description TEXT NOT NULL DEFAULT '',
    url TEXT
);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    organization TEXT NOT NULL REFERENCES organizations(id),
    meta TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tables (
    dataset TEXT NOT NULL REFERENCES datasets(id),
    name TEXT NOT NULL,
    title TEXT NOT NULL,
    settings TEXT,
    sql_name TEXT,
    PRIMARY KEY (dataset, name)
);
CREATE TABLE IF NOT EXISTS versions (
    dataset TEXT NOT NULL,
    tbl TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    row_count INTEGER NOT NULL,
    byte_size INTEGER NOT NULL,
    file TEXT NOT NULL,
    columns TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL DEFAULT '',
    changes TEXT,
    report TEXT,
    PRIMARY KEY (dataset, tbl, version),
    FOREIGN KEY (dataset, tbl) REFERENCES tables(dataset, name)
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    site_admin INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS memberships (
    user TEXT NOT NULL REFERENCES users(id),
    organization TEXT NOT NULL REFERENCES organizations(id),
    role TEXT NOT NULL,
    PRIMARY KEY (user, organization)
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(id),
    hash TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entry TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    job TEXT NOT NULL
);
";

/// Each step brings a catalog from schema version `i` to `i + 1`; `PRAGMA user_version`
/// holds how many have run. Steps only ever add.
const MIGRATIONS: &[fn(&Connection) -> Result<()>] = &[
    v1_base,
    v2_changes,
    v3_job_leases,
    v4_leaders,
    v5_harvest_sources,
    v6_sessions,
    v7_drafts,
    v8_withdrawals,
    v9_private_and_resources,
    v10_usage,
    v11_webhooks,
    v12_glossary,
];

pub(super) fn migrate(conn: &Connection) -> Result<()> {
    let done: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(done) {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        // Another process may have run it between the read above and this lock.
        let now: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let ran = if now > i {
            Ok(())
        } else {
            step(conn).and_then(|()| Ok(conn.pragma_update(None, "user_version", i + 1)?))
        };
        match ran {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                conn.execute_batch("ROLLBACK")?;
                return Err(e);
            }
        }
    }
    Ok(())
}

fn v2_changes(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS changes (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             dataset TEXT,
             organization TEXT
         )",
    )?;
    Ok(())
}

/// Jobs get the columns a node claims them by.
fn v3_job_leases(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "ALTER TABLE jobs ADD COLUMN status TEXT NOT NULL DEFAULT 'queued';
         ALTER TABLE jobs ADD COLUMN lease_until TEXT;
         UPDATE jobs SET status = json_extract(job, '$.status');
         CREATE INDEX jobs_status ON jobs(status);",
    )?;
    Ok(())
}

/// Who leads each maintenance role, and until when.
fn v4_leaders(conn: &Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE leaders (role TEXT PRIMARY KEY, node TEXT NOT NULL, until TEXT NOT NULL)")?;
    Ok(())
}

/// Sources harvested on a schedule.
fn v5_harvest_sources(conn: &Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE harvest_sources (namespace TEXT PRIMARY KEY, source TEXT NOT NULL)")?;
    Ok(())
}

/// Passwords and browser sessions.
fn v6_sessions(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE passwords (user TEXT PRIMARY KEY REFERENCES users(id), phc TEXT NOT NULL);
         CREATE TABLE sessions (hash TEXT PRIMARY KEY, expires_at TEXT NOT NULL, session TEXT NOT NULL);",
    )?;
    Ok(())
}

/// Versions waiting for review.
fn v7_drafts(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE drafts (dataset TEXT NOT NULL, tbl TEXT NOT NULL, draft TEXT NOT NULL, PRIMARY KEY (dataset, tbl))",
    )?;
    Ok(())
}

/// Why datasets were withdrawn.
fn v8_withdrawals(conn: &Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE withdrawals (id TEXT PRIMARY KEY, record TEXT NOT NULL)")?;
    Ok(())
}

/// Private datasets; withdrawn ones kept for a restore; files and links that are not tables.
fn v9_private_and_resources(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "ALTER TABLE datasets ADD COLUMN withdrawn INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE datasets ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
         CREATE TABLE resources (
             dataset TEXT NOT NULL REFERENCES datasets(id),
             id TEXT NOT NULL,
             record TEXT NOT NULL,
             PRIMARY KEY (dataset, id)
         );",
    )?;
    Ok(())
}

/// Usage per dataset and day. No foreign key: a count flushed just after its dataset was
/// withdrawn is still a count, and must not fail the whole flush.
fn v10_usage(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE usage (
             dataset TEXT NOT NULL,
             day TEXT NOT NULL,
             views INTEGER NOT NULL DEFAULT 0,
             downloads INTEGER NOT NULL DEFAULT 0,
             api_calls INTEGER NOT NULL DEFAULT 0,
             PRIMARY KEY (dataset, day)
         );
         CREATE INDEX usage_by_day ON usage (day);",
    )?;
    Ok(())
}

/// Webhooks, and their deliveries: pending ones by when they are due, a webhook's by age.
fn v11_webhooks(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE webhooks (id TEXT PRIMARY KEY, organization TEXT NOT NULL, record TEXT NOT NULL);
         CREATE INDEX webhooks_of ON webhooks (organization);
         CREATE TABLE deliveries (
             id TEXT PRIMARY KEY,
             webhook TEXT NOT NULL,
             status TEXT NOT NULL,
             due_at TEXT NOT NULL,
             created_at TEXT NOT NULL,
             record TEXT NOT NULL
         );
         CREATE INDEX deliveries_due ON deliveries (status, due_at);
         CREATE INDEX deliveries_of ON deliveries (webhook, created_at);",
    )?;
    Ok(())
}

/// The search glossary as a site admin edited it: one row, absent while the shipped one
/// serves.
fn v12_glossary(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE glossary (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             text TEXT NOT NULL,
             updated_at TEXT NOT NULL,
             updated_by TEXT NOT NULL
         );",
    )?;
    Ok(())
}

/// The first schema, and the columns catalogs from before numbered migrations lack.
fn v1_base(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA_V1)?;
    let has = |table: &str, column: &str| -> Result<bool> {
        let mut stmt = conn.prepare(&format!("SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"))?;
        Ok(stmt.exists([column])?)
    };
    for (table, column, decl) in [
        ("versions", "content_hash", "TEXT NOT NULL DEFAULT ''"),
        ("versions", "changes", "TEXT"),
        ("versions", "report", "TEXT"),
        ("tables", "settings", "TEXT"),
        ("tables", "sql_name", "TEXT"),
        ("users", "disabled", "INTEGER NOT NULL DEFAULT 0"),
    ] {
        if !has(table, column)? {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
        }
    }
    // Tables from before SQL names were stored get theirs in the order they were made, so
    // where two names collided the older table keeps the plain one.
    let unnamed: Vec<(i64, String, String)> = conn
        .prepare("SELECT rowid, dataset, name FROM tables WHERE sql_name IS NULL ORDER BY rowid")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (rowid, dataset, name) in unnamed {
        let sql_name = free_sql_name(conn, &dataset, &name)?;
        conn.execute("UPDATE tables SET sql_name = ?2 WHERE rowid = ?1", params![rowid, sql_name])?;
    }
    conn.execute_batch("CREATE UNIQUE INDEX IF NOT EXISTS tables_sql_name ON tables(sql_name)")?;
    Ok(())
}

/// The SQL name a new table gets: `<dataset>__<table>` with `-` as `_`, unless another table
/// holds it (`air-quality` and `air_quality` map to one name, and so do dataset `a` with
/// table `b__c` and dataset `a__b` with table `c`): then the first of `…_2`, `…_3` that is
/// free. A table never takes over a name another one's queries use; the unique index makes
/// that a constraint, not a convention.
pub(super) fn free_sql_name(conn: &Connection, dataset: &str, table: &str) -> Result<String> {
    let base = sql_name(dataset, table);
    let taken = |name: &str| -> Result<bool> {
        Ok(conn.query_row("SELECT count(*) FROM tables WHERE sql_name = ?1", [name], |r| r.get::<_, i64>(0))? > 0)
    };
    if !taken(&base)? {
        return Ok(base);
    }
    for n in 2.. {
        let candidate = format!("{base}_{n}");
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    unreachable!("some suffix is free")
}
