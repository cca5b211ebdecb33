//! The server's side of the query workers: a pool of child processes, one query each at a
//! time, that the server can stop for good.
//!
//! polars cannot be interrupted in the middle of an operator, and a process cannot attribute
//! its own memory to one of several queries. A worker process solves both: its resident
//! memory is its held tables and one query's, and killing it stops that query at once. So
//! a query that runs past `limits.query_timeout_secs`, whose worker's heap grows past
//! `limits.max_query_memory_mb` (polled every 10 ms), or whose client goes away, has its
//! worker killed, and its admission slot is given back only once the worker is reaped: the
//! slots count what really runs. A new worker takes its place on the next query.
//!
//! Workers are started on demand, up to `limits.max_running_queries`, and kept. A query
//! that reads tables goes to an idle worker that holds most of them (see [`super::memtable`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::gate::{Admission, QueryGate};
use super::task::Task;
use super::wire::{self, Tag};
use super::worker::Idle;
use crate::child::{Role, WorkerCommand, heap_bytes};
use crate::config::Limits;
use crate::error::{ApiError, ApiResult, Code};

/// A frame from a worker.
type Frame = (Tag, Vec<u8>);

/// How long a new worker may take to say it is ready: a debug build starts slowly.
const START: Duration = Duration::from_secs(60);
/// How long a worker may take, after answering, to hold the tables it read.
const SETTLE: Duration = Duration::from_secs(300);
/// How often a running worker's memory is read.
const POLL: Duration = Duration::from_millis(10);

#[derive(Debug)]
pub struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    command: WorkerCommand,
    table_cache_mb: u64,
    /// Heap one query may add to its worker's.
    query_bytes: u64,
    /// Heap a worker may hold in all: its tables and one query.
    cap_bytes: u64,
    gate: QueryGate,
    idle: Mutex<Vec<Worker>>,
    /// Every worker started and not yet reaped, by process id.
    live: Mutex<Vec<u32>>,
    /// Workers killed so far, for tests and logs.
    killed: AtomicU64,
}

#[derive(Debug)]
struct Worker {
    child: tokio::process::Child,
    pid: u32,
    frames: mpsc::Receiver<std::io::Result<Frame>>,
    writer: OwnedWriteHalf,
    held: Vec<PathBuf>,
}

/// Why a task's worker was stopped.
#[derive(Debug)]
pub enum Stop {
    Timeout(Duration),
    Memory,
    /// The worker died or broke the protocol; `near_limit` when its heap was close to the cap.
    Died {
        near_limit: bool,
    },
}

impl Pool {
    pub fn new(limits: &Limits, command: WorkerCommand) -> Self {
        let mb = |n: u64| n.saturating_mul(1024 * 1024);
        let gate = QueryGate::new(
            limits.max_running_queries,
            limits.max_queued_queries,
            Duration::from_secs(limits.queue_timeout_secs),
        );
        Pool {
            inner: Arc::new(Inner {
                command,
                table_cache_mb: limits.table_cache_mb,
                query_bytes: mb(limits.max_query_memory_mb),
                cap_bytes: mb(limits.table_cache_mb + limits.max_query_memory_mb) + mb(256),
                gate,
                idle: Mutex::default(),
                live: Mutex::default(),
                killed: AtomicU64::new(0),
            }),
        }
    }

    /// Waits for a turn, then for a worker: an idle one that holds most of `files`, or a new
    /// one.
    pub async fn checkout(&self, files: &[PathBuf]) -> ApiResult<Running> {
        let permit = self.inner.gate.enter().await?;
        let idle = {
            let mut idle = self.inner.idle.lock().unwrap_or_else(PoisonError::into_inner);
            // A worker that died while idle is reaped here.
            idle.retain_mut(|w| {
                let alive = matches!(w.child.try_wait(), Ok(None));
                if !alive {
                    self.inner.forget(w.pid);
                }
                alive
            });
            let best = (0..idle.len()).max_by_key(|&i| files.iter().filter(|f| idle[i].held.contains(f)).count());
            best.map(|i| idle.swap_remove(i))
        };
        let worker = match idle {
            Some(worker) => worker,
            None => {
                spawn(&self.inner).await.map_err(|e| ApiError::internal(format!("cannot start a query worker: {e}")))?
            }
        };
        let baseline = heap_bytes(worker.pid).unwrap_or(0);
        Ok(Running { worker: Some(worker), permit: Some(permit), pool: self.inner.clone(), baseline, peak: 0 })
    }

    /// The tables the idle workers hold, each once.
    pub fn held(&self) -> Vec<PathBuf> {
        let idle = self.inner.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let mut held: Vec<PathBuf> = idle.iter().flat_map(|w| w.held.clone()).collect();
        held.sort();
        held.dedup();
        held
    }

    /// Workers killed so far: queries stopped at a limit, or abandoned by their clients.
    pub fn killed(&self) -> u64 {
        self.inner.killed.load(Ordering::Relaxed)
    }

    /// Process ids of the idle workers.
    pub fn idle_pids(&self) -> Vec<u32> {
        self.inner.idle.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|w| w.pid).collect()
    }

    /// Process ids of every worker started and not yet reaped, idle or busy.
    pub fn pids(&self) -> Vec<u32> {
        self.inner.live.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Inner {
    fn forget(&self, pid: u32) {
        self.live.lock().unwrap_or_else(PoisonError::into_inner).retain(|p| *p != pid);
    }
}

/// A worker checked out for one task, with its admission. Dropped before the task ended
/// (the client went away, or a limit stopped it), it kills the worker.
#[derive(Debug)]
pub struct Running {
    worker: Option<Worker>,
    permit: Option<Admission>,
    pool: Arc<Inner>,
    /// The worker's heap when the task began: its held tables and what the allocator kept.
    baseline: u64,
    peak: u64,
}

impl Running {
    pub async fn send(&mut self, task: &Task) -> ApiResult<()> {
        let worker = self.worker.as_mut().ok_or_else(|| ApiError::internal("no worker"))?;
        worker.send(task).await.map_err(|e| ApiError::internal(format!("a query worker did not take its task: {e}")))
    }

    /// The worker's next frame, unless the deadline passes or the worker's heap grows past
    /// the limits first.
    pub async fn next(&mut self, deadline: Instant) -> Result<Frame, Stop> {
        let (query, cap) = (self.pool.query_bytes, self.pool.cap_bytes);
        let Some(worker) = self.worker.as_mut() else { return Err(Stop::Died { near_limit: false }) };
        let mut tick = tokio::time::interval(POLL);
        loop {
            tokio::select! {
                biased;
                frame = worker.frames.recv() => {
                    return match frame {
                        Some(Ok(frame)) => Ok(frame),
                        _ => Err(Stop::Died { near_limit: self.peak.saturating_mul(5) >= cap.saturating_mul(4) }),
                    };
                }
                () = tokio::time::sleep_until(deadline) => {
                    return Err(Stop::Timeout(deadline.saturating_duration_since(Instant::now())));
                }
                _ = tick.tick() => {
                    let heap = heap_bytes(worker.pid).unwrap_or(0);
                    self.peak = self.peak.max(heap);
                    if heap.saturating_sub(self.baseline) > query || heap > cap {
                        return Err(Stop::Memory);
                    }
                }
            }
        }
    }

    /// The task ended: the worker returns to the pool once it has held what it read, and
    /// the admission slot with it.
    pub fn release(mut self) {
        let (Some(mut worker), Some(permit)) = (self.worker.take(), self.permit.take()) else { return };
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let mut settling = Running { worker: None, permit: None, pool: pool.clone(), baseline: 0, peak: 0 };
            let idle = async {
                let cap = pool.cap_bytes;
                let deadline = Instant::now() + SETTLE;
                let mut tick = tokio::time::interval(POLL * 10);
                loop {
                    tokio::select! {
                        frame = worker.frames.recv() => return match frame {
                            Some(Ok((Tag::Idle, payload))) => wire::json::<Idle>(&payload).ok(),
                            _ => None,
                        },
                        () = tokio::time::sleep_until(deadline) => return None,
                        _ = tick.tick() => if heap_bytes(worker.pid).unwrap_or(0) > cap { return None },
                    }
                }
            };
            match idle.await {
                Some(idle) => {
                    worker.held = idle.held;
                    pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(worker);
                    drop(permit);
                }
                None => {
                    settling.worker = Some(worker);
                    settling.permit = Some(permit);
                }
            }
        });
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let Some(mut worker) = self.worker.take() else { return };
        let permit = self.permit.take();
        self.pool.killed.fetch_add(1, Ordering::Relaxed);
        let _ = worker.child.start_kill();
        // The slot is free once the process is gone, not before.
        let pool = self.pool.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = worker.child.wait().await;
                    pool.forget(worker.pid);
                    drop(permit);
                });
            }
            Err(_) => {
                pool.forget(worker.pid);
                drop(permit);
            }
        }
    }
}

impl Stop {
    pub fn into_error(self, limits: &Limits) -> ApiError {
        match self {
            Stop::Timeout(_) => ApiError::new(
                Code::QueryTimeout,
                format!("the query ran longer than {}s (limits.query_timeout_secs)", limits.query_timeout_secs),
            ),
            Stop::Memory | Stop::Died { near_limit: true } => ApiError::new(
                Code::QueryMemory,
                format!(
                    "the query needed more than {} MB (limits.max_query_memory_mb); filter or aggregate more",
                    limits.max_query_memory_mb
                ),
            ),
            Stop::Died { near_limit: false } => ApiError::internal("a query worker stopped unexpectedly"),
        }
    }
}

impl Worker {
    async fn send(&mut self, task: &Task) -> std::io::Result<()> {
        let mut frame = Vec::new();
        wire::write_json(&mut frame, Tag::Task, task)?;
        self.writer.write_all(&frame).await?;
        self.writer.flush().await
    }
}

/// Starts a worker, gives it its budgets, and waits until it is ready.
async fn spawn(inner: &Inner) -> std::io::Result<Worker> {
    let (child, socket) = inner.command.spawn(Role::Engine)?;
    let pid = child.id().unwrap_or(0);
    inner.live.lock().unwrap_or_else(PoisonError::into_inner).push(pid);
    let (read, writer) = socket.into_split();
    // Frames are read as they come and handed over two at a time: a reader that does not
    // take them stops the worker's writes, which is what holds a slow download's worker.
    let (tx, frames) = mpsc::channel(2);
    tokio::spawn(forward(read, tx));
    let mut worker = Worker { child, pid, frames, writer, held: Vec::new() };
    let memory_mb = inner.query_bytes / (1024 * 1024);
    worker.send(&Task::Init { table_cache_mb: inner.table_cache_mb, memory_mb }).await?;
    match tokio::time::timeout(START, worker.frames.recv()).await {
        Ok(Some(Ok((Tag::Idle, _)))) => Ok(worker),
        _ => Err(std::io::Error::other("the worker did not start")),
    }
}

async fn forward(mut read: OwnedReadHalf, tx: mpsc::Sender<std::io::Result<Frame>>) {
    loop {
        let mut head = [0u8; 5];
        let frame = match read.read_exact(&mut head).await {
            Ok(_) => match wire::parse_head(head) {
                Ok((tag, len)) => {
                    let mut payload = vec![0u8; len];
                    read.read_exact(&mut payload).await.map(|_| (tag, payload))
                }
                Err(e) => Err(e),
            },
            Err(_) => return,
        };
        let failed = frame.is_err();
        if tx.send(frame).await.is_err() || failed {
            return;
        }
    }
}
