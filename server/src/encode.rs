//! Output encodings: a page of rows as JSON, CSV or NDJSON, and whole-table exports written
//! by polars' streaming engine into a writer (a query worker's frames to the server).

use std::sync::{Arc, Mutex};

use polars::prelude::*;
use serde_json::{Map, Number, Value};

/// How dates and datetimes are written in CSV: ISO 8601, as in JSON.
const DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f";

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
    let mut defused = datetimes_as_text(defuse_formulas(df.clone().lazy(), &[])?)?.collect()?;
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

/// Datetimes without a time zone as the text [`DATETIME_FORMAT`] makes of them, written
/// digit by digit: polars' CSV writer formats each value through chrono's format items,
/// which cost a full export about a tenth of its time. Years outside 0 to 9999 go through
/// chrono, as does every datetime with a zone.
fn datetimes_as_text(mut lf: LazyFrame) -> PolarsResult<LazyFrame> {
    let schema = lf.collect_schema()?;
    let texts: Vec<Expr> = schema
        .iter()
        .filter_map(|(name, dtype)| match dtype {
            DataType::Datetime(unit, None) => {
                let unit = *unit;
                let field = |_: &Schema, f: &Field| Ok(Field::new(f.name().clone(), DataType::String));
                Some(col(name.clone()).map(move |c| datetime_texts(&c, unit), field).alias(name.clone()))
            }
            _ => None,
        })
        .collect();
    Ok(if texts.is_empty() { lf } else { lf.with_columns(texts) })
}

fn datetime_texts(c: &Column, unit: TimeUnit) -> PolarsResult<Column> {
    let values = c.datetime()?.physical();
    let mut out = StringChunkedBuilder::new(c.name().clone(), values.len());
    let mut buf = [0u8; 32];
    for v in values.iter() {
        match v.map(|t| (t, datetime_text(t, unit, &mut buf))) {
            None => out.append_null(),
            Some((_, Some(n))) => out.append_value(std::str::from_utf8(&buf[..n]).unwrap_or_default()),
            Some((t, None)) => {
                let per_second = match unit {
                    TimeUnit::Nanoseconds => 1_000_000_000,
                    TimeUnit::Microseconds => 1_000_000,
                    TimeUnit::Milliseconds => 1_000,
                };
                let nanos = (t.rem_euclid(per_second) * (1_000_000_000 / per_second)) as u32;
                match chrono::DateTime::from_timestamp(t.div_euclid(per_second), nanos) {
                    Some(d) => out.append_value(d.naive_utc().format(DATETIME_FORMAT).to_string()),
                    None => out.append_null(),
                }
            }
        }
    }
    Ok(out.finish().into_column())
}

/// Writes `t` (since the epoch, in `unit`) into `out` as [`DATETIME_FORMAT`] does: the
/// fraction only when there is one, in 3, 6 or 9 digits. Returns the length, or none for a
/// year outside 0 to 9999.
fn datetime_text(t: i64, unit: TimeUnit, out: &mut [u8; 32]) -> Option<usize> {
    let (per_second, nanos_per_unit) = match unit {
        TimeUnit::Nanoseconds => (1_000_000_000, 1),
        TimeUnit::Microseconds => (1_000_000, 1_000),
        TimeUnit::Milliseconds => (1_000, 1_000_000),
    };
    let (seconds, nanos) = (t.div_euclid(per_second), t.rem_euclid(per_second) * nanos_per_unit);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil: the proleptic Gregorian calendar in 400-year eras.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut len = 0;
    let mut put = |separator: Option<u8>, value: i64, digits: u32| {
        if let Some(separator) = separator {
            out[len] = separator;
            len += 1;
        }
        for i in (0..digits).rev() {
            out[len] = b'0' + ((value / 10i64.pow(i)) % 10) as u8;
            len += 1;
        }
    };
    put(None, year, 4);
    put(Some(b'-'), month, 2);
    put(Some(b'-'), day, 2);
    put(Some(b'T'), of_day / 3_600, 2);
    put(Some(b':'), of_day / 60 % 60, 2);
    put(Some(b':'), of_day % 60, 2);
    match nanos {
        0 => {}
        n if n % 1_000_000 == 0 => put(Some(b'.'), n / 1_000_000, 3),
        n if n % 1_000 == 0 => put(Some(b'.'), n / 1_000, 6),
        n => put(Some(b'.'), n, 9),
    }
    Some(len)
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
    let lf = if format == ExportFormat::Csv { datetimes_as_text(defuse_formulas(lf, clean)?)? } else { lf };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-by-digit datetimes are chrono's, for every unit, before the epoch and after,
    /// with and without fractions; years beyond 9999 are left to chrono.
    #[test]
    fn datetimes_are_written_as_chrono_writes_them() {
        let mut buf = [0u8; 32];
        let mut t: i64 = -62_167_132_800_000_000; // 0000-01-02, in microseconds
        let step = 9_876_543_210_987; // about 114 days, with every digit of a fraction
        let mut seen = 0;
        while t < 253_402_300_800_000_000 {
            for (unit, value) in
                [(TimeUnit::Microseconds, t), (TimeUnit::Milliseconds, t / 1_000), (TimeUnit::Nanoseconds, t / 7)]
            {
                for value in [value, value - value.rem_euclid(1_000_000), value - value.rem_euclid(1_000)] {
                    let n = datetime_text(value, unit, &mut buf).unwrap_or_else(|| panic!("{value} {unit:?}"));
                    let per_second = match unit {
                        TimeUnit::Nanoseconds => 1_000_000_000,
                        TimeUnit::Microseconds => 1_000_000,
                        TimeUnit::Milliseconds => 1_000,
                    };
                    let nanos = (value.rem_euclid(per_second) * (1_000_000_000 / per_second)) as u32;
                    let want = chrono::DateTime::from_timestamp(value.div_euclid(per_second), nanos).unwrap();
                    assert_eq!(
                        std::str::from_utf8(&buf[..n]).unwrap(),
                        want.naive_utc().format(DATETIME_FORMAT).to_string()
                    );
                    seen += 1;
                }
            }
            t += step;
        }
        assert!(seen > 50_000, "{seen}");
        assert_eq!(datetime_text(253_402_300_800_000_000, TimeUnit::Microseconds, &mut buf), None, "year 10000");
        let c = Column::new("t".into(), [Some(253_402_300_800_000_000i64), None, Some(0)])
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .unwrap();
        let texts = datetime_texts(&c, TimeUnit::Microseconds).unwrap();
        let texts: Vec<Option<&str>> = texts.str().unwrap().iter().collect();
        assert_eq!(texts, [Some("+10000-01-01T00:00:00"), None, Some("1970-01-01T00:00:00")]);
    }
}
