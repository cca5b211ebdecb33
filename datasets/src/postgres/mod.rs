//! The catalog in PostgreSQL, for several nodes over one catalog. Same tables and the same
//! guarantees as [`crate::SqliteCatalog`]; the shared test suite runs against both.
//!
//! Every transaction that writes the change feed first takes one advisory lock
//! ([`FEED_LOCK`]). Sequence numbers are handed out before commit, so without it a change
//! numbered 10 could commit after 11 had been read, and a follower past 11 would never see
//! it. Under the lock, feed order is commit order; it also numbers versions gap-free across
//! nodes. Such writes (publishes, edits) are rare, so serializing them costs nothing that
//! matters.

mod schema;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Object, Pool};
use tokio_postgres::{AsyncMessage, NoTls, Row, Transaction};

use crate::catalog::{Catalog, Change, Changes, Draft, NewVersion, Totals};
use crate::ident::{sql_name, validate_id};
use crate::model::*;
use crate::runtime::Bridge;
use crate::{Error, Result};

/// Arbitrary, fixed: the advisory lock of every feed-writing transaction.
const FEED_LOCK: i64 = 0x6f70_656e_6665_6564;
/// Connections each node keeps to the catalog, besides the one that listens.
const POOL_SIZE: usize = 16;
/// The channel nodes listen on for new changes.
const CHANNEL: &str = "opendata_changes";

/// A [`Catalog`] in a PostgreSQL database, shared by every node.
#[derive(Debug)]
pub struct PostgresCatalog {
    bridge: Bridge,
    pool: Pool,
    /// Counts notifications (and reconnections of the listener, after which some may have
    /// been lost): [`Catalog::wait_for_change`] waits for it to move.
    bell: Arc<tokio::sync::watch::Sender<u64>>,
    cache: crate::cache::DatasetCache,
}

impl PostgresCatalog {
    /// Connects to `url` (`postgres://user:password@host:port/database`), brings the schema
    /// up to date, and starts listening for changes.
    pub fn connect(url: &str) -> Result<Self> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| Error::Unavailable(format!("bad catalog URL: {e}")))?;
        let bridge = Bridge::start("catalog-pg")?;
        let manager = deadpool_postgres::Manager::from_config(
            config.clone(),
            NoTls,
            deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
        );
        let timeout = Some(Duration::from_secs(10));
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(timeout)
            .create_timeout(timeout)
            .recycle_timeout(timeout)
            .build()
            .map_err(|e| Error::Unavailable(format!("cannot make the catalog's pool: {e}")))?;
        let catalog =
            Self { bridge, pool, bell: Arc::new(tokio::sync::watch::channel(0).0), cache: Default::default() };
        catalog.with(|mut c| async move { schema::migrate(&mut c).await.map(|_| ()) })?;
        catalog.bridge.handle().spawn(listen(config, catalog.bell.clone()));
        Ok(catalog)
    }

    /// Runs `f` with a pooled connection. After the database restarts, the pool still
    /// holds connections to the old server; a call on one fails as closed before anything is
    /// sent, so it is safe to run again, on another (the pool drops closed ones).
    fn with<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(Object) -> Fut + Clone + Send + 'static,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        for _ in 0..POOL_SIZE {
            match self.bridge.with(&self.pool, f.clone()) {
                Err(Error::Postgres(e)) if e.is_closed() => continue,
                done => return done,
            }
        }
        self.bridge.with(&self.pool, f)
    }
}

/// Holds a connection that `LISTEN`s, forever: rings the bell on each notification, and on
/// each (re)connection, since notifications sent while disconnected are lost.
async fn listen(config: tokio_postgres::Config, bell: Arc<tokio::sync::watch::Sender<u64>>) {
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            let ring = bell.clone();
            let driver = tokio::spawn(async move {
                while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    match message {
                        Ok(AsyncMessage::Notification(_)) => ring.send_modify(|n| *n += 1),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
            if client.batch_execute(&format!("LISTEN {CHANNEL}")).await.is_ok() {
                bell.send_modify(|n| *n += 1);
            }
            let _ = driver.await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Starts a transaction that may write the change feed (see the module's note).
async fn feed_transaction(client: &mut Object) -> Result<deadpool_postgres::Transaction<'_>> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FEED_LOCK]).await?;
    Ok(tx)
}

async fn changed(tx: &Transaction<'_>, dataset: Option<&str>, organization: Option<&str>) -> Result<()> {
    tx.execute("INSERT INTO changes (dataset, organization) VALUES ($1, $2)", &[&dataset, &organization]).await?;
    tx.batch_execute(&format!("NOTIFY {CHANNEL}")).await?;
    Ok(())
}

async fn upsert_dataset(tx: &Transaction<'_>, meta: &DatasetMeta, now: DateTime<Utc>) -> Result<()> {
    validate_id(&meta.id)?;
    validate_id(&meta.organization)?;
    if tx.query_opt("SELECT 1 FROM organizations WHERE id = $1", &[&meta.organization]).await?.is_none() {
        return Err(Error::OrganizationNotFound(meta.organization.clone()));
    }
    // A withdrawn dataset keeps its id: it is restored, never made again.
    let written = tx
        .execute(
            "INSERT INTO datasets (id, organization, meta, private, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (id) DO UPDATE SET organization = $2, meta = $3, private = $4, updated_at = $5
             WHERE NOT datasets.withdrawn",
            &[&meta.id, &meta.organization, &serde_json::to_string(meta)?, &meta.private, &now],
        )
        .await?;
    if written == 0 {
        let reason = tx.query_opt("SELECT record FROM withdrawals WHERE id = $1", &[&meta.id]).await?;
        let reason = reason.map(|r| serde_json::from_str::<Withdrawal>(r.get(0))).transpose()?.map(|w| w.reason);
        return Err(Error::DatasetWithdrawn { id: meta.id.clone(), reason: reason.unwrap_or_default() });
    }
    changed(tx, Some(&meta.id), None).await
}

async fn set_columns(tx: &Transaction<'_>, dataset: &str, table: &str, version: u32, columns: &[Column]) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE versions SET columns = $4 WHERE dataset = $1 AND tbl = $2 AND version = $3",
            &[&dataset, &table, &(version as i32), &serde_json::to_string(columns)?],
        )
        .await?;
    if n == 0 {
        return Err(Error::VersionNotFound { table: table.to_owned(), version });
    }
    changed(tx, Some(dataset), None).await
}

async fn set_table_settings(tx: &Transaction<'_>, dataset: &str, table: &str, settings: &TableSettings) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE tables SET settings = $3 WHERE dataset = $1 AND name = $2",
            &[&dataset, &table, &serde_json::to_string(settings)?],
        )
        .await?;
    if n == 0 {
        return Err(Error::TableNotFound { dataset: dataset.to_owned(), table: table.to_owned() });
    }
    changed(tx, Some(dataset), None).await
}

async fn withdraw_dataset(tx: &Transaction<'_>, id: &str) -> Result<()> {
    if tx.execute("UPDATE datasets SET withdrawn = true WHERE id = $1 AND NOT withdrawn", &[&id]).await? == 0 {
        return Err(Error::DatasetNotFound(id.to_owned()));
    }
    changed(tx, Some(id), None).await
}

async fn restore_dataset(tx: &Transaction<'_>, id: &str) -> Result<()> {
    if tx.execute("UPDATE datasets SET withdrawn = false WHERE id = $1 AND withdrawn", &[&id]).await? == 0 {
        return Err(Error::NothingToRestore(id.to_owned()));
    }
    tx.execute("DELETE FROM withdrawals WHERE id = $1", &[&id]).await?;
    changed(tx, Some(id), None).await
}

async fn add_resource(tx: &Transaction<'_>, resource: &Resource) -> Result<()> {
    validate_id(&resource.id)?;
    let touched = tx
        .execute(
            "UPDATE datasets SET updated_at = $2 WHERE id = $1 AND NOT withdrawn",
            &[&resource.dataset, &Utc::now()],
        )
        .await?;
    if touched == 0 {
        return Err(Error::DatasetNotFound(resource.dataset.clone()));
    }
    tx.execute(
        "INSERT INTO resources (dataset, id, record) VALUES ($1, $2, $3)",
        &[&resource.dataset, &resource.id, &serde_json::to_string(resource)?],
    )
    .await?;
    changed(tx, Some(&resource.dataset), None).await
}

async fn remove_resource(tx: &Transaction<'_>, dataset: &str, id: &str) -> Result<()> {
    if tx.execute("DELETE FROM resources WHERE dataset = $1 AND id = $2", &[&dataset, &id]).await? == 0 {
        return Err(Error::ResourceNotFound { dataset: dataset.to_owned(), id: id.to_owned() });
    }
    changed(tx, Some(dataset), None).await
}

async fn set_membership(
    c: &impl tokio_postgres::GenericClient,
    user: &str,
    organization: &str,
    role: Option<Role>,
) -> Result<()> {
    match role {
        Some(role) => {
            c.execute(
                "INSERT INTO memberships (user_id, organization, role) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id, organization) DO UPDATE SET role = excluded.role",
                &[&user, &organization, &role.as_str()],
            )
            .await?
        }
        None => {
            c.execute("DELETE FROM memberships WHERE user_id = $1 AND organization = $2", &[&user, &organization])
                .await?
        }
    };
    Ok(())
}

async fn upsert_organization(tx: &Transaction<'_>, org: &Organization) -> Result<()> {
    validate_id(&org.id)?;
    tx.execute(
        "INSERT INTO organizations (id, title, title_en, description, url) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET title = $2, title_en = $3, description = $4, url = $5",
        &[&org.id, &org.title, &org.title_en, &org.description, &org.url],
    )
    .await?;
    changed(tx, None, Some(&org.id)).await
}

async fn put_job(client: &impl tokio_postgres::GenericClient, job: &Job) -> Result<()> {
    let status = serde_json::to_value(job.status)?;
    client
        .execute(
            "INSERT INTO jobs (id, job, status, lease_until) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE
             SET job = excluded.job, status = excluded.status, lease_until = excluded.lease_until",
            &[&job.id, &serde_json::to_string(job)?, &status.as_str(), &job.lease.as_ref().map(|l| l.until)],
        )
        .await?;
    Ok(())
}

/// The job `id`, locked until the transaction ends.
async fn lock_job(tx: &Transaction<'_>, id: &str) -> Result<Job> {
    let row = tx.query_opt("SELECT job FROM jobs WHERE id = $1 FOR UPDATE", &[&id]).await?;
    Ok(serde_json::from_str(row.ok_or_else(|| Error::JobNotFound(id.to_owned()))?.get(0))?)
}

async fn record(client: &impl tokio_postgres::GenericClient, entry: &AuditEntry) -> Result<()> {
    client.execute("INSERT INTO audit (entry) VALUES ($1)", &[&serde_json::to_string(entry)?]).await?;
    Ok(())
}

/// The SQL name a new table gets; see the SQLite catalog's `free_sql_name`.
async fn free_sql_name(tx: &Transaction<'_>, dataset: &str, table: &str) -> Result<String> {
    let base = sql_name(dataset, table);
    let like = format!("{}%", base.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let taken: Vec<String> = tx
        .query("SELECT sql_name FROM tables WHERE sql_name LIKE $1", &[&like])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let free = |name: &String| !taken.contains(name);
    Ok(std::iter::once(base.clone()).chain((2..).map(|n| format!("{base}_{n}"))).find(free).unwrap_or(base))
}

fn organization_from_row(r: &Row) -> Organization {
    Organization { id: r.get(0), title: r.get(1), title_en: r.get(2), description: r.get(3), url: r.get(4) }
}

const ORG_COLUMNS: &str = "SELECT id, title, title_en, description, url FROM organizations";

/// Dataset `id` if it is in the catalog (`withdrawn: false`), or if it was withdrawn.
async fn load_dataset(c: &impl tokio_postgres::GenericClient, id: &str, withdrawn: bool) -> Result<Dataset> {
    let row = c
        .query_opt(
            "SELECT meta, created_at, updated_at FROM datasets WHERE id = $1 AND withdrawn = $2",
            &[&id, &withdrawn],
        )
        .await?
        .ok_or_else(|| Error::DatasetNotFound(id.to_owned()))?;
    let meta: DatasetMeta = serde_json::from_str(row.get(0))?;
    let names = c.query("SELECT name, title, sql_name FROM tables WHERE dataset = $1 ORDER BY ord", &[&id]).await?;
    let versions = c
        .query(
            "SELECT tbl, version, created_at, row_count, byte_size, file, columns, source, content_hash, changes
             FROM versions WHERE dataset = $1 ORDER BY tbl, version",
            &[&id],
        )
        .await?;
    let mut tables = Vec::with_capacity(names.len());
    for t in names {
        let name: String = t.get(0);
        let versions = versions
            .iter()
            .filter(|v| v.get::<_, &str>(0) == name)
            .map(|v| {
                Ok(TableVersion {
                    version: v.get::<_, i32>(1) as u32,
                    created_at: v.get(2),
                    row_count: v.get::<_, i64>(3) as u64,
                    byte_size: v.get::<_, i64>(4) as u64,
                    file: v.get(5),
                    columns: serde_json::from_str(v.get(6))?,
                    source: serde_json::from_str(v.get(7))?,
                    content_hash: v.get(8),
                    changes: v.get::<_, Option<&str>>(9).map(serde_json::from_str).transpose()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        tables.push(Table { dataset: id.to_owned(), sql_name: t.get(2), name, title: t.get(1), versions });
    }
    let resources = c
        .query("SELECT record FROM resources WHERE dataset = $1 ORDER BY ord", &[&id])
        .await?
        .iter()
        .map(|r| serde_json::from_str(r.get::<_, &str>(0)))
        .collect::<serde_json::Result<Vec<Resource>>>()?;
    Ok(Dataset { meta, created_at: row.get(1), updated_at: row.get(2), tables, resources })
}

/// The datasets whose ids `sql` selects; `withdrawn` as in [`load_dataset`].
async fn load_datasets(
    c: &Object,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    withdrawn: bool,
) -> Result<Vec<Dataset>> {
    let ids: Vec<String> = c.query(sql, params).await?.iter().map(|r| r.get(0)).collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(load_dataset(&***c, &id, withdrawn).await?);
    }
    Ok(out)
}

mod catalog_impl;
mod usage;
mod webhooks;
