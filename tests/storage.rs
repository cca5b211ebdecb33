//! Version files in an S3 bucket: published there before the catalog names them, read
//! through each node's cache, and the same answers as from a data folder.

use opendata_datasets::{Locations, Role, Store};
use reqwest::Method as M;
use serde_json::json;

use crate::common::postgres::Postgres;
use crate::common::s3::S3;
use crate::common::{TestServer, org, publisher, send, wait_for_job};

fn locations(catalog: &str, bucket: &str) -> Locations {
    Locations {
        catalog: Some(catalog.to_owned()),
        storage: Some(bucket.to_owned()),
        cache_mb: 64,
        storage_options: S3::shared().options(),
    }
}

async fn node(catalog: &str, bucket: &str, configure: impl FnOnce(&mut opendata_server::Config)) -> TestServer {
    let own = tempfile::tempdir().unwrap();
    let (catalog, bucket, data) = (catalog.to_owned(), bucket.to_owned(), own.path().join("data"));
    TestServer::serve_with(own, move |c| {
        c.data = data;
        c.catalog = Some(catalog);
        c.storage = Some(bucket);
        c.storage_options = S3::shared().options();
        configure(c);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_their_own_folders_share_versions_through_a_bucket() {
    let (catalog, bucket) = (Postgres::shared().database(), S3::shared().bucket());
    let setup = tempfile::tempdir().unwrap();
    let store = Store::connect(setup.path(), &locations(&catalog, &bucket)).unwrap();
    store.catalog().upsert_organization(&org("nso", "ҮСХ")).unwrap();
    let token = publisher(&store, "bat", false, &[("nso", Role::Editor)]);
    drop(store);
    let a = node(&catalog, &bucket, |_| {}).await;
    let b = node(&catalog, &bucket, |c| c.redirect_downloads = true).await;

    let body = json!({"id": "yaks", "organization": "nso", "title": "Сарлаг"}).to_string();
    assert_eq!(send(&a, M::POST, "/api/v1/datasets", Some(&token), Some(body.into())).await.0, 201);
    let mut csv = String::from("aimag,year,yaks\n");
    for i in 0..500 {
        csv.push_str(&format!("A{:02},{},{}\n", i % 21, 2000 + i % 24, i));
    }
    let upload = "/api/v1/datasets/yaks/tables/main/versions?file_name=yaks.csv";
    let (status, headers, job) = send(&a, M::POST, upload, Some(&token), Some(csv.into())).await;
    assert_eq!(status, 202, "{job}");
    let done = wait_for_job(&a, &token, headers["location"].to_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    // The version's file is in the bucket, under the name the catalog gives it.
    let d = a.json("/api/v1/datasets/yaks", 200).await;
    let table = S3::shared().folder(&bucket).join("tables/yaks/main");
    let objects: Vec<_> = walk(&table).into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect();
    assert_eq!(objects.len(), 1, "{objects:?}");
    // With its Delta log beside it, in the bucket.
    let commit = std::fs::read_to_string(table.join("_delta_log/00000000000000000000.json")).unwrap();
    let file = objects[0].file_name().unwrap().to_str().unwrap();
    assert!(commit.contains(&format!("\"add\":{{\"path\":\"{file}\"")), "{commit}");
    // The upload goes with its job, just after the job's end is recorded.
    let ended = std::time::Instant::now();
    while !walk(&S3::shared().folder(&bucket).join("uploads")).is_empty() {
        assert!(ended.elapsed() < std::time::Duration::from_secs(10), "the upload outlived its job");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // B has never seen the file: it reads it from the bucket, with the same answers as A.
    for path in [
        "/api/v1/datasets/yaks/tables/main/rows?aimag=A03&order=year&limit=5",
        "/api/v1/datasets/yaks/tables/main/rows?year__gte=2020&limit=1",
    ] {
        let (from_a, from_b) = (a.json(path, 200).await, b.json(path, 200).await);
        assert_eq!(from_a["rows"], from_b["rows"], "{path}");
        assert_eq!(from_a["total"], from_b["total"], "{path}");
    }
    let sql = "/api/v1/sql?q=SELECT%20aimag%2C%20sum(yaks)%20AS%20s%20FROM%20yaks__main%20GROUP%20BY%20aimag%20ORDER%20BY%20aimag";
    assert_eq!(a.json(sql, 200).await["rows"], b.json(sql, 200).await["rows"]);
    assert_eq!(b.json(sql, 200).await["rows"].as_array().unwrap().len(), 21);

    // A whole-file download from B is a redirect to the bucket, and the bytes are the file.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = no_redirects.get(b.url("/api/v1/datasets/yaks/tables/main/data.parquet")).send().await.unwrap();
    assert_eq!(res.status(), 307);
    let signed = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(signed.starts_with(&S3::shared().endpoint), "{signed}");
    let bytes = reqwest::get(&signed).await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, d["tables"][0]["versions"][0]["byte_size"].as_u64().unwrap());
    assert_eq!(&bytes[..4], b"PAR1");
    // The sweep removes, once an hour old, objects no version names, and nothing else.
    let orphan = table.join("20200101T000000.000000-1-0.parquet");
    std::fs::write(&orphan, b"PAR1 never committed").unwrap();
    let store = Store::connect(setup.path(), &locations(&catalog, &bucket)).unwrap();
    tokio::time::sleep(crate::common::s3::LISTING_CACHE).await;
    assert_eq!(store.sweep_bucket().unwrap(), 0, "too young to tell from a publish under way");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options().write(true).open(&orphan).unwrap().set_modified(old).unwrap();
    for kept in walk(&table) {
        std::fs::File::options().write(true).open(kept).unwrap().set_modified(old).unwrap();
    }
    tokio::time::sleep(crate::common::s3::LISTING_CACHE).await;
    assert_eq!(store.sweep_bucket().unwrap(), 1);
    assert!(!orphan.exists());
    assert_eq!(walk(&table).len(), 2, "the version and its Delta commit stay");

    // A serves the same file through itself.
    let through = a.get("/api/v1/datasets/yaks/tables/main/data.parquet").await;
    assert_eq!(through.status(), 200);
    assert_eq!(through.bytes().await.unwrap(), bytes);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            out.extend(walk(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}
