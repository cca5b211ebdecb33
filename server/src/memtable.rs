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
//! A table is loaded the first time SQL reads it, in the background; queries meanwhile read
//! the file. Tables are dropped least recently used first to stay within the memory budget
//! (`limits.table_cache_mb`). A version's file never changes, so an entry never goes stale.
//!
//! Codes are not text to every SQL function: polars refuses `upper` or `LIKE` on them and
//! would cast them to integers as codes. [`crate::sql::Uses`] says which columns a query
//! only groups, orders, projects or compares for equality; the others are handed to it as
//! text.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use opendata_datasets::{ColumnType, TableVersion};
use polars::prelude::*;

/// A text column becomes codes when its values repeat this many times on average: then the
/// codes and the texts held once take less memory than the texts in every row.
const REPEATS: u64 = 4;

/// What to load for a version, decided from its catalog entry.
#[derive(Debug, Clone)]
pub struct Load {
    path: PathBuf,
    /// A lower bound of the decoded size, to leave out tables that cannot fit before
    /// decoding any of them.
    least_bytes: u64,
    /// Text columns held as codes.
    codes: Vec<String>,
}

impl Load {
    pub fn new(path: PathBuf, version: &TableVersion) -> Self {
        let rows = version.row_count;
        let codes = version
            .columns
            .iter()
            .filter(|c| c.kind == ColumnType::String && c.stats.distinct_count.saturating_mul(REPEATS) <= rows)
            .map(|c| c.name.clone())
            .collect();
        Load { path, least_bytes: rows.saturating_mul(version.columns.len() as u64), codes }
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
    loading: HashSet<PathBuf>,
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
        Arc::new(TableCache { budget: budget_mb * 1024 * 1024, state: Mutex::default() })
    }

    /// The table `load` names if it is held; otherwise none, and it starts loading in the
    /// background if it can fit.
    pub fn get_or_load(self: &Arc<Self>, load: &Load) -> Option<DataFrame> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.clock += 1;
        let now = state.clock;
        if let Some(held) = state.tables.get_mut(&load.path) {
            held.last_use = now;
            return Some(held.frame.clone());
        }
        if self.budget == 0 || load.least_bytes > self.budget || !state.loading.insert(load.path.clone()) {
            return None;
        }
        drop(state);
        let cache = Arc::clone(self);
        let load = load.clone();
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let loaded = decode(&load.path, &load.codes);
            let mut state = cache.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.loading.remove(&load.path);
            match loaded {
                Ok(frame) => cache.insert(&mut state, load.path, frame, started.elapsed()),
                Err(e) => tracing::warn!(path = %load.path.display(), error = %e, "table not held in memory"),
            }
        });
        None
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
    let scan = || crate::query::scan(path);
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
