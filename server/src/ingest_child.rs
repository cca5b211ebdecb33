//! Uploaded versions are ingested in a child process (see [`crate::child`]), so that no
//! file, however it is made, can take the server down: the child's heap is watched and
//! bounded (`limits.ingest_memory_mb`), its time too (`limits.ingest_timeout_secs`), and a
//! child that dies, panics or is killed fails its job with the reason. The child publishes
//! as `opendata ingest` does, atomically, so the previous version stays served whatever
//! happens to it.

use std::path::PathBuf;
use std::time::Duration;

use opendata_datasets::Store;
use opendata_ingest::IngestJob;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::child::{Role, WorkerCommand, heap_bytes};
use crate::config::Limits;
use crate::engine::wire::{self, Tag};

/// What the server sends the child.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    data: PathBuf,
    locations: opendata_datasets::Locations,
    job: IngestJob,
    memory_mb: u64,
}

/// What the child answers.
#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    /// The version of each table published (or the current one, when unchanged).
    versions: Vec<u32>,
    error: Option<String>,
}

/// How often the child's memory is read.
const POLL: Duration = Duration::from_millis(50);

/// Ingests `job` into the data folder `data` in a child process: the versions published,
/// or why nothing was.
pub async fn ingest(
    command: &WorkerCommand,
    store: &opendata_datasets::Store,
    job: IngestJob,
    limits: &Limits,
) -> Result<Vec<u32>, String> {
    let failed = |e: std::io::Error| format!("the ingest could not start: {e}");
    let (mut child, socket) = command.spawn(Role::Ingest).map_err(failed)?;
    let pid = child.id().unwrap_or(0);
    let (mut read, mut write) = socket.into_split();
    let mut frame = Vec::new();
    let request = Request {
        data: store.root().to_owned(),
        locations: store.locations().clone(),
        job,
        memory_mb: limits.ingest_memory_mb,
    };
    wire::write_json(&mut frame, Tag::Task, &request).map_err(failed)?;
    write.write_all(&frame).await.map_err(failed)?;
    let answer = tokio::spawn(async move {
        let mut head = [0u8; 5];
        read.read_exact(&mut head).await?;
        let (_, len) = wire::parse_head(head)?;
        let mut payload = vec![0u8; len];
        read.read_exact(&mut payload).await?;
        wire::json::<Answer>(&payload)
    });
    let limit = limits.ingest_memory_mb.saturating_mul(1024 * 1024);
    let deadline = tokio::time::sleep(Duration::from_secs(limits.ingest_timeout_secs));
    tokio::pin!(deadline, answer);
    let mut tick = tokio::time::interval(POLL);
    let stopped = loop {
        tokio::select! {
            done = &mut answer => {
                let _ = child.wait().await;
                return match done {
                    Ok(Ok(Answer { error: None, versions })) => Ok(versions),
                    Ok(Ok(Answer { error: Some(e), .. })) => Err(e),
                    // It died before it could answer: a panic, or the heap limit.
                    _ => Err("the ingest stopped unexpectedly (a file it could not read within its limits); \
                              nothing was published".into()),
                };
            }
            () = &mut deadline => break format!(
                "the ingest took longer than {}s (limits.ingest_timeout_secs); nothing was published",
                limits.ingest_timeout_secs
            ),
            _ = tick.tick() => if heap_bytes(pid).is_some_and(|heap| heap > limit) {
                break format!(
                    "the ingest needed more than {} MB (limits.ingest_memory_mb); nothing was published",
                    limits.ingest_memory_mb
                );
            },
        }
    };
    let _ = child.start_kill();
    let _ = child.wait().await;
    Err(stopped)
}

/// The child: reads one request, ingests, answers, exits.
pub fn main() -> anyhow::Result<()> {
    crate::child::init_logging();
    crate::child::exit_with_parent();
    crate::child::yield_to_server();
    let mut socket = crate::child::socket()?;
    let Some((Tag::Task, payload)) = wire::read(&mut socket)? else { anyhow::bail!("no ingest was sent") };
    let request: Request = wire::json(&payload)?;
    // A heap past the limit fails to allocate and ends the process: the server says why.
    crate::child::limit_heap(request.memory_mb + 256);
    let run = || -> anyhow::Result<Vec<u32>> {
        // The server indexes what this publishes: the index is the node's, not the data's.
        let store = Store::connect(&request.data, &request.locations)?;
        let outcome = opendata_ingest::ingest(&store, &request.job, &mut |_| {})?;
        Ok(outcome.tables.iter().map(|t| t.version.version).collect())
    };
    let answer = match run() {
        Ok(versions) => Answer { versions, error: None },
        Err(e) => Answer { versions: Vec::new(), error: Some(format!("{e:#}")) },
    };
    wire::write_json(&mut socket, Tag::Head, &answer)?;
    Ok(())
}
