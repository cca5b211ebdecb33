//! The default catalog: one SQLite file in the data folder, nothing to install.

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::catalog::{Catalog, Change, Changes, NewVersion, Totals, held_by, take};
use crate::ident::{sql_name, validate_id};
use crate::model::*;
use crate::{Error, Result};

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

/// A [`Catalog`] in one SQLite file, in WAL mode so a CLI ingest can write while a server reads.
#[derive(Debug)]
pub struct SqliteCatalog {
    // One connection is plenty: catalog queries take microseconds next to data queries.
    conn: Mutex<Connection>,
}

impl SqliteCatalog {
    /// Opens (creating if needed) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&conn)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    /// Runs `f` in one write transaction, taken up front (IMMEDIATE) so it never fails
    /// half-way on a lock; an error rolls it back.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written: transactions roll back.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Each step brings a catalog from schema version `i` to `i + 1`; `PRAGMA user_version`
/// holds how many have run. Steps only ever add.
const MIGRATIONS: &[fn(&Connection) -> Result<()>] = &[v1_base, v2_changes, v3_job_leases, v4_leaders];

fn migrate(conn: &Connection) -> Result<()> {
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

/// Lease times as text that sorts as time does: one fixed format, in UTC.
fn lease_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn load_job(conn: &Connection, id: &str) -> Result<Job> {
    let job: String = conn
        .query_row("SELECT job FROM jobs WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::JobNotFound(id.to_owned()))?;
    Ok(serde_json::from_str(&job)?)
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
fn free_sql_name(conn: &Connection, dataset: &str, table: &str) -> Result<String> {
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

fn load_dataset(conn: &Connection, id: &str) -> Result<Dataset> {
    let row = conn
        .query_row("SELECT meta, created_at, updated_at FROM datasets WHERE id = ?1", [id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })
        .optional()?
        .ok_or_else(|| Error::DatasetNotFound(id.to_owned()))?;
    let meta: DatasetMeta = serde_json::from_str(&row.0)?;
    let mut stmt = conn.prepare_cached("SELECT name, title, sql_name FROM tables WHERE dataset = ?1 ORDER BY rowid")?;
    let names = stmt
        .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut tables = Vec::with_capacity(names.len());
    for (name, title, sql_name) in names {
        let mut stmt = conn.prepare_cached(
            "SELECT version, created_at, row_count, byte_size, file, columns, source, content_hash, changes
             FROM versions WHERE dataset = ?1 AND tbl = ?2 ORDER BY version",
        )?;
        let raw = stmt
            .query_map(params![id, name], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u64>(2)?,
                    r.get::<_, u64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let versions = raw
            .into_iter()
            .map(|(version, created, row_count, byte_size, file, columns, source, content_hash, changes)| {
                Ok(TableVersion {
                    version,
                    created_at: parse_time(&created)?,
                    row_count,
                    byte_size,
                    file,
                    columns: serde_json::from_str(&columns)?,
                    source: serde_json::from_str(&source)?,
                    content_hash,
                    changes: changes.as_deref().map(serde_json::from_str).transpose()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        tables.push(Table { dataset: id.to_owned(), sql_name, name, title, versions });
    }
    Ok(Dataset { meta, created_at: parse_time(&row.1)?, updated_at: parse_time(&row.2)?, tables })
}

const ORG_COLUMNS: &str = "SELECT id, title, title_en, description, url FROM organizations";

fn organization_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Organization> {
    Ok(Organization { id: r.get(0)?, title: r.get(1)?, title_en: r.get(2)?, description: r.get(3)?, url: r.get(4)? })
}

fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    // Written by this module with `to_rfc3339`, so a parse failure means a corrupt row.
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::Corrupt(serde::de::Error::custom(format!("bad timestamp {s:?}: {e}"))))
}

fn upsert_dataset(conn: &Connection, meta: &DatasetMeta, now: &str) -> Result<()> {
    validate_id(&meta.id)?;
    validate_id(&meta.organization)?;
    let exists: bool =
        conn.query_row("SELECT count(*) FROM organizations WHERE id = ?1", [&meta.organization], |r| r.get(0))?;
    if !exists {
        return Err(Error::OrganizationNotFound(meta.organization.clone()));
    }
    conn.execute(
        "INSERT INTO datasets (id, organization, meta, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT(id) DO UPDATE SET organization = ?2, meta = ?3, updated_at = ?4",
        params![meta.id, meta.organization, serde_json::to_string(meta)?, now],
    )?;
    changed(conn, Some(&meta.id), None)
}

fn set_columns(conn: &Connection, dataset: &str, table: &str, version: u32, columns: &[Column]) -> Result<()> {
    let changed = conn.execute(
        "UPDATE versions SET columns = ?4 WHERE dataset = ?1 AND tbl = ?2 AND version = ?3",
        params![dataset, table, version, serde_json::to_string(columns)?],
    )?;
    if changed == 0 {
        return Err(Error::VersionNotFound { table: table.to_owned(), version });
    }
    self::changed(conn, Some(dataset), None)
}

fn set_table_settings(conn: &Connection, dataset: &str, table: &str, settings: &TableSettings) -> Result<()> {
    let changed = conn.execute(
        "UPDATE tables SET settings = ?3 WHERE dataset = ?1 AND name = ?2",
        params![dataset, table, serde_json::to_string(settings)?],
    )?;
    if changed == 0 {
        return Err(Error::TableNotFound { dataset: dataset.to_owned(), table: table.to_owned() });
    }
    self::changed(conn, Some(dataset), None)
}

fn withdraw_dataset(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM versions WHERE dataset = ?1", [id])?;
    conn.execute("DELETE FROM tables WHERE dataset = ?1", [id])?;
    if conn.execute("DELETE FROM datasets WHERE id = ?1", [id])? == 0 {
        return Err(Error::DatasetNotFound(id.to_owned()));
    }
    changed(conn, Some(id), None)
}

/// Appends to the change feed; called inside the transaction of the change itself.
fn changed(conn: &Connection, dataset: Option<&str>, organization: Option<&str>) -> Result<()> {
    conn.execute("INSERT INTO changes (dataset, organization) VALUES (?1, ?2)", params![dataset, organization])?;
    Ok(())
}

fn put_job(conn: &Connection, job: &Job) -> Result<()> {
    let status = serde_json::to_value(job.status)?;
    conn.execute(
        "INSERT INTO jobs (id, job, status, lease_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET job = excluded.job, status = excluded.status, lease_until = excluded.lease_until",
        params![job.id, serde_json::to_string(job)?, status.as_str(), job.lease.as_ref().map(|l| lease_time(l.until))],
    )?;
    Ok(())
}

fn record(conn: &Connection, entry: &AuditEntry) -> Result<()> {
    conn.execute("INSERT INTO audit (entry) VALUES (?1)", [serde_json::to_string(entry)?])?;
    Ok(())
}

impl Catalog for SqliteCatalog {
    fn upsert_organization(&self, org: &Organization) -> Result<()> {
        validate_id(&org.id)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO organizations (id, title, title_en, description, url) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET title = ?2, title_en = ?3, description = ?4, url = ?5",
                params![org.id, org.title, org.title_en, org.description, org.url],
            )?;
            changed(tx, None, Some(&org.id))
        })
    }

    fn organization(&self, id: &str) -> Result<Organization> {
        self.conn()
            .query_row(&format!("{ORG_COLUMNS} WHERE id = ?1"), [id], organization_from_row)
            .optional()?
            .ok_or_else(|| Error::OrganizationNotFound(id.to_owned()))
    }

    fn organizations(&self) -> Result<Vec<Organization>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{ORG_COLUMNS} ORDER BY id"))?;
        let orgs = stmt.query_map([], organization_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(orgs)
    }

    fn upsert_dataset(&self, meta: &DatasetMeta) -> Result<()> {
        self.write(|tx| upsert_dataset(tx, meta, &Utc::now().to_rfc3339()))
    }

    fn dataset(&self, id: &str) -> Result<Dataset> {
        load_dataset(&self.conn(), id)
    }

    fn datasets(&self) -> Result<Vec<Dataset>> {
        let conn = self.conn();
        let ids = conn
            .prepare("SELECT id FROM datasets ORDER BY id")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.iter().map(|id| load_dataset(&conn, id)).collect()
    }

    fn datasets_of(&self, organization: &str) -> Result<Vec<Dataset>> {
        let conn = self.conn();
        let ids = conn
            .prepare("SELECT id FROM datasets WHERE organization = ?1 ORDER BY id")?
            .query_map([organization], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.iter().map(|id| load_dataset(&conn, id)).collect()
    }

    fn add_version(&self, new: &NewVersion) -> Result<TableVersion> {
        validate_id(&new.table)?;
        let mut conn = self.conn();
        // IMMEDIATE takes the write lock up front, so two publishers cannot both claim version N.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = Utc::now();
        let now_s = now.to_rfc3339();
        let touched =
            tx.execute("UPDATE datasets SET updated_at = ?2 WHERE id = ?1", params![new.dataset.id, now_s])?;
        match (touched, new.create_dataset) {
            (0, true) => upsert_dataset(&tx, &new.dataset, &now_s)?,
            (0, false) => return Err(Error::DatasetNotFound(new.dataset.id.clone())),
            _ => {}
        }
        let exists: bool = tx.query_row(
            "SELECT count(*) FROM tables WHERE dataset = ?1 AND name = ?2",
            params![new.dataset.id, new.table],
            |r| r.get(0),
        )?;
        if exists {
            tx.execute(
                "UPDATE tables SET title = ?3 WHERE dataset = ?1 AND name = ?2",
                params![new.dataset.id, new.table, new.table_title],
            )?;
        } else {
            let sql_name = free_sql_name(&tx, &new.dataset.id, &new.table)?;
            tx.execute(
                "INSERT INTO tables (dataset, name, title, sql_name) VALUES (?1, ?2, ?3, ?4)",
                params![new.dataset.id, new.table, new.table_title, sql_name],
            )?;
        }
        let version: u32 = tx.query_row(
            "SELECT coalesce(max(version), 0) + 1 FROM versions WHERE dataset = ?1 AND tbl = ?2",
            params![new.dataset.id, new.table],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO versions (dataset, tbl, version, created_at, row_count, byte_size, file, columns, source,
                                   content_hash, changes, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                new.dataset.id,
                new.table,
                version,
                now_s,
                new.row_count,
                new.byte_size,
                new.file,
                serde_json::to_string(&new.columns)?,
                serde_json::to_string(&new.source)?,
                new.content_hash,
                new.changes.as_ref().map(serde_json::to_string).transpose()?,
                serde_json::to_string(&new.report)?,
            ],
        )?;
        changed(&tx, Some(&new.dataset.id), None)?;
        tx.commit()?;
        Ok(TableVersion {
            version,
            created_at: now,
            row_count: new.row_count,
            byte_size: new.byte_size,
            file: new.file.clone(),
            columns: new.columns.clone(),
            source: new.source.clone(),
            content_hash: new.content_hash.clone(),
            changes: new.changes.clone(),
        })
    }

    fn report(&self, dataset: &str, table: &str, version: u32) -> Result<QualityReport> {
        let conn = self.conn();
        let raw: Option<Option<String>> = conn
            .query_row(
                "SELECT report FROM versions WHERE dataset = ?1 AND tbl = ?2 AND version = ?3",
                params![dataset, table, version],
                |r| r.get(0),
            )
            .optional()?;
        match raw {
            None => Err(Error::VersionNotFound { table: table.to_owned(), version }),
            // Versions published before reports existed have none to show.
            Some(None) => Ok(QualityReport::default()),
            Some(Some(json)) => Ok(serde_json::from_str(&json)?),
        }
    }

    fn table_settings(&self, dataset: &str, table: &str) -> Result<TableSettings> {
        let conn = self.conn();
        let raw: Option<Option<String>> = conn
            .query_row("SELECT settings FROM tables WHERE dataset = ?1 AND name = ?2", params![dataset, table], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(raw.flatten().map(|s| serde_json::from_str(&s)).transpose()?.unwrap_or_default())
    }

    fn set_columns(&self, dataset: &str, table: &str, version: u32, columns: &[Column]) -> Result<()> {
        self.write(|tx| set_columns(tx, dataset, table, version, columns))
    }

    fn set_table_settings(&self, dataset: &str, table: &str, settings: &TableSettings) -> Result<()> {
        self.write(|tx| set_table_settings(tx, dataset, table, settings))
    }

    fn totals(&self) -> Result<Totals> {
        let conn = self.conn();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, u64>(0));
        Ok(Totals {
            datasets: count("SELECT count(*) FROM datasets")?,
            organizations: count("SELECT count(*) FROM organizations")?,
            rows: count(
                "SELECT coalesce(sum(row_count), 0) FROM versions v WHERE version =
                 (SELECT max(version) FROM versions w WHERE w.dataset = v.dataset AND w.tbl = v.tbl)",
            )?,
        })
    }

    fn withdraw_dataset(&self, id: &str) -> Result<()> {
        self.write(|tx| withdraw_dataset(tx, id))
    }

    fn create_user(&self, user: &User) -> Result<()> {
        validate_id(&user.id)?;
        let conn = self.conn();
        let added = conn.execute(
            "INSERT OR IGNORE INTO users (id, name, site_admin, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![user.id, user.name, user.site_admin, user.created_at.to_rfc3339()],
        )?;
        if added == 0 {
            return Err(Error::UserExists(user.id.clone()));
        }
        Ok(())
    }

    fn user(&self, id: &str) -> Result<User> {
        let conn = self.conn();
        let (name, site_admin, created_at, disabled) = conn
            .query_row("SELECT name, site_admin, created_at, disabled FROM users WHERE id = ?1", [id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?))
            })
            .optional()?
            .ok_or_else(|| Error::UserNotFound(id.to_owned()))?;
        let mut stmt =
            conn.prepare_cached("SELECT organization, role FROM memberships WHERE user = ?1 ORDER BY organization")?;
        let memberships = stmt
            .query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(|(org, role)| (org, if role == "admin" { Role::Admin } else { Role::Editor }))
            .collect();
        Ok(User { id: id.to_owned(), name, site_admin, created_at: parse_time(&created_at)?, memberships, disabled })
    }

    fn set_membership(&self, user: &str, organization: &str, role: Role) -> Result<()> {
        let conn = self.conn();
        let role = match role {
            Role::Admin => "admin",
            Role::Editor => "editor",
        };
        conn.execute(
            "INSERT INTO memberships (user, organization, role) VALUES (?1, ?2, ?3)
             ON CONFLICT (user, organization) DO UPDATE SET role = excluded.role",
            params![user, organization, role],
        )?;
        Ok(())
    }

    fn add_token(&self, token: &ApiToken, hash: &str) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO tokens (id, user, hash, record) VALUES (?1, ?2, ?3, ?4)",
            params![token.id, token.user, hash, serde_json::to_string(token)?],
        )?;
        Ok(())
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        let conn = self.conn();
        let record: Option<String> =
            conn.query_row("SELECT record FROM tokens WHERE hash = ?1", [hash], |r| r.get(0)).optional()?;
        Ok(record.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    fn revoke_token(&self, id: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let record: String = tx
            .query_row("SELECT record FROM tokens WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::TokenNotFound(id.to_owned()))?;
        let mut token: ApiToken = serde_json::from_str(&record)?;
        token.revoked_at.get_or_insert_with(Utc::now);
        tx.execute("UPDATE tokens SET record = ?2 WHERE id = ?1", params![id, serde_json::to_string(&token)?])?;
        tx.commit()?;
        Ok(())
    }

    fn token(&self, id: &str) -> Result<ApiToken> {
        let record: String = self
            .conn()
            .query_row("SELECT record FROM tokens WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::TokenNotFound(id.to_owned()))?;
        Ok(serde_json::from_str(&record)?)
    }

    fn tokens(&self) -> Result<Vec<ApiToken>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT record FROM tokens ORDER BY rowid")?;
        let records = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        records.iter().map(|r| Ok(serde_json::from_str(r)?)).collect()
    }

    fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<()> {
        if self.conn().execute("UPDATE users SET disabled = ?2 WHERE id = ?1", params![id, disabled])? == 0 {
            return Err(Error::UserNotFound(id.to_owned()));
        }
        Ok(())
    }

    fn record(&self, entry: &AuditEntry) -> Result<()> {
        record(&self.conn(), entry)
    }

    fn audited(&self, change: &Change<'_>, entry: &AuditEntry) -> Result<()> {
        self.write(|tx| {
            match *change {
                Change::Dataset(meta) => upsert_dataset(tx, meta, &Utc::now().to_rfc3339())?,
                Change::Withdraw(id) => withdraw_dataset(tx, id)?,
                Change::Job(job) => put_job(tx, job)?,
                Change::Columns { dataset, table, version, columns, settings } => {
                    set_columns(tx, dataset, table, version, columns)?;
                    set_table_settings(tx, dataset, table, settings)?;
                }
            }
            record(tx, entry)
        })
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT entry FROM audit ORDER BY seq DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter().map(|e| Ok(serde_json::from_str(e)?)).collect()
    }

    fn backup(&self, to: &Path) -> Result<()> {
        // One transaction: a snapshot, whatever commits meanwhile.
        let target =
            to.to_str().ok_or_else(|| Error::Corrupt(serde::de::Error::custom("a backup path must be UTF-8")))?;
        self.conn().execute("VACUUM INTO ?1", [target])?;
        Ok(())
    }

    fn put_job(&self, job: &Job) -> Result<()> {
        put_job(&self.conn(), job)
    }

    fn claim_job(&self, node: &str, until: DateTime<Utc>) -> Result<Option<Job>> {
        self.write(|tx| {
            loop {
                let id: Option<String> = tx
                    .query_row(
                        "SELECT id FROM jobs WHERE status = 'queued' OR (status = 'running' AND lease_until < ?1)
                     ORDER BY rowid LIMIT 1",
                        [lease_time(Utc::now())],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(id) = id else { return Ok(None) };
                let mut job = load_job(tx, &id)?;
                take(&mut job, node, until);
                put_job(tx, &job)?;
                if job.status == JobStatus::Running {
                    return Ok(Some(job));
                }
            }
        })
    }

    fn renew_job(&self, id: &str, node: &str, until: DateTime<Utc>) -> Result<bool> {
        self.write(|tx| {
            let mut job = load_job(tx, id)?;
            if !held_by(&job, node) {
                return Ok(false);
            }
            job.lease = Some(Lease { node: node.to_owned(), until });
            put_job(tx, &job)?;
            Ok(true)
        })
    }

    fn finish_job(&self, job: &Job, node: &str) -> Result<bool> {
        self.write(|tx| {
            if !held_by(&load_job(tx, &job.id)?, node) {
                return Ok(false);
            }
            put_job(tx, &Job { lease: None, ..job.clone() })?;
            Ok(true)
        })
    }

    fn cancel_queued_jobs(&self, dataset: &str, reason: &str) -> Result<usize> {
        self.write(|tx| {
            let ids: Vec<String> = tx
                .prepare("SELECT id FROM jobs WHERE status = 'queued'")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut cancelled = 0;
            for id in ids {
                let mut job = load_job(tx, &id)?;
                if job.dataset == dataset {
                    job.status = JobStatus::Failed;
                    job.error = Some(reason.to_owned());
                    job.finished_at = Some(Utc::now());
                    put_job(tx, &job)?;
                    cancelled += 1;
                }
            }
            Ok(cancelled)
        })
    }

    fn lead(&self, role: &str, node: &str, until: DateTime<Utc>) -> Result<bool> {
        self.write(|tx| {
            let taken = tx.execute(
                "INSERT INTO leaders (role, node, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (role) DO UPDATE SET node = excluded.node, until = excluded.until
                 WHERE leaders.node = excluded.node OR leaders.until < ?4",
                params![role, node, lease_time(until), lease_time(Utc::now())],
            )?;
            Ok(taken > 0)
        })
    }

    fn changes_since(&self, seq: u64) -> Result<Changes> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT seq, dataset, organization FROM changes WHERE seq > ?1 ORDER BY seq")?;
        let rows = stmt
            .query_map([seq as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, Option<String>>(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Changes::gather(seq, rows.into_iter().map(|(s, d, o)| (s as u64, d, o))))
    }

    fn last_change(&self) -> Result<u64> {
        let last: i64 = self.conn().query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get(0))?;
        Ok(last as u64)
    }

    fn wait_for_change(&self, seq: u64, timeout: std::time::Duration) -> Result<()> {
        // SQLite has no notifications, and other processes (a command-line ingest) write the
        // same file: look at the last sequence number a few times a second.
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let last: i64 = self.conn().query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get(0))?;
            let now = std::time::Instant::now();
            if last as u64 > seq || now >= deadline {
                return Ok(());
            }
            std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(100)));
        }
    }

    fn job(&self, id: &str) -> Result<Job> {
        load_job(&self.conn(), id)
    }
}
