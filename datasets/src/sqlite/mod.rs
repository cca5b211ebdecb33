//! The default catalog: one SQLite file in the data folder, nothing to install.

mod catalog_impl;
mod schema;
mod usage;
mod webhooks;

use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use schema::migrate;

use crate::ident::validate_id;
use crate::model::*;
use crate::{Error, Result};

/// A [`crate::Catalog`] in one SQLite file, in WAL mode so a CLI ingest can write while a server reads.
#[derive(Debug)]
pub struct SqliteCatalog {
    // One connection is plenty: catalog queries take microseconds next to data queries.
    conn: Mutex<Connection>,
    cache: crate::cache::DatasetCache,
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
        Ok(Self { conn: Mutex::new(conn), cache: Default::default() })
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

/// Lease times as text that sorts as time does: one fixed format, in UTC.
pub(super) fn lease_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn load_job(conn: &Connection, id: &str) -> Result<Job> {
    let job: String = conn
        .query_row("SELECT job FROM jobs WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::JobNotFound(id.to_owned()))?;
    Ok(serde_json::from_str(&job)?)
}

/// Dataset `id` if it is in the catalog (`withdrawn: false`), or if it was withdrawn.
fn load_dataset(conn: &Connection, id: &str, withdrawn: bool) -> Result<Dataset> {
    let row = conn
        .query_row(
            "SELECT meta, created_at, updated_at FROM datasets WHERE id = ?1 AND withdrawn = ?2",
            params![id, withdrawn],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
        )
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
    let mut stmt = conn.prepare_cached("SELECT record FROM resources WHERE dataset = ?1 ORDER BY rowid")?;
    let resources = stmt
        .query_map([id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .iter()
        .map(|r| serde_json::from_str(r))
        .collect::<serde_json::Result<Vec<Resource>>>()?;
    Ok(Dataset { meta, created_at: parse_time(&row.1)?, updated_at: parse_time(&row.2)?, tables, resources })
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
    // A withdrawn dataset keeps its id: it is restored, never made again.
    let written = conn.execute(
        "INSERT INTO datasets (id, organization, meta, private, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT(id) DO UPDATE SET organization = ?2, meta = ?3, private = ?4, updated_at = ?5
         WHERE NOT datasets.withdrawn",
        params![meta.id, meta.organization, serde_json::to_string(meta)?, meta.private, now],
    )?;
    if written == 0 {
        return Err(Error::DatasetWithdrawn { id: meta.id.clone(), reason: withdrawn_reason(conn, &meta.id)? });
    }
    changed(conn, Some(&meta.id), None)
}

fn upsert_organization(conn: &Connection, org: &Organization) -> Result<()> {
    validate_id(&org.id)?;
    conn.execute(
        "INSERT INTO organizations (id, title, title_en, description, url) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET title = ?2, title_en = ?3, description = ?4, url = ?5",
        params![org.id, org.title, org.title_en, org.description, org.url],
    )?;
    changed(conn, None, Some(&org.id))
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
    if conn.execute("UPDATE datasets SET withdrawn = 1 WHERE id = ?1 AND NOT withdrawn", [id])? == 0 {
        return Err(Error::DatasetNotFound(id.to_owned()));
    }
    changed(conn, Some(id), None)
}

fn restore_dataset(conn: &Connection, id: &str) -> Result<()> {
    if conn.execute("UPDATE datasets SET withdrawn = 0 WHERE id = ?1 AND withdrawn", [id])? == 0 {
        return Err(Error::NothingToRestore(id.to_owned()));
    }
    conn.execute("DELETE FROM withdrawals WHERE id = ?1", [id])?;
    changed(conn, Some(id), None)
}

fn withdrawn_reason(conn: &Connection, id: &str) -> Result<String> {
    let record: Option<String> =
        conn.query_row("SELECT record FROM withdrawals WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    let reason = record.map(|r| serde_json::from_str::<Withdrawal>(&r)).transpose()?.map(|w| w.reason);
    Ok(reason.unwrap_or_default())
}

fn add_resource(conn: &Connection, resource: &Resource) -> Result<()> {
    validate_id(&resource.id)?;
    let live: bool =
        conn.query_row("SELECT count(*) FROM datasets WHERE id = ?1 AND NOT withdrawn", [&resource.dataset], |r| {
            r.get(0)
        })?;
    if !live {
        return Err(Error::DatasetNotFound(resource.dataset.clone()));
    }
    conn.execute(
        "INSERT INTO resources (dataset, id, record) VALUES (?1, ?2, ?3)",
        params![resource.dataset, resource.id, serde_json::to_string(resource)?],
    )?;
    conn.execute(
        "UPDATE datasets SET updated_at = ?2 WHERE id = ?1",
        params![resource.dataset, Utc::now().to_rfc3339()],
    )?;
    changed(conn, Some(&resource.dataset), None)
}

fn remove_resource(conn: &Connection, dataset: &str, id: &str) -> Result<()> {
    if conn.execute("DELETE FROM resources WHERE dataset = ?1 AND id = ?2", params![dataset, id])? == 0 {
        return Err(Error::ResourceNotFound { dataset: dataset.to_owned(), id: id.to_owned() });
    }
    changed(conn, Some(dataset), None)
}

fn set_membership(conn: &Connection, user: &str, organization: &str, role: Option<Role>) -> Result<()> {
    match role {
        Some(role) => {
            conn.execute(
                "INSERT INTO memberships (user, organization, role) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user, organization) DO UPDATE SET role = excluded.role",
                params![user, organization, role.as_str()],
            )?;
        }
        None => {
            conn.execute("DELETE FROM memberships WHERE user = ?1 AND organization = ?2", params![user, organization])?;
        }
    }
    Ok(())
}

/// Where the change feed stands: the last sequence number written (0 before the first).
fn last_change(conn: &Connection) -> Result<u64> {
    let last: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get(0))?;
    Ok(last as u64)
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
