//! Point reads through a version's Parquet page index.
//!
//! A table sorted at ingest holds each key's rows together, and its file carries a page
//! index: the min and max of every page of every column, and where each page starts (see
//! `opendata_ingest::with_page_index`). A filter on a key then names the few pages
//! that can hold matches. This module reads just those rows with arrow-rs, which honours a
//! row selection page by page, and hands them to polars as a small in-memory frame; the
//! rows engine runs the request's usual plan (exact filters, order, cursor, count) on it.
//! Two Parquet readers, then, on purpose: arrow-rs for the page index, polars for the rest.
//!
//! polars 0.55 uses no page index: through it, the same query decodes whole row groups of
//! 128k rows. Files without an index, or filters the index cannot narrow, take that path.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use opendata_datasets::ColumnType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowFilter,
    RowSelection, RowSelector,
};
use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use polars::prelude::*;

use crate::engine::params::{Filter, Op};

/// Above this many candidate rows the engine's own scan is as good. Files written by polars
/// alone, whose pages usually span a whole row group, seldom come under it; any file that
/// does is read correctly either way. Two row groups: a lookup by an identifier, whose
/// values are spread over every page, reads the filter column of the group or two its bloom
/// filters let through, when the file has no lookup index.
pub const MAX_ROWS: u64 = 2 * opendata_ingest::ROW_GROUP_ROWS as u64;

/// Footers with their page index, by file. A version's file never changes once published,
/// so an entry never goes stale; the map is emptied when it grows past this many files.
const CACHED_FILES: usize = 256;

/// Whether [`candidates`] matches `filter` exactly, so that its rows need no second look and
/// its column need not be returned.
pub fn matches_exactly(filter: &Filter) -> bool {
    Keep::of(filter).is_some()
}

/// A file's parsed footer and page index, or none when it has no page index.
fn metadata(path: &Path) -> Option<ArrowReaderMetadata> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Option<ArrowReaderMetadata>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().ok()?.get(path) {
        return hit.clone();
    }
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    let loaded = File::open(path)
        .ok()
        .and_then(|f| ArrowReaderMetadata::load(&f, options).ok())
        .filter(|m| m.metadata().page_index().is_some_and(|p| p.is_complete()));
    let mut cache = cache.lock().ok()?;
    if cache.len() >= CACHED_FILES {
        cache.clear();
    }
    cache.insert(path.to_owned(), loaded.clone());
    loaded
}

/// What a filter lets through, as the page index can check it.
enum Keep {
    Text(Vec<Vec<u8>>),
    Integer(Vec<i64>),
}

impl Keep {
    fn of(f: &Filter) -> Option<Self> {
        let values: Vec<&str> = match f.op {
            Op::Eq => vec![f.value.as_str()],
            Op::In => f.value.split(',').collect(),
            _ => return None,
        };
        // Sorted and without repeats: membership and "any value in [lo, hi]" are then
        // binary searches, whatever the length of an `in` list.
        match f.kind {
            ColumnType::String => {
                let mut v: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
                v.sort_unstable();
                v.dedup();
                Some(Keep::Text(v))
            }
            ColumnType::Integer => {
                let mut v: Vec<i64> = values.iter().map(|v| v.trim().parse().ok()).collect::<Option<_>>()?;
                v.sort_unstable();
                v.dedup();
                Some(Keep::Integer(v))
            }
            _ => None,
        }
    }

    /// The values, as the lookup index takes them.
    fn values(&self) -> opendata_ingest::lookup::Values<'_> {
        match self {
            Keep::Text(v) => opendata_ingest::lookup::Values::Text(v),
            Keep::Integer(v) => opendata_ingest::lookup::Values::Integer(v),
        }
    }

    /// Whether a kept text lies in `[lo, hi]`.
    fn text_between(values: &[Vec<u8>], lo: &[u8], hi: &[u8]) -> bool {
        let first = values.partition_point(|v| v.as_slice() < lo);
        values.get(first).is_some_and(|v| v.as_slice() <= hi)
    }

    /// Whether a kept integer lies in `[lo, hi]`.
    fn integer_between(values: &[i64], lo: i64, hi: i64) -> bool {
        let first = values.partition_point(|v| *v < lo);
        values.get(first).is_some_and(|v| *v <= hi)
    }

    /// Which values of `array` are kept: exactly the rows the filter's `eq` or `in` keeps
    /// (never a null). None for an array of a type the filter was not made for.
    fn mask(&self, array: &dyn arrow_array::Array) -> Option<Vec<bool>> {
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Int32Type, Int64Type};
        use arrow_schema::DataType as A;
        let text = |v: Option<&str>| match (self, v) {
            (Keep::Text(values), Some(v)) => values.binary_search_by(|x| x.as_slice().cmp(v.as_bytes())).is_ok(),
            _ => false,
        };
        let int = |v: Option<i64>| match (self, v) {
            (Keep::Integer(values), Some(v)) => values.binary_search(&v).is_ok(),
            _ => false,
        };
        Some(match array.data_type() {
            A::Utf8View => array.as_string_view().iter().map(text).collect(),
            A::Utf8 => array.as_string::<i32>().iter().map(text).collect(),
            A::LargeUtf8 => array.as_string::<i64>().iter().map(text).collect(),
            A::Int64 => array.as_primitive::<Int64Type>().iter().map(int).collect(),
            A::Int32 => array.as_primitive::<Int32Type>().iter().map(|v| int(v.map(i64::from))).collect(),
            _ => return None,
        })
    }

    /// Whether a row group may hold a kept value, from its column chunk's statistics.
    fn group_may_match(&self, stats: Option<&parquet::file::statistics::Statistics>) -> bool {
        use parquet::file::statistics::Statistics as S;
        match (self, stats) {
            (Keep::Text(values), Some(S::ByteArray(s))) => match (s.min_opt(), s.max_opt()) {
                (Some(lo), Some(hi)) => Self::text_between(values, lo.data(), hi.data()),
                _ => true,
            },
            (Keep::Integer(values), Some(S::Int64(s))) => match (s.min_opt(), s.max_opt()) {
                (Some(lo), Some(hi)) => Self::integer_between(values, *lo, *hi),
                _ => true,
            },
            _ => true,
        }
    }

    /// Whether a row group may hold a kept value, from its column chunk's bloom filter: a
    /// value the filter has not seen is surely absent.
    fn bloom_may_match(&self, bloom: &Sbbf, physical: parquet::basic::Type) -> bool {
        use parquet::basic::Type as P;
        match (self, physical) {
            (Keep::Text(values), P::BYTE_ARRAY) => values.iter().any(|v| bloom.check(v.as_slice())),
            (Keep::Integer(values), P::INT64) => values.iter().any(|v| bloom.check(v)),
            (Keep::Integer(values), P::INT32) => {
                values.iter().any(|v| i32::try_from(*v).is_ok_and(|v| bloom.check(&v)))
            }
            _ => true,
        }
    }

    /// Whether page `i` may hold a kept value. Pages without statistics may.
    fn page_may_match(&self, index: &ColumnIndexMetaData, i: usize) -> bool {
        match (self, index) {
            (Keep::Text(values), ColumnIndexMetaData::BYTE_ARRAY(ix)) => match (ix.min_value(i), ix.max_value(i)) {
                // Bounds may be truncated prefixes: a truncated max is rounded up by the
                // writer, so `min <= v <= max` stays a safe test.
                (Some(lo), Some(hi)) => Self::text_between(values, lo, hi),
                _ => !ix.is_null_page(i),
            },
            (Keep::Integer(values), ColumnIndexMetaData::INT64(ix)) => match (ix.min_value(i), ix.max_value(i)) {
                (Some(lo), Some(hi)) => Self::integer_between(values, *lo, *hi),
                _ => !ix.is_null_page(i),
            },
            (Keep::Integer(values), ColumnIndexMetaData::INT32(ix)) => match (ix.min_value(i), ix.max_value(i)) {
                (Some(lo), Some(hi)) => Self::integer_between(values, i64::from(*lo), i64::from(*hi)),
                _ => !ix.is_null_page(i),
            },
            _ => true,
        }
    }
}

/// Sorted, disjoint `[start, end)` row ranges of a file.
type Ranges = Vec<(u64, u64)>;

fn intersect(a: &Ranges, b: &Ranges) -> Ranges {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let (start, end) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if start < end {
            out.push((start, end));
        }
        if a[i].1 < b[j].1 { i += 1 } else { j += 1 }
    }
    out
}

/// What a point read of a file decodes: the rows of the pages it selects, out of the file's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    pub row_groups: usize,
    pub rows: u64,
    pub total: u64,
}

/// The rows a point read of `path` under `filters` would decode, before any limit on them;
/// none when the file has no page index or no filter is one the index can check. For
/// checks and diagnostics: what the layout of a version saves its readers.
pub fn selection(path: &Path, filters: &[Filter]) -> Option<Selection> {
    let keeps: Vec<(&Filter, Keep)> = filters.iter().filter_map(|f| Keep::of(f).map(|k| (f, k))).collect();
    let meta = metadata(path)?;
    let (ranges, bounds) = select(path, &meta, &keeps)?;
    let groups = bounds.iter().filter(|g| ranges.iter().any(|r| r.0 < g.1 && g.0 < r.1)).count();
    let rows = ranges.iter().map(|(a, b)| b - a).sum();
    Some(Selection { row_groups: groups, rows, total: bounds.last().map_or(0, |b| b.1) })
}

/// The row ranges of the file that `keeps` may match, from row group statistics, bloom
/// filters and the page index, and each row group's bounds.
fn select(path: &Path, meta: &ArrowReaderMetadata, keeps: &[(&Filter, Keep)]) -> Option<(Ranges, Vec<(u64, u64)>)> {
    if keeps.is_empty() {
        return None;
    }
    let file_meta = meta.metadata();
    let schema = file_meta.file_metadata().schema_descr();
    let leaf = |name: &str| (0..schema.num_columns()).find(|&i| schema.column(i).name() == name);
    let leaves: Vec<usize> = keeps.iter().map(|(f, _)| leaf(&f.column)).collect::<Option<_>>()?;
    let rg_bounds = row_group_bounds(meta);
    // The lookup index names the blocks that hold an identifier's values; the checks below
    // then look at those blocks alone, and that column's bloom filters are not needed.
    let lookup = super::lookup::of(path, meta).filter(|l| keeps.iter().any(|(f, _)| l.covers(&f.column)));
    let mut looked_up: Option<Ranges> = None;
    if let Some(lookup) = &lookup {
        let file = File::open(path).ok()?;
        for (f, keep) in keeps {
            if let Some(found) = lookup.ranges(&file, &f.column, keep.values()) {
                looked_up = Some(match looked_up {
                    Some(so_far) => intersect(&so_far, &found),
                    None => found,
                });
            }
        }
    }
    let blooms: Vec<Option<super::bloom::ColumnFilters>> = keeps
        .iter()
        .zip(&leaves)
        .map(|((f, _), &c)| match &lookup {
            Some(l) if l.covers(&f.column) => None,
            _ => super::bloom::column_filters(path, meta, c),
        })
        .collect();
    let mut ranges: Ranges = Vec::new();
    for (g, (rg, &(start, end))) in file_meta.row_groups().iter().zip(&rg_bounds).enumerate() {
        let mut in_group: Ranges = vec![(start, end)];
        if let Some(found) = &looked_up {
            in_group = intersect(&in_group, found);
            if in_group.is_empty() {
                continue;
            }
        }
        // The row group's own statistics rule most groups out before any page is looked at.
        if keeps.iter().zip(&leaves).any(|((_, keep), &c)| !keep.group_may_match(rg.column(c).statistics())) {
            continue;
        }
        // Then the bloom filters, which rule out the groups an identifier's value is not in.
        let ruled_out = keeps.iter().zip(&leaves).zip(&blooms).any(|(((_, keep), &c), bloom)| {
            let filter = bloom.as_ref().and_then(|b| b[g].as_ref());
            filter.is_some_and(|b| !keep.bloom_may_match(b, schema.column(c).physical_type()))
        });
        if ruled_out {
            continue;
        }
        let page_index = file_meta.page_index_for_row_group(g);
        for ((_, keep), &c) in keeps.iter().zip(&leaves) {
            let (Some(index), Some(offsets)) = (page_index.column_index(c), page_index.offset_index(c)) else {
                continue;
            };
            let pages = offsets.page_locations();
            let kept: Ranges = (0..pages.len())
                .filter(|&i| keep.page_may_match(index, i))
                .map(|i| {
                    let next = pages.get(i + 1).map_or(end, |p| start + p.first_row_index as u64);
                    (start + pages[i].first_row_index as u64, next)
                })
                .collect();
            in_group = intersect(&in_group, &kept);
        }
        ranges.extend(in_group);
    }
    Some((ranges, rg_bounds))
}

/// The rows of `path` that `filters` may keep, with `columns` and the file position of
/// each row as `row`, or none when the page index cannot narrow the read to at most
/// [`MAX_ROWS`] rows. `eq` and `in` filters on text and integers are applied here (see
/// [`matches_exactly`]); the frame may still hold rows that other filters reject, which the
/// caller applies. The columns of the exact filters are read to match them but returned only
/// when `columns` names them.
pub fn candidates(path: &Path, filters: &[Filter], columns: &[String], row: &str) -> Option<DataFrame> {
    let keeps: Vec<(&Filter, Keep)> = filters.iter().filter_map(|f| Keep::of(f).map(|k| (f, k))).collect();
    let meta = metadata(path)?;
    let (ranges, rg_bounds) = select(path, &meta, &keeps)?;
    let total = rg_bounds.last().map_or(0, |b| b.1);
    let selected: u64 = ranges.iter().map(|(a, b)| b - a).sum();
    // Reading most of the file row by row would cost more than the engine's scan.
    if total == 0 || selected > MAX_ROWS || selected * 2 > total {
        return None;
    }
    let keeps: Vec<(String, Keep)> = keeps.into_iter().map(|(f, k)| (f.column.clone(), k)).collect();
    read(path, &meta, &ranges, &rg_bounds, columns, row, keeps).ok()
}

/// The rows at file positions `rows` (any order, no repeats), with `columns` and their
/// position as `row`, in file order.
pub fn rows_at(path: &Path, rows: &[IdxSize], columns: &[String], row: &str) -> PolarsResult<DataFrame> {
    let meta = metadata(path).ok_or_else(|| PolarsError::ComputeError("the page index went away".into()))?;
    let mut sorted: Vec<u64> = rows.iter().map(|&r| u64::from(r)).collect();
    sorted.sort_unstable();
    let mut ranges: Ranges = Vec::new();
    for r in sorted {
        match ranges.last_mut() {
            Some(last) if last.1 == r => last.1 = r + 1,
            _ => ranges.push((r, r + 1)),
        }
    }
    let bounds = row_group_bounds(&meta);
    read(path, &meta, &ranges, &bounds, columns, row, Vec::new())
}

/// Each row group's `[start, end)` rows in the file.
fn row_group_bounds(meta: &ArrowReaderMetadata) -> Vec<(u64, u64)> {
    let mut start = 0;
    meta.metadata()
        .row_groups()
        .iter()
        .map(|rg| {
            let bounds = (start, start + rg.num_rows() as u64);
            start = bounds.1;
            bounds
        })
        .collect()
}

/// Reads `ranges` of the file's rows, in file order, keeping those that every one of
/// `keeps` lets through (matched exactly here, before any value is copied).
fn read(
    path: &Path,
    meta: &ArrowReaderMetadata,
    ranges: &Ranges,
    rg_bounds: &[(u64, u64)],
    columns: &[String],
    row: &str,
    keeps: Vec<(String, Keep)>,
) -> PolarsResult<DataFrame> {
    let to_polars = |e: parquet::errors::ParquetError| PolarsError::ComputeError(e.to_string().into());
    // The row groups holding a range, and the selection over them alone, as the reader
    // counts rows across the groups it is given.
    let groups: Vec<usize> =
        (0..rg_bounds.len()).filter(|&g| ranges.iter().any(|r| r.0 < rg_bounds[g].1 && rg_bounds[g].0 < r.1)).collect();
    let mut selectors = Vec::new();
    for &g in &groups {
        let (start, end) = rg_bounds[g];
        let mut at = start;
        for &(a, b) in ranges.iter().filter(|r| r.0 < end && start < r.1) {
            let (a, b) = (a.max(start), b.min(end));
            if a > at {
                selectors.push(RowSelector::skip((a - at) as usize));
            }
            selectors.push(RowSelector::select((b - a) as usize));
            at = b;
        }
        if end > at {
            selectors.push(RowSelector::skip((end - at) as usize));
        }
    }
    let schema = meta.metadata().file_metadata().schema_descr();
    let leaves = |wanted: &dyn Fn(&str) -> bool| -> Vec<usize> {
        (0..schema.num_columns()).filter(|&i| wanted(schema.column(i).name())).collect()
    };
    let output = leaves(&|name| columns.iter().any(|c| c == name));
    let file = File::open(path).map_err(|e| PolarsError::IO { error: Arc::new(e), msg: None })?;
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
        .with_row_groups(groups)
        .with_row_selection(RowSelection::from(selectors))
        .with_projection(ProjectionMask::leaves(schema, output))
        .with_batch_size(8 * 1024);
    // The filters' columns are decoded first and alone; the other columns then only in
    // the pages that hold a matching row. An `id=` lookup decodes one column of a row
    // group and one page of each other column, not the whole group.
    let matched: Arc<Mutex<Vec<bool>>> = Arc::default();
    let filtered = !keeps.is_empty();
    if filtered {
        let on = ProjectionMask::leaves(schema, leaves(&|name| keeps.iter().any(|(k, _)| k == name)));
        let seen = Arc::clone(&matched);
        let predicate = ArrowPredicateFn::new(on, move |batch| {
            let mask = keep_mask(&keeps, &batch).ok_or_else(|| {
                // The engine's scan answers instead.
                arrow_schema::ArrowError::ComputeError("a filter column of an unexpected type".into())
            })?;
            seen.lock()
                .map_err(|_| arrow_schema::ArrowError::ComputeError("poisoned".into()))?
                .extend_from_slice(&mask);
            Ok(arrow_array::BooleanArray::from(mask))
        });
        builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
    }
    let reader = builder.build().map_err(to_polars)?;
    // An empty array first, so that a read of no rows still has every column and type.
    let mut parts: Vec<(String, Vec<arrow_array::ArrayRef>)> = arrow_array::RecordBatchReader::schema(&reader)
        .fields()
        .iter()
        .map(|f| (f.name().clone(), vec![arrow_array::new_empty_array(f.data_type())]))
        .collect();
    for batch in reader {
        let batch = batch.map_err(|e| PolarsError::ComputeError(e.to_string().into()))?;
        for (part, array) in parts.iter_mut().zip(batch.columns()) {
            part.1.push(array.clone());
        }
    }
    let positions = ranges.iter().flat_map(|&(a, b)| (a as IdxSize)..(b as IdxSize));
    let matched = matched.lock().map_err(|_| PolarsError::ComputeError("poisoned".into()))?;
    let rows: Vec<IdxSize> = if filtered {
        positions.zip(matched.iter()).filter(|(_, m)| **m).map(|(r, _)| r).collect()
    } else {
        positions.collect()
    };
    let mut out: Vec<Column> = Vec::with_capacity(parts.len() + 1);
    for (name, arrays) in parts {
        out.push(super::arrow_polars::series(&name, &arrays)?.into_column());
    }
    out.push(Column::new(row.into(), rows));
    DataFrame::new_infer_height(out)
}

/// Which rows of `batch` every filter of `keeps` lets through; none when a column is
/// missing or of a type the filters were not made for.
fn keep_mask(keeps: &[(String, Keep)], batch: &arrow_array::RecordBatch) -> Option<Vec<bool>> {
    let mut mask = vec![true; batch.num_rows()];
    for (name, keep) in keeps {
        for (m, k) in mask.iter_mut().zip(keep.mask(batch.column_by_name(name)?.as_ref())?) {
            *m &= k;
        }
    }
    Some(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(column: &str, kind: ColumnType, op: Op, value: &str) -> Filter {
        Filter { column: column.into(), kind, op, value: value.into(), expr: lit(true) }
    }

    /// A sorted 300k-row file (three row groups) with a page index: a key's rows are found
    /// from their pages, every one of them, also across a row group's edge, and nothing is
    /// read when the index cannot narrow the read.
    #[test]
    fn a_key_is_read_from_its_pages_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, indexed) = (dir.path().join("plain.parquet"), dir.path().join("indexed.parquet"));
        let n = 300_000;
        let mut df = df!(
            "station" => (0..n).map(|i| format!("ST{:02}", i / 15_000)).collect::<Vec<_>>(),
            "id" => (0..n as i64).collect::<Vec<_>>(),
            "value" => (0..n).map(|i| (i % 7 != 0).then_some(i as f64 / 2.0)).collect::<Vec<_>>(),
        )
        .unwrap();
        ParquetWriter::new(File::create(&plain).unwrap()).finish(&mut df).unwrap();
        assert!(
            candidates(&plain, &[filter("station", ColumnType::String, Op::Eq, "ST03")], &["id".into()], "row")
                .is_none(),
            "no index, no read"
        );
        opendata_ingest::with_page_index(&plain, &indexed).unwrap();

        let columns = vec!["station".to_owned(), "id".to_owned(), "value".to_owned()];
        let got =
            candidates(&indexed, &[filter("station", ColumnType::String, Op::Eq, "ST03")], &columns, "row").unwrap();
        assert_eq!(got.height(), 15_000, "the key's rows, matched exactly from its pages");
        let ids: Vec<i64> = got.column("id").unwrap().i64().unwrap().into_no_null_iter().collect();
        let rows: Vec<IdxSize> = got.column("row").unwrap().idx().unwrap().into_no_null_iter().collect();
        assert!(ids.iter().zip(&rows).all(|(id, row)| *id == i64::from(*row)), "each row knows its place in the file");
        assert!((45_000..60_000).all(|id| ids.binary_search(&id).is_ok()), "every row of the key");
        // ST08 spans the edge between the first two row groups (at 131,072).
        let edge =
            candidates(&indexed, &[filter("station", ColumnType::String, Op::Eq, "ST08")], &columns, "row").unwrap();
        let edge_ids: Vec<i64> = edge.column("id").unwrap().i64().unwrap().into_no_null_iter().collect();
        assert_eq!(edge_ids, (120_000..135_000).collect::<Vec<_>>());
        assert_eq!(got.column("value").unwrap().null_count(), ids.iter().filter(|i| *i % 7 == 0).count());

        let two = candidates(&indexed, &[filter("station", ColumnType::String, Op::In, "ST01,ST18")], &columns, "row")
            .unwrap();
        let ids: Vec<i64> = two.column("id").unwrap().i64().unwrap().into_no_null_iter().collect();
        assert_eq!(ids, (15_000..30_000).chain(270_000..285_000).collect::<Vec<_>>());
        let by_id = candidates(&indexed, &[filter("id", ColumnType::Integer, Op::Eq, "42")], &columns, "row").unwrap();
        assert_eq!(by_id.column("id").unwrap().i64().unwrap().get(0), Some(42));
        assert_eq!(by_id.height(), 1);
        let none =
            candidates(&indexed, &[filter("station", ColumnType::String, Op::Eq, "ZZ")], &columns, "row").unwrap();
        assert_eq!(none.height(), 0);
        // Not a key the index can check, or too wide a key: the engine's scan answers.
        assert!(
            candidates(&indexed, &[filter("station", ColumnType::String, Op::Contains, "ST")], &columns, "row")
                .is_none()
        );
        let most: Vec<String> = (0..16).map(|i| format!("ST{i:02}")).collect();
        assert!(
            candidates(&indexed, &[filter("station", ColumnType::String, Op::In, &most.join(","))], &columns, "row")
                .is_none()
        );
    }

    #[test]
    fn ranges_intersect() {
        let a = vec![(0, 10), (20, 30)];
        let b = vec![(5, 25), (28, 40)];
        assert_eq!(intersect(&a, &b), [(5, 10), (20, 25), (28, 30)]);
        assert_eq!(intersect(&a, &vec![]), []);
    }
}
