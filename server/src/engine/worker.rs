//! A query worker: a child process of the server (`opendata engine-worker`, or a test
//! binary standing in for it) that runs one task at a time, sent over a Unix socket on its
//! standard input.
//!
//! A worker never decides when to stop: the server kills it, when its query runs past the
//! time limit, grows past the memory limit, or loses its client, and starts another. Its
//! only limits of its own are backstops: `RLIMIT_DATA` (a heap past the budget fails to
//! allocate and the worker dies) and a watch on its parent (a worker whose server died
//! exits at once instead of finishing a query nobody will read).

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use serde::{Deserialize, Serialize};

use super::memtable::TableCache;
use super::task::{self, Task};
use super::wire::{self, Tag};

/// The subcommand that runs a worker.
pub const SUBCOMMAND: &str = "engine-worker";
/// Set in a worker's environment, so a test binary knows to act as one.
pub const ENV: &str = "OPENDATA_ENGINE_WORKER";

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
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let socket = UnixStream::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let mut input = socket.try_clone()?;
    let mut out = socket;
    watch_parent();
    let mut cache = TableCache::new(0);
    while let Some((tag, payload)) = wire::read(&mut input)? {
        if tag != Tag::Task {
            anyhow::bail!("expected a task, got {tag:?}");
        }
        let task: Task = wire::json(&payload)?;
        if let Task::Init { table_cache_mb, memory_mb } = task {
            cache = TableCache::new(table_cache_mb);
            let bytes = (table_cache_mb + memory_mb + SLACK_MB).saturating_mul(1024 * 1024);
            let limit = rustix::process::Rlimit { current: Some(bytes), maximum: Some(bytes) };
            if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Data, limit) {
                tracing::warn!(%e, "could not limit the worker's heap");
            }
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

/// Exits when the parent is gone: the worker was reparented.
fn watch_parent() {
    let parent = rustix::process::getppid();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(250));
            if rustix::process::getppid() != parent {
                std::process::exit(0);
            }
        }
    });
}
