//! The bloom filters of a version's identifier columns, one per row group (see
//! `opendata_ingest::lay_out`): a lookup by value reads only the row groups whose filter may
//! hold it. Read once per file and column and kept, as the page index is.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::bloom_filter::Sbbf;

/// Bytes of bloom filters kept in memory across all files; the map is emptied past it. A
/// 10M-row table's identifier column has about 12 MB of them.
const CACHED_BLOOM_BYTES: usize = 64 << 20;

/// One column's bloom filters, by row group (none for a group without one).
pub type ColumnFilters = Arc<[Option<Sbbf>]>;

/// The bloom filters of column `c` of every row group, or none when no group has one. One
/// lookup per request and column, whatever the number of row groups.
pub fn column_filters(path: &Path, meta: &ArrowReaderMetadata, c: usize) -> Option<ColumnFilters> {
    type Cache = HashMap<(PathBuf, usize), Option<ColumnFilters>>;
    static CACHE: OnceLock<Mutex<(Cache, usize)>> = OnceLock::new();
    let groups = meta.metadata().row_groups();
    if !groups.iter().any(|g| g.column(c).bloom_filter_offset().is_some()) {
        return None;
    }
    let cache = CACHE.get_or_init(Default::default);
    let key = (path.to_owned(), c);
    if let Some(hit) = cache.lock().ok()?.0.get(&key) {
        return hit.clone();
    }
    let loaded: Option<ColumnFilters> = File::open(path)
        .ok()
        .map(|file| groups.iter().map(|g| Sbbf::read_from_column_chunk(g.column(c), &file).ok().flatten()).collect());
    // What the filters hold, not what the footer says of them: a writer need not record it.
    let size: usize = loaded.iter().flat_map(|filters| filters.iter().flatten()).map(|f| f.num_blocks() * 32).sum();
    let mut guard = cache.lock().ok()?;
    let (map, bytes) = &mut *guard;
    if *bytes + size > CACHED_BLOOM_BYTES {
        map.clear();
        *bytes = 0;
    }
    *bytes += size;
    map.insert(key, loaded.clone());
    loaded
}
