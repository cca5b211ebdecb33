//! Keeps this node's search index current with the catalog's change feed, whoever made the
//! change: another node behind the balancer, a command-line ingest, an upload's ingest
//! process. The node that makes a change also indexes it at once, so its own publisher
//! finds it without waiting; the feed brings the same change to every other node.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::state::Inner;

/// How long one wait for a change lasts; also how late a lost notification can make one.
const WAIT: Duration = Duration::from_secs(1);

/// Follows the feed from `seq` on a thread of its own, until the state is dropped; the
/// glossary saved in the catalog too, from `glossary` (the one taken up when it opened).
pub(crate) fn spawn(state: &Arc<Inner>, seq: u64, glossary: Option<String>) -> std::io::Result<()> {
    let state = Arc::downgrade(state);
    std::thread::Builder::new().name("change-feed".into()).spawn(move || follow(state, seq, glossary)).map(|_| ())
}

/// How often a node looks for a glossary another node saved.
const GLOSSARY_LOOK: Duration = Duration::from_secs(15);

/// Uses the glossary saved in the catalog, if any and if it changed since `seen`; returns
/// the one now in use (`None` for the shipped one).
fn refresh_glossary(
    store: &opendata_datasets::Store,
    index: &search_index::SearchIndex,
    seen: Option<String>,
) -> Option<String> {
    let saved = match store.catalog().glossary() {
        Ok(saved) => saved.map(|g| g.text),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the saved glossary");
            return seen;
        }
    };
    if saved != seen {
        let glossary = match &saved {
            // Checked when it was saved; a glossary that no longer parses (another version
            // of the portal) gives way to the shipped one.
            Some(text) => search_index::Glossary::parse(text).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the saved glossary does not parse; using the shipped one");
                search_index::Glossary::builtin()
            }),
            None => search_index::Glossary::builtin(),
        };
        index.set_glossary(glossary);
    }
    saved
}

/// Takes up the glossary saved in the catalog, when the server opens; returns its text.
pub(crate) fn load_glossary(store: &opendata_datasets::Store, index: &search_index::SearchIndex) -> Option<String> {
    refresh_glossary(store, index, None)
}

fn follow(state: Weak<Inner>, mut seq: u64, mut glossary: Option<String>) {
    let mut looked = std::time::Instant::now();
    loop {
        if looked.elapsed() >= GLOSSARY_LOOK
            && let Some(state) = state.upgrade()
        {
            glossary = refresh_glossary(&state.store, &state.index, glossary);
            looked = std::time::Instant::now();
        }
        // Held only for one round: a dropped server's follower ends at its next wake-up.
        let Some(catalog) = state.upgrade().map(|s| s.store.shared_catalog()) else { return };
        if let Err(e) = catalog.wait_for_change(seq, WAIT) {
            tracing::warn!(error = %e, "cannot read the change feed; trying again");
            std::thread::sleep(WAIT);
            continue;
        }
        drop(catalog);
        let Some(state) = state.upgrade() else { return };
        match apply(&state, seq) {
            Ok(next) => seq = next,
            Err(e) => {
                tracing::warn!(error = %e, "cannot apply the change feed; trying again");
                std::thread::sleep(WAIT);
            }
        }
    }
}

/// Re-indexes what changed after `seq` (removing what was withdrawn); returns where the feed
/// now stands.
fn apply(state: &Inner, seq: u64) -> anyhow::Result<u64> {
    let catalog = state.store.catalog();
    let changes = catalog.changes_since(seq)?;
    let mut ids = changes.datasets;
    for org in &changes.organizations {
        // An organization's title is part of each of its datasets' search entries.
        ids.extend(catalog.datasets_of(org)?.into_iter().map(|d| d.meta.id.clone()));
    }
    ids.sort();
    ids.dedup();
    for id in &ids {
        match catalog.dataset(id) {
            Ok(_) => crate::publish::index_dataset(&state.store, &state.index, id)?,
            Err(e) if e.is_missing_dataset() => state.index.remove(id)?,
            Err(e) => return Err(e.into()),
        }
    }
    if !ids.is_empty() {
        tracing::debug!(datasets = ids.len(), seq = changes.seq, "indexed changes from the feed");
    }
    Ok(changes.seq)
}
