//! The rows API's parameters: `select`, `order`, paging, and filters typed by the table's
//! columns, validated before any data is read, within the request limits. [`super::rows`]
//! plans them.

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime};
use opendata_datasets::{Column, ColumnType};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::aggregate::Grouping;
use crate::error::{ApiError, ApiResult, Code};

/// Parameters of the rows API that are not filters. Anything else is `<column>[__<op>]`.
pub const RESERVED_PARAMS: &[&str] =
    &["select", "group_by", "order", "limit", "offset", "cursor", "version", "format", "total", "bom", "bbox"];

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The answer's columns: the table's, or a grouping's keys and aliases.
    pub select: Vec<String>,
    /// `group_by` and aggregates: the answer is one row per group.
    pub grouping: Option<Grouping>,
    pub order: Vec<(String, bool)>,
    pub filters: Vec<Filter>,
    pub limit: usize,
    pub offset: u64,
    /// Where the previous page ended, from a cursor.
    pub after: Option<After>,
    /// The cursor's key as typed literals: (column, descending, value or null).
    pub(crate) after_key: Vec<(String, bool, Option<Expr>)>,
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
        let grouping = Grouping::parse(self.get("group_by"), self.get("select"), columns)?;
        let select: Vec<String> = match (&grouping, self.get("select").filter(|s| !s.trim().is_empty())) {
            (Some(g), _) => g.items.iter().map(|i| i.name().to_owned()).collect(),
            (None, Some(s)) => {
                s.split(',').map(|n| known(n.trim()).map(|c| c.name.clone())).collect::<ApiResult<_>>()?
            }
            (None, None) => columns.iter().map(|c| c.name.clone()).collect(),
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
                    // A grouped answer is ordered by its own columns: keys and aliases.
                    if grouping.is_some() {
                        return match select.iter().find(|s| *s == name) {
                            Some(s) => Ok((s.clone(), desc)),
                            None => Err(ApiError::new(
                                Code::UnknownColumn,
                                format!("`order` names `{name}`, which is not a column of the grouped answer"),
                            )),
                        };
                    }
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
            // Groups are few and totally ordered: their cursor is the next page's offset.
            Some(c) if grouping.is_some() => (c.after.row, None),
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
        if let Some(bbox) = self.get("bbox").filter(|b| !b.trim().is_empty()) {
            for (name, op, value) in bbox_filters(bbox, columns)? {
                let column = known(&name)?;
                let expr = filter_expr(column, op, &value, limits.max_in_values)?;
                filters.push(Filter { column: name, kind: column.kind, op, value, expr });
            }
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
        Ok(RowsRequest { select, grouping, order, filters, limit, offset, after, after_key, format, total, bom })
    }
}

/// `bbox=min_lon,min_lat,max_lon,max_lat` as range filters on the table's place columns:
/// points inside the box, or shapes whose bounding box meets it. Plain filters, so the page
/// index and every other path treat them as any other.
fn bbox_filters(raw: &str, columns: &[Column]) -> ApiResult<Vec<(String, Op, String)>> {
    let bad = |why: &str| {
        ApiError::new(Code::InvalidParameter, format!("`bbox` is min_lon,min_lat,max_lon,max_lat in degrees: {why}"))
    };
    let v: Vec<f64> =
        raw.split(',').map(|n| n.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| bad(raw))?;
    let [w, s, e, n] = v[..] else {
        return Err(bad("four numbers"));
    };
    if !(-180.0..=180.0).contains(&w)
        || !(-180.0..=180.0).contains(&e)
        || !(-90.0..=90.0).contains(&s)
        || !(-90.0..=90.0).contains(&n)
    {
        return Err(bad("out of range"));
    }
    if w > e || s > n {
        return Err(bad("each minimum at most its maximum"));
    }
    let Some(geography) = opendata_datasets::geo::Geography::of(columns) else {
        return Err(ApiError::new(
            Code::InvalidParameter,
            "`bbox` needs a table with a geometry or longitude and latitude columns; this one has none",
        ));
    };
    let f = |c: &str, op, v: f64| (c.to_owned(), op, v.to_string());
    Ok(match geography {
        opendata_datasets::geo::Geography::Points { lon, lat } => {
            vec![f(&lon, Op::Gte, w), f(&lon, Op::Lte, e), f(&lat, Op::Gte, s), f(&lat, Op::Lte, n)]
        }
        opendata_datasets::geo::Geography::Shapes { bbox: [min_lon, min_lat, max_lon, max_lat], .. } => {
            vec![f(&max_lon, Op::Gte, w), f(&min_lon, Op::Lte, e), f(&max_lat, Op::Gte, s), f(&min_lat, Op::Lte, n)]
        }
    })
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
