use std::sync::Arc;

use opendata_datasets::Store;
use search_index::SearchIndex;

use crate::config::Config;

/// What every handler shares: the store (catalog + files), the search index and settings.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Store,
    pub index: SearchIndex,
    pub config: Config,
}

impl AppState {
    /// Opens the data folder and the search index named by `config`.
    pub fn open(config: Config) -> anyhow::Result<Self> {
        let store = Store::open(&config.data)?;
        let index = SearchIndex::open(&store.index_dir())?;
        Ok(Self(Arc::new(Inner { store, index, config })))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
