//! The CKAN Action API, spoken to over HTTP and by the real `ckanapi` client (PyPI; `.ci/run`
//! installs it).

use std::process::Command;

use serde_json::{Value, json};

use crate::common::TestServer;

async fn action(s: &TestServer, name: &str, query: &str) -> (u16, Value) {
    let res = s.get(&format!("/api/3/action/{name}?{query}")).await;
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ckan_read_actions() {
    let s = TestServer::standard().await;
    let (status, body) = action(&s, "package_list", "").await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["result"], json!(["air-quality", "population"]));
    assert!(body["help"].as_str().unwrap().ends_with("help_show?name=package_list"));

    let pkg = action(&s, "package_show", "id=air-quality").await.1["result"].clone();
    assert_eq!(pkg["name"], "air-quality");
    assert_eq!(pkg["owner_org"], "agaar");
    let resource = &pkg["resources"][0];
    assert_eq!(resource["id"], "air_quality__readings");
    assert_eq!(resource["format"], "CSV");
    assert!(resource["url"].as_str().unwrap().ends_with("/api/v1/datasets/air-quality/tables/readings/data.csv"));
    assert_eq!(action(&s, "resource_show", "id=air_quality__readings").await.1["result"]["package_id"], "air-quality");

    // Search with a Solr filter and facets, as ckanapi and harvesters send it.
    let (_, r) =
        action(&s, "package_search", "q=агаар&fq=organization:agaar&facet.field=[\"organization\",\"tags\"]&rows=5")
            .await;
    let r = &r["result"];
    assert_eq!(r["count"], 1);
    assert_eq!(r["results"][0]["name"], "air-quality");
    assert_eq!(r["search_facets"]["organization"]["items"][0]["name"], "agaar");
    assert!(r["facets"]["tags"].is_object());

    // The datastore: filters, fields, sort, paging and totals, checked like the rows API.
    let (_, ds) = action(
        &s,
        "datastore_search",
        "resource_id=air_quality__readings&filters={\"station\":\"ST03\"}&fields=id,station&sort=id desc&limit=5",
    )
    .await;
    let ds = &ds["result"];
    assert_eq!(ds["total"], (1..=2_500).filter(|i| i % 7 == 3).count());
    assert_eq!(ds["records"].as_array().unwrap().len(), 5);
    assert_eq!(ds["records"][0], json!({"id": 2495, "station": "ST03"}));
    assert_eq!(ds["fields"][0]["type"], "int");
    let (_, lists) = action(
        &s,
        "datastore_search",
        "resource_id=air_quality__readings&fields=id&limit=2&offset=10&records_format=lists",
    )
    .await;
    assert_eq!(lists["result"]["records"], json!([[11], [12]]));

    let (_, sql) = action(&s, "datastore_search_sql", "sql=SELECT count(*) AS n FROM \"air_quality__readings\"").await;
    assert_eq!(sql["result"]["records"][0]["n"], 2_500);

    // Errors in CKAN's shape, which clients turn back into exceptions.
    let (status, e) = action(&s, "package_show", "id=nope").await;
    assert_eq!(status, 404);
    assert_eq!(e["success"], false);
    assert_eq!(e["error"]["__type"], "Not Found Error");
    let (status, e) = action(&s, "datastore_search", "resource_id=air_quality__readings&filters={\"nope\":1}").await;
    assert_eq!(status, 409);
    assert_eq!(e["error"]["__type"], "Validation Error");
    assert!(e["error"]["message"].as_str().unwrap().contains("nope"));
    let (status, e) = action(&s, "datastore_search_sql", "sql=SELECT * FROM read_csv('/etc/passwd')").await;
    assert_eq!(status, 409);
    assert!(!e.to_string().contains("root:"), "{e}");
    let (status, _) = action(&s, "package_create", "").await;
    assert_eq!(status, 400);
}

/// The real client: `ckanapi action` and `ckanapi dump`, over loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ckanapi_client_reads_the_portal() {
    let s = TestServer::standard().await;
    let base = s.url("");
    let out_dir = tempfile::tempdir().unwrap();
    let dump = out_dir.path().join("datasets.jsonl");
    let (base2, dump2) = (base.clone(), dump.clone());
    let (search, dumped) = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let out = Command::new("ckanapi")
                .args(args)
                .output()
                .expect("the ckanapi client runs (pip install ckanapi; .ci/run installs it)");
            assert!(out.status.success(), "ckanapi {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        let search = run(&["action", "package_search", "q=хүн", "-r", &base2]);
        run(&["dump", "datasets", "--all", "-q", "-r", &base2, "-O", dump2.to_str().unwrap()]);
        (search, std::fs::read_to_string(&dump2).unwrap())
    })
    .await
    .unwrap();
    let search: Value = serde_json::from_str(&search).unwrap();
    assert_eq!(search["count"], 1);
    assert_eq!(search["results"][0]["name"], "population");
    let names: Vec<String> = dumped
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"population".to_owned()) && names.contains(&"air-quality".to_owned()));
}
