//! Running the HTTP server: middleware, listener and graceful shutdown.

use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::{AppState, api};

/// The router with the production middleware: tracing, gzip, and panics turned into 500s
/// in the API's error shape.
pub fn app(state: AppState) -> Router {
    // Parquet is already compressed, and compressing it would break byte ranges.
    let compressible = DefaultPredicate::new().and(NotForContentType::const_new("application/vnd.apache.parquet"));
    api::router(state)
        .layer(CompressionLayer::new().gzip(true).compress_when(compressible))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal("handler panicked"))
        }))
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Upload jobs run beside the requests, and stop taking new ones at shutdown; one that is
    // cut off mid-ingest is taken over when its lease runs out.
    let (stop, stopped) = tokio::sync::watch::channel(());
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<()>| async move {
        let _ = stopped.changed().await;
    };
    tokio::spawn(crate::jobs::run(state.clone(), until_stopped(stopped.clone())));
    tokio::spawn(crate::maintain::run(state.clone(), until_stopped(stopped.clone())));
    tokio::spawn(crate::usage::run(state.clone(), until_stopped(stopped.clone())));
    tokio::spawn(crate::webhooks::run(state.clone(), until_stopped(stopped)));
    let shutdown = async move {
        shutdown.await;
        let _ = stop.send(());
    };
    // The peer address is what anonymous clients are rate-limited by.
    let service = app(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
    // What the requests that were draining counted.
    if state.config.usage.enabled {
        crate::usage::flush(&state).await;
    }
    served
}

/// The server's runtime. Catalog calls are synchronous and, with a PostgreSQL catalog, hold
/// their thread for a network round trip: with only one thread per core, a few of them at
/// once would leave none for `/healthz` and the balancer would take the node out. Twice the
/// cores (at least four) keeps the node answering while some threads wait.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread().worker_threads((cores * 2).max(4)).enable_all().build()
}

/// Resolves on Ctrl-C or SIGTERM, and then ends the process `grace` later whatever is still
/// open. Query workers end with it: each watches for its server to be gone.
pub async fn shutdown_signal(grace: Duration) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!(?grace, "shutting down; finishing open requests");
    // Open requests (a long download, a query that waits) get a bounded time to finish.
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        std::process::exit(0);
    });
}
