//! Usage counts: what a reader's successful reads add to a dataset's views, downloads and
//! API calls, what `stats`, `/popular` and `sort=popular` make of them, and that they reach
//! the catalog at a flush and at shutdown.

use serde_json::Value;

use crate::common::{TestServer, standard_catalog, store};

async fn stats(s: &TestServer, id: &str) -> Value {
    s.json(&format!("/api/v1/datasets/{id}/stats"), 200).await
}

fn totals(stats: &Value) -> (u64, u64, u64) {
    let t = &stats["totals"];
    (t["views"].as_u64().unwrap(), t["downloads"].as_u64().unwrap(), t["api_calls"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successful_reads_count_by_kind_and_nothing_else_does() {
    let s = TestServer::standard().await;
    assert_eq!(totals(&stats(&s, "air-quality").await), (0, 0, 0));

    let table = "/api/v1/datasets/air-quality/tables/readings";
    for path in [
        "/datasets/air-quality".to_owned(),
        "/datasets/air-quality?lang=en".to_owned(),
        "/datasets/air-quality/embed?table=readings".to_owned(),
        format!("{table}/data.csv"),
        format!("{table}/rows?station=ST03"),
        format!("{table}/rows.csv?limit=5"),
        "/api/v1/datasets/air-quality".to_owned(),
        "/datasets/air-quality.ttl".to_owned(),
    ] {
        assert_eq!(s.get(&path).await.status(), 200, "{path}");
    }
    // None of these count: failures, a HEAD, a later range of a download, the stats.
    assert_eq!(s.get(&format!("{table}/rows?nope=1")).await.status(), 400);
    assert_eq!(s.get("/api/v1/datasets/air-quality/tables/nope/rows").await.status(), 404);
    assert_eq!(s.get("/api/v1/datasets/no-such-dataset").await.status(), 404);
    let head = s.client.head(s.url(&format!("{table}/data.parquet"))).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let ranged =
        s.client.get(s.url(&format!("{table}/data.parquet"))).header("Range", "bytes=100-199").send().await.unwrap();
    assert_eq!(ranged.status(), 206);
    let from_start =
        s.client.get(s.url(&format!("{table}/data.parquet"))).header("Range", "bytes=0-99").send().await.unwrap();
    assert_eq!(from_start.status(), 206);

    let got = stats(&s, "air-quality").await;
    assert_eq!(totals(&got), (3, 2, 4), "{got}");
    let days = got["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days.last().unwrap()["date"], got["to"]);
    assert_eq!(days.last().unwrap()["views"], 3, "today has them all");
    assert!(days[..29].iter().all(|d| d["views"] == 0 && d["downloads"] == 0 && d["api_calls"] == 0));
    assert_eq!(totals(&stats(&s, "population").await), (0, 0, 0), "another dataset is untouched");

    // Written to the catalog, nothing is counted twice, and the answer is the same.
    opendata_server::usage::flush(&s.state).await;
    assert_eq!(totals(&stats(&s, "air-quality").await), (3, 2, 4));
    let today: chrono::NaiveDate = got["to"].as_str().unwrap().parse().unwrap();
    let recorded = s.state.store.catalog().usage("air-quality", today).unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!((recorded[0].1.views, recorded[0].1.downloads, recorded[0].1.api_calls), (3, 2, 4));

    // The dataset page shows its own use.
    let page = s.get("/datasets/air-quality?lang=en").await.text().await.unwrap();
    // Rendered before this view of it is counted.
    assert!(page.contains("3 views · 2 downloads · 4 API calls"), "{page}");

    // Bad requests for stats are the API's problems.
    for (path, status) in [
        ("/api/v1/datasets/air-quality/stats?days=0", 400),
        ("/api/v1/datasets/air-quality/stats?days=367", 400),
        ("/api/v1/datasets/no-such-dataset/stats", 404),
    ] {
        let res = s.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{path}");
    }
    let year = s.json("/api/v1/datasets/air-quality/stats?days=366", 200).await;
    assert_eq!(year["days"].as_array().unwrap().len(), 366);
    assert_eq!(totals(&year), (4, 2, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_most_used_come_first() {
    let s = TestServer::standard().await;
    let first_of = |v: &Value, key: &str| v[key][0]["id"].as_str().or(v[key][0]["name"].as_str()).unwrap().to_owned();

    for _ in 0..3 {
        s.get("/api/v1/datasets/air-quality").await;
    }
    opendata_server::usage::flush(&s.state).await;
    let found = s.json("/api/v1/datasets?sort=popular", 200).await;
    assert_eq!(first_of(&found, "results"), "air-quality");
    assert_eq!(found["total"], 2, "unused datasets are still found, after");

    for _ in 0..5 {
        s.get("/api/v1/datasets/population/tables/main/data.csv").await;
    }
    opendata_server::usage::flush(&s.state).await;
    let found = s.json("/api/v1/datasets?sort=popular", 200).await;
    assert_eq!(first_of(&found, "results"), "population");
    // Filters still choose what is found; use only orders it.
    let found = s.json("/api/v1/datasets?sort=popular&organization=agaar", 200).await;
    assert_eq!(found["total"], 1);
    assert_eq!(first_of(&found, "results"), "air-quality");

    // CKAN clients ask for it by the tracking extension's name.
    let ckan = s.json("/api/3/action/package_search?sort=views_recent%20desc", 200).await;
    assert_eq!(first_of(&ckan["result"], "results"), "population");
    let pkg = s.json("/api/3/action/package_show?id=population&include_tracking=true", 200).await;
    assert_eq!(pkg["result"]["tracking_summary"]["total"], 5);
    assert_eq!(pkg["result"]["tracking_summary"]["recent"], 5);

    // The web: the most-used page in that order, and the search's sort.
    let page = s.get("/popular?lang=en").await.text().await.unwrap();
    let (p, a) = (page.find("/datasets/population").unwrap(), page.find("/datasets/air-quality").unwrap());
    assert!(p < a, "{page}");
    let search = s.get("/datasets?sort=popular&lang=en").await.text().await.unwrap();
    let (p, a) = (search.find("/datasets/population").unwrap(), search.find("/datasets/air-quality").unwrap());
    assert!(p < a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_reach_the_catalog_at_shutdown_and_not_when_turned_off() {
    let data = tempfile::tempdir().unwrap();
    standard_catalog(data.path());
    let today = chrono::Utc::now().date_naive();
    {
        let s = TestServer::serve_at(data.path()).await;
        assert_eq!(s.get("/datasets/population").await.status(), 200);
    } // dropped: the server shuts down and writes what it counted
    let catalog = store(data.path());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let recorded = catalog.catalog().usage("population", today).unwrap();
        if recorded.first().is_some_and(|(_, u)| u.views == 1) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the shutdown flush never came: {recorded:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let off = TestServer::serve_with(tempfile::tempdir().unwrap(), |c| {
        c.data = data.path().to_owned();
        c.usage.enabled = false;
    })
    .await;
    assert_eq!(off.get("/datasets/population").await.status(), 200);
    opendata_server::usage::flush(&off.state).await;
    assert_eq!(totals(&off.json("/api/v1/datasets/population/stats", 200).await), (1, 0, 0));
}
