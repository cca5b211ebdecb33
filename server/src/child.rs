//! Child processes of the server: query workers ([`crate::engine::worker`]) and ingests
//! ([`crate::ingest_child`]). Each is this binary (or, in tests, the test binary) started
//! with a Unix socket as its standard input, over which the server sends it work; the
//! server reads its memory from `/proc` and kills it when it passes a limit.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The subcommand that runs a child of either kind.
pub const SUBCOMMAND: &str = "worker";
/// Set in a child's environment to its [`Role`], so a test binary knows to act as one.
pub const ENV: &str = "OPENDATA_WORKER";

/// What a child does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Runs queries, one at a time, for as long as the server keeps it.
    Engine,
    /// Runs one ingest and exits.
    Ingest,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Engine => "engine",
            Role::Ingest => "ingest",
        }
    }
}

/// How to start a child: the `opendata` binary with its worker subcommand, or in tests the
/// test binary running its worker test.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl WorkerCommand {
    /// This very binary, as `opendata worker`.
    pub fn current() -> std::io::Result<Self> {
        Ok(Self { program: std::env::current_exe()?, args: vec![SUBCOMMAND.into()] })
    }

    /// Starts a child in `role`, with the server's end of its socket.
    pub fn spawn(&self, role: Role) -> std::io::Result<(tokio::process::Child, tokio::net::UnixStream)> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .env(ENV, role.name())
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        ours.set_nonblocking(true)?;
        Ok((child, tokio::net::UnixStream::from_std(ours)?))
    }
}

/// Runs this process as the child its environment names.
pub fn main() -> anyhow::Result<()> {
    match std::env::var(ENV).as_deref() {
        Ok("engine") => crate::engine::worker::main(),
        Ok("ingest") => crate::ingest_child::main(),
        _ => anyhow::bail!("`opendata {SUBCOMMAND}` is started by `opendata serve`, not by hand"),
    }
}

/// The socket to the server: a copy of standard input.
pub fn socket() -> std::io::Result<std::os::unix::net::UnixStream> {
    use std::os::fd::AsFd;
    Ok(std::os::unix::net::UnixStream::from(std::io::stdin().as_fd().try_clone_to_owned()?))
}

/// Limits this process's heap (`RLIMIT_DATA`): past it an allocation fails and the process
/// dies, whatever it was doing. A backstop behind the server's own watch of the memory.
pub fn limit_heap(mb: u64) {
    let bytes = mb.saturating_mul(1024 * 1024);
    let limit = rustix::process::Rlimit { current: Some(bytes), maximum: Some(bytes) };
    if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Data, limit) {
        tracing::warn!(%e, "could not limit the heap");
    }
}

/// Exits when the parent is gone (the process was reparented): work nobody will read stops.
pub fn exit_with_parent() {
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

/// Lowers this process's CPU priority: a child's work (a scan, an ingest) yields the cores to
/// the server's own threads, so `/healthz`, point reads and the answers already computed go
/// out promptly however busy the children are.
pub fn yield_to_server() {
    if let Err(e) = rustix::process::nice(10) {
        tracing::warn!(%e, "could not lower the priority");
    }
}

/// Logging to standard error, at `warn` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// A process's private memory in use (`RssAnon`): its heap, not the file pages it maps.
pub fn heap_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
