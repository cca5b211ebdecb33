//! Parquet input, re-normalized like any other source: the portal's column names, its types
//! (timestamps in UTC, every integer as 64-bit), text columns inferred again (a producer may
//! have stored numbers as strings), and the portal's Parquet settings and statistics.

use std::path::Path;

use opendata_datasets::ColumnType;
use opendata_datasets::ident::column_names;
use polars::prelude::*;

use crate::csv::{convert, sink_parquet};
use crate::infer::{ColumnGuess, Inferred};
use crate::{Error, Result};

/// A Parquet source's columns as published, with their types and why.
#[derive(Debug)]
pub struct Normalized {
    pub labels: Vec<String>,
    pub names: Vec<String>,
    pub columns: Vec<Inferred>,
    pub rows: u64,
}

/// Rewrites the Parquet file at `src` to `out`.
pub fn normalize(
    src: &Path,
    forced: &dyn Fn(&str) -> Option<ColumnType>,
    markers: &std::sync::Arc<[String]>,
    out: &Path,
) -> Result<Normalized> {
    let scan = || LazyFrame::scan_parquet(PlRefPath::try_from_path(src)?, Default::default());
    let schema = scan()?.collect_schema()?;
    let labels: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let names = column_names(&labels);
    let rows = scan()?.select([len()]).collect()?.column("len")?.get(0)?.extract::<u64>().unwrap_or(0);
    let mut columns = Vec::with_capacity(labels.len());
    let mut exprs = Vec::with_capacity(labels.len());
    for ((label, name), dtype) in labels.iter().zip(&names).zip(schema.iter_values()) {
        let source = col(label.as_str());
        let typed = |kind: ColumnType, reason: String| Inferred { kind, ..Inferred::text(reason) };
        let (inferred, expr) = match dtype {
            DataType::String => {
                let inferred = infer_text(src, label, forced(name), markers)?;
                let expr = convert(label, &inferred);
                (inferred, expr)
            }
            DataType::Boolean => (typed(ColumnType::Boolean, "boolean in the source".into()), source),
            d if d.is_integer() => {
                (typed(ColumnType::Integer, format!("{d} in the source")), source.strict_cast(DataType::Int64))
            }
            d if d.is_float() || d.is_decimal() => {
                (typed(ColumnType::Float, format!("{d} in the source")), source.cast(DataType::Float64))
            }
            DataType::Date => (typed(ColumnType::Date, "date in the source".into()), source),
            DataType::Datetime(_, tz) => {
                let reason = match tz {
                    Some(tz) => format!("timestamp in the source, zone {tz}; stored in UTC"),
                    None => "timestamp in the source".into(),
                };
                // The physical value of a zoned timestamp is already UTC: dropping the zone keeps it.
                (typed(ColumnType::Datetime, reason), source.cast(DataType::Datetime(TimeUnit::Microseconds, None)))
            }
            other => (
                typed(ColumnType::String, format!("{other} in the source, kept as text")),
                source.cast(DataType::String),
            ),
        };
        columns.push(inferred);
        exprs.push(expr.alias(name.as_str()));
    }
    sink_parquet(scan()?.select(exprs), out)?;
    Ok(Normalized { labels, names, columns, rows })
}

/// Infers a text column's type over all its values, as for CSV.
fn infer_text(
    src: &Path,
    label: &str,
    forced: Option<ColumnType>,
    markers: &std::sync::Arc<[String]>,
) -> Result<Inferred> {
    let df =
        LazyFrame::scan_parquet(PlRefPath::try_from_path(src)?, Default::default())?.select([col(label)]).collect()?;
    let values = df.column(label)?.str().map_err(Error::Engine)?.clone();
    let mut guess = forced.map_or_else(ColumnGuess::default, ColumnGuess::forced).with_markers(markers);
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                guess.observe(v, i as u64 + 1);
            }
            None => guess.missing(),
        }
    }
    Ok(guess.finish_labelled(label))
}
