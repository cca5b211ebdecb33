//! Work that one node at a time does for the whole portal: queueing the harvests whose
//! time has come, and sweeping the bucket of what no version names. Every node tries to take the lead each round; the catalog gives it to one
//! (a named lease, renewed while it lives), and to another when that node dies.
//!
//! A lease row rather than a PostgreSQL advisory lock: a session lock would need one
//! connection held for as long as the node leads, and would be lost, unseen, whenever that
//! connection dropped; the row also works the same in SQLite.

use std::time::Duration;

use chrono::Utc;
use opendata_datasets::{Job, JobStatus};

use crate::state::AppState;

/// How often the leader works, and how long its lead lasts unless renewed.
const EVERY: Duration = Duration::from_secs(300);
const LEAD: Duration = Duration::from_secs(900);

/// Runs the maintenance rounds until `stop` resolves.
pub async fn run(state: AppState, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let round = {
            let state = state.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Option<(usize, usize)>> {
                let until = Utc::now() + LEAD;
                if !state.store.catalog().lead("maintainer", &state.node, until)? {
                    return Ok(None);
                }
                let queued = queue_due_harvests(&state)?;
                Ok(Some((queued, state.store.sweep_bucket()?)))
            })
        };
        match round.await {
            Ok(Ok(Some((queued, removed)))) => {
                if queued > 0 {
                    tracing::info!(queued, "queued harvests");
                }
                if removed > 0 {
                    tracing::info!(removed, "swept the bucket");
                }
            }
            Ok(Err(e)) => tracing::warn!(%e, "maintenance failed; trying again next round"),
            _ => {}
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = &mut stop => return,
        }
    }
}

/// Queues a harvest of each scheduled source whose time has come, and moves its next run
/// on. A source whose last harvest still waits or runs is left for a later round.
fn queue_due_harvests(state: &AppState) -> anyhow::Result<usize> {
    let catalog = state.store.catalog();
    let now = Utc::now();
    let mut queued = 0;
    for mut source in catalog.harvest_sources()? {
        if source.every_hours == 0 || source.next_run > now {
            continue;
        }
        let busy =
            |id: &String| catalog.job(id).is_ok_and(|j| matches!(j.status, JobStatus::Queued | JobStatus::Running));
        if source.last_job.as_ref().is_some_and(busy) {
            continue;
        }
        let job = Job {
            id: crate::jobs::new_id()?,
            dataset: String::new(),
            table: String::new(),
            user: "maintainer".into(),
            token: None,
            status: JobStatus::Queued,
            created_at: now,
            finished_at: None,
            version: None,
            error: None,
            input: None,
            lease: None,
            attempts: 0,
            harvest: Some(source.namespace.clone()),
        };
        // Queued before the source moves on: a crash between the two harvests twice (which
        // publishes nothing new), never skips a harvest.
        catalog.put_job(&job)?;
        source.next_run = now + chrono::Duration::hours(source.every_hours.into());
        source.last_job = Some(job.id);
        catalog.put_harvest_source(&source)?;
        queued += 1;
    }
    if queued > 0 {
        state.jobs_queued.notify_one();
    }
    Ok(queued)
}
