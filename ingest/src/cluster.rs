//! Sort keys: a table published sorted by the columns its users filter on.
//!
//! Every row group of a portal Parquet file carries min/max statistics. In source order a
//! station's rows are spread over every row group, so a filter on the station reads them
//! all; sorted by station, its rows sit in one or two groups and the rest are skipped from
//! their statistics. For a 10M-row table that is the difference between scanning the file
//! and reading a few hundred kilobytes.

use std::path::Path;

use polars::prelude::*;

use crate::csv::sink_parquet;
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

/// Rewrites `src` to `out` sorted by `keys`, nulls last, keeping the source order among
/// equal keys so that a re-ingest of the same file gives the same file. The result has a
/// page index (see [`with_page_index`]).
///
/// The sort holds the decoded table in memory (about twice its Parquet size per column
/// kept as text); it runs only for tables whose publisher asked for sort keys.
pub fn sort(src: &Path, keys: &[SortKey], out: &Path) -> Result<()> {
    let by: Vec<Expr> = keys.iter().map(|k| col(k.column.as_str())).collect();
    let descending: Vec<bool> = keys.iter().map(|k| k.descending).collect();
    let options = SortMultipleOptions::default()
        .with_order_descending_multi(descending)
        .with_nulls_last(true)
        .with_maintain_order(true);
    let lf = LazyFrame::scan_parquet(PlRefPath::try_from_path(src)?, ScanArgsParquet::default())?;
    let sorted = out.with_extension("unindexed");
    sink_parquet(lf.sort_by_exprs(by, options), &sorted)?;
    let indexed = with_page_index(&sorted, out);
    // The intermediate file is only ever read here.
    let _ = std::fs::remove_file(&sorted);
    indexed
}

/// Rows per data page of a sorted table: a point filter decodes a page or two of each
/// column instead of a whole row group.
pub const PAGE_ROWS: usize = 4 * 1024;

/// Copies `src` to `out` with small pages and a page index: the min/max of every page and
/// where it starts, so that a reader finds the pages that can hold a key without decoding
/// the others.
///
/// polars 0.55 writes no page index, so sorted tables, the ones filtered by key, are
/// written a second time by arrow-rs, with the same statistics and row groups
/// as [`crate::csv::parquet_options`]. A streaming copy: memory stays at a batch.
pub fn with_page_index(src: &Path, out: &Path) -> Result<()> {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::basic::Compression;
    use parquet::file::properties::{EnabledStatistics, WriterProperties};

    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(src).map_err(Error::io(src))?)?;
    let schema = builder.schema().clone();
    let reader = builder.with_batch_size(PAGE_ROWS).build()?;
    let props = WriterProperties::builder()
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
        .set_column_index_truncate_length(Some(64))
        .build();
    let file = std::fs::File::create(out).map_err(Error::io(out))?;
    let mut writer = ArrowWriter::try_new(file, schema, Some(props))?;
    for batch in reader {
        writer.write(&batch.map_err(parquet::errors::ParquetError::from)?)?;
    }
    writer.close()?;
    Ok(())
}

#[cfg(test)]
mod tests {
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
        sort(&src, &check(&["station".into(), "-n".into()], &["station".into(), "n".into()]).unwrap(), &out).unwrap();
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
        assert!(!out.with_extension("unindexed").exists(), "no intermediate file left");
    }
}
