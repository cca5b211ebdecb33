//! Output encodings: a page of rows as JSON, CSV or NDJSON, and whole-table exports streamed
//! from polars' streaming engine through a bounded channel into the HTTP body.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use polars::prelude::*;
use serde_json::{Map, Number, Value};
use tokio::sync::mpsc;

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
        // SQL over a table held in memory answers with categoricals (see `crate::memtable`).
        v @ (AnyValue::String(_)
        | AnyValue::StringOwned(_)
        | AnyValue::Categorical(..)
        | AnyValue::CategoricalOwned(..)) => Value::String(v.get_str().unwrap_or_default().to_owned()),
        AnyValue::Date(days) => Value::String(
            chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163).map(|d| d.to_string()).unwrap_or_default(),
        ),
        AnyValue::Datetime(t, unit, _) => {
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
    let mut defused = defuse_formulas(df.clone().lazy())?.collect()?;
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
/// workbook writer stores text as text.
pub fn defuse_formulas(lf: LazyFrame) -> PolarsResult<LazyFrame> {
    let mut lf = lf;
    let schema = lf.collect_schema()?;
    let defused: Vec<Expr> = schema
        .iter()
        .filter(|(_, dtype)| **dtype == DataType::String)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Parquet,
    Csv,
    Ndjson,
    /// At most [`crate::xlsx::MAX_ROWS`] rows: a sheet holds no more.
    Xlsx,
}

impl ExportFormat {
    pub fn from_file_name(name: &str) -> Option<Self> {
        match name {
            "data.parquet" => Some(Self::Parquet),
            "data.csv" => Some(Self::Csv),
            "data.ndjson" => Some(Self::Ndjson),
            "data.xlsx" => Some(Self::Xlsx),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
            Self::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Parquet => "application/vnd.apache.parquet",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson => "application/x-ndjson",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// A `Write` that hands 256 KiB chunks to an async receiver, blocking when the client reads
/// slower than polars writes: memory stays bounded by the channel's depth. When the client
/// goes away the receiver is dropped, writes fail and polars stops the query.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        // polars may call this from a worker of its own async runtime, where tokio forbids
        // `blocking_send`; the channel itself works under any executor, so block on it
        // directly. Blocking here is the point: it is the backpressure.
        futures::executor::block_on(self.tx.send(Ok(chunk)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client disconnected"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl polars::io::utils::file::WritableTrait for ChannelWriter {
    fn close(&mut self) -> std::io::Result<()> {
        self.send()
    }
    fn sync_all(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn sync_data(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Streams the result of `lf` in `format`, running polars on a blocking thread.
/// Returns the receiving end for the HTTP body.
/// `admission` is held until the export ends, so a long download counts as a running query.
pub fn stream_export(
    lf: LazyFrame,
    format: ExportFormat,
    bom: bool,
    admission: crate::engine::gate::Admission,
) -> mpsc::Receiver<Result<Bytes, std::io::Error>> {
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let _admission = admission;
        let mut writer = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(CHUNK) };
        if bom && format == ExportFormat::Csv {
            writer.buf.extend_from_slice(b"\xEF\xBB\xBF");
        }
        let lf = if format == ExportFormat::Csv { defuse_formulas(lf) } else { Ok(lf) };
        let file_format = match format {
            ExportFormat::Csv => FileWriteFormat::Csv(CsvWriterOptions {
                serialize_options: Arc::new(SerializeOptions {
                    datetime_format: Some(DATETIME_FORMAT.into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ExportFormat::Ndjson => FileWriteFormat::NDJson(NDJsonWriterOptions::default()),
            ExportFormat::Parquet => FileWriteFormat::Parquet(Arc::new(opendata_ingest::parquet_options())),
            ExportFormat::Xlsx => unreachable!("workbooks are written by `stream_xlsx`"),
        };
        let target = polars::io::utils::file::Writable::Dyn(Box::new(writer));
        let target = SinkTarget::Dyn(SpecialEq::new(Arc::new(Mutex::new(Some(target)))));
        let result = lf
            .and_then(|lf| lf.sink(SinkDestination::File { target }, file_format, UnifiedSinkArgs::default()))
            .and_then(|lf| lf.collect_with_engine(Engine::Streaming));
        if let Err(e) = result {
            tracing::warn!(error = %e, "export stopped");
            // Aborts the body, so the client sees a failed transfer rather than a short file.
            let _ = futures::executor::block_on(tx.send(Err(std::io::Error::other("export failed"))));
        }
    });
    rx
}

/// Streams `df` as a workbook; the rows are already in memory (a sheet holds at most
/// [`crate::xlsx::MAX_ROWS`]), the sheet goes through a temporary file.
pub fn stream_xlsx(
    df: DataFrame,
    admission: crate::engine::gate::Admission,
) -> mpsc::Receiver<Result<Bytes, std::io::Error>> {
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let _admission = admission;
        let mut writer = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(CHUNK) };
        let result = crate::xlsx::write(&df, &mut writer)
            .map_err(std::io::Error::other)
            .and_then(|()| std::io::Write::flush(&mut writer));
        if let Err(e) = result {
            tracing::warn!(error = %e, "xlsx export stopped");
            let _ = futures::executor::block_on(tx.send(Err(std::io::Error::other("export failed"))));
        }
    });
    rx
}
