//! Output encodings: a page of rows as JSON, CSV or NDJSON, and whole-table exports written
//! by polars' streaming engine into a writer (a query worker's frames to the server).

use std::sync::{Arc, Mutex};

use polars::prelude::*;
use serde_json::{Map, Number, Value};

/// How dates and datetimes are written in CSV: ISO 8601, as in JSON.
pub(crate) const DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// A page as JSON objects keyed by column name.
pub fn json_rows(df: &DataFrame) -> Vec<Map<String, Value>> {
    let columns = df.columns();
    (0..df.height())
        .map(|i| {
            columns.iter().map(|c| (c.name().to_string(), json_value(c.get(i).unwrap_or(AnyValue::Null)))).collect()
        })
        .collect()
}

fn json_value(v: AnyValue<'_>) -> Value {
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(b),
        AnyValue::Int64(i) => Value::from(i),
        AnyValue::Int32(i) => Value::from(i),
        AnyValue::UInt32(i) => Value::from(i),
        AnyValue::UInt64(i) => Value::from(i),
        AnyValue::Float64(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        AnyValue::Float32(f) => Number::from_f64(f.into()).map_or(Value::Null, Value::Number),
        // SQL over a table held in memory answers with categoricals (see `crate::engine::memtable`).
        v @ (AnyValue::String(_)
        | AnyValue::StringOwned(_)
        | AnyValue::Categorical(..)
        | AnyValue::CategoricalOwned(..)) => Value::String(v.get_str().unwrap_or_default().to_owned()),
        AnyValue::Date(days) => Value::String(
            chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163).map(|d| d.to_string()).unwrap_or_default(),
        ),
        // Owned when the value came out of a row built for a page (a point read).
        AnyValue::Datetime(t, unit, _) | AnyValue::DatetimeOwned(t, unit, _) => {
            let micros = match unit {
                TimeUnit::Nanoseconds => t / 1000,
                TimeUnit::Microseconds => t,
                TimeUnit::Milliseconds => t * 1000,
            };
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|d| Value::String(d.naive_utc().format(DATETIME_FORMAT).to_string()))
                .unwrap_or(Value::Null)
        }
        other => Value::String(other.to_string()),
    }
}

/// A page as CSV with a header row, formulas defused (see [`defuse_formulas`]).
pub fn csv(df: &mut DataFrame, bom: bool) -> PolarsResult<Vec<u8>> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let mut defused = defuse_formulas(df.clone().lazy(), &[])?.collect()?;
    CsvWriter::new(&mut out)
        .include_header(true)
        .with_datetime_format(Some(DATETIME_FORMAT.into()))
        .finish(&mut defused)?;
    Ok(out)
}

/// Text that a spreadsheet would run as a formula (`=HYPERLINK(…)`, `@SUM(…)`, `+1+cmd|…`),
/// with a `'` in front, as OWASP advises for CSV: the cell then shows as the text it is.
/// Numbers written with a sign (`-5`, `+1.5e3`) stay as they are, and so does every
/// non-text column. Applies to text columns of CSV only: JSON has no formulas, and the
/// workbook writer stores text as text. Columns named in `clean` are known, from the ingest,
/// to hold no value that starts so, and are left alone: defusing costs a whole export some
/// seconds per column.
pub fn defuse_formulas(lf: LazyFrame, clean: &[String]) -> PolarsResult<LazyFrame> {
    let mut lf = lf;
    let schema = lf.collect_schema()?;
    let defused: Vec<Expr> = schema
        .iter()
        .filter(|(name, dtype)| **dtype == DataType::String && !clean.iter().any(|c| c == name.as_str()))
        .map(|(name, _)| {
            let c = col(name.clone());
            let starts = c.clone().str().contains(lit(r"^[=@\t\r]"), false);
            let signed = c.clone().str().contains(lit(r"^[+-]"), false);
            let number = c.clone().str().contains(lit(r"^[+-][0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?$"), false);
            let risky = starts.or(signed.and(number.not()));
            when(risky).then(lit("'") + c.clone()).otherwise(c).alias(name.clone())
        })
        .collect();
    Ok(if defused.is_empty() { lf } else { lf.with_columns(defused) })
}

/// A page as newline-delimited JSON.
pub fn ndjson(df: &DataFrame) -> Vec<u8> {
    let mut out = Vec::new();
    for row in json_rows(df) {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, &row);
        out.push(b'\n');
    }
    out
}

/// Whole-table export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExportFormat {
    Parquet,
    Csv,
    Ndjson,
    /// At most [`crate::xlsx::MAX_ROWS`] rows: a sheet holds no more.
    Xlsx,
    /// A `FeatureCollection`, for tables with a geography (see [`crate::geojson`]).
    GeoJson,
}

impl ExportFormat {
    pub fn from_file_name(name: &str) -> Option<Self> {
        match name {
            "data.parquet" => Some(Self::Parquet),
            "data.csv" => Some(Self::Csv),
            "data.ndjson" => Some(Self::Ndjson),
            "data.xlsx" => Some(Self::Xlsx),
            "data.geojson" => Some(Self::GeoJson),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
            Self::Xlsx => "xlsx",
            Self::GeoJson => "geojson",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Parquet => "application/vnd.apache.parquet",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson => "application/x-ndjson",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::GeoJson => "application/geo+json",
        }
    }
}

/// Runs `lf` in the streaming engine into `writer` in `format` (not XLSX, which
/// [`crate::xlsx`] writes), with CSV formulas defused but in the `clean` columns.
pub fn sink(
    lf: LazyFrame,
    format: ExportFormat,
    writer: Box<dyn polars::io::utils::file::WritableTrait + Send>,
    clean: &[String],
) -> PolarsResult<()> {
    let lf = if format == ExportFormat::Csv { defuse_formulas(lf, clean)? } else { lf };
    let file_format = match format {
        ExportFormat::Csv => FileWriteFormat::Csv(CsvWriterOptions {
            serialize_options: Arc::new(SerializeOptions {
                datetime_format: Some(DATETIME_FORMAT.into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        // GeoJSON is NDJSON rows made into features as they stream (crate::geojson).
        ExportFormat::Ndjson | ExportFormat::GeoJson => FileWriteFormat::NDJson(NDJsonWriterOptions::default()),
        ExportFormat::Parquet => FileWriteFormat::Parquet(Arc::new(opendata_ingest::parquet_options())),
        ExportFormat::Xlsx => polars_bail!(InvalidOperation: "workbooks are written by crate::xlsx"),
    };
    let target = polars::io::utils::file::Writable::Dyn(writer);
    let target = SinkTarget::Dyn(SpecialEq::new(Arc::new(Mutex::new(Some(target)))));
    lf.sink(SinkDestination::File { target }, file_format, UnifiedSinkArgs::default())?
        .collect_with_engine(Engine::Streaming)?;
    Ok(())
}
