//! Tables held decoded in memory for SQL.
//!
//! An aggregate over a large table spends most of its time decoding Parquet and hashing text
//! keys row by row: `GROUP BY aimag, indicator` over 10M rows takes about 300 ms from the file.
//! Held in memory, with its repetitive text columns as categoricals (a 4-byte code per row,
//! each text once), the same query takes about 80 ms. The codes are built here, once per
//! version: polars 0.55 reads a Parquet dictionary back into a categorical one string at a
//! time, so storing categoricals in the file would gain nothing and would hand every reader
//! of the downloads a dictionary type.
//!
//! Each query worker has a cache of its own (see [`super::pool`]). A table is loaded after
//! the first query that reads it has been answered, before the worker takes its next task;
//! that query read the file. Tables are dropped least recently used first to stay within
//! the memory budget (`limits.table_cache_mb`). A version's file never changes, so an entry
//! never goes stale.
//!
//! Codes are not text to every SQL function: polars refuses `upper` or `LIKE` on them and
//! would cast them to integers as codes. [`crate::engine::sql::Uses`] says which columns a query
//! only groups, orders, projects or compares for equality; the others are handed to it as
//! text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use opendata_datasets::{ColumnType, TableVersion};
use polars::prelude::*;

/// A text column becomes codes when its values repeat this many times on average: then the
/// codes and the texts held once take less memory than the texts in every row.
const REPEATS: u64 = 4;

/// What to load for a version, decided from its catalog entry.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Load {
    path: PathBuf,
    /// A lower bound of the decoded size, to leave out tables that cannot fit before
    /// decoding any of them.
    least_bytes: u64,
    /// Text columns held as codes.
    codes: Vec<String>,
}

impl Load {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn new(path: PathBuf, version: &TableVersion) -> Self {
        Self::of(path, &version.columns, version.row_count)
    }

    /// What to hold of the file at `path`, with these columns and rows.
    pub fn of(path: PathBuf, columns: &[opendata_datasets::Column], rows: u64) -> Self {
        let codes = columns
            .iter()
            .filter(|c| c.kind == ColumnType::String && c.stats.distinct_count.saturating_mul(REPEATS) <= rows)
            .map(|c| c.name.clone())
            .collect();
        Load { path, least_bytes: rows.saturating_mul(columns.len() as u64), codes }
    }
}

#[derive(Debug)]
pub struct TableCache {
    budget: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    tables: HashMap<PathBuf, Held>,
    used: u64,
    clock: u64,
}

#[derive(Debug)]
struct Held {
    frame: DataFrame,
    bytes: u64,
    last_use: u64,
}

impl TableCache {
    /// A cache holding up to `budget_mb` of decoded tables; 0 holds none.
    pub fn new(budget_mb: u64) -> Arc<Self> {
        Self::with_budget(budget_mb * 1024 * 1024)
    }

    fn with_budget(bytes: u64) -> Arc<Self> {
        Arc::new(TableCache { budget: bytes, state: Mutex::default() })
    }

    /// The table at `path`, if it is held.
    pub fn get(&self, path: &Path) -> Option<DataFrame> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.clock += 1;
        let now = state.clock;
        let held = state.tables.get_mut(path)?;
        held.last_use = now;
        Some(held.frame.clone())
    }

    /// Loads the table `load` names, unless it is held or cannot fit.
    pub fn load(&self, load: &Load) {
        if self.budget == 0 || load.least_bytes > self.budget || self.get(&load.path).is_some() {
            return;
        }
        let started = std::time::Instant::now();
        match decode(&load.path, &load.codes) {
            Ok(frame) => {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                self.insert(&mut state, load.path.clone(), frame, started.elapsed());
            }
            Err(e) => tracing::warn!(path = %load.path.display(), error = %e, "table not held in memory"),
        }
    }

    /// The files of the tables held.
    pub fn held(&self) -> Vec<PathBuf> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).tables.keys().cloned().collect()
    }

    /// How many tables are held.
    pub fn len(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, state: &mut State, path: PathBuf, frame: DataFrame, took: std::time::Duration) {
        let bytes = frame.estimated_size() as u64;
        if bytes > self.budget {
            return;
        }
        while state.used + bytes > self.budget {
            let Some(oldest) = state.tables.iter().min_by_key(|(_, h)| h.last_use).map(|(p, _)| p.clone()) else {
                break;
            };
            if let Some(gone) = state.tables.remove(&oldest) {
                state.used -= gone.bytes;
            }
        }
        state.clock += 1;
        let last_use = state.clock;
        state.used += bytes;
        tracing::info!(path = %path.display(), mb = bytes / (1024 * 1024), ?took, "table held in memory");
        state.tables.insert(path, Held { frame, bytes, last_use });
    }
}

/// Reads the table at `path`, a column at a time so that the peak is one column's text, with
/// the columns named in `codes` as categoricals of their own.
fn decode(path: &Path, codes: &[String]) -> PolarsResult<DataFrame> {
    let scan = || crate::engine::rows::scan(path);
    let schema = scan()?.collect_schema()?;
    let mut columns = Vec::with_capacity(schema.len());
    for (name, dtype) in schema.iter() {
        let mut column = col(name.clone());
        if dtype.is_string() && codes.iter().any(|c| c == name.as_str()) {
            // Categories of its own, dropped with the table; the global ones would keep every
            // text ever held.
            let categories = Categories::new(
                format!("{}#{name}", path.display()).into(),
                "opendata".into(),
                CategoricalPhysical::U32,
            );
            column = column.cast(DataType::from_categories(categories));
        }
        let frame = scan()?.select([column]).collect()?;
        columns.extend(frame.into_columns().into_iter().map(|c| c.rechunk()));
    }
    DataFrame::new_infer_height(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROWS: usize = 20_000;

    fn table(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        let mut df = df!(
            "id" => (0..ROWS as i64).collect::<Vec<_>>(),
            "station" => (0..ROWS).map(|i| format!("ST{:02}", i % 7)).collect::<Vec<_>>(),
            "note" => (0..ROWS).map(|i| format!("reading {i}")).collect::<Vec<_>>(),
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut df).unwrap();
        path
    }

    fn load(path: &Path) -> Load {
        Load { path: path.to_owned(), least_bytes: 0, codes: vec!["station".into()] }
    }

    fn holds(cache: &TableCache, path: &Path) -> bool {
        cache.state.lock().unwrap().tables.contains_key(path)
    }

    #[test]
    fn tables_load_on_request_and_the_least_recently_used_leave_first() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (table(dir.path(), "a.parquet"), table(dir.path(), "b.parquet"));
        let size = decode(&a, &load(&a).codes).unwrap().estimated_size() as u64;
        // Room for one table, not two.
        let cache = TableCache::with_budget(size * 3 / 2);

        assert!(cache.get(&a).is_none(), "the first query reads the file");
        cache.load(&load(&a));
        let held = cache.get(&a).unwrap();
        assert_eq!(held.height(), ROWS);
        let station = held.column("station").unwrap();
        assert!(station.dtype().is_categorical(), "repeated text is held as codes");
        assert!(held.column("note").unwrap().dtype().is_string(), "text that does not repeat stays text");
        let text = station.cast(&DataType::String).unwrap();
        assert_eq!(text.str().unwrap().get(9), Some("ST02"));

        cache.load(&load(&b));
        assert!(holds(&cache, &b));
        assert!(!holds(&cache, &a), "the older table left to make room");
        assert_eq!(cache.held(), vec![b.clone()]);

        // A table that cannot fit is never read, and a cache of no memory holds nothing.
        let huge = Load { least_bytes: size * 2, ..load(&a) };
        cache.load(&huge);
        assert!(!holds(&cache, &a));
        let none = TableCache::new(0);
        none.load(&load(&a));
        assert!(none.is_empty());
    }
}
