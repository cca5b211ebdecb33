//! Work that one node at a time does for the whole portal: publishing the releases whose
//! time has come, queueing the harvests that are due, and sweeping the bucket of what no
//! version names. Every node tries to take the lead each round; the catalog gives it to one
//! (a named lease, renewed while it lives), and to another when that node dies.
//!
//! A lease row rather than a PostgreSQL advisory lock: a session lock would need one
//! connection held for as long as the node leads, and would be lost, unseen, whenever that
//! connection dropped; the row also works the same in SQLite.

use std::time::Duration;

use chrono::Utc;
use opendata_datasets::{Job, JobStatus};

use crate::state::AppState;

/// How often the leader looks for releases that are due (sooner when one is due sooner);
/// harvests and the sweep come every [`FULL`]th round. A lead lasts [`LEAD`] unless renewed.
const ROUND: Duration = Duration::from_secs(30);
const FULL: u64 = 10;
const LEAD: Duration = Duration::from_secs(900);

/// What a round did.
#[derive(Debug, Default)]
struct Round {
    released: usize,
    queued: usize,
    removed: usize,
    /// When the next scheduled release is due.
    next: Option<chrono::DateTime<Utc>>,
}

/// Runs the maintenance rounds until `stop` resolves.
pub async fn run(state: AppState, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    for n in 0u64.. {
        let work = {
            let state = state.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Option<Round>> {
                let until = Utc::now() + LEAD;
                if !state.store.catalog().lead("maintainer", &state.node, until)? {
                    return Ok(None);
                }
                let (released, next) = release_due_drafts(&state)?;
                let mut round = Round { released, next, ..Round::default() };
                if n % FULL == 0 {
                    round.queued = queue_due_harvests(&state)?;
                    round.removed = state.store.sweep_bucket()?;
                }
                Ok(Some(round))
            })
        };
        let mut wait = ROUND;
        match work.await {
            Ok(Ok(Some(round))) => {
                if round.released > 0 {
                    tracing::info!(released = round.released, "published scheduled releases");
                }
                if round.queued > 0 {
                    tracing::info!(queued = round.queued, "queued harvests");
                }
                if round.removed > 0 {
                    tracing::info!(removed = round.removed, "swept the bucket");
                }
                if let Some(next) = round.next {
                    wait = wait.min((next - Utc::now()).to_std().unwrap_or_default());
                }
            }
            Ok(Err(e)) => tracing::warn!(%e, "maintenance failed; trying again next round"),
            _ => {}
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = state.maintain.notified() => {}
            () = &mut stop => return,
        }
    }
}

/// Publishes the drafts whose release time has passed; returns how many, and when the next
/// scheduled one is due. A draft overtaken by a newer version is dropped, not published.
fn release_due_drafts(state: &AppState) -> anyhow::Result<(usize, Option<chrono::DateTime<Utc>>)> {
    let now = Utc::now();
    let (mut released, mut next) = (0, None);
    for draft in state.store.catalog().drafts()? {
        let Some(at) = draft.publish_at else { continue };
        if at > now {
            next = Some(next.map_or(at, |n: chrono::DateTime<Utc>| n.min(at)));
            continue;
        }
        let (dataset, table) = (&draft.new.dataset.id, &draft.new.table);
        // Any breaking change was confirmed when the release was scheduled.
        match state.store.publish_draft(dataset, table, draft.number, true) {
            Ok(v) => {
                released += 1;
                tracing::info!(dataset, table, version = v.version, "published a scheduled release");
                if let Err(e) = crate::publish::index_dataset(&state.store, &state.index, dataset) {
                    tracing::warn!(dataset, %e, "published, but not yet searchable here");
                }
            }
            Err(e) => tracing::warn!(dataset, table, %e, "a scheduled release was not published"),
        }
    }
    Ok((released, next))
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
            harvest: Some(source.namespace.clone()),
            ..Job::queued(crate::jobs::new_id()?, String::new(), String::new(), "maintainer".into())
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
