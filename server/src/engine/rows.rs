//! The rows engine: turns the rows API's parameters into a polars query over one version's
//! Parquet file. Filters become a predicate that polars pushes down to the Parquet reader,
//! so row groups whose statistics rule them out are never decoded.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime};
use opendata_datasets::{Column, ColumnType};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult, Code};

/// Parameters of the rows API that are not filters. Anything else is `<column>[__<op>]`.
pub const RESERVED_PARAMS: &[&str] =
    &["select", "order", "limit", "offset", "cursor", "version", "format", "total", "bom"];

/// A filter operator, as written after `__` in a parameter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Contains,
    StartsWith,
    IsNull,
}

impl Op {
    pub const ALL: &'static [(&'static str, Op)] = &[
        ("eq", Op::Eq),
        ("ne", Op::Ne),
        ("gt", Op::Gt),
        ("gte", Op::Gte),
        ("lt", Op::Lt),
        ("lte", Op::Lte),
        ("in", Op::In),
        ("contains", Op::Contains),
        ("startswith", Op::StartsWith),
        ("isnull", Op::IsNull),
    ];

    fn parse(s: &str) -> Option<Op> {
        Op::ALL.iter().find(|(name, _)| *name == s).map(|(_, op)| *op)
    }
}

/// One parsed filter.
#[derive(Debug, Clone)]
pub struct Filter {
    pub column: String,
    pub kind: ColumnType,
    pub op: Op,
    /// The value as written in the query string.
    pub value: String,
    pub expr: Expr,
}

/// Output encodings of the rows API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowsFormat {
    Json,
    Csv,
    Ndjson,
}

impl RowsFormat {
    pub fn parse(s: &str) -> ApiResult<Self> {
        match s {
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            "ndjson" => Ok(Self::Ndjson),
            other => Err(ApiError::new(
                Code::UnsupportedFormat,
                format!("unknown format `{other}`; use json, csv or ndjson"),
            )),
        }
    }
}

/// The opaque `next` token: the version paging is pinned to (a new version published
/// meanwhile changes nothing), and where the last page ended: the row's position in the file
/// and its values of the `order` columns. The next page starts strictly after that row, so
/// page 50,000 costs what page 1 costs: no offset is ever skipped over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "v")]
    pub version: u32,
    #[serde(rename = "a")]
    pub after: After,
}

/// The last row of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct After {
    /// Position in the version's file: the final tie-breaker of every order.
    #[serde(rename = "r")]
    pub row: u64,
    /// The row's `order` values as text (`None` for null), in `order`'s column order.
    #[serde(rename = "k")]
    pub key: Vec<Option<String>>,
}

/// The column that numbers rows in file order while paging; no column name starts with `_`.
pub const ROW: &str = "__row";

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(s: &str) -> ApiResult<Self> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
            // A row number no table reaches is a forged cursor, and would overflow a slice.
            .filter(|c| c.after.row < i64::MAX as u64 / 2)
            .ok_or_else(|| ApiError::new(Code::InvalidCursor, "the cursor is not one this server issued"))
    }
}

/// Everything a rows or download request asks for, validated against the table's columns.
#[derive(Debug, Clone)]
pub struct RowsRequest {
    pub select: Vec<String>,
    pub order: Vec<(String, bool)>,
    pub filters: Vec<Filter>,
    pub limit: usize,
    pub offset: u64,
    /// Where the previous page ended, from a cursor.
    pub after: Option<After>,
    /// The cursor's key as typed literals: (column, descending, value or null).
    after_key: Vec<(String, bool, Option<Expr>)>,
    pub format: Option<RowsFormat>,
    /// Whether to count matching rows (costs a scan when there are filters).
    pub total: bool,
    pub bom: bool,
}

/// The parameters before the version is known: `version` and `cursor` decide which
/// version's columns the rest is checked against.
#[derive(Debug, Clone)]
pub struct RawParams {
    pairs: Vec<(String, String)>,
}

impl RawParams {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
        Self { pairs }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn parse_num<T: std::str::FromStr>(&self, key: &str) -> ApiResult<Option<T>> {
        self.get(key)
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::new(Code::InvalidParameter, format!("`{key}` must be a non-negative integer, not `{v}`"))
                })
            })
            .transpose()
    }

    /// The version asked for, by `cursor` or `version`.
    pub fn version(&self) -> ApiResult<(Option<u32>, Option<Cursor>)> {
        let cursor = self.get("cursor").filter(|c| !c.is_empty()).map(Cursor::decode).transpose()?;
        let version = self.parse_num::<u32>("version")?;
        if let (Some(c), Some(v)) = (&cursor, version)
            && c.version != v
        {
            return Err(ApiError::new(Code::InvalidCursor, "the cursor belongs to another version"));
        }
        Ok((cursor.as_ref().map(|c| c.version).or(version), cursor))
    }

    /// Validates everything else against `columns`, within `limits`.
    pub fn resolve(
        &self,
        columns: &[Column],
        cursor: Option<Cursor>,
        limits: &crate::config::Limits,
    ) -> ApiResult<RowsRequest> {
        let (max_limit, default_limit) = (limits.max_rows, limits.default_rows);
        let by_name: HashMap<&str, &Column> = columns.iter().map(|c| (c.name.as_str(), c)).collect();
        let known = |name: &str| -> ApiResult<&Column> {
            by_name.get(name).copied().ok_or_else(|| unknown_column(name, columns))
        };
        let select: Vec<String> = match self.get("select").filter(|s| !s.trim().is_empty()) {
            Some(s) => s.split(',').map(|n| known(n.trim()).map(|c| c.name.clone())).collect::<ApiResult<_>>()?,
            None => columns.iter().map(|c| c.name.clone()).collect(),
        };
        if let Some(twice) = select.iter().enumerate().find(|(i, n)| select[..*i].contains(n)).map(|(_, n)| n) {
            return Err(ApiError::new(Code::InvalidParameter, format!("`select` names `{twice}` twice")));
        }
        let order = match self.get("order").filter(|s| !s.trim().is_empty()) {
            Some(s) => s
                .split(',')
                .map(|term| {
                    let term = term.trim();
                    let (name, desc) = term.strip_prefix('-').map_or((term, false), |n| (n, true));
                    known(name).map(|c| (c.name.clone(), desc))
                })
                .collect::<ApiResult<_>>()?,
            None => vec![],
        };
        let limit = self.parse_num::<usize>("limit")?.unwrap_or(default_limit);
        if limit > max_limit {
            return Err(ApiError::new(Code::InvalidParameter, format!("`limit` may be at most {max_limit}")));
        }
        let (offset, after) = match cursor {
            Some(c) => {
                if c.after.key.len() != order.len() {
                    return Err(ApiError::new(Code::InvalidCursor, "the cursor belongs to another `order`"));
                }
                (0, Some(c.after))
            }
            None => {
                let offset = self.parse_num::<u64>("offset")?.unwrap_or(0);
                // The engine slices with signed offsets; no table has more rows than this.
                if offset > i64::MAX as u64 / 2 {
                    return Err(ApiError::new(Code::InvalidParameter, "`offset` is too large"));
                }
                (offset, None)
            }
        };
        let format = self.get("format").map(RowsFormat::parse).transpose()?;
        let total = parse_bool("total", self.get("total").unwrap_or("true"))?;
        let bom = parse_bool("bom", self.get("bom").unwrap_or("false"))?;

        let mut filters = vec![];
        for (key, value) in &self.pairs {
            // `?a=1&` or a stray `&=`: nothing was asked.
            if key.is_empty() || RESERVED_PARAMS.contains(&key.as_str()) {
                continue;
            }
            if filters.len() == limits.max_filters {
                return Err(ApiError::new(
                    Code::LimitExceeded,
                    format!("at most {} filters are allowed in one request (limits.max_filters)", limits.max_filters),
                ));
            }
            // Column names never contain `__`, so the split is unambiguous.
            let (name, op) = match key.rsplit_once("__") {
                Some((name, op)) if !by_name.contains_key(key.as_str()) => {
                    let op = Op::parse(op).ok_or_else(|| {
                        let ops: Vec<_> = Op::ALL.iter().map(|(n, _)| *n).collect();
                        ApiError::new(
                            Code::UnknownOperator,
                            format!("unknown operator `{op}` in `{key}`; operators are: {}", ops.join(", ")),
                        )
                    })?;
                    (name, op)
                }
                _ => (key.as_str(), Op::Eq),
            };
            let column = known(name)?;
            filters.push(Filter {
                column: column.name.clone(),
                kind: column.kind,
                op,
                value: value.clone(),
                expr: filter_expr(column, op, value, limits.max_in_values)?,
            });
        }
        let after_key = match &after {
            Some(a) => order
                .iter()
                .zip(&a.key)
                .map(|((name, desc), v)| {
                    let column = by_name[name.as_str()];
                    let value = v.as_deref().map(|v| typed_literal(column, v)).transpose();
                    value.map(|value| (name.clone(), *desc, value))
                })
                .collect::<ApiResult<Vec<_>>>()
                .map_err(|_| ApiError::new(Code::InvalidCursor, "the cursor belongs to another `order`"))?,
            None => vec![],
        };
        Ok(RowsRequest { select, order, filters, limit, offset, after, after_key, format, total, bom })
    }
}

fn parse_bool(key: &str, v: &str) -> ApiResult<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::new(Code::InvalidParameter, format!("`{key}` must be true or false, not `{v}`"))),
    }
}

pub(crate) fn unknown_column(name: &str, columns: &[Column]) -> ApiError {
    let names: Vec<_> = columns.iter().map(|c| c.name.as_str()).collect();
    ApiError::new(Code::UnknownColumn, format!("unknown column `{name}`; columns are: {}", names.join(", ")))
}

/// A literal of the column's type, parsed from a query-string value.
fn typed_literal(column: &Column, raw: &str) -> ApiResult<Expr> {
    let bad = |expected: &str| {
        ApiError::new(
            Code::InvalidValue,
            format!("`{raw}` is not a valid {} for column `{}` (expected {expected})", column.kind, column.name),
        )
    };
    let v = raw.trim();
    Ok(match column.kind {
        ColumnType::String => lit(raw.to_owned()),
        ColumnType::Integer => lit(v.parse::<i64>().map_err(|_| bad("a whole number"))?),
        ColumnType::Float => lit(v.parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(|| bad("a number"))?),
        ColumnType::Boolean => match v {
            "true" => lit(true),
            "false" => lit(false),
            _ => return Err(bad("true or false")),
        },
        ColumnType::Date => {
            let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| bad("YYYY-MM-DD"))?;
            let days = (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32;
            lit(days).cast(DataType::Date)
        }
        ColumnType::Datetime => {
            let t = parse_datetime(v).ok_or_else(|| bad("YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"))?;
            lit(t.and_utc().timestamp_micros()).cast(DataType::Datetime(TimeUnit::Microseconds, None))
        }
    })
}

/// The comma-separated values of an `in` filter as one typed series.
fn typed_list(column: &Column, raw: &str) -> ApiResult<Series> {
    let values: Vec<&str> = raw.split(',').collect();
    let bad = |v: &str, expected: &str| {
        ApiError::new(
            Code::InvalidValue,
            format!("`{v}` is not a valid {} for column `{}` (expected {expected})", column.kind, column.name),
        )
    };
    let name = PlSmallStr::from_str(column.name.as_str());
    Ok(match column.kind {
        ColumnType::String => Series::new(name, values),
        ColumnType::Integer => {
            let v: Vec<i64> = values
                .iter()
                .map(|v| v.trim().parse().map_err(|_| bad(v, "a whole number")))
                .collect::<ApiResult<_>>()?;
            Series::new(name, v)
        }
        ColumnType::Float => {
            let v: Vec<f64> = values
                .iter()
                .map(|v| v.trim().parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(|| bad(v, "a number")))
                .collect::<ApiResult<_>>()?;
            Series::new(name, v)
        }
        ColumnType::Boolean => {
            let v: Vec<bool> = values
                .iter()
                .map(|v| match v.trim() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(bad(v, "true or false")),
                })
                .collect::<ApiResult<_>>()?;
            Series::new(name, v)
        }
        ColumnType::Date => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            let v: Vec<i32> = values
                .iter()
                .map(|v| {
                    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                        .map(|d| (d - epoch).num_days() as i32)
                        .map_err(|_| bad(v, "YYYY-MM-DD"))
                })
                .collect::<ApiResult<_>>()?;
            Series::new(name, v).cast(&DataType::Date).map_err(ApiError::internal)?
        }
        ColumnType::Datetime => {
            let v: Vec<i64> = values
                .iter()
                .map(|v| {
                    parse_datetime(v.trim())
                        .map(|t| t.and_utc().timestamp_micros())
                        .ok_or_else(|| bad(v, "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"))
                })
                .collect::<ApiResult<_>>()?;
            Series::new(name, v).cast(&DataType::Datetime(TimeUnit::Microseconds, None)).map_err(ApiError::internal)?
        }
    })
}

fn parse_datetime(v: &str) -> Option<NaiveDateTime> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .or_else(|| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
}

fn filter_expr(column: &Column, op: Op, raw: &str, max_in_values: usize) -> ApiResult<Expr> {
    let c = col(column.name.as_str());
    let text_only = || {
        if column.kind == ColumnType::String {
            Ok(())
        } else {
            Err(ApiError::new(
                Code::InvalidValue,
                format!("`contains` and `startswith` apply to text columns; `{}` is {}", column.name, column.kind),
            ))
        }
    };
    Ok(match op {
        Op::Eq => c.eq(typed_literal(column, raw)?),
        Op::Ne => c.neq(typed_literal(column, raw)?),
        Op::Gt => c.gt(typed_literal(column, raw)?),
        Op::Gte => c.gt_eq(typed_literal(column, raw)?),
        Op::Lt => c.lt(typed_literal(column, raw)?),
        Op::Lte => c.lt_eq(typed_literal(column, raw)?),
        Op::In => {
            let count = raw.split(',').count();
            if count > max_in_values {
                return Err(ApiError::new(
                    Code::LimitExceeded,
                    format!(
                        "`{}__in` has {count} values; at most {max_in_values} are allowed (limits.max_in_values)",
                        column.name
                    ),
                ));
            }
            // One membership test over a typed list: its cost grows with the rows, not with
            // rows times values, and its plan is one node however long the list.
            c.is_in(lit(typed_list(column, raw)?).implode(false), false)
        }
        Op::Contains => {
            text_only()?;
            c.str().contains_literal(lit(raw.to_owned()))
        }
        Op::StartsWith => {
            text_only()?;
            c.str().starts_with(lit(raw.to_owned()))
        }
        Op::IsNull => match raw {
            "true" => c.is_null(),
            "false" => c.is_not_null(),
            _ => {
                return Err(ApiError::new(
                    Code::InvalidValue,
                    format!("`{}__isnull` takes true or false, not `{raw}`", column.name),
                ));
            }
        },
    })
}

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

    /// The lazy query for this request over `lf`, without paging.
    pub fn plan(&self, lf: LazyFrame) -> LazyFrame {
        let mut lf = lf;
        if let Some(p) = self.predicate() {
            lf = lf.filter(p);
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

/// A running query's stop signal and memory guard.
///
/// [`run_blocking`](crate::api::rows) raises the signal when the request's future is dropped:
/// the client went away, or the time limit answered for it. [`collect`] then cancels the
/// polars query, which stops at its next operator, and frees the query's admission slot
/// at once instead of when the abandoned work would have finished.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// Resident memory of the whole server, in bytes, above which running queries stop.
    max_rss: Option<u64>,
}

/// Why a query did not produce its result.
#[derive(Debug)]
pub enum Stopped {
    Engine(PolarsError),
    /// The client went away or the time limit passed.
    Cancelled,
    /// The server's resident memory passed the limit while the query ran.
    Memory {
        limit_mb: u64,
    },
}

impl From<PolarsError> for Stopped {
    fn from(e: PolarsError) -> Self {
        Stopped::Engine(e)
    }
}

impl From<Stopped> for ApiError {
    fn from(s: Stopped) -> Self {
        match s {
            Stopped::Engine(e) => e.into(),
            // Only a timed-out request still has someone listening, and the timeout
            // already answered it.
            Stopped::Cancelled => ApiError::new(Code::QueryTimeout, "the query was stopped"),
            Stopped::Memory { limit_mb } => ApiError::new(
                Code::QueryMemory,
                format!(
                    "the server passed its memory limit ({limit_mb} MB) while this query ran; \
                     retry later, or filter or aggregate more"
                ),
            ),
        }
    }
}

impl Watch {
    pub fn new(max_memory_mb: u64) -> Self {
        Watch { stop: Default::default(), max_rss: (max_memory_mb > 0).then(|| max_memory_mb * 1024 * 1024) }
    }

    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn stopped(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The server's resident set size, from `/proc/self/statm` (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Runs `lf` on a polars worker while this thread watches the stop signal and the memory
/// guard. The poll interval grows to 1 ms, so a fast query pays microseconds for it.
pub fn collect(lf: LazyFrame, watch: &Watch) -> Result<DataFrame, Stopped> {
    let query = lf.collect_concurrently()?;
    let mut wait = std::time::Duration::from_micros(20);
    for poll in 0u32.. {
        if watch.stopped() {
            abandon(query);
            return Err(Stopped::Cancelled);
        }
        // Reading /proc costs a few microseconds: the first poll and every tenth after it.
        if let Some(limit) = watch.max_rss.filter(|_| poll % 10 == 0)
            && resident_bytes().is_some_and(|rss| rss > limit)
        {
            abandon(query);
            return Err(Stopped::Memory { limit_mb: limit / (1024 * 1024) });
        }
        if let Some(result) = query.fetch() {
            return Ok(result?);
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(std::time::Duration::from_millis(1));
    }
    unreachable!("a query is polled until it ends")
}

/// Cancels a running query without waiting for it. polars' worker sends its (error) result
/// when it reaches its next operator and panics if nobody is left to receive it, so a
/// small thread keeps the receiving end until then.
fn abandon(query: InProcessQuery) {
    query.cancel();
    std::thread::spawn(move || {
        let _ = query.fetch_blocking();
    });
}

/// Opens a version's Parquet file lazily.
pub fn scan(path: &std::path::Path) -> PolarsResult<LazyFrame> {
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

/// One page: `limit` rows after the cursor (or from `offset`), and where it ends.
///
/// A first page in a requested order also counts the matching rows: the engine holds them
/// all to sort them, so the count is free there and saves a second scan of the file.
pub fn page(path: &std::path::Path, req: &RowsRequest, watch: &Watch) -> Result<PageRows, Stopped> {
    // Through the page index, in two reads: the columns that decide which rows make the
    // page (filters and order) for the candidate rows, then every selected column for the
    // page's rows alone.
    // Filters the page index matches exactly are not applied again, nor their columns copied.
    let rest: Vec<&Filter> = req.filters.iter().filter(|f| !crate::engine::page_index::matches_exactly(f)).collect();
    let mut keys: Vec<String> = Vec::new();
    for name in rest.iter().map(|f| &f.column).chain(req.order.iter().map(|(n, _)| n)) {
        if !keys.contains(name) {
            keys.push(name.clone());
        }
    }
    if let Some(candidates) = crate::engine::page_index::candidates(path, &req.filters, &keys, ROW) {
        let predicate = rest.iter().map(|f| f.expr.clone()).reduce(|a, b| a.and(b));
        let (df, after, matched) = plan_page(candidates.lazy(), predicate, true, req, &[], watch)?;
        let df = df.head(Some(req.limit));
        let at: Vec<IdxSize> = df.column(ROW)?.idx()?.into_no_null_iter().collect();
        let rows = crate::engine::page_index::rows_at(path, &at, &req.select, ROW)?;
        // Back from file order to the page's order.
        let read: Vec<IdxSize> = rows.column(ROW)?.idx()?.into_no_null_iter().collect();
        let order: Vec<IdxSize> = at.iter().filter_map(|r| read.binary_search(r).ok().map(|i| i as IdxSize)).collect();
        let order = IdxCa::from_vec(PlSmallStr::EMPTY, order);
        let rows = rows.take(&order)?.select(req.select.iter().map(String::as_str))?;
        return Ok(PageRows { rows, after, matched });
    }
    let args = ScanArgsParquet { row_index: Some(RowIndex { name: ROW.into(), offset: 0 }), ..Default::default() };
    let lf = LazyFrame::scan_parquet(PlRefPath::try_from_path(path)?, args)?;
    let (df, after, matched) = plan_page(lf, req.predicate(), false, req, &req.select, watch)?;
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
    watch: &Watch,
) -> Result<(DataFrame, Option<After>, Option<u64>), Stopped> {
    let mut lf = lf;
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
    let matching = lf.clone();
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
    let df = collect(lf.select(keep).slice(req.offset as i64, (req.limit + 1) as IdxSize), watch)?;
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
    if matched.is_none() && in_memory && req.total && req.after.is_none() {
        matched = collect(matching.select([len()]), watch)?.columns()[0].get(0)?.extract::<u64>();
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
pub fn count(lf: LazyFrame, req: &RowsRequest, watch: &Watch) -> Result<u64, Stopped> {
    let mut lf = lf;
    if let Some(p) = req.predicate() {
        lf = lf.filter(p);
    }
    let df = collect(lf.select([len()]), watch)?;
    Ok(df.columns()[0].get(0)?.extract::<u64>().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers() -> LazyFrame {
        df!("n" => (0..10_000i64).collect::<Vec<_>>()).unwrap().lazy().sort(["n"], Default::default())
    }

    #[test]
    fn a_stopped_watch_cancels_the_query() {
        let watch = Watch::new(0);
        assert_eq!(collect(numbers(), &watch).unwrap().height(), 10_000);
        watch.stop();
        assert!(matches!(collect(numbers(), &watch), Err(Stopped::Cancelled)));
    }

    #[test]
    fn the_memory_guard_stops_queries_above_the_limit() {
        // Any running process holds more than one megabyte.
        let watch = Watch::new(1);
        match collect(numbers(), &watch) {
            Err(Stopped::Memory { limit_mb: 1 }) => {}
            other => panic!("expected the memory guard, got {other:?}"),
        }
    }
}
