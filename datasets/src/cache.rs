//! Datasets as last loaded, for the reading hot path: a request asks for its dataset before
//! anything else, and loading one means several queries and decoding every version's
//! columns and statistics from JSON. Every change to what a [`crate::Dataset`] holds writes
//! the change feed in its own transaction, so the feed's last sequence number says whether
//! what is kept is still the truth: one indexed `max(seq)` instead of the whole load, and
//! correct whichever process or node made the change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::Result;
use crate::model::Dataset;

/// At most this many datasets are kept; past it the cache starts again (a national portal
/// has a few thousand).
const MAX_DATASETS: usize = 8192;

#[derive(Debug, Default)]
pub(crate) struct DatasetCache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The change feed's position the kept datasets were loaded at.
    seq: u64,
    datasets: HashMap<String, Arc<Dataset>>,
    /// Every dataset in the catalog, when a listing loaded them all.
    all: Option<Vec<Arc<Dataset>>>,
}

impl DatasetCache {
    /// Dataset `id` as of feed position `seq`: kept, or loaded by `load` and kept. A load
    /// that fails (not found, withdrawn) is not kept.
    pub(crate) fn dataset(&self, seq: u64, id: &str, load: impl FnOnce() -> Result<Dataset>) -> Result<Arc<Dataset>> {
        if let Some(d) = self.current(seq).datasets.get(id) {
            return Ok(Arc::clone(d));
        }
        let loaded = Arc::new(load()?);
        let mut state = self.current(seq);
        if state.datasets.len() >= MAX_DATASETS {
            state.datasets.clear();
        }
        state.datasets.insert(id.to_owned(), Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Every dataset as of feed position `seq`.
    pub(crate) fn all(&self, seq: u64, load: impl FnOnce() -> Result<Vec<Dataset>>) -> Result<Vec<Arc<Dataset>>> {
        if let Some(all) = &self.current(seq).all {
            return Ok(all.clone());
        }
        let loaded: Vec<Arc<Dataset>> = load()?.into_iter().map(Arc::new).collect();
        let mut state = self.current(seq);
        if loaded.len() <= MAX_DATASETS {
            // One copy of each: a lookup after a listing is answered from it.
            state.datasets = loaded.iter().map(|d| (d.meta.id.clone(), Arc::clone(d))).collect();
            state.all = Some(loaded.clone());
        }
        Ok(loaded)
    }

    /// The state, emptied first if the feed moved since it was filled.
    fn current(&self, seq: u64) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves a map of whole datasets: still consistent.
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.seq != seq {
            *state = State { seq, ..State::default() };
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(id: &str, title: &str) -> Dataset {
        Dataset {
            meta: crate::DatasetMeta { id: id.into(), title: title.into(), ..Default::default() },
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            tables: vec![],
            resources: vec![],
        }
    }

    #[test]
    fn kept_until_the_feed_moves() {
        let cache = DatasetCache::default();
        let mut loads = 0;
        let mut get = |seq, title: &str| {
            cache
                .dataset(seq, "pop", || {
                    loads += 1;
                    Ok(dataset("pop", title))
                })
                .unwrap()
                .meta
                .title
                .clone()
        };
        assert_eq!(get(1, "first"), "first");
        assert_eq!(get(1, "second"), "first", "kept");
        assert_eq!(get(2, "second"), "second", "the feed moved: loaded again");
        assert_eq!(loads, 2);
        let missing = cache.dataset(2, "nope", || Err(crate::Error::DatasetNotFound("nope".into())));
        assert!(missing.is_err());
        let found = cache.dataset(2, "nope", || Ok(dataset("nope", "made since")));
        assert_eq!(found.unwrap().meta.title, "made since", "a failed load is not kept");
        let all = cache.all(2, || Ok(vec![dataset("a", "a")])).unwrap();
        assert!(Arc::ptr_eq(&cache.all(2, || Ok(vec![])).unwrap()[0], &all[0]), "shared, not copied");
        let one = cache.dataset(2, "a", || panic!("kept by the listing")).unwrap();
        assert!(Arc::ptr_eq(&one, &all[0]));
        assert!(cache.all(3, || Ok(vec![])).unwrap().is_empty());
    }
}
