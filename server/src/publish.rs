//! Ingest followed by indexing: the path every new version takes, from the CLI or the demo.

use opendata_datasets::Store;
use opendata_ingest::{IngestJob, IngestOutcome, Progress};
use search_index::{IndexedDataset, SearchIndex};

/// Ingests `job`, then updates the dataset's search entry so it is findable at once.
pub fn ingest_and_index(
    store: &Store,
    index: &SearchIndex,
    job: &IngestJob,
    progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<IngestOutcome> {
    let outcome = opendata_ingest::ingest(store, job, progress)?;
    if outcome.tables.iter().any(|t| !t.unchanged) {
        index_dataset(store, index, &job.dataset.id)?;
    }
    Ok(outcome)
}

/// Refreshes one dataset's entry in the search index from the catalog.
pub fn index_dataset(store: &Store, index: &SearchIndex, id: &str) -> anyhow::Result<()> {
    let catalog = store.catalog();
    let dataset = catalog.dataset(id)?;
    let org = catalog.organization(&dataset.meta.organization)?;
    index.upsert(&[IndexedDataset::new(&dataset, &org)])?;
    Ok(())
}

/// Rebuilds the whole search index from the catalog, in one commit.
pub fn reindex(store: &Store, index: &SearchIndex) -> anyhow::Result<usize> {
    let catalog = store.catalog();
    let orgs = catalog.organizations()?;
    let docs: Vec<IndexedDataset> = catalog
        .datasets()?
        .iter()
        .filter_map(|d| orgs.iter().find(|o| o.id == d.meta.organization).map(|o| IndexedDataset::new(d, o)))
        .collect();
    index.rebuild(&docs)?;
    Ok(docs.len())
}

/// Opens the data folder's search index. An index written by an older version of the
/// portal (another schema or analyzer) is rebuilt from the catalog, which is the truth.
/// Brings the index in line with the catalog: the catalog commits first and the index after,
/// so a process stopped between the two (or an index restored from an older backup) can
/// leave a dataset missing, stale, or still listed after it was withdrawn. Returns how many
/// entries were fixed.
pub fn repair_index(store: &Store, index: &SearchIndex) -> anyhow::Result<usize> {
    let catalog = store.catalog();
    let indexed: std::collections::HashMap<String, i64> = index.entries()?.into_iter().collect();
    let datasets = catalog.datasets()?;
    let mut fixed = 0;
    let orgs = catalog.organizations()?;
    let mut stale = Vec::new();
    for d in &datasets {
        if indexed.get(&d.meta.id) != Some(&d.updated_at.timestamp_micros())
            && let Some(org) = orgs.iter().find(|o| o.id == d.meta.organization)
        {
            stale.push(IndexedDataset::new(d, org));
        }
    }
    if !stale.is_empty() {
        fixed += stale.len();
        index.upsert(&stale)?;
    }
    for id in indexed.keys().filter(|id| !datasets.iter().any(|d| &d.meta.id == *id)) {
        index.remove(id)?;
        fixed += 1;
    }
    Ok(fixed)
}

pub fn open_index(store: &Store, dir: &std::path::Path) -> anyhow::Result<SearchIndex> {
    let (index, reset) = SearchIndex::open_or_reset(dir)?;
    if reset {
        let n = reindex(store, &index)?;
        tracing::info!(datasets = n, "rebuilt the search index for this version of the portal");
    }
    Ok(index)
}
