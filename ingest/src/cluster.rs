//! Sort keys: a table published sorted by the columns its users filter on.
//!
//! Every row group of a portal Parquet file carries min/max statistics. In source order a
//! station's rows are spread over every row group, so a filter on the station reads them
//! all; sorted by station, its rows sit in one or two groups and the rest are skipped from
//! their statistics. For a 10M-row table that is the difference between scanning the file
//! and reading a few hundred kilobytes.
//!
//! No publisher has to know this: without `sort_by`, the keys are chosen from the data's
//! statistics ([`choose`]), and the file is sorted in bounded memory ([`crate::spill`]).

use std::path::Path;

use opendata_datasets::{ColumnStats, ColumnType};

use crate::{Error, Result};

/// One sort key as a publisher writes it: `name`, or `-name` for descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub column: String,
    pub descending: bool,
}

impl SortKey {
    pub fn parse(written: &str) -> Self {
        match written.strip_prefix('-') {
            Some(column) => SortKey { column: column.to_owned(), descending: true },
            None => SortKey { column: written.to_owned(), descending: false },
        }
    }
}

/// Checks that every key names one of `columns`.
pub fn check(keys: &[String], columns: &[String]) -> Result<Vec<SortKey>> {
    keys.iter()
        .map(|k| {
            let key = SortKey::parse(k);
            if columns.contains(&key.column) {
                Ok(key)
            } else {
                Err(Error::UnknownSortColumn { column: key.column, columns: columns.join(", ") })
            }
        })
        .collect()
}

/// The spelling of `sort_by` that keeps the source's row order: no layout at all.
pub const SOURCE_ORDER: &str = "none";

/// Tables with fewer rows are published as polars wrote them, in the source's order: at
/// most four pages of 4,096 rows per column leave a page index nothing worth skipping. From
/// this size on, the layout saves about 3 ms a point query for a few tenths of a second of
/// ingest (bench/README.md, "Where the small-table line is").
pub const SMALL_TABLE_ROWS: u64 = 16 * 1024;
/// Text and code columns sorted by, at most; a date or time column may follow them.
const MAX_CATEGORY_KEYS: usize = 3;
/// Identifier columns given a bloom filter, at most.
const MAX_BLOOM_COLUMNS: usize = 4;
/// The bloom filters' false-positive rate: one lookup in a hundred reads a row group in vain.
const BLOOM_FPP: f64 = 0.01;
/// Distinct values a column's dictionary page holds (its 64 KiB of 8-byte values). A column
/// with more overflows it in most row groups and goes on in plain pages anyway, yet a point
/// read decompresses the whole dictionary before the one page it wants: such columns are
/// written plain from the start.
const DICTIONARY_VALUES: u64 = 8 * 1024;

/// How a table's published file is laid out, and why: the quality report shows `reason`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Clustering {
    /// The rows' order in the file; empty keeps the source's.
    pub keys: Vec<SortKey>,
    /// Columns with a bloom filter per row group, for lookups by value.
    pub bloom: Vec<String>,
    /// Columns written without a dictionary (see [`DICTIONARY_VALUES`]).
    pub plain: Vec<String>,
    /// Whether the file is written again with small pages and a page index. A small table, or
    /// one whose publisher asked for the source order, is published as converted.
    pub rewrite: bool,
    pub reason: String,
}

impl Clustering {
    /// The keys as a publisher writes them, for the catalog.
    pub fn written_keys(&self) -> Vec<String> {
        self.keys.iter().map(|k| if k.descending { format!("-{}", k.column) } else { k.column.clone() }).collect()
    }
}

/// One column as the layout sees it: its name, type and statistics.
#[derive(Debug, Clone, Copy)]
pub struct ColumnFacts<'a> {
    pub name: &'a str,
    pub kind: ColumnType,
    pub stats: &'a ColumnStats,
}

/// The layout of a table of `rows` rows: the publisher's `sort_by` if any (or
/// [`SOURCE_ORDER`]), otherwise one chosen from the columns' statistics (see [`choose`]).
pub fn plan(sort_by: &[String], columns: &[ColumnFacts<'_>], rows: u64) -> Result<Clustering> {
    if let [only] = sort_by
        && only == SOURCE_ORDER
    {
        return Ok(Clustering {
            reason: "the source's row order, as the publisher asked".into(),
            ..Default::default()
        });
    }
    if sort_by.is_empty() {
        return Ok(choose(columns, rows));
    }
    let names: Vec<String> = columns.iter().map(|c| c.name.to_owned()).collect();
    let keys = check(sort_by, &names)?;
    let bloom = identifiers(columns, rows, &keys);
    let plain = without_dictionary(columns);
    let reason = format!(
        "sorted by the publisher's keys ({}){}{}",
        sort_by.join(", "),
        bloom_reason(columns, &bloom),
        plain_reason(&plain)
    );
    Ok(Clustering { keys, bloom, plain, rewrite: true, reason })
}

/// Chooses the layout from what profiling learned, with no hint from the publisher.
///
/// The keys are the text and code columns readers filter on: those whose every value has
/// on average at least a page of rows (more distinct values than pages would leave nothing
/// to skip) and that are at most a fifth empty. The most selective comes first, so that a
/// filter on it reads one run of pages; the next ones follow while every combination of
/// values can still fill a page, so that a filter on several reads one run too. A date or
/// time column comes last: each series in time order, for "latest" and date-range reads.
pub fn choose(columns: &[ColumnFacts<'_>], rows: u64) -> Clustering {
    if rows < SMALL_TABLE_ROWS {
        return Clustering {
            reason: format!("{rows} rows: read whole as fast as laid out (under {SMALL_TABLE_ROWS} rows)"),
            ..Default::default()
        };
    }
    let pages = rows / PAGE_ROWS as u64;
    let mut categories: Vec<&ColumnFacts<'_>> = columns
        .iter()
        .filter(|c| matches!(c.kind, ColumnType::String | ColumnType::Integer))
        .filter(|c| (2..=pages).contains(&c.stats.distinct_count) && c.stats.null_count.saturating_mul(5) <= rows)
        .collect();
    // Stable: among equally selective columns, the leftmost.
    categories.sort_by_key(|c| std::cmp::Reverse(c.stats.distinct_count));
    let mut keys: Vec<&ColumnFacts<'_>> = Vec::new();
    let mut combinations: u64 = 1;
    for c in categories {
        if keys.len() == MAX_CATEGORY_KEYS {
            break;
        }
        if combinations.saturating_mul(c.stats.distinct_count) <= pages {
            combinations *= c.stats.distinct_count;
            keys.push(c);
        }
    }
    let time = columns
        .iter()
        .find(|c| matches!(c.kind, ColumnType::Date | ColumnType::Datetime) && c.stats.distinct_count >= 2);
    let mut reason = match (keys.is_empty(), time) {
        (true, None) => "no column to sort by: no text or code column with between 2 and one value per page, \
                         and no date"
            .to_owned(),
        _ => {
            let named: Vec<String> =
                keys.iter().map(|c| format!("{} ({} values)", c.name, c.stats.distinct_count)).collect();
            let mut r = format!("sorted by {}", named.join(", "));
            if let Some(t) = time {
                r = if keys.is_empty() { format!("sorted by {}", t.name) } else { format!("{r}, then {}", t.name) };
            }
            r + ": a filter on them reads only the pages that can hold its rows"
        }
    };
    let mut sort: Vec<SortKey> =
        keys.iter().map(|c| SortKey { column: c.name.to_owned(), descending: false }).collect();
    sort.extend(time.map(|t| SortKey { column: t.name.to_owned(), descending: false }));
    let bloom = identifiers(columns, rows, &sort);
    reason.push_str(&bloom_reason(columns, &bloom));
    let plain = without_dictionary(columns);
    reason.push_str(&plain_reason(&plain));
    Clustering { keys: sort, bloom, plain, rewrite: true, reason }
}

/// Columns with more distinct values than a dictionary page holds.
fn without_dictionary(columns: &[ColumnFacts<'_>]) -> Vec<String> {
    columns.iter().filter(|c| c.stats.distinct_count > DICTIONARY_VALUES).map(|c| c.name.to_owned()).collect()
}

fn plain_reason(plain: &[String]) -> String {
    if plain.is_empty() {
        return String::new();
    }
    format!(
        "; {} written without a dictionary (more than {DICTIONARY_VALUES} distinct values), so that a point \
         read decompresses only the page it reads",
        plain.join(", ")
    )
}

/// Columns of mostly distinct integers or texts that are not sort keys: ids and codes a
/// reader looks rows up by. Their values are spread over every row group, so only a bloom
/// filter tells which groups can hold one.
fn identifiers(columns: &[ColumnFacts<'_>], rows: u64, keys: &[SortKey]) -> Vec<String> {
    columns
        .iter()
        .filter(|c| matches!(c.kind, ColumnType::String | ColumnType::Integer))
        .filter(|c| c.stats.distinct_count.saturating_mul(2) >= rows && !keys.iter().any(|k| k.column == c.name))
        .take(MAX_BLOOM_COLUMNS)
        .map(|c| c.name.to_owned())
        .collect()
}

fn bloom_reason(columns: &[ColumnFacts<'_>], bloom: &[String]) -> String {
    if bloom.is_empty() {
        return String::new();
    }
    let named: Vec<String> = bloom
        .iter()
        .filter_map(|b| columns.iter().find(|c| c.name == b))
        .map(|c| format!("{} ({} distinct values)", c.name, c.stats.distinct_count))
        .collect();
    format!(
        "; a lookup index and bloom filters on {}, so that a lookup by value reads the page that holds it",
        named.join(", ")
    )
}

/// Rows per data page of a laid-out table: a point filter decodes a page or two of each
/// column instead of a whole row group.
pub const PAGE_ROWS: usize = 4 * 1024;

/// Writes `src` to `out` as `plan` says: sorted by its keys with at most `memory` bytes of
/// rows decoded at once (runs spill to `scratch`, see [`crate::spill`]), in small pages with a page index (the min/max of
/// every page and where it starts, so that a reader finds the pages that can hold a key
/// without decoding the others), and with bloom filters and a [`crate::lookup`] index on its
/// identifier columns: the index serves the portal's own lookups, the bloom filters any
/// other Parquet reader of the downloaded file (DuckDB, Spark, arrow), which cannot know the
/// index.
///
/// polars 0.55 writes neither a page index nor bloom filters, so laid-out tables are written
/// by arrow-rs, with the same statistics and row groups as [`crate::csv::parquet_options`].
pub fn lay_out(src: &Path, plan: &Clustering, out: &Path, scratch: &Path, memory: usize) -> Result<()> {
    use crate::lookup::LookupWriter;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(src).map_err(Error::io(src))?)?;
    let schema = builder.schema().clone();
    let file = std::fs::File::create(out).map_err(Error::io(out))?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties(plan)))?;
    // A quarter of the sort's memory for the lookup index's pairs, which are gathered while
    // the sorted rows are written.
    let mut index = LookupWriter::new(&schema, &plan.bloom, memory / 4, scratch);
    if plan.keys.is_empty() {
        for batch in builder.with_batch_size(PAGE_ROWS).build()? {
            let batch = batch.map_err(parquet::errors::ParquetError::from)?;
            index.add(&batch)?;
            writer.write(&batch)?;
        }
    } else {
        drop(builder);
        // The sort runs on a second core while this one encodes and compresses its output.
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel(4);
            let sorter = scope.spawn(move || {
                crate::spill::sort(src, &plan.keys, memory, scratch, &mut |batch| {
                    let stopped = || std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the writer stopped");
                    tx.send(batch).map_err(|_| Error::io(out)(stopped()))
                })
            });
            let written = rx.iter().try_for_each(|batch| {
                index.add(&batch)?;
                writer.write(&batch).map_err(Error::from)
            });
            // A writer that failed stops the sort at its next batch.
            drop(rx);
            let sorted = sorter.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            written?;
            sorted
        })?;
    }
    index.finish(&mut writer)?;
    writer.close()?;
    Ok(())
}

/// Copies `src` to `out` with small pages and a page index, in the source's order.
pub fn with_page_index(src: &Path, out: &Path) -> Result<()> {
    let plan = Clustering { rewrite: true, ..Default::default() };
    lay_out(src, &plan, out, Path::new("."), 0)
}

fn properties(plan: &Clustering) -> parquet::file::properties::WriterProperties {
    use parquet::basic::Compression;
    use parquet::file::properties::{EnabledStatistics, WriterProperties};
    use parquet::schema::types::ColumnPath;

    let mut props = WriterProperties::builder()
        // LZ4 rather than zstd: a point read decompresses a page or two of every column, and
        // LZ4 does that several times faster, with no decoder context to set up per page.
        // The file is somewhat larger; every Parquet reader the portal meets reads LZ4_RAW.
        .set_compression(Compression::LZ4_RAW)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(crate::csv::ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        // A reader decompresses a column's whole dictionary to decode any one of its pages:
        // columns of mostly distinct values (ids, measurements) switch to plain encoding
        // before their dictionary costs more than the page itself.
        .set_dictionary_page_size_limit(64 * 1024)
        // Long texts would make the index as large as the data; their pages still get
        // min/max up to this many bytes, which is all a range check needs.
        .set_column_index_truncate_length(Some(64));
    for column in &plan.plain {
        props = props.set_column_dictionary_enabled(ColumnPath::from(column.as_str()), false);
    }
    for column in &plan.bloom {
        let path = ColumnPath::from(column.as_str());
        props = props
            .set_column_bloom_filter_enabled(path.clone(), true)
            .set_column_bloom_filter_fpp(path.clone(), BLOOM_FPP)
            // Sized for a row group of distinct values, then folded to what it holds.
            .set_column_bloom_filter_max_ndv(path, crate::csv::ROW_GROUP_ROWS as u64);
    }
    props.build()
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;

    #[test]
    fn keys_are_checked_against_the_columns() {
        let columns = vec!["station".to_owned(), "observed_at".to_owned()];
        let keys = check(&["station".into(), "-observed_at".into()], &columns).unwrap();
        assert_eq!(keys[1], SortKey { column: "observed_at".into(), descending: true });
        let err = check(&["stations".into()], &columns).unwrap_err().to_string();
        assert!(err.contains("`stations`") && err.contains("station, observed_at"), "{err}");
    }

    #[test]
    fn sorted_file_keeps_every_row_and_orders_them() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.parquet");
        let out = dir.path().join("out.parquet");
        let mut df = df!(
            "station" => ["b", "a", "b", "a", "c"],
            "n" => [1i64, 2, 3, 4, 5],
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(&src).unwrap()).finish(&mut df).unwrap();
        let keys = check(&["station".into(), "-n".into()], &["station".into(), "n".into()]).unwrap();
        let plan = Clustering { keys, bloom: vec!["n".into()], rewrite: true, ..Default::default() };
        lay_out(&src, &plan, &out, dir.path(), usize::MAX).unwrap();
        let got = LazyFrame::scan_parquet(PlRefPath::try_from_path(&out).unwrap(), Default::default())
            .unwrap()
            .collect()
            .unwrap();
        let n: Vec<i64> = got.column("n").unwrap().i64().unwrap().into_no_null_iter().collect();
        assert_eq!(n, [4, 2, 3, 1, 5]);
        // With a page index, which polars itself does not write.
        use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
        let options =
            ArrowReaderOptions::new().with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required);
        let meta = ArrowReaderMetadata::load(&std::fs::File::open(&out).unwrap(), options).unwrap();
        assert!(meta.metadata().page_index().is_some_and(|p| p.is_complete()));
        let group = meta.metadata().row_group(0);
        assert!(group.column(1).bloom_filter_offset().is_some(), "the identifier has a bloom filter");
        assert!(group.column(0).bloom_filter_offset().is_none());

        // A column named plain has no dictionary page; the others keep theirs.
        let plain = Clustering { plain: vec!["n".into()], rewrite: true, ..Default::default() };
        lay_out(&src, &plain, &out, dir.path(), usize::MAX).unwrap();
        let meta = ArrowReaderMetadata::load(&std::fs::File::open(&out).unwrap(), ArrowReaderOptions::new()).unwrap();
        let group = meta.metadata().row_group(0);
        assert!(group.column(1).dictionary_page_offset().is_none(), "n is plain");
        assert!(group.column(0).dictionary_page_offset().is_some(), "station keeps its dictionary");
    }

    fn stats(distinct: u64, nulls: u64) -> ColumnStats {
        ColumnStats { distinct_count: distinct, null_count: nulls, ..Default::default() }
    }

    /// The benchmark's observations, as profiling describes them: keys and bloom filters are
    /// chosen from those figures alone.
    #[test]
    fn keys_are_chosen_from_the_statistics() {
        let rows = 10_000_000;
        let table = [
            ("id", ColumnType::Integer, stats(rows, 0)),
            ("observed_at", ColumnType::Datetime, stats(43_800, 0)),
            ("aimag", ColumnType::String, stats(22, 0)),
            ("soum", ColumnType::String, stats(308, 0)),
            ("station_code", ColumnType::String, stats(400, 0)),
            ("indicator", ColumnType::String, stats(6, 0)),
            ("value", ColumnType::Float, stats(9_000, 300_000)),
            ("unit", ColumnType::String, stats(6, 0)),
            ("population", ColumnType::Integer, stats(1_600_000, 0)),
            ("is_valid", ColumnType::Boolean, stats(2, 0)),
            ("note", ColumnType::String, stats(5, 4_400_000)),
        ];
        let columns: Vec<ColumnFacts<'_>> =
            table.iter().map(|(name, kind, stats)| ColumnFacts { name, kind: *kind, stats }).collect();
        let plan = plan(&[], &columns, rows).unwrap();
        assert_eq!(plan.written_keys(), ["station_code", "indicator", "observed_at"], "{}", plan.reason);
        assert_eq!(plan.bloom, ["id"]);
        assert_eq!(plan.plain, ["id", "observed_at", "value", "population"], "{}", plan.reason);
        assert!(plan.rewrite);
        assert!(plan.reason.contains("station_code (400 values)") && plan.reason.contains("bloom"), "{}", plan.reason);

        let small = super::plan(&[], &columns, 1_000).unwrap();
        assert!(!small.rewrite && small.keys.is_empty(), "a small table is published as converted");
        let kept = super::plan(&[SOURCE_ORDER.into()], &columns, rows).unwrap();
        assert!(!kept.rewrite && kept.keys.is_empty());
        let given = super::plan(&["-aimag".into()], &columns, rows).unwrap();
        assert_eq!(given.written_keys(), ["-aimag"]);
        assert_eq!(given.bloom, ["id"]);
    }
}
