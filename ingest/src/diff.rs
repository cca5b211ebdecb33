//! What changed between two versions of a table: columns added, removed or retyped, and rows
//! added or removed, comparing whole rows as a multiset over the columns both versions share.

use std::path::Path;

use opendata_datasets::{Column, Retyped, TableVersion, VersionChanges};
use polars::prelude::*;

use crate::Result;

/// Compares the published `previous` version (its Parquet at `previous_path`) with the new one.
pub fn changes(
    previous: &TableVersion,
    previous_path: &Path,
    columns: &[Column],
    path: &Path,
) -> Result<VersionChanges> {
    let old: Vec<&Column> = previous.columns.iter().collect();
    let find = |cols: &[&Column], name: &str| cols.iter().any(|c| c.name == name);
    let new: Vec<&Column> = columns.iter().collect();
    let mut changes = VersionChanges {
        previous: previous.version,
        columns_added: new.iter().filter(|c| !find(&old, &c.name)).map(|c| c.name.clone()).collect(),
        columns_removed: old.iter().filter(|c| !find(&new, &c.name)).map(|c| c.name.clone()).collect(),
        columns_retyped: new
            .iter()
            .filter_map(|c| {
                let o = old.iter().find(|o| o.name == c.name)?;
                (o.kind != c.kind).then(|| Retyped { column: c.name.clone(), from: o.kind, to: c.kind })
            })
            .collect(),
        ..VersionChanges::default()
    };
    let shared: Vec<&str> = new.iter().filter(|c| find(&old, &c.name)).map(|c| c.name.as_str()).collect();
    if shared.is_empty() {
        changes.rows_added = 0;
        changes.rows_removed = previous.row_count;
        return Ok(changes);
    }
    // Both versions in one frame, hashed together so their row hashes are comparable.
    // Values are compared as text, so a retyped column still matches `1` with `1`.
    let read = |p: &Path| -> Result<DataFrame> {
        let exprs: Vec<Expr> = shared.iter().map(|n| col(*n).cast(DataType::String)).collect();
        Ok(LazyFrame::scan_parquet(PlRefPath::try_from_path(p)?, Default::default())?.select(exprs).collect()?)
    };
    let before = read(previous_path)?;
    let after = read(path)?;
    let split = before.height();
    let mut both = before.vstack(&after)?;
    let hashes = both.hash_rows(None)?;
    let mut a: Vec<u64> = hashes.into_no_null_iter().collect();
    let mut b = a.split_off(split);
    a.sort_unstable();
    b.sort_unstable();
    let (mut i, mut j, mut common) = (0, 0, 0u64);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    changes.rows_removed = a.len() as u64 - common;
    changes.rows_added = b.len() as u64 - common;
    Ok(changes)
}
