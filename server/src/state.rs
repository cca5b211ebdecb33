use std::sync::Arc;

use opendata_datasets::Store;
use search_index::SearchIndex;

use crate::child::WorkerCommand;
use crate::config::Config;
use crate::engine::Engine;
use crate::ratelimit::RateLimiter;

/// What every handler shares: the store (catalog + files), the search index and settings.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Store,
    pub index: SearchIndex,
    pub config: Config,
    pub engine: Engine,
    pub rate_limiter: RateLimiter,
    /// Uploaded versions ingest one at a time per permit: an ingest takes a core and
    /// hundreds of MB, and a burst of uploads must queue rather than exhaust the server.
    pub ingests: Arc<tokio::sync::Semaphore>,
    /// This node's name in job leases (see [`crate::jobs`]).
    pub node: String,
    /// Rung when this node queues a job, so its runner need not wait to look.
    pub jobs_queued: tokio::sync::Notify,
    /// Rung when a release is scheduled here, so the maintainer looks again at once.
    pub maintain: tokio::sync::Notify,
    /// Downloads running per client address.
    pub exports: crate::client::PerClient,
    /// `config.trusted_proxies`, parsed.
    pub trusted_proxies: Vec<crate::client::Network>,
    /// How query workers and ingests are started.
    pub workers: WorkerCommand,
    /// Who may sign in on the web, and how.
    pub authenticator: Box<dyn crate::accounts::Authenticator>,
    /// Failed sign-ins, to slow down guessing.
    pub logins: crate::accounts::Throttle,
    /// Usage counted since the last flush, and the popularity ranking.
    pub usage: crate::usage::Tally,
}

impl AppState {
    /// Opens the data folder and the search index named by `config`, with query workers
    /// that run this binary.
    pub fn open(config: Config) -> anyhow::Result<Self> {
        Self::open_with(config, WorkerCommand::current()?)
    }

    /// [`AppState::open`] with query workers started by `workers`.
    pub fn open_with(config: Config, workers: WorkerCommand) -> anyhow::Result<Self> {
        let store = config.open_store()?;
        // Where the feed stands before the repair below, so nothing made meanwhile is missed.
        let seq = store.catalog().last_change()?;
        let mut index = crate::publish::open_index(&store, &config.index_dir())?;
        crate::semantic::attach(&mut index, &config.search)?;
        let glossary = crate::follow::load_glossary(&store, &index);
        let repaired = crate::publish::repair_index(&store, &index)?;
        if repaired > 0 {
            tracing::warn!(datasets = repaired, "brought the search index in line with the catalog");
        }
        // Logs missed by a crash between a catalog commit and its Delta commit.
        match store.repair_delta_logs() {
            Ok(0) => {}
            Ok(n) => tracing::info!(commits = n, "wrote the Delta log commits the catalog was ahead of"),
            Err(e) => tracing::warn!(%e, "cannot bring the Delta logs up to date; the next publish will"),
        }
        let engine = Engine::new(&config.limits, workers.clone());
        let rate_limiter = RateLimiter::new(config.limits.requests_per_minute);
        let ingests = Arc::new(tokio::sync::Semaphore::new(config.limits.max_running_ingests.max(1)));
        let exports = crate::client::PerClient::new(config.limits.max_exports_per_client);
        let trusted_proxies = config
            .trusted_proxies
            .iter()
            .map(|n| n.parse().map_err(|e: String| anyhow::anyhow!("trusted_proxies: {e}")))
            .collect::<anyhow::Result<_>>()?;
        let inner = Arc::new(Inner {
            store,
            index,
            config,
            engine,
            rate_limiter,
            ingests,
            node: crate::jobs::node_name(),
            jobs_queued: tokio::sync::Notify::new(),
            maintain: tokio::sync::Notify::new(),
            exports,
            trusted_proxies,
            workers,
            authenticator: Box::new(crate::accounts::LocalPasswords),
            logins: Default::default(),
            usage: Default::default(),
        });
        crate::follow::spawn(&inner, seq, glossary)?;
        crate::semantic::spawn(&inner)?;
        Ok(Self(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
