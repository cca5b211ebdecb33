//! The rows engine: turns a validated [`RowsRequest`] into a polars query over one version's
//! Parquet file. Filters become a predicate that polars pushes down to the Parquet reader,
//! so row groups whose statistics rule them out are never decoded.

use std::path::Path;

use polars::prelude::*;

use super::page_index;
use super::params::{After, Filter, ROW, RowsRequest};

impl RowsRequest {
    /// Rows after the cursor's row in `order` (nulls last, then file position).
    fn keyset(&self, row: u64) -> Expr {
        let mut after = col(ROW).gt(lit(row));
        // Built from the last key backwards: (k1 after v1) or (k1 = v1 and (k2 after v2 or …)).
        for (name, desc, value) in self.after_key.iter().rev() {
            let c = col(name.as_str());
            after = match value {
                // Nothing sorts after a null but other nulls, which the rest decides.
                None => c.is_null().and(after),
                Some(v) => {
                    let beyond = if *desc { c.clone().lt(v.clone()) } else { c.clone().gt(v.clone()) };
                    beyond.or(c.clone().is_null()).or(c.eq(v.clone()).and(after))
                }
            };
        }
        after
    }

    pub fn predicate(&self) -> Option<Expr> {
        self.filters.iter().map(|f| f.expr.clone()).reduce(|a, b| a.and(b))
    }

    /// Whether the request asks for the table as stored: every row in file order, with no
    /// more than a choice of columns.
    pub fn whole(&self) -> bool {
        self.filters.is_empty() && self.grouping.is_none() && self.order.is_empty()
    }

    /// The lazy query for this request over `lf`, without paging.
    pub fn plan(&self, lf: LazyFrame) -> LazyFrame {
        self.plan_coded(lf, &[])
    }

    /// [`Self::plan`] over `lf` whose `coded` text columns are held as codes.
    fn plan_coded(&self, lf: LazyFrame, coded: &[String]) -> LazyFrame {
        let mut lf = lf;
        if let Some(p) = self.predicate() {
            lf = lf.filter(p);
        }
        if let Some(grouping) = &self.grouping {
            return grouping.plan(lf, &self.order, coded);
        }
        self.sorted(lf).select(self.select.iter().map(|n| col(n.as_str())).collect::<Vec<_>>())
    }

    /// `lf` in the requested order, if any: nulls last, and ties in the order `lf` has.
    ///
    /// Rows come in file order and the sort is stable, so the file position breaks ties: the
    /// order is total and pages never overlap. Sorting by the position as a last key would
    /// do the same, but would turn a one-column sort into a row-encoded one.
    fn sorted(&self, lf: LazyFrame) -> LazyFrame {
        if self.order.is_empty() {
            return lf;
        }
        let by: Vec<Expr> = self.order.iter().map(|(n, _)| col(n.as_str())).collect();
        let desc: Vec<bool> = self.order.iter().map(|(_, d)| *d).collect();
        let options = SortMultipleOptions::default()
            .with_order_descending_multi(desc)
            .with_nulls_last(true)
            .with_maintain_order(true);
        lf.sort_by_exprs(by, options)
    }
}

/// Opens a version's Parquet file lazily.
pub fn scan(path: &Path) -> PolarsResult<LazyFrame> {
    LazyFrame::scan_parquet(PlRefPath::try_from_path(path)?, ScanArgsParquet::default())
}

/// One page of a request.
#[derive(Debug)]
pub struct PageRows {
    pub rows: DataFrame,
    /// Where this page ends, for the next cursor; none on the last page.
    pub after: Option<After>,
    /// The rows matching the filters, when the page's query counted them on the way.
    pub matched: Option<u64>,
}

/// Column of the filtered row count, when the page query carries it.
const MATCHED: &str = "__matched";

/// A page bounded by construction, which runs in the server's process: a slice of the file
/// when there are no filters and no order, or a read through the page index when it narrows
/// the read to a few pages (at most [`page_index::MAX_ROWS`] candidate rows). None when
/// neither applies.
///
/// It reads in two steps: the columns that decide which rows make the page (filters and
/// order) for the candidate rows, then every selected column for the page's rows alone.
/// Filters the page index matches exactly are not applied again, nor their columns copied.
/// The count of matches comes from the candidates, cursor or not, so no page needs a scan.
pub fn point_page(path: &Path, req: &RowsRequest) -> Option<PolarsResult<PageRows>> {
    // Grouping reads every matching row: a worker's job.
    if req.grouping.is_some() {
        return None;
    }
    // Without filters or order, a page is a slice of the file: the reader decodes the row
    // groups that hold it (at most 128k rows each), whatever the offset.
    if req.filters.is_empty() && req.order.is_empty() {
        return Some(scan_page(path, req));
    }
    let rest: Vec<&Filter> = req.filters.iter().filter(|f| !crate::engine::page_index::matches_exactly(f)).collect();
    let mut keys: Vec<String> = Vec::new();
    for name in rest.iter().map(|f| &f.column).chain(req.order.iter().map(|(n, _)| n)) {
        if !keys.contains(name) {
            keys.push(name.clone());
        }
    }
    let candidates = page_index::candidates(path, &req.filters, &keys, ROW)?;
    if keys.is_empty() {
        return Some(exact_page(path, &candidates, req));
    }
    let read = || -> PolarsResult<PageRows> {
        let predicate = rest.iter().map(|f| f.expr.clone()).reduce(|a, b| a.and(b));
        let (df, after, matched) = plan_page(candidates.lazy(), predicate, true, req, &[])?;
        let df = df.head(Some(req.limit));
        let at: Vec<IdxSize> = df.column(ROW)?.idx()?.into_no_null_iter().collect();
        let rows = page_index::rows_at(path, &at, &req.select, ROW)?;
        // Back from file order to the page's order.
        let read: Vec<IdxSize> = rows.column(ROW)?.idx()?.into_no_null_iter().collect();
        let order: Vec<IdxSize> = at.iter().filter_map(|r| read.binary_search(r).ok().map(|i| i as IdxSize)).collect();
        let order = IdxCa::from_vec(PlSmallStr::EMPTY, order);
        let rows = rows.take(&order)?.select(req.select.iter().map(String::as_str))?;
        Ok(PageRows { rows, after, matched })
    };
    Some(read())
}

/// A page in file order when the page index matched every filter exactly (an `id=`
/// lookup, a station's rows): the candidates are the answer, so the page is their
/// positions after the cursor, with no query plan at all.
fn exact_page(path: &Path, candidates: &DataFrame, req: &RowsRequest) -> PolarsResult<PageRows> {
    let all: Vec<IdxSize> = candidates.column(ROW)?.idx()?.into_no_null_iter().collect();
    let start = req.after.as_ref().map_or(0, |a| all.partition_point(|&r| u64::from(r) <= a.row));
    let skip = usize::try_from(req.offset).unwrap_or(usize::MAX);
    let page: Vec<IdxSize> = all.iter().copied().skip(start.saturating_add(skip)).take(req.limit + 1).collect();
    let after = match req.limit.checked_sub(1) {
        Some(last) if page.len() > req.limit => Some(After { row: u64::from(page[last]), key: Vec::new() }),
        _ => None,
    };
    let at = &page[..page.len().min(req.limit)];
    let rows = page_index::rows_at(path, at, &req.select, ROW)?.select(req.select.iter().map(String::as_str))?;
    Ok(PageRows { rows, after, matched: req.total.then_some(all.len() as u64) })
}

/// A page of groups: every group is computed (the count of groups is then free), and the
/// page is a slice of them. Its cursor is where the next page starts.
fn grouped_page(path: &Path, req: &RowsRequest) -> PolarsResult<PageRows> {
    grouped_page_of(scan(path)?, req)
}

/// A page of groups of `lf`: the file, or the table held decoded in a worker, whose text
/// columns may be held as codes: those a filter reads are compared as text, and keys come
/// back as text.
pub fn grouped_page_of(lf: LazyFrame, req: &RowsRequest) -> PolarsResult<PageRows> {
    let mut lf = lf;
    let schema = lf.collect_schema()?;
    // Codes compare and order by their number, not their text: the columns filters and
    // aggregates read are turned back into text first.
    let read = req.filters.iter().map(|f| f.column.as_str()).chain(req.grouping.iter().flat_map(|g| g.aggregated()));
    let mut names: Vec<&str> = read.filter(|name| schema.get(name).is_some_and(DataType::is_categorical)).collect();
    names.sort_unstable();
    names.dedup();
    let casts: Vec<Expr> = names.into_iter().map(|name| col(name).cast(DataType::String)).collect();
    if !casts.is_empty() {
        lf = lf.with_columns(casts);
    }
    let coded: Vec<String> =
        schema.iter().filter(|(_, t)| t.is_categorical()).map(|(name, _)| name.to_string()).collect();
    Ok(page_of_groups(req.plan_coded(lf, &coded).collect()?, req))
}

/// The page of `groups` (all of them, in order) that `req` asks for: groups are few, so
/// their cursor is the next page's offset.
pub fn page_of_groups(groups: DataFrame, req: &RowsRequest) -> PageRows {
    let start = usize::try_from(req.offset).unwrap_or(usize::MAX).min(groups.height());
    let rows = groups.slice(start as i64, req.limit);
    let end = start + rows.height();
    let after = (end < groups.height() && req.limit > 0).then(|| After { row: end as u64, key: Vec::new() });
    PageRows { rows, after, matched: Some(groups.height() as u64) }
}

/// A page through the engine's scan of the whole file: the work a query worker does.
pub fn scan_page(path: &Path, req: &RowsRequest) -> PolarsResult<PageRows> {
    if req.grouping.is_some() {
        return grouped_page(path, req);
    }
    let args = ScanArgsParquet { row_index: Some(RowIndex { name: ROW.into(), offset: 0 }), ..Default::default() };
    let lf = LazyFrame::scan_parquet(PlRefPath::try_from_path(path)?, args)?;
    let (df, after, mut matched) = plan_page(lf, req.predicate(), false, req, &req.select)?;
    if req.total && matched.is_none() && !req.filters.is_empty() {
        matched = Some(count(scan(path)?, req)?);
    }
    let rows = df.head(Some(req.limit)).select(req.select.iter().map(String::as_str))?;
    Ok(PageRows { rows, after, matched })
}

/// Runs a page's plan over `lf` (the file, or rows already in memory) filtered by
/// `predicate`: up to `limit + 1` rows with `select`, the order columns and the file
/// position; where the page ends; and the matching rows when they came for free.
fn plan_page(
    lf: LazyFrame,
    predicate: Option<Expr>,
    in_memory: bool,
    req: &RowsRequest,
    select: &[String],
) -> PolarsResult<(DataFrame, Option<After>, Option<u64>)> {
    let mut lf = lf;
    // Candidates in memory are counted before the cursor: every page then has the total.
    let all = (in_memory && req.total).then(|| match &predicate {
        Some(p) => lf.clone().filter(p.clone()),
        None => lf.clone(),
    });
    match (&req.after, req.order.is_empty()) {
        // File order: start right after the last row. The file reader skips what is before;
        // rows in memory are already few.
        (Some(after), true) if in_memory => lf = lf.filter(col(ROW).gt(lit(after.row))),
        (Some(after), true) => lf = lf.slice(after.row as i64 + 1, IdxSize::MAX),
        (Some(after), false) => lf = lf.filter(req.keyset(after.row)),
        (None, _) => {}
    }
    if let Some(p) = predicate {
        lf = lf.filter(p);
    }
    let lf = req.sorted(lf);
    let mut keep: Vec<Expr> = select.iter().map(|n| col(n.as_str())).collect();
    let extra: Vec<&str> =
        req.order.iter().map(|(n, _)| n.as_str()).filter(|n| !select.iter().any(|s| s == n)).collect();
    keep.extend(extra.iter().map(|n| col(*n)));
    keep.push(col(ROW));
    let counted = req.total && req.after.is_none() && !req.order.is_empty() && !req.filters.is_empty();
    if counted {
        keep.push(len().cast(DataType::UInt64).alias(MATCHED));
    }
    let df = lf.select(keep).slice(req.offset as i64, (req.limit + 1) as IdxSize).collect()?;
    // A page of no rows (`limit=0`, for the total alone) ends nowhere.
    let after = match req.limit.checked_sub(1) {
        Some(last) if df.height() > req.limit => Some(after_row(&df, last, &req.order)?),
        _ => None,
    };
    // A page past the last row has no row to read the count from, and none was counted.
    let mut matched = match df.column(MATCHED) {
        Ok(c) if df.height() > 0 => c.get(0)?.extract::<u64>(),
        _ => None,
    };
    // Rows in memory are few: counting them costs less than a scan.
    if matched.is_none()
        && let Some(all) = all
    {
        matched = all.select([len()]).collect()?.columns()[0].get(0)?.extract::<u64>();
    }
    Ok((df, after, matched))
}

/// The cursor position of row `i` of a page.
fn after_row(df: &DataFrame, i: usize, order: &[(String, bool)]) -> PolarsResult<After> {
    let row = df.column(ROW)?.get(i)?.extract::<u64>().unwrap_or(0);
    let key = order
        .iter()
        .map(|(name, _)| Ok(cursor_text(df.column(name.as_str())?.get(i)?)))
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok(After { row, key })
}

/// A value as text that `typed_literal` reads back exactly.
fn cursor_text(v: AnyValue<'_>) -> Option<String> {
    Some(match v {
        AnyValue::Null => return None,
        AnyValue::String(s) => s.to_owned(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Boolean(b) => b.to_string(),
        AnyValue::Int64(n) => n.to_string(),
        // Rust prints the shortest text that parses back to the same float.
        AnyValue::Float64(f) => f.to_string(),
        AnyValue::Date(days) => {
            (chrono::NaiveDate::from_ymd_opt(1970, 1, 1)? + chrono::Duration::days(i64::from(days))).to_string()
        }
        AnyValue::Datetime(us, TimeUnit::Microseconds, _) => {
            chrono::DateTime::from_timestamp_micros(us)?.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
        }
        other => other.to_string(),
    })
}

/// Rows matching the filters.
pub fn count(lf: LazyFrame, req: &RowsRequest) -> PolarsResult<u64> {
    let mut lf = lf;
    if let Some(p) = req.predicate() {
        lf = lf.filter(p);
    }
    let df = lf.select([len()]).collect()?;
    Ok(df.columns()[0].get(0)?.extract::<u64>().unwrap_or(0))
}
