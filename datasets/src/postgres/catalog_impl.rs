//! [`Catalog`] for [`PostgresCatalog`]: each method moves its arguments into a future that
//! runs on the catalog's runtime (see `bridge`).

use chrono::Utc;

use super::*;

impl Catalog for PostgresCatalog {
    fn upsert_organization(&self, org: &Organization) -> Result<()> {
        let org = org.clone();
        self.with(move |mut c| async move {
            let tx = feed_transaction(&mut c).await?;
            upsert_organization(&tx, &org).await?;
            Ok(tx.commit().await?)
        })
    }

    fn organization(&self, id: &str) -> Result<Organization> {
        let id = id.to_owned();
        self.with(move |c| async move {
            let row = c.query_opt(&format!("{ORG_COLUMNS} WHERE id = $1"), &[&id]).await?;
            row.map(|r| organization_from_row(&r)).ok_or(Error::OrganizationNotFound(id))
        })
    }

    fn organizations(&self) -> Result<Vec<Organization>> {
        self.with(move |c| async move {
            Ok(c.query(&format!("{ORG_COLUMNS} ORDER BY id"), &[]).await?.iter().map(organization_from_row).collect())
        })
    }

    fn upsert_dataset(&self, meta: &DatasetMeta) -> Result<()> {
        let meta = meta.clone();
        self.with(move |mut c| async move {
            let tx = feed_transaction(&mut c).await?;
            upsert_dataset(&tx, &meta, Utc::now()).await?;
            Ok(tx.commit().await?)
        })
    }

    fn dataset(&self, id: &str) -> Result<std::sync::Arc<Dataset>> {
        // One round trip for the feed's position instead of four for the dataset.
        let found = self.cache.dataset(self.last_change()?, id, || {
            let id = id.to_owned();
            self.with(move |c| async move { load_dataset(&**c, &id, false).await })
        });
        match found {
            Err(Error::DatasetNotFound(_)) => Err(crate::catalog::missing(self, id)),
            found => found,
        }
    }

    fn withdrawal(&self, id: &str) -> Result<Option<Withdrawal>> {
        let id = id.to_owned();
        self.with(move |c| async move {
            let row = c.query_opt("SELECT record FROM withdrawals WHERE id = $1", &[&id]).await?;
            Ok(row.map(|r| serde_json::from_str(r.get::<_, &str>(0))).transpose()?)
        })
    }

    fn datasets(&self) -> Result<Vec<std::sync::Arc<Dataset>>> {
        self.cache.all(self.last_change()?, || {
            self.with(move |c| async move {
                load_datasets(&c, "SELECT id FROM datasets WHERE NOT withdrawn ORDER BY id", &[], false).await
            })
        })
    }

    fn withdrawn_datasets(&self) -> Result<Vec<Dataset>> {
        self.with(move |c| async move {
            load_datasets(&c, "SELECT id FROM datasets WHERE withdrawn ORDER BY id", &[], true).await
        })
    }

    fn datasets_of(&self, organization: &str) -> Result<Vec<std::sync::Arc<Dataset>>> {
        Ok(self.datasets()?.into_iter().filter(|d| d.meta.organization == organization).collect())
    }

    fn add_version(&self, new: &NewVersion) -> Result<TableVersion> {
        validate_id(&new.table)?;
        let new = new.clone();
        self.with(move |mut c| async move {
            // The feed lock also makes `max + 1` safe against another node's publish.
            let tx = feed_transaction(&mut c).await?;
            let now = Utc::now();
            let id = &new.dataset.id;
            let touched =
                tx.execute("UPDATE datasets SET updated_at = $2 WHERE id = $1 AND NOT withdrawn", &[id, &now]).await?;
            match (touched, new.create_dataset) {
                (0, true) => upsert_dataset(&tx, &new.dataset, now).await?,
                (0, false) => return Err(Error::DatasetNotFound(id.clone())),
                _ => {}
            }
            let exists =
                tx.query_opt("SELECT 1 FROM tables WHERE dataset = $1 AND name = $2", &[id, &new.table]).await?;
            if exists.is_some() {
                tx.execute(
                    "UPDATE tables SET title = $3 WHERE dataset = $1 AND name = $2",
                    &[id, &new.table, &new.table_title],
                )
                .await?;
            } else {
                let sql_name = free_sql_name(&tx, id, &new.table).await?;
                tx.execute(
                    "INSERT INTO tables (dataset, name, title, sql_name) VALUES ($1, $2, $3, $4)",
                    &[id, &new.table, &new.table_title, &sql_name],
                )
                .await?;
            }
            let version: i32 = tx
                .query_one(
                    "SELECT coalesce(max(version), 0) + 1 FROM versions WHERE dataset = $1 AND tbl = $2",
                    &[id, &new.table],
                )
                .await?
                .get(0);
            tx.execute(
                "INSERT INTO versions (dataset, tbl, version, created_at, row_count, byte_size, file, columns,
                                       source, content_hash, changes, report)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    id,
                    &new.table,
                    &version,
                    &now,
                    &(new.row_count as i64),
                    &(new.byte_size as i64),
                    &new.file,
                    &serde_json::to_string(&new.columns)?,
                    &serde_json::to_string(&new.source)?,
                    &new.content_hash,
                    &new.changes.as_ref().map(serde_json::to_string).transpose()?,
                    &serde_json::to_string(&new.report)?,
                ],
            )
            .await?;
            changed(&tx, Some(id), None).await?;
            tx.commit().await?;
            Ok(new.version(version as u32, now))
        })
    }

    fn report(&self, dataset: &str, table: &str, version: u32) -> Result<QualityReport> {
        let (dataset, table) = (dataset.to_owned(), table.to_owned());
        self.with(move |c| async move {
            let row = c
                .query_opt(
                    "SELECT report FROM versions WHERE dataset = $1 AND tbl = $2 AND version = $3",
                    &[&dataset, &table, &(version as i32)],
                )
                .await?
                .ok_or(Error::VersionNotFound { table, version })?;
            Ok(row.get::<_, Option<&str>>(0).map(serde_json::from_str).transpose()?.unwrap_or_default())
        })
    }

    fn table_settings(&self, dataset: &str, table: &str) -> Result<TableSettings> {
        let (dataset, table) = (dataset.to_owned(), table.to_owned());
        self.with(move |c| async move {
            let row = c
                .query_opt("SELECT settings FROM tables WHERE dataset = $1 AND name = $2", &[&dataset, &table])
                .await?;
            let raw = row.and_then(|r| r.get::<_, Option<String>>(0));
            Ok(raw.map(|s| serde_json::from_str(&s)).transpose()?.unwrap_or_default())
        })
    }

    fn set_table_settings(&self, dataset: &str, table: &str, settings: &TableSettings) -> Result<()> {
        let (dataset, table, settings) = (dataset.to_owned(), table.to_owned(), settings.clone());
        self.with(move |mut c| async move {
            let tx = feed_transaction(&mut c).await?;
            set_table_settings(&tx, &dataset, &table, &settings).await?;
            Ok(tx.commit().await?)
        })
    }

    fn set_columns(&self, dataset: &str, table: &str, version: u32, columns: &[Column]) -> Result<()> {
        let (dataset, table, columns) = (dataset.to_owned(), table.to_owned(), columns.to_vec());
        self.with(move |mut c| async move {
            let tx = feed_transaction(&mut c).await?;
            set_columns(&tx, &dataset, &table, version, &columns).await?;
            Ok(tx.commit().await?)
        })
    }

    fn totals(&self) -> Result<Totals> {
        self.with(move |c| async move {
            let row = c
                .query_one(
                    "SELECT (SELECT count(*) FROM datasets WHERE NOT withdrawn AND NOT private),
                            (SELECT count(*) FROM organizations),
                            (SELECT coalesce(sum(row_count), 0)::BIGINT FROM versions v
                              JOIN datasets d ON d.id = v.dataset AND NOT d.withdrawn AND NOT d.private
                              WHERE version =
                              (SELECT max(version) FROM versions w WHERE w.dataset = v.dataset AND w.tbl = v.tbl))",
                    &[],
                )
                .await?;
            Ok(Totals {
                datasets: row.get::<_, i64>(0) as u64,
                organizations: row.get::<_, i64>(1) as u64,
                rows: row.get::<_, i64>(2) as u64,
            })
        })
    }

    fn withdraw_dataset(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.with(move |mut c| async move {
            let tx = feed_transaction(&mut c).await?;
            withdraw_dataset(&tx, &id).await?;
            Ok(tx.commit().await?)
        })
    }

    fn create_user(&self, user: &User) -> Result<()> {
        validate_id(&user.id)?;
        let user = user.clone();
        self.with(move |c| async move {
            let added = c
                .execute(
                    "INSERT INTO users (id, name, site_admin, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO NOTHING",
                    &[&user.id, &user.name, &user.site_admin, &user.created_at],
                )
                .await?;
            if added == 0 {
                return Err(Error::UserExists(user.id));
            }
            Ok(())
        })
    }

    fn user(&self, id: &str) -> Result<User> {
        let id = id.to_owned();
        self.with(move |c| async move {
            let row = c
                .query_opt("SELECT name, site_admin, created_at, disabled FROM users WHERE id = $1", &[&id])
                .await?
                .ok_or_else(|| Error::UserNotFound(id.clone()))?;
            let memberships = c
                .query("SELECT organization, role FROM memberships WHERE user_id = $1 ORDER BY organization", &[&id])
                .await?
                .iter()
                .map(|r| (r.get(0), if r.get::<_, &str>(1) == "admin" { Role::Admin } else { Role::Editor }))
                .collect();
            Ok(User {
                id,
                name: row.get(0),
                site_admin: row.get(1),
                created_at: row.get(2),
                memberships,
                disabled: row.get(3),
            })
        })
    }

    fn set_membership(&self, user: &str, organization: &str, role: Role) -> Result<()> {
        let (user, org) = (user.to_owned(), organization.to_owned());
        self.with(move |c| async move { set_membership(&**c, &user, &org, Some(role)).await })
    }

    fn members(&self, organization: &str) -> Result<Vec<(String, Role)>> {
        let org = organization.to_owned();
        self.with(move |c| async move {
            let rows = c
                .query("SELECT user_id, role FROM memberships WHERE organization = $1 ORDER BY user_id", &[&org])
                .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), if r.get::<_, &str>(1) == "admin" { Role::Admin } else { Role::Editor }))
                .collect())
        })
    }

    fn add_token(&self, token: &ApiToken, hash: &str) -> Result<()> {
        let (token, hash) = (token.clone(), hash.to_owned());
        self.with(move |c| async move {
            c.execute(
                "INSERT INTO tokens (id, user_id, hash, record) VALUES ($1, $2, $3, $4)",
                &[&token.id, &token.user, &hash, &serde_json::to_string(&token)?],
            )
            .await?;
            Ok(())
        })
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        let hash = hash.to_owned();
        self.with(move |c| async move {
            let row = c.query_opt("SELECT record FROM tokens WHERE hash = $1", &[&hash]).await?;
            Ok(row.map(|r| serde_json::from_str(r.get(0))).transpose()?)
        })
    }

    fn revoke_token(&self, id: &str) -> Result<()> {
        let id = id.to_owned();
        self.with(move |mut c| async move {
            let tx = c.transaction().await?;
            let row = tx
                .query_opt("SELECT record FROM tokens WHERE id = $1 FOR UPDATE", &[&id])
                .await?
                .ok_or_else(|| Error::TokenNotFound(id.clone()))?;
            let mut token: ApiToken = serde_json::from_str(row.get(0))?;
            token.revoked_at.get_or_insert_with(Utc::now);
            tx.execute("UPDATE tokens SET record = $2 WHERE id = $1", &[&id, &serde_json::to_string(&token)?]).await?;
            Ok(tx.commit().await?)
        })
    }

    fn token(&self, id: &str) -> Result<ApiToken> {
        let id = id.to_owned();
        self.with(move |c| async move {
            let row = c.query_opt("SELECT record FROM tokens WHERE id = $1", &[&id]).await?;
            Ok(serde_json::from_str(row.ok_or(Error::TokenNotFound(id))?.get(0))?)
        })
    }

    fn tokens(&self) -> Result<Vec<ApiToken>> {
        self.with(move |c| async move {
            let rows = c.query("SELECT record FROM tokens ORDER BY ord", &[]).await?;
            rows.iter().map(|r| Ok(serde_json::from_str(r.get(0))?)).collect()
        })
    }

    fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<()> {
        let id = id.to_owned();
        self.with(move |c| async move {
            if c.execute("UPDATE users SET disabled = $2 WHERE id = $1", &[&id, &disabled]).await? == 0 {
                return Err(Error::UserNotFound(id));
            }
            Ok(())
        })
    }

    fn record(&self, entry: &AuditEntry) -> Result<()> {
        let entry = entry.clone();
        self.with(move |c| async move { record(&**c, &entry).await })
    }

    fn audited(&self, change: &Change<'_>, entry: &AuditEntry) -> Result<()> {
        let (change, entry) = (OwnedChange::from(change), entry.clone());
        self.with(move |mut c| async move {
            let tx = feed_transaction(&mut c).await?;
            match &change {
                OwnedChange::Dataset(meta) => upsert_dataset(&tx, meta, Utc::now()).await?,
                OwnedChange::Withdraw(w) => {
                    withdraw_dataset(&tx, &w.dataset).await?;
                    tx.execute(
                        "INSERT INTO withdrawals (id, record) VALUES ($1, $2)
                         ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                        &[&w.dataset, &serde_json::to_string(w)?],
                    )
                    .await?;
                }
                OwnedChange::Restore(id) => restore_dataset(&tx, id).await?,
                OwnedChange::Job(job) => put_job(&*tx, job).await?,
                OwnedChange::AddResource(resource) => add_resource(&tx, resource).await?,
                OwnedChange::RemoveResource { dataset, id } => remove_resource(&tx, dataset, id).await?,
                OwnedChange::Membership { user, organization, role } => {
                    set_membership(&*tx, user, organization, *role).await?
                }
                OwnedChange::Organization(org) => upsert_organization(&tx, org).await?,
                OwnedChange::Columns { dataset, table, version, columns, settings } => {
                    set_columns(&tx, dataset, table, *version, columns).await?;
                    set_table_settings(&tx, dataset, table, settings).await?;
                }
            }
            record(&*tx, &entry).await?;
            Ok(tx.commit().await?)
        })
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        self.with(move |c| async move {
            let rows = c.query("SELECT entry FROM audit ORDER BY seq DESC LIMIT $1", &[&(limit as i64)]).await?;
            rows.iter().map(|r| Ok(serde_json::from_str(r.get(0))?)).collect()
        })
    }

    fn backup(&self, _to: &std::path::Path) -> Result<()> {
        Err(Error::Unsupported("a PostgreSQL catalog is backed up with pg_dump (see deploy/README.md)"))
    }

    fn put_job(&self, job: &Job) -> Result<()> {
        let job = job.clone();
        self.with(move |c| async move { put_job(&**c, &job).await })
    }

    fn job(&self, id: &str) -> Result<Job> {
        let id = id.to_owned();
        self.with(move |c| async move {
            let row = c.query_opt("SELECT job FROM jobs WHERE id = $1", &[&id]).await?;
            Ok(serde_json::from_str(row.ok_or(Error::JobNotFound(id))?.get(0))?)
        })
    }

    fn recent_jobs(&self, limit: usize) -> Result<Vec<Job>> {
        self.with(move |c| async move {
            let rows = c.query("SELECT job FROM jobs ORDER BY ord DESC LIMIT $1", &[&(limit as i64)]).await?;
            rows.iter().map(|r| Ok(serde_json::from_str(r.get::<_, &str>(0))?)).collect()
        })
    }

    fn claim_job(&self, node: &str, until: chrono::DateTime<Utc>) -> Result<Option<Job>> {
        let node = node.to_owned();
        self.with(move |mut c| async move {
            let tx = c.transaction().await?;
            loop {
                // SKIP LOCKED: nodes claiming at once each get another job, none waits.
                let row = tx
                    .query_opt(
                        "SELECT job FROM jobs WHERE status = 'queued' OR (status = 'running' AND lease_until < now())
                         ORDER BY ord LIMIT 1 FOR UPDATE SKIP LOCKED",
                        &[],
                    )
                    .await?;
                let Some(row) = row else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let mut job: Job = serde_json::from_str(row.get(0))?;
                crate::catalog::take(&mut job, &node, until);
                put_job(&*tx, &job).await?;
                if job.status == JobStatus::Running {
                    tx.commit().await?;
                    return Ok(Some(job));
                }
            }
        })
    }

    fn renew_job(&self, id: &str, node: &str, until: chrono::DateTime<Utc>) -> Result<bool> {
        let (id, node) = (id.to_owned(), node.to_owned());
        self.with(move |mut c| async move {
            let tx = c.transaction().await?;
            let mut job = lock_job(&tx, &id).await?;
            if !crate::catalog::held_by(&job, &node) {
                return Ok(false);
            }
            job.lease = Some(Lease { node, until });
            put_job(&*tx, &job).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn finish_job(&self, job: &Job, node: &str) -> Result<bool> {
        let (job, node) = (Job { lease: None, ..job.clone() }, node.to_owned());
        self.with(move |mut c| async move {
            let tx = c.transaction().await?;
            if !crate::catalog::held_by(&lock_job(&tx, &job.id).await?, &node) {
                return Ok(false);
            }
            put_job(&*tx, &job).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn cancel_queued_jobs(&self, dataset: &str, reason: &str) -> Result<usize> {
        let (dataset, reason) = (dataset.to_owned(), reason.to_owned());
        self.with(move |mut c| async move {
            let tx = c.transaction().await?;
            let mut cancelled = 0;
            for row in tx.query("SELECT job FROM jobs WHERE status = 'queued' FOR UPDATE", &[]).await? {
                let mut job: Job = serde_json::from_str(row.get(0))?;
                if job.dataset == dataset {
                    job.status = JobStatus::Failed;
                    job.error = Some(reason.clone());
                    job.finished_at = Some(Utc::now());
                    put_job(&*tx, &job).await?;
                    cancelled += 1;
                }
            }
            tx.commit().await?;
            Ok(cancelled)
        })
    }

    fn put_draft(&self, draft: &Draft) -> Result<()> {
        let (dataset, table, json) =
            (draft.new.dataset.id.clone(), draft.new.table.clone(), serde_json::to_string(draft)?);
        self.with(move |c| async move {
            c.execute(
                "INSERT INTO drafts (dataset, tbl, draft) VALUES ($1, $2, $3)
                 ON CONFLICT (dataset, tbl) DO UPDATE SET draft = excluded.draft",
                &[&dataset, &table, &json],
            )
            .await?;
            Ok(())
        })
    }

    fn draft(&self, dataset: &str, table: &str) -> Result<Option<Draft>> {
        let (dataset, table) = (dataset.to_owned(), table.to_owned());
        self.with(move |c| async move {
            let row =
                c.query_opt("SELECT draft FROM drafts WHERE dataset = $1 AND tbl = $2", &[&dataset, &table]).await?;
            Ok(row.map(|r| serde_json::from_str(r.get::<_, &str>(0))).transpose()?)
        })
    }

    fn drafts(&self) -> Result<Vec<Draft>> {
        self.with(|c| async move {
            let rows = c.query("SELECT draft FROM drafts ORDER BY dataset, tbl", &[]).await?;
            rows.iter().map(|r| Ok(serde_json::from_str(r.get::<_, &str>(0))?)).collect()
        })
    }

    fn remove_draft(&self, dataset: &str, table: &str) -> Result<bool> {
        let (dataset, table) = (dataset.to_owned(), table.to_owned());
        self.with(move |c| async move {
            Ok(c.execute("DELETE FROM drafts WHERE dataset = $1 AND tbl = $2", &[&dataset, &table]).await? > 0)
        })
    }

    fn set_password(&self, user: &str, phc: &str) -> Result<()> {
        self.user(user)?;
        let (user, phc) = (user.to_owned(), phc.to_owned());
        self.with(move |c| async move {
            c.execute(
                "INSERT INTO passwords (\"user\", phc) VALUES ($1, $2)
                 ON CONFLICT (\"user\") DO UPDATE SET phc = excluded.phc",
                &[&user, &phc],
            )
            .await?;
            Ok(())
        })
    }

    fn password(&self, user: &str) -> Result<Option<String>> {
        let user = user.to_owned();
        self.with(move |c| async move {
            let row = c.query_opt("SELECT phc FROM passwords WHERE \"user\" = $1", &[&user]).await?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn add_session(&self, session: &Session, hash: &str) -> Result<()> {
        let (hash, expires, json) = (hash.to_owned(), session.expires_at, serde_json::to_string(session)?);
        self.with(move |c| async move {
            c.execute(
                "INSERT INTO sessions (hash, expires_at, session) VALUES ($1, $2, $3)",
                &[&hash, &expires, &json],
            )
            .await?;
            Ok(())
        })
    }

    fn session(&self, hash: &str) -> Result<Option<Session>> {
        let hash = hash.to_owned();
        self.with(move |c| async move {
            let row = c.query_opt("SELECT session FROM sessions WHERE hash = $1", &[&hash]).await?;
            Ok(row.map(|r| serde_json::from_str(r.get::<_, &str>(0))).transpose()?)
        })
    }

    fn end_session(&self, hash: &str) -> Result<()> {
        let hash = hash.to_owned();
        self.with(move |c| async move {
            c.execute("DELETE FROM sessions WHERE hash = $1 OR expires_at < now()", &[&hash]).await?;
            Ok(())
        })
    }

    fn put_harvest_source(&self, source: &HarvestSource) -> Result<()> {
        let (namespace, json) = (source.namespace.clone(), serde_json::to_string(source)?);
        self.with(move |c| async move {
            c.execute(
                "INSERT INTO harvest_sources (namespace, source) VALUES ($1, $2)
                 ON CONFLICT (namespace) DO UPDATE SET source = excluded.source",
                &[&namespace, &json],
            )
            .await?;
            Ok(())
        })
    }

    fn harvest_sources(&self) -> Result<Vec<HarvestSource>> {
        self.with(|c| async move {
            let rows = c.query("SELECT source FROM harvest_sources ORDER BY namespace", &[]).await?;
            rows.iter().map(|r| Ok(serde_json::from_str(r.get::<_, &str>(0))?)).collect()
        })
    }

    fn remove_harvest_source(&self, namespace: &str) -> Result<bool> {
        let namespace = namespace.to_owned();
        self.with(move |c| async move {
            Ok(c.execute("DELETE FROM harvest_sources WHERE namespace = $1", &[&namespace]).await? > 0)
        })
    }

    fn lead(&self, role: &str, node: &str, until: chrono::DateTime<Utc>) -> Result<bool> {
        let (role, node) = (role.to_owned(), node.to_owned());
        self.with(move |c| async move {
            let taken = c
                .execute(
                    "INSERT INTO leaders (role, node, until) VALUES ($1, $2, $3)
                     ON CONFLICT (role) DO UPDATE SET node = excluded.node, until = excluded.until
                     WHERE leaders.node = excluded.node OR leaders.until < now()",
                    &[&role, &node, &until],
                )
                .await?;
            Ok(taken > 0)
        })
    }

    fn changes_since(&self, seq: u64) -> Result<Changes> {
        self.with(move |c| async move {
            let rows = c
                .query("SELECT seq, dataset, organization FROM changes WHERE seq > $1 ORDER BY seq", &[&(seq as i64)])
                .await?;
            Ok(Changes::gather(seq, rows.iter().map(|r| (r.get::<_, i64>(0) as u64, r.get(1), r.get(2)))))
        })
    }

    fn last_change(&self) -> Result<u64> {
        self.with(|c| async move {
            Ok(c.query_one("SELECT coalesce(max(seq), 0) FROM changes", &[]).await?.get::<_, i64>(0) as u64)
        })
    }

    fn wait_for_change(&self, seq: u64, timeout: std::time::Duration) -> Result<()> {
        // Subscribed before looking, so a notification in between still wakes the wait.
        let mut rung = self.bell.subscribe();
        if self.last_change()? > seq {
            return Ok(());
        }
        self.bridge.run(async move {
            let _ = tokio::time::timeout(timeout, rung.changed()).await;
            Ok(())
        })
    }

    fn add_usage(&self, counts: &[DailyUsage]) -> Result<()> {
        let counts = counts.to_vec();
        self.with(move |c| super::usage::add(c, counts))
    }

    fn usage(&self, dataset: &str, from: chrono::NaiveDate) -> Result<Vec<(chrono::NaiveDate, Usage)>> {
        let dataset = dataset.to_owned();
        self.with(move |c| super::usage::of(c, dataset, from))
    }

    fn most_used(&self, from: chrono::NaiveDate, limit: usize) -> Result<Vec<(String, Usage)>> {
        self.with(move |c| super::usage::most_used(c, from, limit))
    }

    fn glossary(&self) -> Result<Option<SavedGlossary>> {
        self.with(|c| async move {
            let row = c.query_opt("SELECT text, updated_at, updated_by FROM glossary WHERE id = 1", &[]).await?;
            Ok(row.map(|r| SavedGlossary { text: r.get(0), updated_at: r.get(1), updated_by: r.get(2) }))
        })
    }

    fn set_glossary(&self, glossary: Option<&SavedGlossary>) -> Result<()> {
        let glossary = glossary.cloned();
        self.with(move |c| async move {
            match glossary {
                Some(g) => {
                    c.execute(
                        "INSERT INTO glossary (id, text, updated_at, updated_by) VALUES (1, $1, $2, $3)
                         ON CONFLICT (id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at,
                             updated_by = excluded.updated_by",
                        &[&g.text, &g.updated_at, &g.updated_by],
                    )
                    .await?
                }
                None => c.execute("DELETE FROM glossary", &[]).await?,
            };
            Ok(())
        })
    }

    fn put_webhook(&self, hook: &Webhook) -> Result<()> {
        let hook = hook.clone();
        self.with(move |c| super::webhooks::put_webhook(c, hook))
    }

    fn webhooks_of(&self, organization: &str) -> Result<Vec<Webhook>> {
        let organization = organization.to_owned();
        self.with(move |c| super::webhooks::webhooks_of(c, organization))
    }

    fn remove_webhook(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.with(move |c| super::webhooks::remove_webhook(c, id))
    }

    fn put_delivery(&self, delivery: &Delivery) -> Result<()> {
        let delivery = delivery.clone();
        self.with(move |c| super::webhooks::put_delivery(c, delivery))
    }

    fn due_deliveries(&self, now: chrono::DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>> {
        self.with(move |c| super::webhooks::due(c, now, limit))
    }

    fn deliveries_of(&self, webhook: &str, limit: usize) -> Result<Vec<Delivery>> {
        let webhook = webhook.to_owned();
        self.with(move |c| super::webhooks::of(c, webhook, limit))
    }
}

/// A [`Change`] that owns its parts, to cross onto the catalog's runtime.
#[derive(Clone)]
enum OwnedChange {
    Dataset(DatasetMeta),
    Withdraw(Withdrawal),
    Restore(String),
    Job(Box<Job>),
    AddResource(Box<Resource>),
    RemoveResource { dataset: String, id: String },
    Membership { user: String, organization: String, role: Option<Role> },
    Organization(Organization),
    Columns { dataset: String, table: String, version: u32, columns: Vec<Column>, settings: TableSettings },
}

impl From<&Change<'_>> for OwnedChange {
    fn from(change: &Change<'_>) -> Self {
        match *change {
            Change::Dataset(meta) => Self::Dataset(meta.clone()),
            Change::Withdraw(w) => Self::Withdraw(w.clone()),
            Change::Restore(id) => Self::Restore(id.to_owned()),
            Change::Job(job) => Self::Job(Box::new(job.clone())),
            Change::AddResource(r) => Self::AddResource(Box::new(r.clone())),
            Change::RemoveResource { dataset, id } => {
                Self::RemoveResource { dataset: dataset.to_owned(), id: id.to_owned() }
            }
            Change::Membership { user, organization, role } => {
                Self::Membership { user: user.to_owned(), organization: organization.to_owned(), role }
            }
            Change::Organization(org) => Self::Organization(org.clone()),
            Change::Columns { dataset, table, version, columns, settings } => Self::Columns {
                dataset: dataset.to_owned(),
                table: table.to_owned(),
                version,
                columns: columns.to_vec(),
                settings: settings.clone(),
            },
        }
    }
}
