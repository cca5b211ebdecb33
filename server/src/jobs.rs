//! The job queue, shared by every node through the catalog: uploads to ingest, and
//! harvests of other portals. A node claims the oldest waiting job under a lease it renews
//! while the job runs; a node that dies stops renewing, and another takes the job over
//! when the lease runs out. `opendata serve` runs jobs beside answering requests, and
//! `opendata worker` runs only jobs.

use std::time::Duration;

use chrono::Utc;
use opendata_datasets::{ColumnOverride, Job, JobStatus, ReadFixes};
use opendata_ingest::{IngestJob, ReadOptions};

use crate::state::AppState;

/// How often an idle node looks for work that another node queued; its own uploads wake it.
const IDLE: Duration = Duration::from_secs(1);

/// Runs jobs until `stop` resolves, at most `limits.max_running_ingests` at once.
pub async fn run(state: AppState, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = state.ingests.clone().acquire_owned() => permit,
            () = &mut stop => return,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { return };
        let claim = {
            let state = state.clone();
            tokio::task::spawn_blocking(move || state.store.catalog().claim_job(&state.node, lease_end(&state)))
        };
        match claim.await {
            Ok(Ok(Some(job))) => {
                let state = state.clone();
                tokio::spawn(async move {
                    execute(&state, job).await;
                    drop(permit);
                });
                continue;
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot claim a job; trying again"),
            Err(e) => tracing::error!(error = %e, "the job claim panicked"),
        }
        drop(permit);
        tokio::select! {
            () = state.jobs_queued.notified() => {}
            () = tokio::time::sleep(IDLE) => {}
            () = &mut stop => return,
        }
    }
}

fn lease(state: &AppState) -> Duration {
    Duration::from_secs(state.config.limits.job_lease_secs.max(1))
}

fn lease_end(state: &AppState) -> chrono::DateTime<Utc> {
    Utc::now() + lease(state)
}

/// Runs one claimed job to its end, renewing the lease meanwhile; if the lease is lost
/// (another node took the job over after a stall), the ingest stops and records nothing.
async fn execute(state: &AppState, mut job: Job) {
    let renew = async {
        loop {
            tokio::time::sleep(lease(state) / 3).await;
            let (s, id) = (state.clone(), job.id.clone());
            let kept =
                tokio::task::spawn_blocking(move || s.store.catalog().renew_job(&id, &s.node, lease_end(&s))).await;
            match kept {
                Ok(Ok(true)) => {}
                // A catalog that does not answer for a moment is not a lost lease.
                Ok(Err(e)) => tracing::warn!(job = job.id, error = %e, "cannot renew the job's lease"),
                _ => return,
            }
        }
    };
    let outcome = tokio::select! {
        outcome = work(state, &job) => match outcome {
            Ok(versions) => Ok(versions),
            Err(Failure::Failed(why)) => Err(why),
            Err(Failure::Interrupted) => {
                // This node is stopping: the job is not over, its lease will run out.
                tracing::info!(job = job.id, "left the job to another node");
                return;
            }
        },
        () = renew => {
            tracing::warn!(job = job.id, "lost the job's lease to another node; stopped its ingest");
            return;
        }
    };
    match outcome {
        Ok(versions) => {
            job.status = JobStatus::Succeeded;
            job.version = versions.first().copied();
        }
        Err(why) => {
            job.status = JobStatus::Failed;
            job.error = Some(why);
        }
    }
    job.finished_at = Some(Utc::now());
    match state.store.catalog().finish_job(&job, &state.node) {
        Ok(true) => {
            if let Some(input) = job.input.as_ref().filter(|i| !i.original)
                && let Err(e) = state.store.remove_upload(&input.upload)
            {
                tracing::warn!(job = job.id, %e, "could not remove the job's upload; the sweep will");
            }
        }
        Ok(false) => tracing::warn!(job = job.id, "another node took the job over; its outcome stands"),
        Err(e) => tracing::error!(job = job.id, %e, "could not record the job's end"),
    }
}

/// Why a job did not publish.
enum Failure {
    /// For good, with the reason its publisher is told.
    Failed(String),
    /// Cut off by this node's shutdown: the job goes on elsewhere.
    Interrupted,
}

impl From<String> for Failure {
    fn from(why: String) -> Self {
        Failure::Failed(why)
    }
}

impl From<&str> for Failure {
    fn from(why: &str) -> Self {
        Failure::Failed(why.to_owned())
    }
}

/// What a job does: a harvest, or (most jobs) an upload's ingest.
async fn work(state: &AppState, job: &Job) -> Result<Vec<u32>, Failure> {
    match &job.harvest {
        Some(namespace) => harvest(state, namespace).await.map(|()| Vec::new()),
        None => ingest(state, job).await,
    }
}

/// One harvest of the source of `namespace`. Each table is downloaded here (unless
/// unchanged at the source) and ingested in a process of its own, as uploads are.
async fn harvest(state: &AppState, namespace: &str) -> Result<(), Failure> {
    let sources = state
        .store
        .catalog()
        .harvest_sources()
        .map_err(|e| if e.is_unavailable() { Failure::Interrupted } else { Failure::Failed(e.to_string()) })?;
    let source = sources.into_iter().find(|s| s.namespace == namespace).ok_or("the source is no longer harvested")?;
    let root = state.store.root().display().to_string();
    let (state, runtime) = (state.clone(), tokio::runtime::Handle::current());
    let report = tokio::task::spawn_blocking(move || {
        let agent = crate::fetch::agent(&state.config.fetch)?;
        crate::harvest::run(&source, &state.store, &state.index, &agent, &mut |meta, table, title, url| {
            let fetched = crate::fetch::table_source(&state.store, &meta.id, table, url, &state.config.fetch)?;
            let Some((file, source_name, validators)) = fetched else { return Ok(()) };
            let ingest = IngestJob {
                source: file.path().to_owned(),
                source_name,
                dataset: meta.clone(),
                table: table.to_owned(),
                table_title: Some(title.to_owned()),
                options: ReadOptions::default(),
                columns: Default::default(),
                sort_by: None,
                limits: state.config.limits.ingest(),
                create_dataset: true,
                draft: false,
            };
            // Metadata changed at the source is taken, as the command line's harvest does.
            if state.store.catalog().dataset(&meta.id).is_ok() {
                state.store.catalog().upsert_dataset(meta)?;
            }
            let run = crate::ingest_child::ingest(&state.workers, &state.store, ingest, &state.config.limits);
            runtime.block_on(run).map_err(|e| anyhow::anyhow!(e))?;
            // A workbook's sheets become tables of other names; those download again next
            // time, and an unchanged file publishes nothing.
            let _ = crate::fetch::remember(&state.store, &meta.id, &[table], &validators);
            crate::publish::index_dataset(&state.store, &state.index, &meta.id)
        })
        .map(|report| (report.summary(&source.url), report.failures))
    })
    .await
    .map_err(|_| Failure::Failed("the harvest stopped unexpectedly".into()))?;
    match report {
        Ok((_, failures)) if failures.is_empty() => Ok(()),
        Ok((summary, failures)) => {
            // The first few say what went wrong; a source with thousands of broken links
            // must not make a job record of megabytes.
            let mut why = format!("{summary}: {}", failures[..failures.len().min(5)].join("; "));
            if failures.len() > 5 {
                why.push_str(&format!("; and {} more", failures.len() - 5));
            }
            Err(why.replace(&root, "…").into())
        }
        Err(e) => Err(format!("{e:#}").replace(&root, "…").into()),
    }
}

/// The ingest of one job, in a process of its own (see [`crate::ingest_child`]); the
/// versions it published, or why it published nothing.
///
/// The job may have waited: its token (or, for an upload from the publisher's pages, its
/// user) must still be allowed to publish into its dataset, and the dataset must still
/// exist; the version never changes the dataset's metadata.
async fn ingest(state: &AppState, job: &Job) -> Result<Vec<u32>, Failure> {
    let catalog = state.store.catalog();
    match &job.token {
        Some(token) => crate::auth::still_allowed(catalog, token, &job.dataset)?,
        None => crate::auth::user_still_allowed(catalog, &job.user, &job.dataset)?,
    }
    let dataset = catalog
        .dataset(&job.dataset)
        .map_err(|e| if e.is_unavailable() { Failure::Interrupted } else { Failure::Failed(e.to_string()) })?;
    let input = job.input.as_ref().ok_or("the job has no upload to ingest")?;
    let source = {
        let (store, upload, original) = (state.store.clone(), input.upload.clone(), input.original);
        // From a bucket, when another node received the upload.
        let local = move || if original { store.original_path(&upload) } else { store.upload_path(&upload) };
        tokio::task::spawn_blocking(local).await.map_err(|_| Failure::Interrupted)?
    };
    let source = source.map_err(|e| {
        if e.is_unavailable() {
            Failure::Interrupted
        } else {
            format!("the upload cannot be read ({e}); upload again").into()
        }
    })?;
    if !source.exists() {
        return Err("the upload is gone; upload again".into());
    }
    let ingest = IngestJob {
        source,
        source_name: input.file_name.clone(),
        // The dataset as it is now: an edit made while the job waited stands.
        dataset: dataset.meta.clone(),
        table: job.table.clone(),
        table_title: input.table_title.clone(),
        options: read_options(input.fixes.as_ref())?,
        columns: input
            .fixes
            .iter()
            .flat_map(|f| &f.types)
            .map(|(name, kind)| (name.clone(), ColumnOverride { kind: Some(*kind), ..Default::default() }))
            .collect(),
        sort_by: None,
        limits: state.config.limits.ingest(),
        create_dataset: false,
        draft: input.draft,
    };
    let versions = crate::ingest_child::ingest(&state.workers, &state.store, ingest, &state.config.limits)
        .await
        .map_err(|e| e.replace(&state.store.root().display().to_string(), "…"))?;
    // Indexed before the job says it succeeded, so its publisher finds it at once; other
    // nodes index it from the change feed.
    crate::publish::index_dataset(&state.store, &state.index, &job.dataset)
        .map_err(|e| format!("published, but not yet searchable: {e}"))?;
    Ok(versions)
}

/// The read options a publisher's corrections give.
fn read_options(fixes: Option<&ReadFixes>) -> Result<ReadOptions, Failure> {
    let Some(f) = fixes else { return Ok(ReadOptions::default()) };
    let delimiter = opendata_ingest::manifest::parse_delimiter(f.delimiter.as_deref())
        .map_err(|e| Failure::Failed(e.to_string()))?;
    Ok(ReadOptions {
        encoding: f.encoding.clone(),
        delimiter,
        header_row: f.header_row,
        sheet: f.sheet.clone(),
        null_markers: f.null_markers.clone(),
        ..ReadOptions::default()
    })
}

/// A new job's id: 16 random hex digits.
pub fn new_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// This node's name in job leases: host, process and a random part, so a restarted
/// process never mistakes its predecessor's leases for its own.
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{random}", host.trim(), std::process::id())
}
