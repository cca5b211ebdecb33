//! Several nodes over one catalog: what one node publishes, edits or withdraws reaches every
//! other node's search index through the change feed.

use std::path::Path;
use std::time::{Duration, Instant};

use opendata_datasets::{Role, Store};
use reqwest::Method as M;
use serde_json::json;

use crate::common::postgres::Postgres;
use crate::common::{TestServer, org, publisher, send, wait_for_job};

/// Waits until `node`'s search for `q` answers `ids`; how long that took.
async fn searchable(node: &TestServer, q: &str, ids: &[&str]) -> Duration {
    let started = Instant::now();
    loop {
        let found = node.json(&format!("/api/v1/datasets?q={q}"), 200).await;
        let got: Vec<&str> = found["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
        if got == ids {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{q}: {got:?} after 10 s, not {ids:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn node(data: &Path, catalog: &str) -> TestServer {
    // The node's own temporary folder holds its index.
    let own = tempfile::tempdir().unwrap();
    let (data, catalog, index) = (data.to_owned(), catalog.to_owned(), own.path().join("index"));
    TestServer::serve_with(own, move |c| {
        c.data = data;
        c.catalog = Some(catalog);
        c.index = Some(index);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_on_one_node_is_searchable_on_the_others_within_two_seconds() {
    let catalog = Postgres::shared().database();
    let data = tempfile::tempdir().unwrap();
    let store = Store::connect(data.path(), &locations(&catalog)).unwrap();
    store.catalog().upsert_organization(&org("nso", "ҮСХ")).unwrap();
    let token = publisher(&store, "bat", false, &[("nso", Role::Editor)]);
    drop(store);
    let (a, b, c) =
        (node(data.path(), &catalog).await, node(data.path(), &catalog).await, node(data.path(), &catalog).await);

    let body = json!({"id": "camels", "organization": "nso", "title": "Тэмээний тоо"}).to_string();
    let (status, _, created) = send(&a, M::POST, "/api/v1/datasets", Some(&token), Some(body.into())).await;
    assert_eq!(status, 201, "{created}");
    let upload = "/api/v1/datasets/camels/tables/main/versions?file_name=camels.csv";
    let (status, headers, job) = send(&a, M::POST, upload, Some(&token), Some("aimag,camels\nХовд,30\n".into())).await;
    assert_eq!(status, 202, "{job}");
    let done = wait_for_job(&a, &token, headers["location"].to_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let waited = searchable(&c, "тэмээ", &["camels"]).await;
    assert!(waited < Duration::from_secs(2), "searchable on another node after {waited:?}");
    assert_eq!(b.json("/api/v1/datasets/camels/tables/main/rows", 200).await["rows"][0]["camels"], 30);

    // An edit on one node and a withdrawal on another reach the third.
    let edit = json!({"title": "Ингэн сүрэг"}).to_string();
    let (status, _, _) = send(&b, M::PATCH, "/api/v1/datasets/camels", Some(&token), Some(edit.into())).await;
    assert_eq!(status, 200);
    searchable(&a, "ингэн", &["camels"]).await;
    searchable(&c, "ингэн", &["camels"]).await;
    let admin = {
        let store = Store::connect(data.path(), &locations(&catalog)).unwrap();
        publisher(&store, "root", true, &[])
    };
    let (status, _, _) = send(&c, M::DELETE, "/api/v1/datasets/camels", Some(&admin), None).await;
    assert_eq!(status, 204);
    searchable(&a, "ингэн", &[]).await;
    searchable(&b, "ингэн", &[]).await;
}

/// With SQLite, a command-line ingest into the folder a server serves is searchable there
/// without a restart: the feed is in the catalog file they share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_line_ingest_reaches_a_running_server() {
    let data = tempfile::tempdir().unwrap();
    // The server's index is not the one the command line writes: only the feed can tell it.
    let own = tempfile::tempdir().unwrap();
    let (path, index) = (data.path().to_owned(), own.path().join("index"));
    let s = TestServer::serve_with(own, |c| {
        c.data = path;
        c.index = Some(index);
    })
    .await;
    let csv = data.path().join("goats.csv");
    std::fs::write(&csv, "aimag,goats\nХовд,900\n").unwrap();
    crate::common::ingest(data.path(), &csv, &crate::common::dataset("goats", "nso", "Ямаа"), "main").unwrap();
    let waited = searchable(&s, "ямаа", &["goats"]).await;
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

/// A job whose node died mid-ingest (its lease runs out unrenewed) is finished by another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_left_by_a_dead_node_is_finished_by_another() {
    use opendata_datasets::{Job, JobInput, JobStatus};
    let catalog = Postgres::shared().database();
    let data = tempfile::tempdir().unwrap();
    let store = Store::connect(data.path(), &locations(&catalog)).unwrap();
    store.catalog().upsert_organization(&org("nso", "ҮСХ")).unwrap();
    store.catalog().upsert_dataset(&crate::common::dataset("sheep", "nso", "Хонь")).unwrap();
    let token = publisher(&store, "bat", false, &[("nso", Role::Editor)]);
    let token_id = store.catalog().tokens().unwrap()[0].id.clone();
    // What the dead node had done: kept the upload, queued the job, claimed it.
    let staged = store.stage("csv");
    std::fs::write(staged.path(), "aimag,sheep\nХовд,1200\n").unwrap();
    let upload = store.keep_upload(staged, "deadbeef", "csv").unwrap();
    let job = Job {
        id: "deadbeef".into(),
        dataset: "sheep".into(),
        table: "main".into(),
        user: "bat".into(),
        token: Some(token_id),
        status: JobStatus::Queued,
        created_at: chrono::Utc::now(),
        finished_at: None,
        version: None,
        error: None,
        input: Some(JobInput {
            upload,
            file_name: "sheep.csv".into(),
            table_title: None,
            draft: false,
            original: false,
            fixes: None,
        }),
        lease: None,
        attempts: 0,
        harvest: None,
    };
    store.catalog().put_job(&job).unwrap();
    let lease = chrono::Utc::now() + chrono::Duration::milliseconds(500);
    assert_eq!(store.catalog().claim_job("dead-node", lease).unwrap().unwrap().id, "deadbeef");
    drop(store);

    let survivor = node(data.path(), &catalog).await;
    let done = wait_for_job(&survivor, &token, "/api/v1/jobs/deadbeef").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(survivor.json("/api/v1/datasets/sheep/tables/main/rows", 200).await["rows"][0]["sheep"], 1200);
    let store = Store::connect(data.path(), &locations(&catalog)).unwrap();
    assert_eq!(store.catalog().job("deadbeef").unwrap().attempts, 2);
    assert!(!data.path().join("uploads/deadbeef.csv").exists(), "the upload goes with its job");
}

fn locations(catalog: &str) -> opendata_datasets::Locations {
    opendata_datasets::Locations { catalog: Some(catalog.to_owned()), ..Default::default() }
}

/// A source harvested on a schedule: when its time comes, the maintainer queues a harvest
/// job, and a node's job runner harvests it (metadata, rows, search) and moves the next
/// harvest a period on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_harvests_run_as_jobs() {
    let source = TestServer::standard().await;
    let expected = source.json("/api/v1/datasets/air-quality", 200).await;
    let target = tempfile::tempdir().unwrap();
    let due = opendata_datasets::HarvestSource {
        namespace: "src".into(),
        protocol: opendata_datasets::HarvestProtocol::Ckan,
        url: source.url(""),
        metadata_only: false,
        every_hours: 6,
        next_run: chrono::Utc::now(),
        last_job: None,
    };
    crate::common::store(target.path()).catalog().put_harvest_source(&due).unwrap();
    let node = TestServer::serve_with(target, |c| c.fetch.allow_networks = vec!["127.0.0.1".into()]).await;
    let started = Instant::now();
    let job = loop {
        let sources = node.state.store.catalog().harvest_sources().unwrap();
        let job = sources[0].last_job.as_ref().and_then(|id| node.state.store.catalog().job(id).ok());
        if let Some(job) = job.filter(|j| {
            matches!(j.status, opendata_datasets::JobStatus::Succeeded | opendata_datasets::JobStatus::Failed)
        }) {
            let next = sources[0].next_run - chrono::Utc::now();
            assert!(next > chrono::Duration::hours(5), "the next harvest is a period on: {next}");
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "no harvest ran: {sources:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(job.status, opendata_datasets::JobStatus::Succeeded, "{job:?}");
    let got = node.json("/api/v1/datasets/src--air-quality", 200).await;
    assert_eq!(got["title"], expected["title"]);
    assert_eq!(got["tables"][0]["row_count"], expected["tables"][0]["row_count"]);
    let found = node.json("/api/v1/datasets?q=%D0%B0%D0%B3%D0%B0%D0%B0%D1%80", 200).await;
    assert_eq!(found["results"][0]["id"], "src--air-quality", "searchable at once: {found}");
}
