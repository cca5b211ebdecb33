//! [`Catalog`] for [`SqliteCatalog`].

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::schema::free_sql_name;
use super::*;
use crate::catalog::{Catalog, Change, Changes, Draft, NewVersion, Totals, held_by, missing, take};

impl Catalog for SqliteCatalog {
    fn upsert_organization(&self, org: &Organization) -> Result<()> {
        self.write(|tx| upsert_organization(tx, org))
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

    fn dataset(&self, id: &str) -> Result<std::sync::Arc<Dataset>> {
        // The connection's lock is let go before `withdrawal` takes it again.
        let found = {
            let conn = self.conn();
            let seq = last_change(&conn)?;
            self.cache.dataset(seq, id, || load_dataset(&conn, id, false))
        };
        match found {
            Err(Error::DatasetNotFound(_)) => Err(missing(self, id)),
            found => found,
        }
    }

    fn withdrawal(&self, id: &str) -> Result<Option<Withdrawal>> {
        let json: Option<String> =
            self.conn().query_row("SELECT record FROM withdrawals WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    fn datasets(&self) -> Result<Vec<std::sync::Arc<Dataset>>> {
        let conn = self.conn();
        self.cache.all(last_change(&conn)?, || {
            let ids = conn
                .prepare("SELECT id FROM datasets WHERE NOT withdrawn ORDER BY id")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids.iter().map(|id| load_dataset(&conn, id, false)).collect()
        })
    }

    fn withdrawn_datasets(&self) -> Result<Vec<Dataset>> {
        let conn = self.conn();
        let ids = conn
            .prepare("SELECT id FROM datasets WHERE withdrawn ORDER BY id")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.iter().map(|id| load_dataset(&conn, id, true)).collect()
    }

    fn datasets_of(&self, organization: &str) -> Result<Vec<std::sync::Arc<Dataset>>> {
        Ok(self.datasets()?.into_iter().filter(|d| d.meta.organization == organization).collect())
    }

    fn add_version(&self, new: &NewVersion) -> Result<TableVersion> {
        validate_id(&new.table)?;
        let mut conn = self.conn();
        // IMMEDIATE takes the write lock up front, so two publishers cannot both claim version N.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = Utc::now();
        let now_s = now.to_rfc3339();
        let touched = tx.execute(
            "UPDATE datasets SET updated_at = ?2 WHERE id = ?1 AND NOT withdrawn",
            params![new.dataset.id, now_s],
        )?;
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
        Ok(new.version(version, now))
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
            datasets: count("SELECT count(*) FROM datasets WHERE NOT withdrawn AND NOT private")?,
            organizations: count("SELECT count(*) FROM organizations")?,
            rows: count(
                "SELECT coalesce(sum(row_count), 0) FROM versions v
                 JOIN datasets d ON d.id = v.dataset AND NOT d.withdrawn AND NOT d.private
                 WHERE version = (SELECT max(version) FROM versions w WHERE w.dataset = v.dataset AND w.tbl = v.tbl)",
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
        set_membership(&self.conn(), user, organization, Some(role))
    }

    fn members(&self, organization: &str) -> Result<Vec<(String, Role)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT user, role FROM memberships WHERE organization = ?1 ORDER BY user")?;
        let rows = stmt
            .query_map([organization], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .map(|(user, role)| (user, if role == "admin" { Role::Admin } else { Role::Editor }))
            .collect())
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
                Change::Withdraw(w) => {
                    withdraw_dataset(tx, &w.dataset)?;
                    tx.execute(
                        "INSERT INTO withdrawals (id, record) VALUES (?1, ?2)
                         ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                        params![w.dataset, serde_json::to_string(w)?],
                    )?;
                }
                Change::Restore(id) => restore_dataset(tx, id)?,
                Change::Job(job) => put_job(tx, job)?,
                Change::AddResource(resource) => add_resource(tx, resource)?,
                Change::RemoveResource { dataset, id } => remove_resource(tx, dataset, id)?,
                Change::Membership { user, organization, role } => set_membership(tx, user, organization, role)?,
                Change::Organization(org) => upsert_organization(tx, org)?,
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

    fn recent_jobs(&self, limit: usize) -> Result<Vec<Job>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT job FROM jobs ORDER BY rowid DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter().map(|j| Ok(serde_json::from_str(j)?)).collect()
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

    fn put_draft(&self, draft: &Draft) -> Result<()> {
        self.conn().execute(
            "INSERT INTO drafts (dataset, tbl, draft) VALUES (?1, ?2, ?3)
             ON CONFLICT (dataset, tbl) DO UPDATE SET draft = excluded.draft",
            params![draft.new.dataset.id, draft.new.table, serde_json::to_string(draft)?],
        )?;
        Ok(())
    }

    fn draft(&self, dataset: &str, table: &str) -> Result<Option<Draft>> {
        let json: Option<String> = self
            .conn()
            .query_row("SELECT draft FROM drafts WHERE dataset = ?1 AND tbl = ?2", [dataset, table], |r| r.get(0))
            .optional()?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    fn drafts(&self) -> Result<Vec<Draft>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT draft FROM drafts ORDER BY dataset, tbl")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter().map(|j| Ok(serde_json::from_str(j)?)).collect()
    }

    fn remove_draft(&self, dataset: &str, table: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM drafts WHERE dataset = ?1 AND tbl = ?2", [dataset, table])? > 0)
    }

    fn set_password(&self, user: &str, phc: &str) -> Result<()> {
        self.user(user)?;
        self.conn().execute(
            "INSERT INTO passwords (user, phc) VALUES (?1, ?2) ON CONFLICT (user) DO UPDATE SET phc = excluded.phc",
            params![user, phc],
        )?;
        Ok(())
    }

    fn password(&self, user: &str) -> Result<Option<String>> {
        Ok(self.conn().query_row("SELECT phc FROM passwords WHERE user = ?1", [user], |r| r.get(0)).optional()?)
    }

    fn add_session(&self, session: &Session, hash: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sessions (hash, expires_at, session) VALUES (?1, ?2, ?3)",
            params![hash, lease_time(session.expires_at), serde_json::to_string(session)?],
        )?;
        Ok(())
    }

    fn session(&self, hash: &str) -> Result<Option<Session>> {
        let json: Option<String> =
            self.conn().query_row("SELECT session FROM sessions WHERE hash = ?1", [hash], |r| r.get(0)).optional()?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    fn end_session(&self, hash: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM sessions WHERE hash = ?1 OR expires_at < ?2",
            params![hash, lease_time(Utc::now())],
        )?;
        Ok(())
    }

    fn put_harvest_source(&self, source: &HarvestSource) -> Result<()> {
        self.conn().execute(
            "INSERT INTO harvest_sources (namespace, source) VALUES (?1, ?2)
             ON CONFLICT (namespace) DO UPDATE SET source = excluded.source",
            params![source.namespace, serde_json::to_string(source)?],
        )?;
        Ok(())
    }

    fn harvest_sources(&self) -> Result<Vec<HarvestSource>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT source FROM harvest_sources ORDER BY namespace")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter().map(|json| Ok(serde_json::from_str(json)?)).collect()
    }

    fn remove_harvest_source(&self, namespace: &str) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM harvest_sources WHERE namespace = ?1", [namespace])? > 0)
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
        last_change(&self.conn())
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

    fn add_usage(&self, counts: &[DailyUsage]) -> Result<()> {
        self.write(|tx| super::usage::add(tx, counts))
    }

    fn usage(&self, dataset: &str, from: chrono::NaiveDate) -> Result<Vec<(chrono::NaiveDate, Usage)>> {
        super::usage::of(&self.conn(), dataset, from)
    }

    fn most_used(&self, from: chrono::NaiveDate, limit: usize) -> Result<Vec<(String, Usage)>> {
        super::usage::most_used(&self.conn(), from, limit)
    }

    fn glossary(&self) -> Result<Option<SavedGlossary>> {
        let row = self
            .conn()
            .query_row("SELECT text, updated_at, updated_by FROM glossary WHERE id = 1", [], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })
            .optional()?;
        row.map(|(text, at, by)| Ok(SavedGlossary { text, updated_at: parse_time(&at)?, updated_by: by })).transpose()
    }

    fn set_glossary(&self, glossary: Option<&SavedGlossary>) -> Result<()> {
        self.write(|tx| {
            match glossary {
                Some(g) => tx.execute(
                    "INSERT INTO glossary (id, text, updated_at, updated_by) VALUES (1, ?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at,
                         updated_by = excluded.updated_by",
                    rusqlite::params![g.text, g.updated_at.to_rfc3339(), g.updated_by],
                )?,
                None => tx.execute("DELETE FROM glossary", [])?,
            };
            Ok(())
        })
    }

    fn put_webhook(&self, hook: &Webhook) -> Result<()> {
        super::webhooks::put_webhook(&self.conn(), hook)
    }

    fn webhooks_of(&self, organization: &str) -> Result<Vec<Webhook>> {
        super::webhooks::webhooks_of(&self.conn(), organization)
    }

    fn remove_webhook(&self, id: &str) -> Result<bool> {
        self.write(|tx| super::webhooks::remove_webhook(tx, id))
    }

    fn put_delivery(&self, delivery: &Delivery) -> Result<()> {
        super::webhooks::put_delivery(&self.conn(), delivery)
    }

    fn due_deliveries(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>> {
        super::webhooks::due(&self.conn(), now, limit)
    }

    fn deliveries_of(&self, webhook: &str, limit: usize) -> Result<Vec<Delivery>> {
        super::webhooks::of(&self.conn(), webhook, limit)
    }
}
