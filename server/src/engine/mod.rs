//! The query engine: everything that turns a request into polars work over a version's
//! Parquet file, and where that work runs.
//!
//! - [`params`]: the rows API's parameters, validated against a table's columns within the
//!   request limits; [`rows`]: the plan of a page, a count or an export;
//! - [`page_index`]: point reads through a sorted file's page index, with [`bloom`] filters
//!   and the [`lookup`] index for identifiers, their rows handed to polars by
//!   [`arrow_polars`];
//! - [`sql`]: the read-only SQL checker, [`joins`]: the size of its joins before they run,
//!   and [`memtable`]: tables held decoded for SQL;
//! - [`pool`], [`worker`], [`task`], [`wire`]: the query workers, and [`csv_dump`]: the
//!   plain CSV download, written from the file on every core;
//! - [`gate`]: admission, so that a burst of queries waits instead of exhausting the server.
//!
//! [`Engine`] is what the HTTP handlers call. Point reads through a page index are bounded
//! by construction (a few pages of a sorted file) and run in the server's process; every
//! other query (a scan, SQL, a chart, an export) runs in a worker process, which the server
//! kills when the query passes its time or memory limit or loses its client.

pub mod aggregate;
pub mod arrow_polars;
pub mod bloom;
pub mod changes;
pub mod csv_dump;
pub mod gate;
pub mod joins;
pub mod lookup;
pub mod memtable;
pub mod page_index;
pub mod params;
pub mod pool;
pub mod rows;
pub mod sql;
pub mod task;
pub mod wire;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use self::gate::QueryGate;
use self::params::{After, RowsRequest};
use self::pool::{Pool, Running};
use self::task::{
    ChangesTask, ChartTask, ExportHead, ExportTask, PageEncoding, PageHead, PageTask, SqlHead, SqlTask, TableFile,
    Task, TaskError,
};
use self::wire::Tag;
use crate::chart::Chart;
use crate::child::WorkerCommand;
use crate::config::Limits;
use crate::error::{ApiError, ApiResult};

/// The query engine of one server.
#[derive(Debug)]
pub struct Engine {
    pool: Pool,
    /// Point reads in the server's process: bounded each, but not in number.
    points: QueryGate,
    limits: Limits,
}

/// A page of rows.
#[derive(Debug)]
pub struct PageOut {
    pub total: Option<u64>,
    pub after: Option<After>,
    pub body: PageBody,
}

/// A page's rows, as the caller asked for them.
#[derive(Debug)]
pub enum PageBody {
    Values(Vec<Map<String, Value>>),
    Bytes(Vec<u8>),
}

impl PageBody {
    /// The rows of a page asked for as [`PageEncoding::Values`]; none of an encoded one.
    pub fn into_rows(self) -> Vec<Map<String, Value>> {
        match self {
            PageBody::Values(rows) => rows,
            PageBody::Bytes(_) => Vec::new(),
        }
    }
}

/// An export's head, and its body as it comes.
pub type Export = (ExportHead, ExportBody);

/// An export's body: its chunks as the worker writes them, then its end, or an error if it
/// was stopped before the end, so that a cut download never passes for a whole file.
#[derive(Debug)]
pub struct ExportBody {
    chunks: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    complete: Arc<AtomicBool>,
    ended: bool,
}

impl futures::Stream for ExportBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.ended {
            return std::task::Poll::Ready(None);
        }
        match self.chunks.poll_recv(cx) {
            std::task::Poll::Ready(None) => {
                self.ended = true;
                if self.complete.load(Ordering::Acquire) {
                    std::task::Poll::Ready(None)
                } else {
                    std::task::Poll::Ready(Some(Err(std::io::Error::other("the export was stopped"))))
                }
            }
            other => other,
        }
    }
}

impl Engine {
    pub fn new(limits: &Limits, command: WorkerCommand) -> Self {
        let points = QueryGate::new(
            limits.max_running_point_reads,
            limits.max_queued_queries,
            Duration::from_secs(limits.queue_timeout_secs),
        );
        Engine { pool: Pool::new(limits, command), points, limits: limits.clone() }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// One page of `req` over `table`: through the page index in this process when it can
    /// narrow the read, otherwise in a worker.
    pub async fn page(
        &self,
        table: TableFile,
        raw: &str,
        req: &RowsRequest,
        encoding: PageEncoding,
    ) -> ApiResult<PageOut> {
        // A count of each value of a listed column is in the catalog already.
        let counted = req.grouping.as_ref().filter(|_| req.filters.is_empty());
        if let Some(groups) = counted.and_then(|g| g.from_statistics(&table.columns, table.row_count, &req.order)) {
            let page = rows::page_of_groups(groups.collect()?, req);
            let total = if req.total { page.matched } else { None };
            return Ok(PageOut { total, after: page.after, body: encoded(page.rows, encoding)? });
        }
        let admission = self.points.enter().await?;
        let (path, point_req) = (table.path.clone(), req.clone());
        let point = tokio::task::spawn_blocking(move || {
            let _admission = admission;
            rows::point_page(&path, &point_req)
        })
        .await
        .map_err(ApiError::internal)?;
        if let Some(page) = point {
            let page = page?;
            let total = match (req.total, req.filters.is_empty()) {
                (false, _) => None,
                (true, true) => Some(table.row_count),
                (true, false) => page.matched,
            };
            return Ok(PageOut { total, after: page.after, body: encoded(page.rows, encoding)? });
        }
        let task = Task::Page(PageTask { table, raw: raw.to_owned(), limits: self.limits.clone(), encoding });
        let (head, body) = self.bounded(task).await?;
        let head: PageHead = wire::json(&head).map_err(ApiError::internal)?;
        let body = match encoding {
            PageEncoding::Values => PageBody::Values(serde_json::from_slice(&body).map_err(ApiError::internal)?),
            _ => PageBody::Bytes(body),
        };
        Ok(PageOut { total: head.total, after: head.after, body })
    }

    /// The rows added and removed between two versions, encoded.
    pub async fn changes(&self, task: ChangesTask) -> ApiResult<Vec<u8>> {
        Ok(self.bounded(Task::Changes(task)).await?.1)
    }

    /// A SQL query's head (columns, truncation) and body.
    pub async fn sql(&self, task: SqlTask) -> ApiResult<(SqlHead, Vec<u8>)> {
        let (head, body) = self.bounded(Task::Sql(task)).await?;
        Ok((wire::json(&head).map_err(ApiError::internal)?, body))
    }

    pub async fn chart(&self, task: ChartTask) -> ApiResult<Chart> {
        let (head, _) = self.bounded(Task::Chart(task)).await?;
        wire::json(&head).map_err(ApiError::internal)
    }

    /// Starts an export: its head once the worker has it (within the query time limit),
    /// then its body as the client reads it. A client that stops reading for
    /// `limits.export_stall_secs`, or a download past `limits.export_timeout_secs`, loses
    /// it, and the worker is killed.
    pub async fn export(&self, task: ExportTask) -> ApiResult<Export> {
        let mut run = self.pool.checkout(&[]).await?;
        run.send(&Task::Export(task)).await?;
        let limits = &self.limits;
        let first = Instant::now() + Duration::from_secs(limits.query_timeout_secs);
        let (tag, payload) = run.next(first).await.map_err(|s| s.into_error(limits))?;
        let head: ExportHead = match tag {
            Tag::Head => wire::json(&payload).map_err(ApiError::internal)?,
            Tag::Error => {
                let error: TaskError = wire::json(&payload).map_err(ApiError::internal)?;
                run.release();
                return Err(error.into());
            }
            other => return Err(ApiError::internal(format!("a worker began an export with {other:?}"))),
        };
        let (tx, chunks) = mpsc::channel(2);
        let complete = Arc::new(AtomicBool::new(false));
        let end = Instant::now() + Duration::from_secs(limits.export_timeout_secs);
        let stall = Duration::from_secs(limits.export_stall_secs);
        tokio::spawn(stream(run, tx, complete.clone(), end, stall));
        Ok((head, ExportBody { chunks, complete, ended: false }))
    }

    /// Runs a task whose answer is small enough to hold (within `limits.max_response_mb`,
    /// which the worker checks): its head and body.
    async fn bounded(&self, task: Task) -> ApiResult<(Vec<u8>, Vec<u8>)> {
        let mut run = self.pool.checkout(&task.files()).await?;
        run.send(&task).await?;
        let deadline = Instant::now() + Duration::from_secs(self.limits.query_timeout_secs);
        let (mut head, mut body) = (Vec::new(), Vec::new());
        loop {
            let (tag, payload) = run.next(deadline).await.map_err(|s| s.into_error(&self.limits))?;
            match tag {
                Tag::Head => head = payload,
                Tag::Body => body.extend_from_slice(&payload),
                Tag::Done => {
                    run.release();
                    return Ok((head, body));
                }
                Tag::Error => {
                    run.release();
                    let error: TaskError = wire::json(&payload).map_err(ApiError::internal)?;
                    return Err(error.into());
                }
                other => return Err(ApiError::internal(format!("unexpected {other:?} from a worker"))),
            }
        }
    }

    /// The tables held by idle workers.
    pub fn held(&self) -> Vec<PathBuf> {
        self.pool.held()
    }
}

/// Hands an export's chunks to the HTTP body as the client takes them. Returning early
/// drops `run`, which kills the worker.
async fn stream(
    mut run: Running,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    complete: Arc<AtomicBool>,
    end: Instant,
    stall: Duration,
) {
    loop {
        let frame = match run.next(end).await {
            Ok(frame) => frame,
            Err(stop) => {
                tracing::warn!(?stop, "export stopped");
                return;
            }
        };
        match frame {
            (Tag::Body, chunk) => match tokio::time::timeout(stall, tx.send(Ok(Bytes::from(chunk)))).await {
                Ok(Ok(())) => {}
                // Gone, or not reading: the worker is killed as `run` drops.
                Ok(Err(_)) => return,
                Err(_) => {
                    tracing::info!("an export's client stopped reading; stopping it");
                    return;
                }
            },
            (Tag::Done, _) => {
                complete.store(true, Ordering::Release);
                run.release();
                return;
            }
            (Tag::Error, payload) => {
                let detail = wire::json::<TaskError>(&payload).map(|e| e.detail).unwrap_or_default();
                tracing::warn!(%detail, "export failed");
                run.release();
                return;
            }
            _ => return,
        }
    }
}

/// A page encoded in this process, as a worker would encode it.
fn encoded(mut df: polars::prelude::DataFrame, encoding: PageEncoding) -> ApiResult<PageBody> {
    Ok(match encoding {
        PageEncoding::Values => PageBody::Values(crate::encode::json_rows(&df)),
        PageEncoding::Ndjson => PageBody::Bytes(crate::encode::ndjson(&df)),
        PageEncoding::Csv { bom } => PageBody::Bytes(crate::encode::csv(&mut df, bom)?),
    })
}
