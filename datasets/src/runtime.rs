//! The catalog and the store are synchronous: SQLite answers in microseconds, and their
//! callers (async handlers, ingest processes, the CLI) call them inline. tokio-postgres and
//! object_store are async, and a `block_on` on a thread that already drives a tokio runtime
//! panics. So the PostgreSQL catalog and the object store each own a small runtime on
//! threads of their own: a call spawns its future there and the caller waits on a channel,
//! from any thread, inside a runtime or not.

use std::future::Future;

use deadpool_postgres::{Object, Pool};

use crate::{Error, Result};

/// A runtime on its own threads, ended when this is dropped (a tokio runtime must not be
/// dropped on a thread that drives another one, which is where the last `Arc` may go).
#[derive(Debug)]
pub(crate) struct Bridge {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Bridge {
    pub(crate) fn start(name: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .map_err(|e| Error::Unavailable(format!("cannot start a runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("{name}-owner"))
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                runtime.shutdown_background();
            })
            .map_err(|e| Error::Unavailable(format!("cannot start a runtime: {e}")))?;
        Ok(Self { handle, stop: Some(stop) })
    }

    /// Runs `future` on the catalog's runtime and waits for it.
    pub(crate) fn run<T, F>(&self, future: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().map_err(|_| Error::Unavailable("the runtime stopped".into()))?
    }

    /// Runs `f` with a pooled connection on the catalog's runtime.
    pub(crate) fn with<T, F, Fut>(&self, pool: &Pool, f: F) -> Result<T>
    where
        F: FnOnce(Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let pool = pool.clone();
        self.run(async move {
            let client = pool.get().await.map_err(|e| Error::Unavailable(format!("no catalog connection: {e}")))?;
            f(client).await
        })
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
