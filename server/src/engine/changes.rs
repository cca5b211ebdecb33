//! The rows added and removed between two versions of a table, for readers who follow a
//! dataset and want what changed rather than the whole table again.
//!
//! Rows are compared as a multiset over the columns both versions share, as text, exactly
//! as the ingest counts them for the version's `changes` (`opendata_ingest`'s `diff`), so
//! the download holds as many rows as the catalog says were added and removed.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;

use super::rows::scan;

/// The column that says whether a row was `added` or `removed`.
pub const CHANGE: &str = "_change";

/// The rows of `before` missing from `after` (`removed`, first) and the rows of `after`
/// missing from `before` (`added`), each with every column of its version: the columns of
/// `after`, then those only `before` had. A column whose type changed comes as text.
pub fn between(before: &Path, after: &Path) -> PolarsResult<DataFrame> {
    let old = scan(before)?.collect()?;
    let new = scan(after)?.collect()?;
    let shared: Vec<PlSmallStr> =
        new.get_column_names().into_iter().filter(|n| old.column(n.as_str()).is_ok()).cloned().collect();
    let (removed, added) = if shared.is_empty() {
        ((0..old.height() as IdxSize).collect(), (0..new.height() as IdxSize).collect())
    } else {
        unmatched(&old, &new, &shared)?
    };
    let mut union: Vec<(PlSmallStr, DataType)> = Vec::new();
    for c in new.columns() {
        let dtype = match old.column(c.name().as_str()) {
            Ok(o) if o.dtype() != c.dtype() => DataType::String,
            _ => c.dtype().clone(),
        };
        union.push((c.name().clone(), dtype));
    }
    union.extend(
        old.columns()
            .iter()
            .filter(|c| new.column(c.name().as_str()).is_err())
            .map(|c| (c.name().clone(), c.dtype().clone())),
    );
    let part = |df: &DataFrame, rows: Vec<IdxSize>, tag: &str| -> PolarsResult<LazyFrame> {
        let taken = df.take(&IdxCa::from_vec(PlSmallStr::EMPTY, rows))?;
        let mut exprs = vec![lit(tag.to_owned()).alias(CHANGE)];
        for (name, dtype) in &union {
            let value = if taken.column(name.as_str()).is_ok() { col(name.clone()) } else { lit(NULL) };
            exprs.push(value.cast(dtype.clone()).alias(name.clone()));
        }
        Ok(taken.lazy().select(exprs))
    };
    concat([part(&old, removed, "removed")?, part(&new, added, "added")?], UnionArgs::default())?.collect()
}

/// Positions of the rows of `old` and of `new` that the other version does not have, as a
/// multiset of rows over `shared` read as text.
fn unmatched(old: &DataFrame, new: &DataFrame, shared: &[PlSmallStr]) -> PolarsResult<(Vec<IdxSize>, Vec<IdxSize>)> {
    let text = |df: &DataFrame| -> PolarsResult<DataFrame> {
        df.clone()
            .lazy()
            .select(shared.iter().map(|n| col(n.clone()).cast(DataType::String)).collect::<Vec<_>>())
            .collect()
    };
    // Both versions hashed in one frame, so their row hashes are comparable.
    let mut both = text(old)?;
    both.vstack_mut(&text(new)?)?;
    let hashes: Vec<u64> = both.hash_rows(None)?.into_no_null_iter().collect();
    let (old_hashes, new_hashes) = hashes.split_at(old.height());
    let mut unmatched_old: HashMap<u64, u32> = HashMap::new();
    for h in old_hashes {
        *unmatched_old.entry(*h).or_default() += 1;
    }
    let mut added = Vec::new();
    for (i, h) in new_hashes.iter().enumerate() {
        match unmatched_old.get_mut(h) {
            Some(n) if *n > 0 => *n -= 1,
            _ => added.push(i as IdxSize),
        }
    }
    let mut removed = Vec::new();
    for (i, h) in old_hashes.iter().enumerate() {
        if let Some(n) = unmatched_old.get_mut(h).filter(|n| **n > 0) {
            *n -= 1;
            removed.push(i as IdxSize);
        }
    }
    Ok((removed, added))
}
