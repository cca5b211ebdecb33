//! Column statistics for the catalog.
//!
//! Null counts, minimums and maximums are already in the Parquet footer (the writer computes
//! them per row group), so they are read from there with the `parquet` crate at no scan cost.
//! Only the distinct count needs the data, and polars computes it.

use std::fs::File;
use std::path::Path;

use chrono::{DateTime, NaiveDate};
use opendata_datasets::{ColumnStats, ColumnType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;
use polars::prelude::*;
use serde_json::{Value, json};

use crate::{Error, Result};

/// Above this many rows the distinct count is a HyperLogLog estimate (within ~1%),
/// which keeps a 10M-row ingest from spending seconds on exact hashing.
pub const EXACT_DISTINCT_MAX_ROWS: u64 = 1_000_000;

/// Reads the footer of `path` and returns (row count, per-column stats).
pub fn compute(path: &Path, kinds: &[ColumnType]) -> Result<(u64, Vec<ColumnStats>)> {
    let file = File::open(path).map_err(Error::io(path))?;
    let reader = SerializedFileReader::new(file)?;
    let meta = reader.metadata();
    let rows = meta.file_metadata().num_rows() as u64;
    let mut stats: Vec<ColumnStats> = vec![ColumnStats::default(); kinds.len()];
    let mut extremes: Vec<(Option<Value>, Option<Value>)> = vec![(None, None); kinds.len()];
    for rg in meta.row_groups() {
        for (i, kind) in kinds.iter().enumerate() {
            let Some(s) = rg.column(i).statistics() else {
                continue;
            };
            stats[i].null_count += s.null_count_opt().unwrap_or(0);
            let (lo, hi) = bounds(s, *kind);
            merge(&mut extremes[i].0, lo, std::cmp::Ordering::Less);
            merge(&mut extremes[i].1, hi, std::cmp::Ordering::Greater);
        }
    }
    for (s, (lo, hi)) in stats.iter_mut().zip(extremes) {
        s.min = lo;
        s.max = hi;
    }
    let distinct = distinct_counts(path, rows)?;
    for (s, d) in stats.iter_mut().zip(distinct) {
        // The engine counts null as a value; the catalog does not.
        s.distinct_count = d.saturating_sub(u64::from(s.null_count > 0));
    }
    let listed: Vec<usize> = (0..kinds.len())
        .filter(|&i| kinds[i] == ColumnType::String && (1..=ColumnStats::MAX_VALUES).contains(&stats[i].distinct_count))
        .collect();
    if !listed.is_empty() {
        for (i, values) in listed.iter().zip(distinct_values(path, &listed)?) {
            stats[*i].values = values;
        }
    }
    Ok((rows, stats))
}

/// The distinct values of the columns at `indices`, sorted, in one streaming pass.
fn distinct_values(path: &Path, indices: &[usize]) -> Result<Vec<Vec<String>>> {
    let lf = LazyFrame::scan_parquet(PlRefPath::try_from_path(path)?, ScanArgsParquet::default())?;
    let schema = lf.clone().collect_schema()?;
    let names: Vec<String> =
        indices.iter().filter_map(|&i| schema.get_at_index(i).map(|(n, _)| n.to_string())).collect();
    let exprs: Vec<Expr> =
        names.iter().map(|n| col(n.as_str()).drop_nulls().unique().sort(Default::default()).implode(true)).collect();
    let df = lf.select(exprs).collect_with_engine(Engine::Streaming)?.unwrap_single();
    df.columns()
        .iter()
        .map(|c| {
            let list = c.list()?.get_as_series(0).unwrap_or_default();
            Ok(list.str()?.iter().flatten().map(str::to_owned).collect())
        })
        .collect()
}

fn distinct_counts(path: &Path, rows: u64) -> Result<Vec<u64>> {
    let lf = LazyFrame::scan_parquet(PlRefPath::try_from_path(path)?, ScanArgsParquet::default())?;
    let all =
        if rows > EXACT_DISTINCT_MAX_ROWS { all().as_expr().approx_n_unique() } else { all().as_expr().n_unique() };
    // The streaming engine keeps memory bounded on tables larger than RAM.
    let df = lf.select([all]).collect_with_engine(Engine::Streaming)?.unwrap_single();
    df.columns().iter().map(|c| Ok(c.cast(&DataType::UInt64)?.u64()?.get(0).unwrap_or(0))).collect()
}

fn merge(slot: &mut Option<Value>, candidate: Option<Value>, keep_if: std::cmp::Ordering) {
    let Some(c) = candidate else { return };
    let replace = match slot {
        None => true,
        Some(current) => compare(&c, current) == Some(keep_if),
    };
    if replace {
        *slot = Some(c);
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// One row group's (min, max) rendered as JSON in the column's portal type.
fn bounds(s: &Statistics, kind: ColumnType) -> (Option<Value>, Option<Value>) {
    let date = |days: i32| {
        NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|epoch| epoch.checked_add_signed(chrono::Duration::days(days.into())))
            .map(|d| json!(d.to_string()))
    };
    let datetime = |micros: i64| {
        DateTime::from_timestamp_micros(micros).map(|t| json!(t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string()))
    };
    match (s, kind) {
        (Statistics::Boolean(v), _) => (v.min_opt().map(|x| json!(x)), v.max_opt().map(|x| json!(x))),
        (Statistics::Int32(v), ColumnType::Date) => {
            (v.min_opt().and_then(|&x| date(x)), v.max_opt().and_then(|&x| date(x)))
        }
        (Statistics::Int32(v), _) => (v.min_opt().map(|x| json!(x)), v.max_opt().map(|x| json!(x))),
        (Statistics::Int64(v), ColumnType::Datetime) => {
            (v.min_opt().and_then(|&x| datetime(x)), v.max_opt().and_then(|&x| datetime(x)))
        }
        (Statistics::Int64(v), _) => (v.min_opt().map(|x| json!(x)), v.max_opt().map(|x| json!(x))),
        (Statistics::Double(v), _) => (
            v.min_opt().filter(|x| x.is_finite()).map(|x| json!(x)),
            v.max_opt().filter(|x| x.is_finite()).map(|x| json!(x)),
        ),
        (Statistics::ByteArray(v), _) => (
            v.min_opt().and_then(|b| b.as_utf8().ok()).map(|x| json!(x)),
            v.max_opt().and_then(|b| b.as_utf8().ok()).map(|x| json!(x)),
        ),
        _ => (None, None),
    }
}
