//! Work that ends when its answer does: a query stopped at its time or memory limit, or left
//! by its client, stops using CPU and memory within a second, and only then frees its turn.
//! Queries that scan run in worker processes, which these tests watch from outside.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{TestServer, dataset, ingest};
use crate::hostile::{assert_healthy, urlencode};

/// The server's workers that are doing something: running, not idle in the pool. A killed
/// worker not yet reaped (a zombie) does nothing.
fn busy(s: &TestServer) -> Vec<u32> {
    let pool = s.state.engine.pool();
    let idle = pool.idle_pids();
    let running = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .is_ok_and(|status| !status.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
    };
    pool.pids().into_iter().filter(|p| !idle.contains(p) && running(p)).collect()
}

/// Waits up to `within` for no worker to be busy.
async fn settles(s: &TestServer, within: Duration) -> Duration {
    let started = Instant::now();
    while !busy(s).is_empty() {
        assert!(started.elapsed() < within, "workers still busy after {within:?}: {:?}", busy(s));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// A table of `rows` rows with a text column, served with `configure`d limits.
async fn server(rows: usize, configure: impl FnOnce(&mut opendata_server::Config)) -> TestServer {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("t.csv");
    let mut text = String::from("id,grp,note\n");
    for i in 0..rows {
        text.push_str(&format!("{i},g{},note number {i} of a table long enough to fill a socket's buffers\n", i % 97));
    }
    std::fs::write(&csv, text).unwrap();
    ingest(data.path(), &csv, &dataset("t", "org", "T"), "main").unwrap();
    TestServer::serve_with(data, configure).await
}

/// A query that keeps a worker busy for many seconds: a join of the table with itself.
fn slow_sql() -> String {
    format!(
        "/api/v1/sql?q={}",
        urlencode("SELECT count(*) AS n FROM t__main a JOIN t__main b ON a.grp = b.grp WHERE a.note < b.note")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_time_limit_stops_at_once() {
    let s = server(100_000, |c| c.limits.query_timeout_secs = 1).await;
    let started = Instant::now();
    let res = s.get(&slow_sql()).await;
    assert_eq!(res.status().as_u16(), 503);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "query_timeout");
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
    let settled = settles(&s, Duration::from_secs(1)).await;
    assert!(s.state.engine.pool().killed() >= 1, "the worker was not stopped");
    eprintln!("worker gone {settled:?} after the 503");
    // The next query has a worker at once.
    let ok = s.json(&format!("/api/v1/sql?q={}", urlencode("SELECT count(*) AS n FROM t__main")), 200).await;
    assert_eq!(ok["rows"][0]["n"], 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_queries_stop_and_only_then_free_their_turn() {
    let s = server(100_000, |c| {
        c.limits.max_running_queries = 1;
        c.limits.query_timeout_secs = 60;
    })
    .await;
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(400)).build().unwrap();
    for _ in 0..4 {
        let gone = impatient.get(s.url(&slow_sql())).send().await;
        assert!(gone.is_err(), "the client gives up");
        // Under one running query, four abandoned ones never run at once.
        assert!(busy(&s).len() <= 1, "{:?}", busy(&s));
    }
    settles(&s, Duration::from_secs(1)).await;
    assert!(s.state.engine.pool().killed() >= 4);
    let started = Instant::now();
    let ok = s.json(&format!("/api/v1/sql?q={}", urlencode("SELECT count(*) AS n FROM t__main")), 200).await;
    assert_eq!(ok["rows"][0]["n"], 100_000);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_memory_limit_stops_and_others_go_on() {
    let s = server(100_000, |c| c.limits.max_query_memory_mb = 64).await;
    // Ten thousand rows of 25,000 characters: 250 MB if it were built.
    let heavy = format!(
        "/api/v1/sql?q={}",
        urlencode("SELECT lpad(note, 25000, 'x') AS wide FROM t__main ORDER BY wide LIMIT 10000")
    );
    let light = format!("/api/v1/sql?q={}", urlencode("SELECT count(*) AS n FROM t__main"));
    let (heavy, light) = tokio::join!(s.get(&heavy), s.get(&light));
    let status = heavy.status().as_u16();
    let body: Value = heavy.json().await.unwrap();
    assert!(
        (status, body["code"].as_str()) == (503, Some("query_memory"))
            || (status, body["code"].as_str()) == (400, Some("result_too_large")),
        "{status} {body}"
    );
    assert_eq!(light.status().as_u16(), 200, "one heavy query does not stop the others");
    settles(&s, Duration::from_secs(1)).await;
    assert_healthy(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_larger_than_the_limit_are_refused_not_built() {
    let s = server(20_000, |c| c.limits.max_response_mb = 1).await;
    let res = s.get(&format!("/api/v1/sql?q={}", urlencode("SELECT lpad(note, 200, 'x') AS wide FROM t__main"))).await;
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "result_too_large", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("limits.max_response_mb"));
    // A download of the same rows streams.
    let csv = s.get("/api/v1/datasets/t/tables/main/data.csv?grp=g1").await;
    assert_eq!(csv.status().as_u16(), 200);
    assert!(csv.text().await.unwrap().lines().count() > 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_downloads_cannot_hold_the_workers() {
    let s = server(300_000, |c| {
        c.limits.max_running_queries = 2;
        c.limits.export_stall_secs = 1;
    })
    .await;
    // Two downloads whose client never reads: each holds a worker until the stall limit.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let res = s.get("/api/v1/datasets/t/tables/main/data.csv?id__gte=0").await;
        assert_eq!(res.status().as_u16(), 200);
        stalled.push(res);
    }
    // A third from the same address is refused at once.
    let third = s.get("/api/v1/datasets/t/tables/main/data.ndjson?id__gte=0").await;
    assert_eq!(third.status().as_u16(), 429);
    assert_eq!(third.json::<Value>().await.unwrap()["code"], "too_many_exports");
    // Queries still get answers: the stalled downloads give their workers back.
    let started = Instant::now();
    let ok = s.json(&format!("/api/v1/sql?q={}", urlencode("SELECT count(*) AS n FROM t__main")), 200).await;
    assert_eq!(ok["rows"][0]["n"], 300_000);
    assert!(started.elapsed() < Duration::from_secs(8), "waited {:?}", started.elapsed());
    let rows = s.json("/api/v1/datasets/t/tables/main/rows?note__contains=299999", 200).await;
    assert_eq!(rows["total"], 1);
    // The stalled transfers were cut short, not passed off as whole files.
    for res in stalled {
        assert!(res.text().await.is_err(), "a stalled download ended as if complete");
    }
    assert_healthy(&s).await;
}
