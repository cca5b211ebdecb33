//! What counting usage costs a request, measured in process where the load test's noise
//! cannot hide it: the same cheap route (a dataset's metadata, tens of microseconds)
//! answered N times through the whole router with `usage.enabled` on and off, alternating.
//!
//!     cargo run --release -p opendata-server --example usage_overhead -- DATA_DIR DATASET [N] [ROUNDS]

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use opendata_server::{AppState, Config, router};
use tower::ServiceExt;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (data, dataset) = (args.get(1).expect("DATA_DIR"), args.get(2).expect("DATASET"));
    let n: usize = args.get(3).map_or(Ok(20_000), |v| v.parse())?;
    let rounds: usize = args.get(4).map_or(Ok(5), |v| v.parse())?;
    let path = format!("/api/v1/datasets/{dataset}");
    let mut per_request = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (slot, enabled) in [(0, true), (1, false)] {
            let mut config = Config { data: data.into(), ..Config::default() };
            config.usage.enabled = enabled;
            config.limits.requests_per_minute = 0;
            let app = router(AppState::open(config)?);
            let started = Instant::now();
            for _ in 0..n {
                let req = Request::get(&path).header("host", "127.0.0.1").body(Body::empty())?;
                let res = app.clone().oneshot(req).await?;
                anyhow::ensure!(res.status() == 200, "GET {path}: {}", res.status());
                axum::body::to_bytes(res.into_body(), usize::MAX).await?;
            }
            per_request[slot].push(started.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (on, off) = (median(&mut per_request[0]), median(&mut per_request[1]));
    println!(
        "GET {path}, {n} requests x {rounds} rounds: counting on {on:.1} us, off {off:.1} us a request (median): \
         {:+.1} us, {:+.2}%",
        on - off,
        (on - off) / off * 100.0
    );
    Ok(())
}
