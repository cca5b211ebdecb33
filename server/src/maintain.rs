//! Work that one node at a time does for the whole portal: sweeping the bucket of what no
//! version names. Every node tries to take the lead each round; the catalog gives it to one
//! (a named lease, renewed while it lives), and to another when that node dies.
//!
//! A lease row rather than a PostgreSQL advisory lock: a session lock would need one
//! connection held for as long as the node leads, and would be lost, unseen, whenever that
//! connection dropped; the row also works the same in SQLite.

use std::time::Duration;

use crate::state::AppState;

/// How often the leader sweeps, and how long its lead lasts unless renewed.
const EVERY: Duration = Duration::from_secs(300);
const LEAD: Duration = Duration::from_secs(900);

/// Runs the maintenance rounds until `stop` resolves.
pub async fn run(state: AppState, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let round = {
            let state = state.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<Option<usize>> {
                let until = chrono::Utc::now() + LEAD;
                if !state.store.catalog().lead("maintainer", &state.node, until)? {
                    return Ok(None);
                }
                Ok(Some(state.store.sweep_bucket()?))
            })
        };
        match round.await {
            Ok(Ok(Some(removed))) if removed > 0 => tracing::info!(removed, "swept the bucket"),
            Ok(Err(e)) => tracing::warn!(%e, "maintenance failed; trying again next round"),
            _ => {}
        }
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = &mut stop => return,
        }
    }
}
