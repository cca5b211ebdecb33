//! The lookup index of a version's identifier columns (see `opendata_ingest::lookup`): a
//! lookup by value reads the blocks of rows that hold it, one page of each column. The
//! index's directory is read once per file and kept; its chunks are read per lookup.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use opendata_ingest::lookup::Lookup;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

/// Files whose directories are kept; the map is emptied past it. A 10M-row table's
/// directory is 68 KB a column.
const CACHED_FILES: usize = 256;

/// The lookup index of the file at `path`, or none when it has none.
pub fn of(path: &Path, meta: &ArrowReaderMetadata) -> Option<Arc<Lookup>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Option<Arc<Lookup>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok()?.get(path) {
        return hit.clone();
    }
    let metadata = meta.metadata().file_metadata().key_value_metadata();
    let loaded = File::open(path)
        .ok()
        .and_then(|file| {
            let len = file.metadata().ok()?.len();
            Lookup::read(&file, len, metadata)
        })
        .map(Arc::new);
    let mut cache = cache.lock().ok()?;
    if cache.len() >= CACHED_FILES {
        cache.clear();
    }
    cache.insert(path.to_owned(), loaded.clone());
    loaded
}
