//! A query worker: a child process of the server (see [`crate::child`]) that runs one task
//! at a time, sent over a Unix socket on its standard input.
//!
//! A worker never decides when to stop: the server kills it, when its query runs past the
//! time limit, grows past the memory limit, or loses its client, and starts another. Its
//! only limits of its own are backstops: `RLIMIT_DATA` (a heap past the budget fails to
//! allocate and the worker dies) and a watch on its parent (a worker whose server died
//! exits at once instead of finishing a query nobody will read).

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::memtable::TableCache;
use super::task::{self, Task};
use super::wire::{self, Tag};

/// What a worker says when it is ready for a task.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Idle {
    /// The files of the tables it holds decoded.
    pub held: Vec<std::path::PathBuf>,
}

/// Heap beyond its budgets a worker may use: the binary, thread stacks, the allocator's
/// bookkeeping.
const SLACK_MB: u64 = 1024;

/// Runs the worker until the server closes the socket.
pub fn main() -> anyhow::Result<()> {
    crate::child::init_logging();
    let socket = crate::child::socket()?;
    let mut input = socket.try_clone()?;
    let mut out = socket;
    crate::child::exit_with_parent();
    crate::child::yield_to_server();
    let mut cache = TableCache::new(0);
    while let Some((tag, payload)) = wire::read(&mut input)? {
        if tag != Tag::Task {
            anyhow::bail!("expected a task, got {tag:?}");
        }
        let task: Task = wire::json(&payload)?;
        if let Task::Init { table_cache_mb, memory_mb } = task {
            cache = TableCache::new(table_cache_mb);
            crate::child::limit_heap(table_cache_mb + memory_mb + SLACK_MB);
        } else {
            for load in task::run(task, &cache, &mut out)? {
                cache.load(&load);
            }
        }
        wire::write_json(&mut out, Tag::Idle, &Idle { held: cache.held() })?;
        out.flush()?;
    }
    Ok(())
}
