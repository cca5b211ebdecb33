//! Column statistics for the catalog.
//!
//! Null counts, minimums and maximums are already in the Parquet footer (the writer computes
//! them per row group), so they are read from there with the `parquet` crate at no scan cost.
//! Distinct counts, listed values and histograms need the data: arrow-rs decodes it one
//! batch at a time on one thread while the other profiles the batch before, so memory stays
//! the same for 10 thousand rows or 50 million (see [`crate::sketch`]).

use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::mpsc;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate};
use opendata_datasets::{ColumnStats, ColumnType};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;
use serde_json::{Value, json};

use crate::sketch::{Distinct, PrehashedState};
use crate::{Error, Result};

/// Rows decoded at once: large enough that per-batch costs vanish, small enough that a
/// wide table's batch stays a few megabytes.
const BATCH_ROWS: usize = 65_536;

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
    let mut profiles: Vec<Profile> = kinds.iter().map(|&k| Profile::new(k)).collect();
    each_batch(path, None, |batch| {
        for (p, column) in profiles.iter_mut().zip(batch.columns()) {
            p.observe(column.as_ref());
        }
    })?;
    // Bins need the range, so they take a second pass over the columns that have one.
    let binned: Vec<usize> = profiles.iter().enumerate().filter(|(_, p)| p.range().is_some()).map(|(i, _)| i).collect();
    for &i in &binned {
        profiles[i].bins = vec![0; ColumnStats::BINS];
    }
    if !binned.is_empty() {
        each_batch(path, Some(&binned), |batch| {
            for (&i, column) in binned.iter().zip(batch.columns()) {
                let p = &mut profiles[i];
                if let Some((lo, hi)) = p.range() {
                    each_number(column.as_ref(), |x| bin(&mut p.bins, lo, hi, x));
                }
            }
        })?;
    }
    for (s, p) in stats.iter_mut().zip(profiles) {
        s.distinct_count = p.distinct.count();
        s.formula_like = p.formula_like;
        if let Some(listed) = p.listed {
            let mut listed: Vec<(String, u64)> = listed.into_values().collect();
            listed.sort_unstable();
            (s.values, s.counts) = listed.into_iter().unzip();
        } else {
            s.counts = p.bins;
        }
    }
    Ok((rows, stats))
}

/// What one pass learns of a column beyond the footer.
#[derive(Debug)]
struct Profile {
    distinct: Distinct,
    /// A text column's values and the rows holding each, while there are at most
    /// [`ColumnStats::MAX_VALUES`] of them.
    listed: Option<HashMap<u64, (String, u64), PrehashedState>>,
    /// The smallest and largest finite value as a number (dates as days, datetimes in
    /// their unit), for columns that get a histogram.
    lo: f64,
    hi: f64,
    binned: bool,
    /// Rows per histogram bin, filled by a second pass once the range is known.
    bins: Vec<u64>,
    /// For a text column, whether a value starts as a spreadsheet formula would.
    formula_like: Option<bool>,
}

/// The first characters that make a spreadsheet read a cell as a formula.
const FORMULA_START: &[u8] = b"=@\t\r+-";

/// One hash for every value of every column: fixed, so a count never depends on the run.
const HASH: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x6f70_656e_6461_7461);

impl Profile {
    fn new(kind: ColumnType) -> Self {
        let text = kind == ColumnType::String;
        Profile {
            distinct: Distinct::default(),
            listed: text.then(HashMap::default),
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            binned: matches!(kind, ColumnType::Integer | ColumnType::Float | ColumnType::Date | ColumnType::Datetime),
            bins: Vec::new(),
            formula_like: text.then_some(false),
        }
    }

    fn range(&self) -> Option<(f64, f64)> {
        (self.binned && self.lo < self.hi).then_some((self.lo, self.hi))
    }

    fn observe(&mut self, column: &dyn Array) {
        if let Some(formula_like) = &mut self.formula_like {
            let listed = &mut self.listed;
            let distinct = &mut self.distinct;
            each_text(column, |v| {
                let h = HASH.hash_one(v);
                distinct.insert(h);
                *formula_like |= v.as_bytes().first().is_some_and(|b| FORMULA_START.contains(b));
                if let Some(map) = listed {
                    map.entry(h).or_insert_with(|| (v.to_owned(), 0)).1 += 1;
                    if map.len() as u64 > ColumnStats::MAX_VALUES {
                        *listed = None;
                    }
                }
            });
            return;
        }
        each_fixed(column, |bytes| self.distinct.insert(HASH.hash_one(bytes)));
        if self.binned {
            let (lo, hi) = (&mut self.lo, &mut self.hi);
            each_number(column, |x| {
                *lo = lo.min(x);
                *hi = hi.max(x);
            });
        }
    }
}

/// Calls `each` with every batch of `path`'s columns (`only` these, if given), decoded on
/// a second thread so that decoding one batch overlaps profiling the one before.
fn each_batch(path: &Path, only: Option<&[usize]>, mut each: impl FnMut(&RecordBatch)) -> Result<()> {
    let file = File::open(path).map_err(Error::io(path))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)?.with_batch_size(BATCH_ROWS);
    if let Some(only) = only {
        let mask = ProjectionMask::roots(builder.parquet_schema(), only.iter().copied());
        builder = builder.with_projection(mask);
    }
    let reader = builder.build()?;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(1);
        scope.spawn(move || {
            for batch in reader {
                if tx.send(batch).is_err() {
                    break;
                }
            }
        });
        for batch in rx {
            each(&batch?);
        }
        Ok(())
    })
}

/// Every present value of a text column.
fn each_text(column: &dyn Array, f: impl FnMut(&str)) {
    match column.data_type() {
        DataType::Utf8 => column.as_string::<i32>().iter().flatten().for_each(f),
        DataType::LargeUtf8 => column.as_string::<i64>().iter().flatten().for_each(f),
        DataType::Utf8View => column.as_string_view().iter().flatten().for_each(f),
        _ => {}
    }
}

/// The bytes of every present value of a fixed-width column, booleans as one byte.
fn each_fixed(column: &dyn Array, mut f: impl FnMut(&[u8])) {
    if let Some(b) = column.as_boolean_opt() {
        b.iter().flatten().for_each(|v| f(&[u8::from(v)]));
        return;
    }
    let Some(width) = column.data_type().primitive_width() else { return };
    let data = column.to_data();
    let Some(buffer) = data.buffers().first() else { return };
    let values = &buffer.as_slice()[data.offset() * width..];
    for i in 0..column.len() {
        if column.is_valid(i) {
            f(&values[i * width..(i + 1) * width]);
        }
    }
}

/// Every present, finite value of a numeric, date or datetime column as a number.
fn each_number(column: &dyn Array, mut f: impl FnMut(f64)) {
    macro_rules! each {
        ($t:ty) => {
            column.as_primitive::<$t>().iter().flatten().map(|v| v as f64).filter(|x| x.is_finite()).for_each(&mut f)
        };
    }
    match column.data_type() {
        DataType::Int8 => each!(Int8Type),
        DataType::Int16 => each!(Int16Type),
        DataType::Int32 => each!(Int32Type),
        DataType::Int64 => each!(Int64Type),
        DataType::UInt8 => each!(UInt8Type),
        DataType::UInt16 => each!(UInt16Type),
        DataType::UInt32 => each!(UInt32Type),
        DataType::UInt64 => each!(UInt64Type),
        DataType::Float32 => each!(Float32Type),
        DataType::Float64 => each!(Float64Type),
        DataType::Date32 => each!(Date32Type),
        DataType::Date64 => each!(Date64Type),
        DataType::Timestamp(TimeUnit::Second, _) => each!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => each!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => each!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => each!(TimestampNanosecondType),
        _ => {}
    }
}

/// Counts `x` in one of `bins.len()` equal-width bins over `[lo, hi]`; `hi` itself goes
/// to the last bin.
fn bin(bins: &mut [u64], lo: f64, hi: f64, x: f64) {
    let b = ((x - lo) * bins.len() as f64 / (hi - lo)) as usize;
    if let Some(last) = bins.len().checked_sub(1) {
        bins[b.min(last)] += 1;
    }
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
