//! The command line: manifests, single files, reindexing, and its error messages.

use clap::Parser;
use opendata_server::cli::{Cli, run};

use serde_json::Value;

use crate::common::TestServer;

fn opendata(args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["opendata"];
    argv.extend_from_slice(args);
    run(Cli::try_parse_from(argv)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_ingest_then_serve() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().to_owned();
    std::fs::write(dir.path().join("prices.csv"), "Огноо;Бараа;Үнэ\n2024-01-01;Талх;2400,5\n2024-02-01;Сүү;3200\n")
        .unwrap();
    std::fs::write(
        dir.path().join("jobs.toml"),
        r#"
[[organization]]
id = "nso"
title = "Үндэсний статистикийн хороо"
title_en = "National Statistics Office"

[[dataset]]
id = "prices"
organization = "nso"
title = "Үнэ"
title_en = "Prices"
tags = ["үнэ"]

  [[dataset.table]]
  name = "monthly"
  title = "Сарын үнэ"
  source = "prices.csv"
  delimiter = ";"
"#,
    )
    .unwrap();
    let manifest = dir.path().join("jobs.toml");
    let data_arg = data.to_str().unwrap().to_owned();
    let m = manifest.to_str().unwrap().to_owned();
    let d = data_arg.clone();
    tokio::task::spawn_blocking(move || opendata(&["ingest", "--manifest", &m, "--data", &d])).await.unwrap().unwrap();

    // Errors say what to fix.
    let d = data_arg.clone();
    let err = tokio::task::spawn_blocking(move || {
        opendata(&["ingest", "/no/such.csv", "--dataset", "x", "--org", "o", "--data", &d])
    })
    .await
    .unwrap()
    .unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");
    let d = data_arg.clone();
    let csv = dir.path().join("prices.csv").to_str().unwrap().to_owned();
    let err = tokio::task::spawn_blocking(move || opendata(&["ingest", &csv, "--dataset", "new-one", "--data", &d]))
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("--org"), "{err}");
    assert!(opendata(&["ingest"]).is_err());
    // A broken file: the message names the file, the line and the problem.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "[{\"a\": 1},\n {\"a\": 2,,}]\n").unwrap();
    let (d, b) = (data_arg.clone(), broken.to_str().unwrap().to_owned());
    let err = tokio::task::spawn_blocking(move || {
        opendata(&["ingest", &b, "--dataset", "broken", "--org", "o", "--data", &d])
    })
    .await
    .unwrap()
    .unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("broken.json") && message.contains("line 2") && message.contains("not JSON"), "{message}");

    // Reindexing from the catalog finds the same datasets.
    std::fs::remove_dir_all(data.join("index")).unwrap();
    let d = data_arg.clone();
    tokio::task::spawn_blocking(move || opendata(&["reindex", "--data", &d])).await.unwrap().unwrap();

    let s = TestServer::serve(data_dir).await;
    let found = s.json("/api/v1/datasets?q=үнэ", 200).await;
    assert_eq!(found["total"], 1);
    let d = s.json("/api/v1/datasets/prices", 200).await;
    assert_eq!(d["title_en"], "Prices");
    assert_eq!(d["tables"][0]["title"], "Сарын үнэ");
    assert_eq!(s.json("/api/v1/organizations/nso", 200).await["title_en"], "National Statistics Office");
}

/// The example manifest the README documents runs as written, twice: the second run finds
/// nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_manifest_runs() {
    let data_dir = tempfile::tempdir().unwrap();
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/manifest/nso.toml");
    let data = data_dir.path().to_str().unwrap().to_owned();
    for _ in 0..2 {
        let d = data.clone();
        tokio::task::spawn_blocking(move || opendata(&["ingest", "--manifest", manifest, "--data", &d]))
            .await
            .unwrap()
            .unwrap();
    }
    let s = TestServer::serve(data_dir).await;
    let d = s.json("/api/v1/datasets/population-by-aimag", 200).await;
    assert_eq!(d["title_en"], "Population by aimag");
    let t = &d["tables"][0];
    assert_eq!(t["version"], 1);
    let columns: Vec<(&str, &str, &str)> = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["label"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        columns,
        [
            ("aimag", "Аймаг", "string"),
            ("kod", "Аймгийн код", "string"),
            ("khun_am", "Хүн ам", "float"),
            ("osolt", "Өсөлт, %", "float"),
        ]
    );
    let rows = s.json("/api/v1/datasets/population-by-aimag/tables/main/rows?aimag=Өмнөговь", 200).await;
    assert_eq!(rows["rows"][0], serde_json::json!({"aimag": "Өмнөговь", "kod": "046", "khun_am": 73.1, "osolt": 2.4}));
    let soums = s.json("/api/v1/datasets/population-by-soum/tables/main/rows?scr_eng=Asgat", 200).await;
    assert_eq!(soums["rows"][0]["dtval_co"], 2094);
}

/// A URL source: downloaded with the publisher's validators, skipped on `304 Not Modified`,
/// refused over the size limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_sources_use_conditional_requests_and_limits() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;

    let downloads = Arc::new(AtomicUsize::new(0));
    let counter = downloads.clone();
    let app = axum::Router::new().route(
        "/export/prices.csv",
        axum::routing::get(move |headers: HeaderMap| {
            let counter = counter.clone();
            async move {
                if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v == "\"v1\"") {
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                counter.fetch_add(1, Ordering::SeqCst);
                ([(header::ETAG, "\"v1\"")], "item,price\nmilk,2500\nbread,1800\n").into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/export/prices.csv", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().to_str().unwrap().to_owned();
    let loopback = loopback_config(data_dir.path());
    for _ in 0..2 {
        let (d, u, c) = (data.clone(), url.clone(), loopback.clone());
        tokio::task::spawn_blocking(move || {
            opendata(&["ingest", &u, "--dataset", "prices", "--org", "nso", "--config", &c, "--data", &d])
        })
        .await
        .unwrap()
        .unwrap();
    }
    assert_eq!(downloads.load(Ordering::SeqCst), 1, "the second run must be answered 304");

    // Over the configured size limit: refused, nothing published.
    let config = data_dir.path().join("small.toml");
    std::fs::write(&config, "[fetch]\nmax_bytes = 10\nallow_networks = [\"127.0.0.1\"]\n").unwrap();
    let (d, u, c) = (data.clone(), url.clone(), config.to_str().unwrap().to_owned());
    let err = tokio::task::spawn_blocking(move || {
        opendata(&["--config", &c, "ingest", &u, "--dataset", "other", "--org", "nso", "--data", &d])
    })
    .await
    .unwrap()
    .unwrap_err();
    assert!(format!("{err:#}").contains("byte limit"), "{err:#}");

    let s = TestServer::serve(data_dir).await;
    let d = s.json("/api/v1/datasets/prices", 200).await;
    assert_eq!(d["tables"][0]["version"], 1);
    assert_eq!(d["tables"][0]["versions"][0]["source"]["file_name"], "prices.csv");
    assert_eq!(s.get("/api/v1/datasets/other").await.status(), 404);
}

/// `--sort-by` publishes the table sorted, keeps the keys for later versions, refuses an
/// unknown column without publishing, and an empty `--sort-by` restores the source order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_keys_order_the_file_and_stay_with_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().to_str().unwrap().to_owned();
    let csv = dir.path().join("readings.csv");
    let csv_arg = csv.to_str().unwrap().to_owned();
    let ingest = |extra: &'static [&'static str]| {
        let (data, csv) = (data.clone(), csv_arg.clone());
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["ingest", &csv, "--dataset", "readings", "--org", "o", "--data", &data];
            args.extend_from_slice(extra);
            opendata(&args)
        })
    };
    std::fs::write(&csv, crate::common::readings_csv(500)).unwrap();
    ingest(&["--sort-by", "station,-observed_at"]).await.unwrap().unwrap();
    // A later version without the flag keeps the keys.
    std::fs::write(&csv, crate::common::readings_csv(700)).unwrap();
    ingest(&[]).await.unwrap().unwrap();
    let err = ingest(&["--sort-by", "nope"]).await.unwrap().unwrap_err();
    assert!(format!("{err:#}").contains("`nope`"), "{err:#}");

    let s = TestServer::serve(data_dir).await;
    let table = &s.json("/api/v1/datasets/readings", 200).await["tables"][0];
    assert_eq!(table["versions"].as_array().unwrap().len(), 2, "the refused ingest published nothing");
    let rows = s.json("/api/v1/datasets/readings/tables/main/rows?limit=10000", 200).await;
    let keys: Vec<(String, String)> = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["station"].as_str().unwrap().to_owned(), r["observed_at"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(keys.len(), 700);
    let mut expected = keys.clone();
    expected.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    assert_eq!(keys, expected, "file order is station ascending, then observed_at descending");
    let report = s.json("/api/v1/datasets/readings/tables/main/versions/2/report", 200).await;
    assert_eq!(report["report"]["decisions"]["sorted_by"], serde_json::json!(["station", "-observed_at"]));
    // Filters still see every row.
    let st03 = s.json("/api/v1/datasets/readings/tables/main/rows?station=ST03&limit=1", 200).await;
    assert_eq!(st03["total"], (1..=700).filter(|i| i % 7 == 3).count());

    // An empty --sort-by clears the keys: the next version is in source order again.
    std::fs::write(&csv, crate::common::readings_csv(600)).unwrap();
    ingest(&["--sort-by"]).await.unwrap().unwrap();
    let rows = s.json("/api/v1/datasets/readings/tables/main/rows?version=3&limit=10000&select=id", 200).await;
    let ids: Vec<u64> = rows["rows"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=600).collect::<Vec<u64>>());
}

/// A configuration file that lets downloads reach loopback, where the test servers are.
fn loopback_config(dir: &std::path::Path) -> String {
    let path = dir.join("loopback.toml");
    std::fs::write(&path, "[fetch]\nallow_networks = [\"127.0.0.1\"]\n").unwrap();
    path.to_str().unwrap().to_owned()
}

/// `opendata harvest` imports the portal's own catalog through its CKAN and DCAT-AP
/// endpoints into a second data folder, over loopback: metadata, and every table's rows,
/// under the source's namespace, beside a local dataset and organization of the same names
/// that it leaves alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harvest_from_ckan_and_dcat() {
    let source = TestServer::standard().await;
    let expected = source.json("/api/v1/datasets/air-quality", 200).await;
    // Documents come over too, as links to where the source serves them.
    let editor =
        crate::common::publisher(&source.state.store, "bat", false, &[("nso", opendata_datasets::Role::Editor)]);
    let pdf = crate::documents::file("method.pdf", crate::documents::PDF, "Аргачлал");
    let (status, pdf) = crate::documents::add(&source, Some(&editor), "population", pdf).await;
    assert_eq!(status, 201, "{pdf}");
    let report = crate::documents::link("https://example.org/report", "Тайлан");
    assert_eq!(crate::documents::add(&source, Some(&editor), "population", report).await.0, 201);
    for (flag, url) in [("--ckan", source.url("")), ("--dcat", source.url("/catalog.jsonld"))] {
        let target = tempfile::tempdir().unwrap();
        let data = target.path().to_str().unwrap().to_owned();
        let local = target.path().join("local.csv");
        std::fs::write(&local, "station,value\nLOCAL,1\n").unwrap();
        crate::common::ingest(
            target.path(),
            &local,
            &crate::common::dataset("air-quality", "agaar", "Local"),
            "readings",
        )
        .unwrap();
        let config = loopback_config(target.path());
        for every in ["", "24"] {
            // The second time nothing changed at the source, so nothing new is published;
            // it also keeps the source, to harvest again every 24 hours.
            let (d, u, c) = (data.clone(), url.clone(), config.clone());
            tokio::task::spawn_blocking(move || {
                let mut args = vec!["harvest", flag, &u, "--namespace", "src", "--config", &c, "--data", &d];
                if !every.is_empty() {
                    args.extend(["--every", every]);
                }
                opendata(&args)
            })
            .await
            .unwrap()
            .unwrap();
        }
        let sources = crate::common::store(target.path()).catalog().harvest_sources().unwrap();
        assert_eq!(sources.len(), 1, "{flag}: {sources:?}");
        assert_eq!(
            (sources[0].namespace.as_str(), sources[0].url.as_str(), sources[0].every_hours),
            ("src", &*url, 24)
        );
        let next = sources[0].next_run - chrono::Utc::now();
        assert!(next > chrono::Duration::hours(23), "{flag}: harvested now, so next in a day: {next}");
        opendata(&["harvest", "--list", "--data", &data]).unwrap();
        opendata(&["harvest", "--remove", "src", "--data", &data]).unwrap();
        assert_eq!(crate::common::store(target.path()).catalog().harvest_sources().unwrap(), []);
        let err = opendata(&["harvest", "--remove", "src", "--data", &data]).unwrap_err();
        assert!(format!("{err:#}").contains("no source"), "{err:#}");

        let copy = TestServer::serve(target).await;
        let got = copy.json("/api/v1/datasets/src--air-quality", 200).await;
        assert_eq!(got["title"], expected["title"], "{flag}");
        assert_eq!(got["organization"], "src--agaar", "{flag}");
        assert_eq!(got["license"], expected["license"], "{flag}");
        let table = &got["tables"][0];
        assert_eq!(table["row_count"], expected["tables"][0]["row_count"], "{flag}");
        assert_eq!(table["version"], 1, "{flag}: the second harvest found nothing new");
        let population = copy.json("/api/v1/datasets/src--population", 200).await;
        assert_eq!(
            population["tables"][0]["row_count"],
            source.json("/api/v1/datasets/population", 200).await["tables"][0]["row_count"]
        );
        let docs = population["resources"].as_array().unwrap();
        let got: Vec<(&str, &str, &str)> = docs
            .iter()
            .map(|d| (d["title"].as_str().unwrap(), d["format"].as_str().unwrap(), d["url"].as_str().unwrap()))
            .collect();
        let expected_docs =
            [("Аргачлал", "PDF", pdf["url"].as_str().unwrap()), ("Тайлан", "LINK", "https://example.org/report")];
        assert_eq!(got, expected_docs, "{flag}: each document once, though harvested twice");
        // The local dataset and organization of the same names are untouched.
        let mine = copy.json("/api/v1/datasets/air-quality", 200).await;
        assert_eq!((mine["title"].as_str(), mine["tables"][0]["row_count"].as_u64()), (Some("Local"), Some(1)));
        assert_eq!(copy.json("/api/v1/organizations/agaar", 200).await["title"], "agaar");
        let ids = |v: Value| -> Vec<String> {
            v["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
        };
        let found = ids(copy.json("/api/v1/datasets?q=агаар", 200).await);
        assert!(found.contains(&"src--air-quality".to_owned()), "{flag}: harvested datasets are searchable: {found:?}");
    }
    let d = tempfile::tempdir().unwrap();
    let config = loopback_config(d.path());
    let data = d.path().to_str().unwrap();
    let err = opendata(&["harvest", "--ckan", "http://127.0.0.1:9/", "--config", &config, "--data", data]).unwrap_err();
    assert!(format!("{err:#}").contains("cannot fetch"), "{err:#}");
    // Local ids cannot take a harvested namespace.
    let err = opendata(&["ingest", &config, "--dataset", "src--x", "--org", "o", "--data", data]).unwrap_err();
    assert!(format!("{err:#}").contains("--"), "{err:#}");
}

/// Downloads reach public addresses only: loopback, a redirect to the cloud metadata
/// address, and private networks are refused unless `fetch.allow_networks` lists them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_fenced_to_public_addresses() {
    let source = TestServer::standard().await;
    let d = tempfile::tempdir().unwrap();
    let data = d.path().to_str().unwrap().to_owned();
    let url = source.url("");
    let (u, dd) = (url.clone(), data.clone());
    let err = tokio::task::spawn_blocking(move || opendata(&["harvest", "--ckan", &u, "--data", &dd]))
        .await
        .unwrap()
        .unwrap_err();
    assert!(format!("{err:#}").contains("public addresses only"), "{err:#}");
    let (u, dd) = (source.url("/api/v1/datasets/air-quality/tables/readings/data.csv"), data.clone());
    let err = tokio::task::spawn_blocking(move || {
        opendata(&["ingest", &u, "--dataset", "copy", "--org", "o", "--data", &dd])
    })
    .await
    .unwrap()
    .unwrap_err();
    assert!(format!("{err:#}").contains("public addresses only"), "{err:#}");

    // An allowed host that redirects to a fenced one: the redirect is checked too.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect = format!("http://{}/data.csv", listener.local_addr().unwrap());
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let answer = "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    let config = loopback_config(d.path());
    let err = tokio::task::spawn_blocking(move || {
        opendata(&["ingest", &redirect, "--dataset", "copy", "--org", "o", "--config", &config, "--data", &data])
    })
    .await
    .unwrap()
    .unwrap_err();
    assert!(format!("{err:#}").contains("169.254.169.254 is a loopback, private or link-local address"), "{err:#}");
}

/// `opendata user create` and `opendata token revoke`: a member with a role, and clear errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_tokens_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap().to_owned();
    let store = crate::common::store(data.path());
    store.catalog().upsert_organization(&crate::common::org("nso", "ҮСХ")).unwrap();
    let args = ["user", "create", "bat", "--name", "Бат", "--org", "nso", "--role", "editor", "--data", &d];
    tokio::task::spawn_blocking({
        let args = args.map(str::to_owned);
        move || opendata(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
    .unwrap();
    let user = store.catalog().user("bat").unwrap();
    assert_eq!(user.name, "Бат");
    assert_eq!(user.memberships, vec![("nso".to_owned(), opendata_datasets::Role::Editor)]);
    assert!(!user.site_admin);
    // The same id twice, an unknown organization, a role without one, an unknown token.
    let err = opendata(&["user", "create", "bat", "--data", &d]).unwrap_err();
    assert!(format!("{err:#}").contains("already exists"), "{err:#}");
    let err = opendata(&["user", "create", "dorj", "--org", "nope", "--role", "admin", "--data", &d]).unwrap_err();
    assert!(format!("{err:#}").contains("nope"), "{err:#}");
    assert!(store.catalog().user("dorj").is_err(), "a refused user is not half-created");
    assert!(opendata(&["user", "create", "x", "--role", "admin", "--data", &d]).is_err());
    let err = opendata(&["token", "revoke", "abc", "--data", &d]).unwrap_err();
    assert!(format!("{err:#}").contains("token `abc` not found"), "{err:#}");
    opendata(&["token", "create", "bat", "--label", "ci", "--expires-days", "30", "--data", &d]).unwrap();
    assert!(opendata(&["token", "create", "nobody", "--data", &d]).is_err());
    opendata(&["token", "list", "--user", "bat", "--data", &d]).unwrap();
    // A disabled user can do nothing, whatever their roles; enabling restores them.
    opendata(&["user", "disable", "bat", "--data", &d]).unwrap();
    let user = store.catalog().user("bat").unwrap();
    assert!(user.disabled && !user.may_publish("nso"));
    opendata(&["user", "enable", "bat", "--data", &d]).unwrap();
    assert!(store.catalog().user("bat").unwrap().may_publish("nso"));
    assert!(opendata(&["user", "disable", "nobody", "--data", &d]).is_err());
}

/// `opendata backup` while the portal serves and publishes, then `opendata restore` into a
/// new folder: the restored portal answers as the original did at the backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_serving_then_restore() {
    let s = TestServer::standard().await;
    let before = s.json("/api/v1/datasets/air-quality", 200).await;
    let rows = s.json("/api/v1/datasets/air-quality/tables/readings/rows?station=ST03&order=-id&limit=5", 200).await;
    let backup = tempfile::tempdir().unwrap();
    let to = backup.path().join("snapshot");
    let data = s.data.path().to_str().unwrap().to_owned();
    let (d, t) = (data.clone(), to.to_str().unwrap().to_owned());
    // Reads go on during the backup.
    let reading = s.json("/api/v1/datasets?q=агаар", 200);
    let (done, _) = tokio::join!(tokio::task::spawn_blocking(move || opendata(&["backup", &t, "--data", &d])), reading);
    done.unwrap().unwrap();
    // A backup never goes into a folder that holds something.
    let (d, t) = (data.clone(), to.to_str().unwrap().to_owned());
    assert!(opendata(&["backup", &t, "--data", &d]).is_err());

    let restored = tempfile::tempdir().unwrap();
    let (r, f) = (restored.path().join("data"), to.to_str().unwrap().to_owned());
    let target = r.to_str().unwrap().to_owned();
    tokio::task::spawn_blocking(move || opendata(&["restore", &f, "--data", &target])).await.unwrap().unwrap();
    let copy = TestServer::serve_at(&r).await;
    let after = copy.json("/api/v1/datasets/air-quality", 200).await;
    // Download links name the server they came from; the rest is the same.
    let tables = |mut d: Value| {
        d["tables"].as_array_mut().unwrap().iter_mut().for_each(|t| t["downloads"] = Value::Null);
        d["tables"].clone()
    };
    assert_eq!(tables(after.clone()), tables(before.clone()));
    assert_eq!(after["title"], before["title"]);
    assert_eq!(
        copy.json("/api/v1/datasets/air-quality/tables/readings/rows?station=ST03&order=-id&limit=5", 200).await,
        rows
    );
    let found = copy.json("/api/v1/datasets?q=агаар", 200).await;
    assert_eq!(found["results"][0]["id"], "air-quality", "the restored portal's index is built");
}
