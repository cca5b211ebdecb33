//! The portal under attack and under overload, as a separate server process (this test
//! binary, started again as [`attack_server`]) whose memory, and its workers', is read from
//! outside while the requests come: the server must stay up, `/healthz` must answer within a
//! second, and memory must stay within the configured limits plus a stated margin.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::{dataset, readings_csv};
use crate::hostile::urlencode;

const SERVER_DATA: &str = "OPENDATA_ATTACK_DATA";

/// Limits of the attacked server: two workers of at most 64 MB of tables and 256 MB of query
/// each, and no rate limit, so that the requests reach the engine.
fn limits(c: &mut opendata_server::Config) {
    c.limits.max_running_queries = 2;
    c.limits.table_cache_mb = 64;
    c.limits.max_query_memory_mb = 256;
    c.limits.requests_per_minute = 0;
    c.limits.query_timeout_secs = 10;
    c.limits.queue_timeout_secs = 2;
    c.limits.max_queued_queries = 64;
}

/// The server's own heap may grow this much under attack: connections, pages, parsing.
const SERVER_MARGIN_MB: u64 = 400;
/// Per worker, besides its tables and its query: the binary and the allocator.
const WORKER_MARGIN_MB: u64 = 200;

fn memory_bound_mb() -> u64 {
    let mut c = opendata_server::Config::default();
    limits(&mut c);
    SERVER_MARGIN_MB
        + c.limits.max_running_queries as u64
            * (c.limits.table_cache_mb + c.limits.max_query_memory_mb + WORKER_MARGIN_MB)
}

/// The attacked server: serves the data folder named in its environment and writes its
/// address to `addr` there.
#[test]
#[ignore = "started by the attack and overload tests as the server under test"]
fn attack_server() {
    let Some(data) = std::env::var_os(SERVER_DATA) else { return };
    let data = PathBuf::from(data);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let mut config = opendata_server::Config { data: data.clone(), ..Default::default() };
        limits(&mut config);
        let state = opendata_server::AppState::open_with(config, crate::common::workers()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        std::fs::write(data.join("addr"), listener.local_addr().unwrap().to_string()).unwrap();
        let grace = Duration::from_secs(2);
        opendata_server::serve::run(listener, state, opendata_server::serve::shutdown_signal(grace)).await.unwrap();
    });
}

struct Served {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A data folder with a sorted 200,000-row table and a small one, served by a new process.
fn serve() -> Served {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("r.csv");
    std::fs::write(&csv, readings_csv(200_000)).unwrap();
    let options = opendata_ingest::ReadOptions::default();
    let store = crate::common::store(data.path());
    let index = opendata_server::publish::open_index(&store, &store.index_dir()).unwrap();
    store.catalog().upsert_organization(&crate::common::org("agaar", "Агаар")).unwrap();
    let job = opendata_ingest::IngestJob {
        source: csv.clone(),
        source_name: "r.csv".into(),
        dataset: dataset("air", "agaar", "Агаарын чанар"),
        table: "readings".into(),
        table_title: None,
        options,
        columns: Default::default(),
        sort_by: Some(vec!["station".into(), "observed_at".into()]),
        limits: Default::default(),
        create_dataset: true,
        draft: false,
    };
    opendata_server::publish::ingest_and_index(&store, &index, &job, &mut |_| {}).unwrap();
    drop((store, index));
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "attack::attack_server", "--ignored", "--nocapture", "--test-threads=1"])
        .env(SERVER_DATA, data.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = data.path().join("addr");
    let started = Instant::now();
    while !addr.is_file() {
        assert!(started.elapsed() < Duration::from_secs(60), "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50));
    let base = format!("http://{}", std::fs::read_to_string(&addr).unwrap());
    Served { child, base, _data: data }
}

/// The heap (`RssAnon`) of `pid` and of its children, in MB.
fn heap_mb(pid: u32) -> u64 {
    let anon = |p: &Path| -> Option<u64> {
        let status = std::fs::read_to_string(p.join("status")).ok()?;
        status.lines().find_map(|l| l.strip_prefix("RssAnon:"))?.split_whitespace().next()?.parse().ok()
    };
    let mut kb = anon(&Path::new("/proc").join(pid.to_string())).unwrap_or(0);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let parent = status.lines().find_map(|l| l.strip_prefix("PPid:")).map(str::trim);
        if parent == Some(pid.to_string().as_str()) {
            kb += anon(&entry.path()).unwrap_or(0);
        }
    }
    kb / 1024
}

/// Samples `/healthz` latency and the server's memory until `stop`, from a thread and a
/// runtime of its own: the load the test generates must not delay the probe, only the
/// server may.
fn watch(base: String, pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(Vec<Duration>, u64)> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
            let (mut latencies, mut peak) = (Vec::new(), 0);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let ok = client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200);
                latencies.push(if ok { started.elapsed() } else { Duration::from_secs(60) });
                peak = peak.max(heap_mb(pid));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (latencies, peak)
        })
    })
}

fn p99(latencies: &mut [Duration]) -> Duration {
    latencies.sort();
    latencies.get(latencies.len().saturating_sub(1) * 99 / 100).copied().unwrap_or_default()
}

/// Whether an answer is one a server under attack may give: a success, a refusal of the
/// request (4xx, CKAN's 409 included), or a 503 that says when to come back.
fn acceptable(res: &reqwest::Response) -> bool {
    let status = res.status().as_u16();
    (200..500).contains(&status) || (status == 503 && res.headers().contains_key("retry-after"))
}

/// Every kind of hostile request, many variants of each, at once: the server stays up,
/// answers each with a 4xx or a 503, keeps `/healthz` within a second and its memory within
/// its limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attack_of_every_kind_at_once() {
    let served = serve();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch(served.base.clone(), served.child.id(), stop.clone());
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let t = "/api/v1/datasets/air/tables/readings";
    let mut attacks: Vec<(reqwest::Method, String, Option<String>)> = Vec::new();
    for n in [500, 1_500, 5_000] {
        let deep = format!("SELECT 1{}", "+1".repeat(n));
        attacks.push((reqwest::Method::GET, format!("/api/v1/sql?q={}", urlencode(&deep)), None));
        attacks.push((
            reqwest::Method::POST,
            "/api/v1/sql".into(),
            Some(format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n))),
        ));
        let ids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        attacks.push((reqwest::Method::GET, format!("{t}/rows?id__in={}", ids.join(",")), None));
        let words: Vec<String> = (0..n / 5).map(|i| format!("w{i}")).collect();
        attacks.push((reqwest::Method::GET, format!("/api/v1/datasets?q={}", urlencode(&words.join(" "))), None));
        attacks.push((
            reqwest::Method::POST,
            "/api/3/action/datastore_search".into(),
            Some(serde_json::json!({"resource_id": "air__readings", "filters": {"id": ids}}).to_string()),
        ));
    }
    for heavy in [
        "SELECT lpad(station, 25000, 'x') AS w FROM air__readings",
        "SELECT count(*) FROM air__readings a JOIN air__readings b ON a.station = b.station",
        "SELECT * FROM air__readings ORDER BY value DESC",
    ] {
        attacks.push((reqwest::Method::GET, format!("/api/v1/sql?q={}", urlencode(heavy)), None));
    }
    attacks.push((reqwest::Method::GET, format!("{t}/rows?limit=0&select=id,id"), None));
    attacks.push((reqwest::Method::GET, format!("{t}/rows?offset=99999999999999999999"), None));
    attacks.push((reqwest::Method::GET, format!("{t}/data.csv?value__gt=1"), None));
    attacks.push((reqwest::Method::GET, format!("{t}/rows?cursor={}", "A".repeat(5_000)), None));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for round in 0..5 {
        for (method, path, body) in attacks.clone() {
            let (client, url) = (client.clone(), format!("{}{path}", served.base));
            tasks.push(tokio::spawn(async move {
                let mut req = client.request(method, &url);
                if let Some(b) = body {
                    req = req
                        .header("content-type", if b.starts_with('{') { "application/json" } else { "text/plain" })
                        .body(b);
                }
                let res = req.send().await;
                let ok = res.as_ref().is_ok_and(acceptable);
                (round, url.chars().take(120).collect::<String>(), res.map(|r| r.status().as_u16()).ok(), ok)
            }));
        }
    }
    let mut answered = 0;
    for task in tasks {
        let (_, url, status, ok) = task.await.unwrap();
        assert!(ok, "{url}: {status:?}");
        answered += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let (mut latencies, peak) = watcher.join().unwrap();
    let p99 = p99(&mut latencies);
    eprintln!(
        "attack: {answered} hostile requests in {:?}; /healthz p99 {p99:?} over {} probes; peak heap {peak} MB (bound {} MB)",
        started.elapsed(),
        latencies.len(),
        memory_bound_mb()
    );
    assert!(p99 < Duration::from_secs(1), "/healthz p99 {p99:?} during the attack");
    assert!(peak <= memory_bound_mb(), "peak heap {peak} MB over the bound of {} MB", memory_bound_mb());
    let after = client.get(format!("{}/api/v1/datasets/air", served.base)).send().await.unwrap();
    assert_eq!(after.status(), 200);
}

/// Ten times the load the server sustains, of point queries, SQL, downloads and searches:
/// every request gets a 2xx, a 429 or a 503 with `Retry-After`, `/healthz` answers within a
/// second, and memory stays bounded. `OVERLOAD_SECONDS` sets the length (15 s by default;
/// `bench/overload.sh` runs 60 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_of_ten_times_capacity() {
    let seconds: u64 = std::env::var("OVERLOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    let served = serve();
    let t = "/api/v1/datasets/air/tables/readings";
    let mix: Vec<String> = vec![
        format!("{t}/rows?station=ST03&limit=20"),
        format!("{t}/rows?station=ST05&observed_at__gte=2024-01-10&limit=50"),
        format!("/api/v1/sql?q={}", urlencode("SELECT station, avg(value) AS v FROM air__readings GROUP BY station")),
        format!("{t}/data.csv?station=ST01"),
        "/api/v1/datasets?q=агаар".into(),
        format!("{t}/rows?value__gt=50&order=-value&limit=10"),
    ];
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    // What it sustains: four clients, each waiting for its answer.
    let (done, started) = (Arc::new(std::sync::atomic::AtomicU64::new(0)), Instant::now());
    let mut closed = Vec::new();
    for c in 0..4 {
        let (client, base, mix, done) = (client.clone(), served.base.clone(), mix.clone(), done.clone());
        closed.push(tokio::spawn(async move {
            let mut i = c;
            while started.elapsed() < Duration::from_secs(4) {
                if let Ok(res) = client.get(format!("{base}{}", mix[i % mix.len()])).send().await {
                    let _ = res.bytes().await;
                }
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for task in closed {
        task.await.unwrap();
    }
    let sustained = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let offered = (sustained * 10.0).max(20.0);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch(served.base.clone(), served.child.id(), stop.clone());
    let in_flight = Arc::new(tokio::sync::Semaphore::new(256));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u16, bool)>();
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let due = (started.elapsed().as_secs_f64() * offered) as u64;
        while sent < due {
            let Ok(permit) = in_flight.clone().try_acquire_owned() else { break };
            let (client, url, tx) =
                (client.clone(), format!("{}{}", served.base, mix[sent as usize % mix.len()]), tx.clone());
            tokio::spawn(async move {
                let _permit = permit;
                match client.get(&url).send().await {
                    Ok(res) => {
                        // The mix is all valid: of the 4xx only 429, the client's own excess.
                        let ok = acceptable(&res) && (!res.status().is_client_error() || res.status() == 429);
                        let status = res.status().as_u16();
                        // Downloads are read to their end.
                        let _ = res.bytes().await;
                        let _ = tx.send((status, ok));
                    }
                    Err(_) => {
                        let _ = tx.send((0, false));
                    }
                }
            });
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = in_flight.acquire_many(256).await;
    stop.store(true, Ordering::Relaxed);
    drop(tx);
    let mut counts = std::collections::BTreeMap::<u16, u64>::new();
    let mut bad = 0;
    while let Some((status, ok)) = rx.recv().await {
        *counts.entry(status).or_default() += 1;
        bad += u64::from(!ok);
    }
    let (mut latencies, peak) = watcher.join().unwrap();
    let p99 = p99(&mut latencies);
    eprintln!(
        "overload: sustained {sustained:.0} req/s, offered {offered:.0} req/s for {seconds} s: {sent} requests, answers {counts:?}; \
         /healthz p99 {p99:?}; peak heap {peak} MB (bound {} MB)",
        memory_bound_mb()
    );
    assert_eq!(bad, 0, "answers other than 2xx, 429 or 503 with Retry-After: {counts:?}");
    assert!(p99 < Duration::from_secs(1), "/healthz p99 {p99:?} under overload");
    assert!(peak <= memory_bound_mb(), "peak heap {peak} MB over the bound of {} MB", memory_bound_mb());
    assert!(served.child.id() > 0);
}

/// SIGTERM while a worker is busy with a download its client does not read: the server ends
/// within its grace period, and its workers with it, instead of waiting for work that
/// nobody will read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_server_and_its_workers() {
    let mut served = serve();
    let pid = served.child.id();
    let download = format!("{}/api/v1/datasets/air/tables/readings/data.csv?value__gte=0", served.base);
    // The client reads the head and nothing more.
    let stalled = reqwest::get(&download).await.unwrap();
    assert_eq!(stalled.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let workers = children_of(pid);
    assert!(!workers.is_empty(), "no worker runs the download");
    let signalled = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(signalled.elapsed() < Duration::from_secs(10), "the server outlived SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ended = signalled.elapsed();
    assert!(status.success(), "{status}");
    // A worker that has exited but is not yet reaped by init (a zombie) runs nothing.
    let alive = |w: &u32| {
        std::fs::read_to_string(Path::new("/proc").join(w.to_string()).join("status"))
            .is_ok_and(|s| !s.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
    };
    let gone = Instant::now();
    while workers.iter().any(alive) {
        assert!(gone.elapsed() < Duration::from_secs(2), "workers outlived their server: {workers:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "sigterm: the server ended {ended:?} after the signal, its {} workers {:?} after it",
        workers.len(),
        gone.elapsed()
    );
    drop(stalled);
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            (status.lines().find_map(|l| l.strip_prefix("PPid:"))?.trim() == pid.to_string()).then_some(child)
        })
        .collect()
}
