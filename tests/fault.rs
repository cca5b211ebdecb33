//! `kill -9` in the middle of an ingest: the catalog stays consistent, the previous version
//! stays served, no half-written version is ever visible, and the next start clears the
//! leftovers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{TestServer, dataset, ingest};

const CHILD_DATA: &str = "OPENDATA_FAULT_CHILD_DATA";
const CHILD_SOURCE: &str = "OPENDATA_FAULT_CHILD_SOURCE";

/// The process the fault test kills: one ordinary ingest.
#[test]
#[ignore = "started (and killed) by interrupted_ingests_leave_the_previous_version_served"]
fn fault_child_ingest() {
    let (Some(data), Some(source)) = (std::env::var_os(CHILD_DATA), std::env::var_os(CHILD_SOURCE)) else {
        return;
    };
    ingest(Path::new(&data), Path::new(&source), &dataset("big", "org", "Big"), "main").unwrap();
}

/// This test binary started again to run only the test `name`, with `env`: a process the
/// caller kills.
fn spawn_child(name: &str, env: &[(&str, &std::ffi::OsStr)]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--ignored", "--test-threads=1"])
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// A data folder where dataset `big` has a 3-row version, and a CSV of `rows` rows to
/// publish over it.
struct Published {
    data_dir: tempfile::TempDir,
    data: PathBuf,
    /// Holds `big`: bind it, or the file goes with it.
    _sources: tempfile::TempDir,
    big: PathBuf,
    text: String,
}

fn published(rows: u32) -> Published {
    let sources = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().to_owned();
    let small = sources.path().join("small.csv");
    std::fs::write(&small, "id,value\n1,10\n2,20\n3,30\n").unwrap();
    ingest(&data, &small, &dataset("big", "org", "Big"), "main").unwrap();
    let big = sources.path().join("big.csv");
    let mut text = String::from("id,value\n");
    for i in 0..rows {
        text.push_str(&format!("{i},{}\n", i % 977));
    }
    std::fs::write(&big, &text).unwrap();
    Published { data_dir, data, _sources: sources, big, text }
}

fn staging_entries(data: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data.join("staging")).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_ingests_leave_the_previous_version_served() {
    // Big enough that an ingest takes a while in a debug build.
    let Published { data_dir, data, big, _sources, .. } = published(1_500_000);

    let mut interrupted = 0;
    let mut completed = false;
    for delay_ms in [0u64, 150, 400, 900, 1_500] {
        let mut child = spawn_child(
            "fault::fault_child_ingest",
            &[(CHILD_DATA, data.as_os_str()), (CHILD_SOURCE, big.as_os_str())],
        );
        // Wait until the child is writing, then let it run a little further.
        let started = Instant::now();
        while staging_entries(&data).is_empty() && started.elapsed() < Duration::from_secs(20) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap_or(()); // SIGKILL: no destructor, no cleanup runs
        child.wait().unwrap();
        if !finished {
            interrupted += 1;
        }

        // Reopening sees a consistent catalog whose every version has its file.
        let store = crate::common::store(&data);
        let d = store.catalog().dataset("big").unwrap();
        let t = &d.tables[0];
        for v in &t.versions {
            assert!(store.version_path(v).unwrap().is_file(), "version {} has no file", v.version);
        }
        if finished {
            // This machine outran the kill: the ingest completed and published whole.
            completed = true;
            break;
        }
        assert_eq!(t.versions.len(), 1, "a killed ingest published a version (delay {delay_ms} ms)");
        assert!(staging_entries(&data).is_empty(), "leftovers after reopening: {:?}", staging_entries(&data));
    }
    assert!(interrupted >= 3, "only {interrupted} ingests were interrupted: the file is too small to catch one");

    let s = TestServer::serve(data_dir).await;
    let rows = s.json("/api/v1/datasets/big/tables/main/rows", 200).await;
    let d = s.json("/api/v1/datasets/big", 200).await;
    if completed {
        assert_eq!((rows["total"].as_u64(), d["tables"][0]["version"].as_u64()), (Some(1_500_000), Some(2)));
    } else {
        assert_eq!((rows["total"].as_u64(), d["tables"][0]["version"].as_u64()), (Some(3), Some(1)));
    }
}

const INDEX_CHILD_DIR: &str = "OPENDATA_FAULT_CHILD_INDEX";

/// The process the index fault test kills: commits one dataset after another, forever.
#[test]
#[ignore = "started (and killed) by a_killed_index_writer_leaves_a_readable_index"]
fn fault_child_index_writer() {
    let Some(dir) = std::env::var_os(INDEX_CHILD_DIR) else {
        return;
    };
    let index = search_index::SearchIndex::open(Path::new(&dir)).unwrap();
    for i in 0.. {
        let doc = search_index::IndexedDataset {
            id: format!("d{i}"),
            title: format!("Хүн амын тоо {i}"),
            organization: "nso".into(),
            columns: (0..200).map(|c| format!("багана {c}")).collect(),
            ..Default::default()
        };
        index.upsert(&[doc]).unwrap();
    }
}

/// tantivy commits are atomic: after `kill -9` mid-write, the index opens, answers, shows
/// every commit that finished and accepts new writes.
#[test]
fn a_killed_index_writer_leaves_a_readable_index() {
    let dir = tempfile::tempdir().unwrap();
    for delay_ms in [200u64, 700, 1_300] {
        let mut child = spawn_child("fault::fault_child_index_writer", &[(INDEX_CHILD_DIR, dir.path().as_os_str())]);
        let q = |q: &str| search_index::SearchQuery { q: Some(q.into()), limit: 1, ..Default::default() };
        // The kill lands `delay_ms` after the child's first commit is visible, so a slow
        // start on a busy machine moves the kill point instead of failing the test.
        let committed = |dir: &std::path::Path| {
            search_index::SearchIndex::open(dir)
                .ok()
                .and_then(|i| i.search(&q("хүн ам")).ok())
                .is_some_and(|r| r.total > 0)
        };
        let started = std::time::Instant::now();
        while !committed(dir.path()) && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();

        let index = search_index::SearchIndex::open(dir.path()).unwrap();
        let found = index.search(&q("хүн ам")).unwrap().total;
        assert!(found > 0, "{delay_ms} ms after the first commit no committed dataset is visible");
        // Still writable: the killed writer's lock does not outlive it.
        index
            .upsert(&[search_index::IndexedDataset {
                id: "after".into(), title: "Дараа".into(), ..Default::default()
            }])
            .unwrap();
        assert_eq!(index.search(&q("дараа")).unwrap().total, 1);
    }
}

const REINDEX_CHILD_DATA: &str = "OPENDATA_FAULT_CHILD_REINDEX";

/// The process the crash trials kill while it rebuilds the search index, again and again.
#[test]
#[ignore = "started (and killed) by crash_trials_leave_catalog_files_and_index_agreeing"]
fn fault_child_reindex() {
    let Some(data) = std::env::var_os(REINDEX_CHILD_DATA) else {
        return;
    };
    let store = crate::common::store(Path::new(&data));
    let index = opendata_server::publish::open_index(&store, &store.index_dir()).unwrap();
    loop {
        opendata_server::publish::reindex(&store, &index).unwrap();
    }
}

/// A deterministic sequence of delays, so a failing trial can be run again as it was.
fn delays(seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed;
    std::iter::repeat_with(move || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % 1_200
    })
}

/// The ingest children of this process that are running.
fn ingest_children() -> Vec<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let parent = status.lines().find_map(|l| l.strip_prefix("PPid:"))?.trim().to_owned();
            let env = std::fs::read(e.path().join("environ")).ok()?;
            let ingest = String::from_utf8_lossy(&env).contains("OPENDATA_WORKER=ingest");
            (parent == me && ingest && !status.contains("State:\tZ")).then_some(pid)
        })
        .collect()
}

/// Catalog, files and search index agree, as a server opening `data` sees them: every
/// version has its file, no file in `tables/` lacks a version, nothing is left in staging,
/// and the index lists exactly the catalog's datasets as they are now.
fn assert_consistent(data: &Path) {
    let store = crate::common::store(data);
    let index = opendata_server::publish::open_index(&store, &store.index_dir()).unwrap();
    opendata_server::publish::repair_index(&store, &index).unwrap();
    let mut files = std::collections::HashSet::new();
    for d in store.catalog().datasets().unwrap() {
        for t in &d.tables {
            for v in &t.versions {
                assert!(
                    store.version_path(v).unwrap().is_file(),
                    "{}/{} v{} has no file",
                    d.meta.id,
                    t.name,
                    v.version
                );
                files.insert(store.version_path(v).unwrap());
            }
        }
    }
    for entry in walk(&data.join("tables")) {
        // Files younger than the sweep's hour may be a publish between rename and commit;
        // they are never visible, which is what matters to readers.
        assert!(files.contains(&entry) || is_young(&entry), "orphaned file {}", entry.display());
    }
    assert!(staging_entries(data).is_empty(), "leftovers in staging: {:?}", staging_entries(data));
    let mut indexed: Vec<(String, i64)> = index.entries().unwrap();
    indexed.sort();
    let mut catalog: Vec<(String, i64)> = store
        .catalog()
        .datasets()
        .unwrap()
        .into_iter()
        .map(|d| (d.meta.id.clone(), d.updated_at.timestamp_micros()))
        .collect();
    catalog.sort();
    assert_eq!(indexed, catalog, "the index and the catalog disagree");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

fn is_young(path: &Path) -> bool {
    path.metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().unwrap_or_default() < Duration::from_secs(3600))
}

/// `kill -9` at pseudo-random points of 21 operations (7 each): a command-line ingest, an
/// upload's ingest process, and a reindex. After each, catalog, files and index agree, and
/// the previous version is the one served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_trials_leave_catalog_files_and_index_agreeing() {
    let Published { data_dir: _data_dir, data, big, text, _sources } = published(600_000);
    let store = crate::common::store(&data);
    let token = crate::common::publisher(&store, "bat", false, &[("org", opendata_datasets::Role::Editor)]);
    drop(store);
    let mut served = 3u64;
    let mut interrupted = [0usize; 3];
    let mut delay = delays(20_261_202);
    for trial in 0..21 {
        let wait = Duration::from_millis(delay.next().unwrap());
        // Each trial's file differs by one row, so a publish that completed never turns the
        // next trial into a quick no-op that nothing can interrupt.
        let text = format!("{text}{},{trial}\n", 10_000_000 + trial);
        std::fs::write(&big, &text).unwrap();
        match trial % 3 {
            // A command-line ingest, killed.
            0 => {
                let mut child = spawn_child(
                    "fault::fault_child_ingest",
                    &[(CHILD_DATA, data.as_os_str()), (CHILD_SOURCE, big.as_os_str())],
                );
                std::thread::sleep(wait);
                if child.try_wait().unwrap().is_some() {
                    served = 600_001;
                } else {
                    interrupted[0] += 1;
                }
                child.kill().unwrap_or(());
                child.wait().unwrap();
            }
            // An upload whose ingest process is killed: the job fails and says so.
            1 => {
                let s = crate::common::TestServer::serve_at(&data).await;
                let path = "/api/v1/datasets/big/tables/main/versions";
                let body = reqwest::Body::from(text.clone());
                let (status, headers, _) =
                    crate::common::send(&s, reqwest::Method::POST, path, Some(&token), Some(body)).await;
                assert_eq!(status, 202);
                let started = std::time::Instant::now();
                while ingest_children().is_empty() && started.elapsed() < Duration::from_secs(20) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                tokio::time::sleep(wait).await;
                for pid in ingest_children() {
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
                let job = crate::common::wait_for_job(&s, &token, headers["location"].to_str().unwrap()).await;
                if job["status"] == "succeeded" {
                    served = 600_001;
                } else {
                    assert!(job["error"].as_str().unwrap().contains("stopped unexpectedly"), "{job}");
                    interrupted[1] += 1;
                }
                let rows = s.json("/api/v1/datasets/big/tables/main/rows?limit=1", 200).await;
                assert_eq!(rows["total"].as_u64(), Some(served), "trial {trial}");
            }
            // A reindex, killed.
            _ => {
                let mut child = spawn_child("fault::fault_child_reindex", &[(REINDEX_CHILD_DATA, data.as_os_str())]);
                std::thread::sleep(wait + Duration::from_millis(200));
                if child.try_wait().unwrap().is_none() {
                    interrupted[2] += 1;
                }
                child.kill().unwrap_or(());
                child.wait().unwrap();
            }
        }
        assert_consistent(&data);
        let store = crate::common::store(&data);
        let latest = store.catalog().dataset("big").unwrap().tables[0].latest().row_count;
        assert_eq!(latest, served, "trial {trial}: the served version changed without a finished publish");
    }
    eprintln!(
        "crash trials interrupted: {} ingests, {} uploads, {} reindexes of 7 each",
        interrupted[0], interrupted[1], interrupted[2]
    );
    assert!(interrupted.iter().all(|&n| n >= 3), "too few trials were interrupted mid-way: {interrupted:?}");
}
