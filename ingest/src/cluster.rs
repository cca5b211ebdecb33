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
/// equal keys so that a re-ingest of the same file gives the same file.
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
    sink_parquet(lf.sort_by_exprs(by, options), out)
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
    }
}
