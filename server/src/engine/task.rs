//! The work a query worker does, as the server sends it: a page that needs a scan, a SQL
//! query, a chart, an export. Each task is checked and resolved against the catalog by the
//! server before it is sent; the worker re-reads its parameters from the same text, plans
//! it, runs it, and encodes the answer, so that the whole cost of a query, its result's
//! encoding included, is spent inside the worker's limits.

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use opendata_datasets::Column;
use polars::prelude::*;
use polars::sql::SQLContext;
use serde::{Deserialize, Serialize};

use super::csv_dump::CsvDump;
use super::memtable::{Load, TableCache};
use super::params::{After, RawParams, RowsFormat, RowsRequest};
use super::wire::{self, BodyWriter, Tag};
use super::{rows, sql};
use crate::api::model::RowsColumn;
use crate::chart::{Chart, ChartSpec};
use crate::config::Limits;
use crate::encode::{self, ExportFormat};
use crate::error::{ApiError, ApiResult, Code};
use crate::geojson::FeatureWriter;
use opendata_datasets::geo::Geography;

/// What the server sends a worker.
#[derive(Debug, Serialize, Deserialize)]
pub enum Task {
    /// Sent once, first: the worker's budgets, for its tables held and for one query.
    Init {
        table_cache_mb: u64,
        memory_mb: u64,
    },
    Page(PageTask),
    Sql(SqlTask),
    Chart(ChartTask),
    Export(ExportTask),
    Changes(ChangesTask),
}

impl Task {
    /// The files the task reads, for routing it to a worker that holds them.
    pub fn files(&self) -> Vec<PathBuf> {
        match self {
            Task::Sql(t) => t.tables.iter().map(|t| t.load.path().to_owned()).collect(),
            // Grouping reads the whole table, as SQL does: where it is held.
            Task::Page(t) if t.grouped() => vec![t.table.path.clone()],
            _ => Vec::new(),
        }
    }
}

/// A table version a task reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableFile {
    pub path: PathBuf,
    pub version: u32,
    pub columns: Vec<Column>,
    pub row_count: u64,
}

impl TableFile {
    /// The rows request in `raw` (the rows API's query string), as the server validated it.
    fn request(&self, raw: &str, limits: &Limits) -> ApiResult<RowsRequest> {
        let params = RawParams::parse(Some(raw));
        let (_, cursor) = params.version()?;
        params.resolve(&self.columns, cursor, limits)
    }
}

/// A page that the page index cannot narrow.
#[derive(Debug, Serialize, Deserialize)]
pub struct PageTask {
    pub table: TableFile,
    pub raw: String,
    pub limits: Limits,
    pub encoding: PageEncoding,
}

impl PageTask {
    fn grouped(&self) -> bool {
        self.table.request(&self.raw, &self.limits).is_ok_and(|r| r.grouping.is_some())
    }
}

/// How a page comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageEncoding {
    /// A JSON array of row objects.
    Values,
    Csv {
        bom: bool,
    },
    Ndjson,
}

/// A page's metadata, sent before its rows.
#[derive(Debug, Serialize, Deserialize)]
pub struct PageHead {
    pub total: Option<u64>,
    pub after: Option<After>,
}

/// One SQL query over catalog tables.
#[derive(Debug, Serialize, Deserialize)]
pub struct SqlTask {
    pub q: String,
    pub tables: Vec<SqlTable>,
    pub limits: Limits,
    pub encoding: SqlEncoding,
    /// Scrubbed from engine messages: a client never learns where the files are.
    pub data_dir: String,
}

/// A table a query names: as it names it, and what to hold of it.
#[derive(Debug, Serialize, Deserialize)]
pub struct SqlTable {
    pub name: String,
    pub load: Load,
    pub columns: Vec<String>,
}

/// How a query's result comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SqlEncoding {
    /// The API's answer in this format.
    Body(RowsFormat),
    /// A JSON array of row objects, for CKAN's `datastore_search_sql`.
    Records,
}

/// A query's metadata, sent before its rows.
#[derive(Debug, Serialize, Deserialize)]
pub struct SqlHead {
    pub columns: Vec<RowsColumn>,
    pub truncated: bool,
}

/// A chart of a table's filtered rows.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChartTask {
    pub table: TableFile,
    pub raw: String,
    pub limits: Limits,
    pub spec: Vec<(String, String)>,
}

/// A whole table version, filtered, as a download.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExportTask {
    pub table: TableFile,
    pub raw: String,
    pub limits: Limits,
    pub format: ExportFormat,
}

/// The rows added and removed between two versions of a table.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChangesTask {
    pub before: PathBuf,
    pub after: PathBuf,
    pub limits: Limits,
    /// CSV or NDJSON.
    pub encoding: PageEncoding,
}

/// An export's metadata, sent before its body.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ExportHead {
    /// A workbook stopped at the rows a sheet holds.
    pub truncated: bool,
}

/// Why a task failed, as the worker reports it.
#[derive(Debug, Serialize, Deserialize)]
pub struct TaskError {
    pub code: String,
    pub detail: String,
}

impl From<ApiError> for TaskError {
    fn from(e: ApiError) -> Self {
        if let Some(cause) = &e.internal {
            tracing::error!(code = e.code.as_str(), %cause, "task failed");
        }
        TaskError { code: e.code.as_str().to_owned(), detail: e.detail }
    }
}

impl From<TaskError> for ApiError {
    fn from(e: TaskError) -> Self {
        let code = Code::ALL.iter().copied().find(|c| c.as_str() == e.code).unwrap_or(Code::Internal);
        ApiError::new(code, e.detail)
    }
}

/// Runs `task`, writing its frames to `out`. Returns the tables to hold once the answer is
/// sent. An error after the head was sent (an export that breaks) is sent as it happens.
pub fn run(task: Task, cache: &TableCache, out: &mut UnixStream) -> std::io::Result<Vec<Load>> {
    let result = match task {
        Task::Init { .. } => Ok(Vec::new()),
        Task::Page(t) => page(t, cache, out),
        Task::Sql(t) => query(t, cache, out),
        Task::Chart(t) => chart(t, out).map(|()| Vec::new()),
        Task::Export(t) => export(t, out).map(|()| Vec::new()),
        Task::Changes(t) => changes(t, out).map(|()| Vec::new()),
    };
    match result {
        Ok(loads) => {
            wire::write(out, Tag::Done, &[])?;
            Ok(loads)
        }
        Err(e) => {
            wire::write_json(out, Tag::Error, &TaskError::from(e))?;
            Ok(Vec::new())
        }
    }
}

fn too_large(limits: &Limits) -> ApiError {
    ApiError::new(
        Code::ResultTooLarge,
        format!(
            "the answer is larger than {} MB (limits.max_response_mb); select fewer columns or rows, or \
             download the table",
            limits.max_response_mb
        ),
    )
}

/// Encodes a bounded answer in memory first, so that a head is sent only for an answer
/// that will be whole.
fn bounded(limits: &Limits, encode: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> ApiResult<Vec<u8>> {
    let limit = limits.max_response_mb.saturating_mul(1024 * 1024);
    let mut body = Limited { buf: Vec::new(), limit, overflowed: false };
    match encode(&mut body) {
        Ok(()) => Ok(body.buf),
        // Encoders wrap the writer's error in their own: the flag says what happened.
        Err(_) if body.overflowed => Err(too_large(limits)),
        Err(e) => Err(ApiError::internal(e)),
    }
}

struct Limited {
    buf: Vec<u8>,
    limit: u64,
    overflowed: bool,
}

impl Write for Limited {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if (self.buf.len() + data.len()) as u64 > self.limit {
            self.overflowed = true;
            return Err(std::io::Error::new(std::io::ErrorKind::FileTooLarge, wire::TOO_LARGE));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn send(out: &mut UnixStream, head: &impl Serialize, body: &[u8]) -> ApiResult<()> {
    wire::write_json(out, Tag::Head, head).map_err(ApiError::internal)?;
    let mut w = BodyWriter::new(out, None);
    w.write_all(body).and_then(|()| w.flush()).map_err(ApiError::internal)
}

fn changes(t: ChangesTask, out: &mut UnixStream) -> ApiResult<()> {
    let mut df = super::changes::between(&t.before, &t.after)?;
    let body = bounded(&t.limits, |w| match t.encoding {
        PageEncoding::Csv { bom } => w.write_all(&encode::csv(&mut df, bom).map_err(std::io::Error::other)?),
        _ => w.write_all(&encode::ndjson(&df)),
    })?;
    send(out, &(), &body)
}

/// A page, from the table held in memory when a grouping reads it all; a grouping of a
/// table not held asks for it to be held, as SQL does.
fn page(t: PageTask, cache: &TableCache, out: &mut UnixStream) -> ApiResult<Vec<Load>> {
    let req = t.table.request(&t.raw, &t.limits)?;
    let (page, loads) = match (&req.grouping, cache.get(&t.table.path)) {
        (Some(_), Some(held)) => (rows::grouped_page_of(held.lazy(), &req)?, Vec::new()),
        (Some(_), None) => {
            let load = Load::of(t.table.path.clone(), &t.table.columns, t.table.row_count);
            (rows::scan_page(&t.table.path, &req)?, vec![load])
        }
        (None, _) => (rows::scan_page(&t.table.path, &req)?, Vec::new()),
    };
    let total = match (req.total, req.filters.is_empty() && req.grouping.is_none()) {
        (false, _) => None,
        (true, true) => Some(t.table.row_count),
        (true, false) => page.matched,
    };
    let mut df = page.rows;
    let body = bounded(&t.limits, |w| match t.encoding {
        PageEncoding::Values => serde_json::to_writer(w, &encode::json_rows(&df)).map_err(std::io::Error::other),
        PageEncoding::Ndjson => w.write_all(&encode::ndjson(&df)),
        PageEncoding::Csv { bom } => w.write_all(&encode::csv(&mut df, bom).map_err(std::io::Error::other)?),
    })?;
    send(out, &PageHead { total, after: page.after }, &body)?;
    Ok(loads)
}

fn query(t: SqlTask, cache: &TableCache, out: &mut UnixStream) -> ApiResult<Vec<Load>> {
    let sql::Checked { uses, .. } = sql::check(&t.q, &t.limits.sql_bounds())?;
    let columns: HashSet<&str> = t.tables.iter().flat_map(|t| t.columns.iter().map(String::as_str)).collect();
    let codes = uses.allow_codes(&columns);
    let held: Vec<Option<DataFrame>> =
        t.tables.iter().map(|table| if codes { cache.get(table.load.path()) } else { None }).collect();
    // polars' messages are about the query, but never show where the files are.
    let refuse = |e: PolarsError| ApiError::new(Code::InvalidSql, e.to_string().replace(&t.data_dir, "…"));
    let max_rows = t.limits.max_rows;
    let run = |use_held: bool| -> ApiResult<DataFrame> {
        let mut ctx = SQLContext::new();
        for (table, frame) in t.tables.iter().zip(&held) {
            let lf = match frame {
                Some(frame) if use_held => as_text_where_needed(frame, &uses),
                _ => rows::scan(table.load.path()).map_err(refuse)?,
            };
            ctx.register(&table.name, lf);
        }
        ctx.execute(&t.q).and_then(|lf| lf.limit(max_rows as IdxSize + 1).collect()).map_err(refuse)
    };
    let any_held = held.iter().any(Option::is_some);
    let df = match run(any_held) {
        // Categoricals of different tables do not compare or combine; the files' text does.
        Err(e) if any_held && e.code == Code::InvalidSql => run(false)?,
        result => result?,
    };
    let truncated = df.height() > max_rows;
    let mut df = df.head(Some(max_rows));
    let columns: Vec<RowsColumn> = df
        .columns()
        .iter()
        .map(|c| RowsColumn { name: c.name().to_string(), kind: portal_type(c.dtype()).into() })
        .collect();
    let body = bounded(&t.limits, |w| match t.encoding {
        SqlEncoding::Records => serde_json::to_writer(w, &encode::json_rows(&df)).map_err(std::io::Error::other),
        SqlEncoding::Body(RowsFormat::Json) => serde_json::to_writer(
            w,
            &crate::api::sql::SqlResponse { columns: columns.clone(), rows: encode::json_rows(&df), truncated },
        )
        .map_err(std::io::Error::other),
        SqlEncoding::Body(RowsFormat::Csv) => w.write_all(&encode::csv(&mut df, false).map_err(std::io::Error::other)?),
        SqlEncoding::Body(RowsFormat::Ndjson) => w.write_all(&encode::ndjson(&df)),
    })?;
    send(out, &SqlHead { columns, truncated }, &body)?;
    // The tables are held for the next query, once this one is answered.
    Ok(t.tables.into_iter().map(|t| t.load).collect())
}

/// A held table as `uses` may see it: its categoricals that the query needs as text, cast.
fn as_text_where_needed(frame: &DataFrame, uses: &sql::Uses) -> LazyFrame {
    let casts: Vec<Expr> = frame
        .columns()
        .iter()
        .filter(|c| c.dtype().is_categorical() && uses.needs_text(c.name()))
        .map(|c| col(c.name().clone()).cast(DataType::String))
        .collect();
    frame.clone().lazy().with_columns(casts)
}

/// The portal's name for a result column's type.
pub fn portal_type(dtype: &DataType) -> &'static str {
    match dtype {
        d if d.is_integer() => "integer",
        d if d.is_float() => "float",
        DataType::Boolean => "boolean",
        DataType::Date => "date",
        DataType::Datetime(..) => "datetime",
        _ => "string",
    }
}

fn chart(t: ChartTask, out: &mut UnixStream) -> ApiResult<()> {
    let req = t.table.request(&t.raw, &t.limits)?;
    let Some(spec) = ChartSpec::parse(&t.spec, &t.table.columns)? else {
        return Err(ApiError::new(Code::InvalidParameter, "no chart was asked for"));
    };
    let df = spec.plan(rows::scan(&t.table.path)?, req.predicate()).collect()?;
    let chart = Chart::from_frame(&df, &spec)?;
    send(out, &chart, &[])
}

fn export(t: ExportTask, out: &mut UnixStream) -> ApiResult<()> {
    let mut req = t.table.request(&t.raw, &t.limits)?;
    let geography = match t.format {
        ExportFormat::GeoJson => Some(geojson_request(&t, &mut req)?),
        _ => None,
    };
    let mut plan = req.plan(rows::scan(&t.table.path)?);
    // A map asks for at most `limit` features; other downloads are whole.
    if geography.is_some() && form_urlencoded::parse(t.raw.as_bytes()).any(|(k, _)| k == "limit") {
        plan = plan.slice(0, req.limit as IdxSize);
    }
    if t.format == ExportFormat::Xlsx {
        // One row past the limit tells whether the sheet is cut short.
        let limit = crate::xlsx::MAX_ROWS;
        let df = plan.slice(0, limit as IdxSize + 1).collect()?;
        let head = ExportHead { truncated: df.height() > limit };
        wire::write_json(out, Tag::Head, &head).map_err(ApiError::internal)?;
        let mut body = BodyWriter::new(out, None);
        crate::xlsx::write(&df.slice(0, limit), &mut body).map_err(ApiError::internal)?;
        return body.flush().map_err(ApiError::internal);
    }
    wire::write_json(out, Tag::Head, &ExportHead::default()).map_err(ApiError::internal)?;
    let sock = out.try_clone().map_err(ApiError::internal)?;
    let mut writer = FrameWriter { sock, buf: Vec::with_capacity(wire::CHUNK) };
    if req.bom && t.format == ExportFormat::Csv {
        writer.buf.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let clean: Vec<String> =
        t.table.columns.iter().filter(|c| c.stats.formula_like == Some(false)).map(|c| c.name.clone()).collect();
    if let Some(geography) = geography {
        let features = FeatureWriter::new(writer, geography).map_err(ApiError::internal)?;
        encode::sink(plan, t.format, Box::new(features), &clean)?;
        return Ok(());
    }
    if t.format == ExportFormat::Csv
        && req.whole()
        && let Some(dump) = CsvDump::open(&t.table.path, &req.select, &clean)
    {
        dump.write(&mut writer).map_err(ApiError::internal)?;
        return writer.send().map_err(ApiError::internal);
    }
    encode::sink(plan, t.format, Box::new(writer), &clean)?;
    Ok(())
}

/// The table's geography, and `req` made to carry its place columns whatever `select` says.
fn geojson_request(t: &ExportTask, req: &mut RowsRequest) -> ApiResult<Geography> {
    let Some(geography) = Geography::of(&t.table.columns) else {
        return Err(ApiError::new(Code::RouteNotFound, "this table has no geography: no data.geojson"));
    };
    if req.grouping.is_some() {
        return Err(ApiError::new(Code::InvalidParameter, "groups have no place: `group_by` has no data.geojson"));
    }
    for place in geography.place_columns() {
        if !req.select.iter().any(|s| s == place) && t.table.columns.iter().any(|c| c.name == place) {
            req.select.push(place.to_owned());
        }
    }
    Ok(geography)
}

/// The engine's sink writes here: [`Tag::Body`] frames straight to the server, which reads
/// them as fast as its client does, so the engine waits for a slow client and memory stays
/// bounded.
struct FrameWriter {
    sock: UnixStream,
    buf: Vec<u8>,
}

impl FrameWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            wire::write(&mut self.sock, Tag::Body, &self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl Write for FrameWriter {
    /// Takes what fits in the current frame, so that no frame is larger than [`wire::CHUNK`].
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        // A whole frame's worth goes out as it is, without a copy through the buffer.
        if self.buf.is_empty() && data.len() >= wire::CHUNK {
            wire::write(&mut self.sock, Tag::Body, &data[..wire::CHUNK])?;
            return Ok(wire::CHUNK);
        }
        let n = data.len().min(wire::CHUNK.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= wire::CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// A feature collection ends when the engine closes its sink.
impl polars::io::utils::file::WritableTrait for FeatureWriter<FrameWriter> {
    fn close(&mut self) -> std::io::Result<()> {
        self.finish()
    }
    fn sync_all(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn sync_data(&self) -> std::io::Result<()> {
        Ok(())
    }
}

impl polars::io::utils::file::WritableTrait for FrameWriter {
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
