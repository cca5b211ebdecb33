//! Aggregates in the rows API, without SQL: `group_by=a,b` and `count(*)`, `count(col)`,
//! `sum(col)`, `avg(col)`, `min(col)`, `max(col)` items in `select`, each optionally
//! `... as name`. Filters apply before grouping; `order` names output columns (keys or
//! aliases). Groups come in a total order (the requested one, then the keys), so paging by
//! offset or cursor never repeats or skips a group.

use opendata_datasets::{Column, ColumnType};
use polars::prelude::*;

use crate::error::{ApiError, ApiResult, Code};

/// Keys of one grouping: a bound on the work and the answer's width.
pub const MAX_KEYS: usize = 8;
/// Aggregate items of one request.
pub const MAX_AGGREGATES: usize = 32;

/// An aggregate function.
///
/// The chart builder keeps its own [`crate::chart::Agg`]: its published parameter says
/// `chart.agg=mean` where the rows API says `avg(col)` as SQL does, and it aggregates one
/// `y` per point and series rather than named items; the five polars expressions are all
/// the two share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl Func {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "count" => Func::Count,
            "sum" => Func::Sum,
            "avg" => Func::Avg,
            "min" => Func::Min,
            "max" => Func::Max,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Func::Count => "count",
            Func::Sum => "sum",
            Func::Avg => "avg",
            Func::Min => "min",
            Func::Max => "max",
        }
    }
}

/// One output column of a grouped answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// A grouping key, as it is.
    Key(String),
    /// `func(column)`, or `count(*)` with no column, under `alias`.
    Agg { func: Func, column: Option<String>, alias: String },
}

impl Item {
    pub fn name(&self) -> &str {
        match self {
            Item::Key(name) => name,
            Item::Agg { alias, .. } => alias,
        }
    }

    fn expr(&self) -> Option<Expr> {
        let Item::Agg { func, column, alias } = self else { return None };
        let c = || col(column.as_deref().unwrap_or_default());
        let e = match (func, column) {
            (Func::Count, None) => len().cast(DataType::Int64),
            (Func::Count, Some(_)) => c().count().cast(DataType::Int64),
            (Func::Sum, _) => c().sum(),
            (Func::Avg, _) => c().mean(),
            (Func::Min, _) => c().min(),
            (Func::Max, _) => c().max(),
        };
        Some(e.alias(alias.as_str()))
    }
}

/// A validated grouping: its keys and its output columns, in the order asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    pub keys: Vec<String>,
    pub items: Vec<Item>,
}

impl Grouping {
    /// The grouping `group_by` and `select` ask for, or none when they ask for plain rows.
    pub fn parse(group_by: Option<&str>, select: Option<&str>, columns: &[Column]) -> ApiResult<Option<Self>> {
        let known = |name: &str| -> ApiResult<&Column> {
            columns.iter().find(|c| c.name == name).ok_or_else(|| {
                ApiError::new(Code::UnknownColumn, format!("no column `{name}`; see the table's `columns`"))
            })
        };
        let keys: Vec<String> = match group_by.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => s.split(',').map(|k| known(k.trim()).map(|c| c.name.clone())).collect::<ApiResult<_>>()?,
            None => Vec::new(),
        };
        if keys.len() > MAX_KEYS {
            return Err(invalid(format!("`group_by` takes at most {MAX_KEYS} columns")));
        }
        let terms: Vec<&str> =
            select.map(|s| s.split(',').map(str::trim).filter(|t| !t.is_empty()).collect()).unwrap_or_default();
        let aggregates = terms.iter().filter(|t| t.contains('(')).count();
        if keys.is_empty() && aggregates == 0 {
            return Ok(None);
        }
        if aggregates > MAX_AGGREGATES {
            return Err(invalid(format!("`select` takes at most {MAX_AGGREGATES} aggregates")));
        }
        let mut items = Vec::new();
        for term in &terms {
            items.push(match term.split_once('(') {
                Some(_) => aggregate(term, &known)?,
                None => {
                    let name = known(term)?.name.clone();
                    if !keys.contains(&name) {
                        return Err(invalid(format!(
                            "`{name}` is neither in `group_by` nor aggregated: add it to `group_by`, or select `count({name})`, `min({name})`…"
                        )));
                    }
                    Item::Key(name)
                }
            });
        }
        // `group_by` alone: each group and its rows, as a facet would count them.
        if items.is_empty() {
            items = keys.iter().cloned().map(Item::Key).collect();
            items.push(Item::Agg { func: Func::Count, column: None, alias: "count".into() });
        }
        let names: Vec<&str> = items.iter().map(Item::name).collect();
        if let Some(twice) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)).map(|(_, n)| n) {
            return Err(invalid(format!("`select` names `{twice}` twice; give one an alias with `as`")));
        }
        Ok(Some(Grouping { keys, items }))
    }

    /// The columns the aggregates read.
    pub fn aggregated(&self) -> impl Iterator<Item = &str> {
        self.items.iter().filter_map(|i| match i {
            Item::Agg { column: Some(c), .. } => Some(c.as_str()),
            _ => None,
        })
    }

    /// The output columns and their types.
    pub fn columns(&self, columns: &[Column]) -> Vec<(String, ColumnType)> {
        let kind = |name: &str| columns.iter().find(|c| c.name == name).map_or(ColumnType::String, |c| c.kind);
        self.items
            .iter()
            .map(|item| {
                let t = match item {
                    Item::Key(name) => kind(name),
                    Item::Agg { func: Func::Count, .. } => ColumnType::Integer,
                    Item::Agg { func: Func::Avg, .. } => ColumnType::Float,
                    Item::Agg { column, .. } => kind(column.as_deref().unwrap_or_default()),
                };
                (item.name().to_owned(), t)
            })
            .collect()
    }

    /// The groups of `lf` (already filtered), in `order` (output names, descending flags)
    /// and then by the keys: a total order. Keys named in `coded` (text held as codes) come
    /// out as text, so they sort as text.
    pub fn plan(&self, lf: LazyFrame, order: &[(String, bool)], coded: &[String]) -> LazyFrame {
        let aggs: Vec<Expr> = self.items.iter().filter_map(Item::expr).collect();
        let grouped = if self.keys.is_empty() {
            lf.select(aggs)
        } else {
            let keys: Vec<Expr> = self.keys.iter().map(|k| col(k.as_str())).collect();
            let text: Vec<Expr> = self
                .keys
                .iter()
                .filter(|k| coded.contains(k))
                .map(|k| col(k.as_str()).cast(DataType::String))
                .collect();
            lf.group_by(keys).agg(aggs).with_columns(text)
        };
        self.ordered(grouped, order)
    }

    /// `grouped` (a row per group, every output column) in `order` and then by the keys,
    /// nulls last, with the output columns in the order asked.
    fn ordered(&self, grouped: LazyFrame, order: &[(String, bool)]) -> LazyFrame {
        let mut by: Vec<(String, bool)> = order.to_vec();
        by.extend(self.keys.iter().filter(|k| !order.iter().any(|(o, _)| o == *k)).map(|k| (k.clone(), false)));
        let grouped = if by.is_empty() {
            grouped
        } else {
            let exprs: Vec<Expr> = by.iter().map(|(n, _)| col(n.as_str())).collect();
            let options = SortMultipleOptions::default()
                .with_order_descending_multi(by.iter().map(|(_, d)| *d).collect::<Vec<_>>())
                .with_nulls_last(true);
            grouped.sort_by_exprs(exprs, options)
        };
        grouped.select(self.items.iter().map(|i| col(i.name())).collect::<Vec<_>>())
    }

    /// The groups answered from the catalog's statistics, with no data read, when those hold
    /// them exactly: one text key whose every value is listed with its rows, and only
    /// `count(*)` or `count(key)` items. The caller checks that nothing is filtered.
    pub fn from_statistics(&self, columns: &[Column], rows: u64, order: &[(String, bool)]) -> Option<LazyFrame> {
        let [key] = &self.keys[..] else { return None };
        let stats = &columns.iter().find(|c| &c.name == key).filter(|c| c.kind == ColumnType::String)?.stats;
        if stats.values.is_empty() || stats.values.len() != stats.counts.len() {
            return None;
        }
        // Statistics that do not add up to the table are not trusted with an answer.
        if stats.counts.iter().sum::<u64>().checked_add(stats.null_count) != Some(rows) {
            return None;
        }
        let mut keys: Vec<Option<&str>> = stats.values.iter().map(|v| Some(v.as_str())).collect();
        let mut all: Vec<i64> = stats.counts.iter().map(|&n| i64::try_from(n).ok()).collect::<Option<_>>()?;
        let mut non_null = all.clone();
        if stats.null_count > 0 {
            keys.push(None);
            all.push(i64::try_from(stats.null_count).ok()?);
            non_null.push(0);
        }
        let mut frame = vec![polars::prelude::Column::new(key.into(), keys)];
        for item in &self.items {
            let counts = match item {
                Item::Key(_) => continue,
                Item::Agg { func: Func::Count, column: None, .. } => all.clone(),
                Item::Agg { func: Func::Count, column: Some(c), .. } if c == key => non_null.clone(),
                Item::Agg { .. } => return None,
            };
            frame.push(polars::prelude::Column::new(item.name().into(), counts));
        }
        let groups = DataFrame::new_infer_height(frame).ok()?;
        Some(self.ordered(groups.lazy(), order))
    }
}

/// One `func(arg) [as alias]` term.
fn aggregate<'a>(term: &str, known: &dyn Fn(&str) -> ApiResult<&'a Column>) -> ApiResult<Item> {
    let malformed =
        || invalid(format!("`{term}` is not an aggregate: write e.g. `count(*)`, `sum(col)`, `avg(col) as mean`"));
    let (call, alias) = match split_alias(term) {
        Some((call, alias)) => (call, Some(alias)),
        None => (term, None),
    };
    let (name, rest) = call.split_once('(').ok_or_else(malformed)?;
    let arg = rest.trim().strip_suffix(')').ok_or_else(malformed)?.trim();
    let func = Func::parse(name.trim()).ok_or_else(|| {
        invalid(format!("unknown aggregate `{}`; aggregates are: count, sum, avg, min, max", name.trim()))
    })?;
    let column = match (func, arg) {
        (Func::Count, "*") => None,
        (_, "*") => return Err(invalid(format!("`{}(*)` is not defined; name a column", func.name()))),
        _ => Some(known(arg)?),
    };
    if let Some(c) = column
        && matches!(func, Func::Sum | Func::Avg)
        && !matches!(c.kind, ColumnType::Integer | ColumnType::Float)
    {
        return Err(ApiError::new(
            Code::InvalidValue,
            format!("`{}` adds numbers; `{}` is {}", func.name(), c.name, c.kind),
        ));
    }
    let alias = match alias {
        Some(a) => checked_alias(a)?,
        None => match column {
            None => "count".to_owned(),
            Some(c) => format!("{}_{}", func.name(), c.name),
        },
    };
    Ok(Item::Agg { func, column: column.map(|c| c.name.clone()), alias })
}

/// `call as alias`, with `as` in any case between spaces.
fn split_alias(term: &str) -> Option<(&str, &str)> {
    let close = term.rfind(')')?;
    let (call, rest) = term.split_at(close + 1);
    let rest = rest.trim();
    let alias = rest.strip_prefix("as ").or_else(|| rest.strip_prefix("AS ")).or_else(|| rest.strip_prefix("As "))?;
    Some((call, alias.trim()))
}

fn checked_alias(alias: &str) -> ApiResult<String> {
    let ok = (1..=64).contains(&alias.len())
        && alias.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(alias.to_owned())
    } else {
        Err(invalid(format!(
            "`{alias}` is not an alias: letters, digits and `_`, at most 64, not starting with a digit"
        )))
    }
}

fn invalid(detail: String) -> ApiError {
    ApiError::new(Code::InvalidParameter, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<Column> {
        let c = |name: &str, kind| Column {
            name: name.into(),
            label: name.into(),
            kind,
            description: String::new(),
            stats: Default::default(),
            role: None,
        };
        vec![c("aimag", ColumnType::String), c("year", ColumnType::Integer), c("value", ColumnType::Float)]
    }

    #[test]
    fn parses_items_aliases_and_defaults() {
        let g = Grouping::parse(Some("aimag"), Some("aimag, count(*), sum(value) AS total, avg(value)"), &columns())
            .unwrap()
            .unwrap();
        let names: Vec<&str> = g.items.iter().map(Item::name).collect();
        assert_eq!(names, ["aimag", "count", "total", "avg_value"]);
        let g = Grouping::parse(Some("aimag,year"), None, &columns()).unwrap().unwrap();
        let names: Vec<&str> = g.items.iter().map(Item::name).collect();
        assert_eq!(names, ["aimag", "year", "count"]);
        assert!(Grouping::parse(None, Some("aimag,year"), &columns()).unwrap().is_none());
    }

    #[test]
    fn refuses_what_sql_would() {
        for (group_by, select, code) in [
            (Some("aimag"), "year", Code::InvalidParameter),
            (None, "aimag, count(*)", Code::InvalidParameter),
            (Some("aimag"), "sum(aimag)", Code::InvalidValue),
            (Some("aimag"), "median(value)", Code::InvalidParameter),
            (Some("aimag"), "sum(*)", Code::InvalidParameter),
            (Some("nope"), "count(*)", Code::UnknownColumn),
            (Some("aimag"), "count(*) as 1x", Code::InvalidParameter),
            (Some("aimag"), "count(*), count(value) as count", Code::InvalidParameter),
            (Some("aimag"), "count(value", Code::InvalidParameter),
        ] {
            let err = Grouping::parse(group_by, Some(select), &columns()).unwrap_err();
            assert_eq!(err.code, code, "{select}");
        }
    }
}
