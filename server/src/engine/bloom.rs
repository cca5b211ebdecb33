//! The bloom filters of a version's identifier columns, one per row group (see
//! `opendata_ingest::lay_out`): a lookup by value reads only the row groups whose filter may
//! hold it. Read once per file and kept, as the page index is.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use parquet::bloom_filter::Sbbf;

/// Bytes of bloom filters kept in memory across all files; the map is emptied past it. A
/// 10M-row table's identifier column has about 12 MB of them.
const CACHED_BLOOM_BYTES: usize = 64 << 20;

/// The bloom filter of column `c` of row group `g`, if it has one.
pub fn row_group_filter(path: &Path, meta: &ArrowReaderMetadata, g: usize, c: usize) -> Option<Arc<Sbbf>> {
    type Cache = HashMap<(PathBuf, usize, usize), Option<Arc<Sbbf>>>;
    static CACHE: OnceLock<Mutex<(Cache, usize)>> = OnceLock::new();
    let chunk = meta.metadata().row_group(g).column(c);
    chunk.bloom_filter_offset()?;
    let cache = CACHE.get_or_init(Default::default);
    let key = (path.to_owned(), g, c);
    if let Some(hit) = cache.lock().ok()?.0.get(&key) {
        return hit.clone();
    }
    let loaded =
        File::open(path).ok().and_then(|f| Sbbf::read_from_column_chunk(chunk, &f).ok().flatten()).map(Arc::new);
    let size = chunk.bloom_filter_length().map_or(0, |l| l.max(0) as usize);
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
