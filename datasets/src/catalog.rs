use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::Result;
use crate::model::*;

/// Times a job may be started before it is failed (see [`Catalog::claim_job`]).
pub const MAX_ATTEMPTS: u32 = 3;

/// Takes over `job` for `node` until `until`, or fails it when it has had its attempts.
pub(crate) fn take(job: &mut Job, node: &str, until: DateTime<Utc>) {
    if job.attempts >= MAX_ATTEMPTS {
        job.status = JobStatus::Failed;
        job.error = Some(format!("the ingest was interrupted {MAX_ATTEMPTS} times; upload again"));
        job.finished_at = Some(Utc::now());
        job.lease = None;
    } else {
        job.status = JobStatus::Running;
        job.attempts += 1;
        job.lease = Some(Lease { node: node.to_owned(), until });
    }
}

/// Why dataset `id` is not in the catalog: withdrawn (with the reason), or never there.
pub(crate) fn missing(catalog: &impl Catalog, id: &str) -> crate::Error {
    match catalog.withdrawal(id) {
        Ok(Some(w)) => crate::Error::DatasetWithdrawn { id: id.to_owned(), reason: w.reason },
        Ok(None) => crate::Error::DatasetNotFound(id.to_owned()),
        Err(e) => e,
    }
}

/// Whether `job` is running under `node`'s lease.
pub(crate) fn held_by(job: &Job, node: &str) -> bool {
    job.status == JobStatus::Running && job.lease.as_ref().is_some_and(|l| l.node == node)
}

/// What a publish adds to the catalog: a new version of one table, with the dataset's metadata.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NewVersion {
    /// The dataset's metadata, used only to create it: a version never changes an existing
    /// dataset's metadata (an upload queued before an edit must not undo the edit).
    pub dataset: DatasetMeta,
    /// Whether a dataset that does not exist may be created; when false, publishing into a
    /// dataset that is gone (withdrawn while the ingest ran) fails instead.
    pub create_dataset: bool,
    pub table: String,
    pub table_title: String,
    pub row_count: u64,
    pub byte_size: u64,
    /// Relative to the data folder; the file is already in place when this is committed.
    pub file: String,
    pub columns: Vec<Column>,
    pub source: SourceInfo,
    pub content_hash: String,
    pub changes: Option<VersionChanges>,
    pub report: QualityReport,
}

/// A version waiting for its publisher's review: readers never see it. A table has at most
/// one, numbered as the version it will be (the latest + 1), so publishing it leaves no gap;
/// a newer upload replaces it, and a version published meanwhile makes it stale.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Draft {
    pub number: u32,
    /// Its file is already stored, under a name no version uses.
    pub new: NewVersion,
    pub created_at: DateTime<Utc>,
    /// When the maintainer publishes it, if its publisher scheduled it.
    pub publish_at: Option<DateTime<Utc>>,
}

impl NewVersion {
    /// The version this becomes as number `version`, made at `created_at`.
    pub fn version(&self, version: u32, created_at: DateTime<Utc>) -> TableVersion {
        TableVersion {
            version,
            created_at,
            row_count: self.row_count,
            byte_size: self.byte_size,
            file: self.file.clone(),
            columns: self.columns.clone(),
            source: self.source.clone(),
            content_hash: self.content_hash.clone(),
            changes: self.changes.clone(),
        }
    }
}

impl Draft {
    /// The version the draft will be, as readers will see it once published.
    pub fn as_version(&self) -> TableVersion {
        self.new.version(self.number, self.created_at)
    }
}

/// Where metadata lives. This is the whole surface callers use, so another backend
/// (PostgreSQL for several nodes) can replace [`crate::SqliteCatalog`] without touching them.
///
/// Implementations must make [`Catalog::add_version`] atomic: a version is either fully
/// visible with its dataset and table, or not at all.
pub trait Catalog: Send + Sync + std::fmt::Debug {
    fn upsert_organization(&self, org: &Organization) -> Result<()>;
    fn organization(&self, id: &str) -> Result<Organization>;
    fn organizations(&self) -> Result<Vec<Organization>>;

    /// Creates the dataset, or replaces its metadata if it exists.
    fn upsert_dataset(&self, meta: &DatasetMeta) -> Result<()>;
    /// Shared, not copied: the reading hot path asks for one on every request, and a node
    /// keeps them while the change feed stands still.
    fn dataset(&self, id: &str) -> Result<Arc<Dataset>>;
    /// Every dataset, for reindexing and listings.
    fn datasets(&self) -> Result<Vec<Arc<Dataset>>>;
    fn datasets_of(&self, organization: &str) -> Result<Vec<Arc<Dataset>>>;

    /// Commits a new version (numbered one past the latest) and returns it.
    fn add_version(&self, new: &NewVersion) -> Result<TableVersion>;

    /// The quality report stored with a version.
    fn report(&self, dataset: &str, table: &str, version: u32) -> Result<QualityReport>;

    /// What a publisher fixed about a table (column types and labels, source state); they
    /// outlive versions, so a re-ingest keeps them. Empty for a table without any.
    fn table_settings(&self, dataset: &str, table: &str) -> Result<TableSettings>;
    fn set_table_settings(&self, dataset: &str, table: &str, settings: &TableSettings) -> Result<()>;
    /// Replaces the column descriptions (labels, descriptions) of one version: the column
    /// dictionary is metadata about the data, and publishers correct it.
    fn set_columns(&self, dataset: &str, table: &str, version: u32, columns: &[Column]) -> Result<()>;

    /// Counts for the home page: datasets, organizations, rows in latest versions.
    fn totals(&self) -> Result<Totals>;

    /// Withdraws a dataset: it leaves the catalog (its files stay on disk until swept).
    fn withdraw_dataset(&self, id: &str) -> Result<()>;
    /// Why dataset `id` was withdrawn, if it was (and was not restored since).
    fn withdrawal(&self, id: &str) -> Result<Option<Withdrawal>>;
    /// Every withdrawn dataset, whole: it stays in the catalog, out of every listing, so
    /// that its organization's admin can restore it and its files are not swept.
    fn withdrawn_datasets(&self) -> Result<Vec<Dataset>>;

    /// Adds a user; an existing id is an error.
    fn create_user(&self, user: &User) -> Result<()>;
    /// A user with their memberships.
    fn user(&self, id: &str) -> Result<User>;
    /// Makes `user` a member of `organization` in `role` (replacing a previous role).
    fn set_membership(&self, user: &str, organization: &str, role: Role) -> Result<()>;
    /// The members of `organization` with their roles, by user id.
    fn members(&self, organization: &str) -> Result<Vec<(String, Role)>>;

    /// Stores a token record with the hash of its secret.
    fn add_token(&self, token: &ApiToken, hash: &str) -> Result<()>;
    /// The token whose secret hashes to `hash`, live or not.
    fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>>;
    fn revoke_token(&self, id: &str) -> Result<()>;
    fn token(&self, id: &str) -> Result<ApiToken>;
    /// Every token, live or not, oldest first.
    fn tokens(&self) -> Result<Vec<ApiToken>>;
    /// A disabled user keeps their history but can no longer act: their tokens stop working.
    fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<()>;

    /// Keeps `draft` as its table's draft, replacing any other.
    fn put_draft(&self, draft: &Draft) -> Result<()>;
    /// The draft of table `dataset/table`, if it has one.
    fn draft(&self, dataset: &str, table: &str) -> Result<Option<Draft>>;
    /// Every draft, for the maintainer's scheduled releases.
    fn drafts(&self) -> Result<Vec<Draft>>;
    /// `false` when the table had no draft.
    fn remove_draft(&self, dataset: &str, table: &str) -> Result<bool>;

    /// Sets `user`'s password, as its PHC string (argon2id: algorithm, salt and hash).
    fn set_password(&self, user: &str, phc: &str) -> Result<()>;
    /// `user`'s password as a PHC string; `None` when they have none (tokens only).
    fn password(&self, user: &str) -> Result<Option<String>>;
    /// Starts a session whose cookie secret hashes to `hash`.
    fn add_session(&self, session: &Session, hash: &str) -> Result<()>;
    /// The session whose secret hashes to `hash`, expired or not.
    fn session(&self, hash: &str) -> Result<Option<Session>>;
    /// Ends a session (signing out), and every session that has expired.
    fn end_session(&self, hash: &str) -> Result<()>;

    /// Appends to the audit log.
    fn record(&self, entry: &AuditEntry) -> Result<()>;
    /// Makes `change` and appends `entry` to the audit log in one transaction: the log never
    /// misses a change that was made, nor lists one that was not.
    fn audited(&self, change: &Change<'_>, entry: &AuditEntry) -> Result<()>;
    /// The latest `limit` entries, newest first.
    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>>;

    /// Writes a consistent copy of the whole catalog to `to` (a new file), while others
    /// go on reading and writing it.
    fn backup(&self, to: &std::path::Path) -> Result<()>;

    /// Creates or updates an ingest job.
    fn put_job(&self, job: &Job) -> Result<()>;
    fn job(&self, id: &str) -> Result<Job>;
    /// The latest `limit` jobs, newest first.
    fn recent_jobs(&self, limit: usize) -> Result<Vec<Job>>;
    /// Claims the oldest job that waits (queued, or running under a lease that ran out:
    /// its node died) for `node` until `until`, and marks it running. Concurrent claims from
    /// several nodes never get the same job. A job started [`MAX_ATTEMPTS`] times fails
    /// instead: its ingest may be what brought its nodes down.
    fn claim_job(&self, node: &str, until: DateTime<Utc>) -> Result<Option<Job>>;
    /// Extends `node`'s lease on a running job; `false` when the job is no longer its own.
    fn renew_job(&self, id: &str, node: &str, until: DateTime<Utc>) -> Result<bool>;
    /// Records how a job ended, if `node` still holds it; `false` when another node took it
    /// over (or it was cancelled), and the record was left alone.
    fn finish_job(&self, job: &Job, node: &str) -> Result<bool>;
    fn cancel_queued_jobs(&self, dataset: &str, reason: &str) -> Result<usize>;

    /// Adds the harvest source of `source.namespace`, or replaces it.
    fn put_harvest_source(&self, source: &HarvestSource) -> Result<()>;
    /// Every harvest source, by namespace.
    fn harvest_sources(&self) -> Result<Vec<HarvestSource>>;
    /// Stops harvesting a source (what it harvested stays); `false` when there was none.
    fn remove_harvest_source(&self, namespace: &str) -> Result<bool>;

    /// Takes, or keeps, the lead of `role` for `node` until `until`: `true` when `node`
    /// holds it now (it was free, ran out, or was already its own). One node at a time does
    /// the work of a role, such as sweeping the bucket; if it dies, another takes over when
    /// its lead runs out.
    fn lead(&self, role: &str, node: &str, until: DateTime<Utc>) -> Result<bool>;

    /// The change feed: what changed after `seq`, written in the same transaction as each
    /// change, so a node that follows it (its search index, its caches) misses nothing that
    /// committed and sees nothing that did not. `Changes::seq` is where to go on from.
    fn changes_since(&self, seq: u64) -> Result<Changes>;
    /// The sequence number of the last change made (0 before the first).
    fn last_change(&self) -> Result<u64>;
    /// Returns once a change after `seq` may have committed, or after `timeout`: a cue to
    /// call [`Catalog::changes_since`], never a promise (a lost notification costs at most
    /// `timeout`).
    fn wait_for_change(&self, seq: u64, timeout: std::time::Duration) -> Result<()>;

    /// Adds these counts to what is recorded for each dataset and day. Nodes flush what
    /// they counted since their last flush, so the sums stay right with any number of them.
    /// Usage is not a change: it is not in the change feed.
    fn add_usage(&self, counts: &[DailyUsage]) -> Result<()>;
    /// One dataset's usage on each day from `from` on that has any, oldest first.
    fn usage(&self, dataset: &str, from: chrono::NaiveDate) -> Result<Vec<(chrono::NaiveDate, Usage)>>;
    /// Every dataset's usage summed from `from` on, most used first; at most `limit`.
    fn most_used(&self, from: chrono::NaiveDate, limit: usize) -> Result<Vec<(String, Usage)>>;

    /// The search glossary a site admin saved (its TOML text, when and by whom), if any.
    fn glossary(&self) -> Result<Option<SavedGlossary>>;
    /// Saves the search glossary's text; `None` goes back to the shipped one.
    fn set_glossary(&self, glossary: Option<&SavedGlossary>) -> Result<()>;

    /// Adds or replaces a webhook.
    fn put_webhook(&self, hook: &Webhook) -> Result<()>;
    /// An organization's webhooks, oldest first.
    fn webhooks_of(&self, organization: &str) -> Result<Vec<Webhook>>;
    /// Removes a webhook and its deliveries; whether it was there.
    fn remove_webhook(&self, id: &str) -> Result<bool>;
    /// Adds or replaces a delivery.
    fn put_delivery(&self, delivery: &Delivery) -> Result<()>;
    /// Pending deliveries due by `now`, earliest first; at most `limit`.
    fn due_deliveries(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>>;
    /// A webhook's deliveries, newest first; at most `limit`.
    fn deliveries_of(&self, webhook: &str, limit: usize) -> Result<Vec<Delivery>>;
}

/// What [`Catalog::changes_since`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The last change read, or the `seq` asked about when there was none.
    pub seq: u64,
    /// Datasets created, edited, published to or withdrawn, each once.
    pub datasets: Vec<String>,
    /// Organizations created or edited, each once.
    pub organizations: Vec<String>,
}

/// A publisher's change to the catalog, made with its audit entry (see [`Catalog::audited`]).
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// [`Catalog::upsert_dataset`].
    Dataset(&'a DatasetMeta),
    /// [`Catalog::withdraw_dataset`], keeping the record of why: the dataset then answers
    /// [`crate::Error::DatasetWithdrawn`].
    Withdraw(&'a Withdrawal),
    /// Brings a withdrawn dataset back, as it was, and forgets why it left.
    Restore(&'a str),
    /// [`Catalog::put_job`]: an upload queued for ingest.
    Job(&'a Job),
    /// Adds a file or link that is not a table; its file is already stored.
    AddResource(&'a Resource),
    /// Takes a resource off its dataset (the sweep removes its file).
    RemoveResource { dataset: &'a str, id: &'a str },
    /// [`Catalog::set_membership`], or the end of one (`role: None`).
    Membership { user: &'a str, organization: &'a str, role: Option<Role> },
    /// [`Catalog::upsert_organization`].
    Organization(&'a Organization),
    /// [`Catalog::set_columns`] and [`Catalog::set_table_settings`] of one table.
    Columns { dataset: &'a str, table: &'a str, version: u32, columns: &'a [Column], settings: &'a TableSettings },
}

impl Changes {
    /// Folds feed rows `(seq, dataset, organization)`, in order, read after `seq`.
    pub(crate) fn gather(seq: u64, rows: impl IntoIterator<Item = (u64, Option<String>, Option<String>)>) -> Self {
        let mut out = Changes { seq, ..Default::default() };
        for (seq, dataset, organization) in rows {
            out.seq = out.seq.max(seq);
            for (id, into) in [(dataset, &mut out.datasets), (organization, &mut out.organizations)] {
                if let Some(id) = id.filter(|id| !into.contains(id)) {
                    into.push(id);
                }
            }
        }
        out
    }
}

/// Catalog-wide counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Totals {
    pub datasets: u64,
    pub organizations: u64,
    pub rows: u64,
}
