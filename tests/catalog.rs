//! Catalog search, facets, metadata and organizations.

use serde_json::{Value, json};

use crate::common::TestServer;

fn ids(v: &Value) -> Vec<&str> {
    v["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_in_mongolian_with_facets_and_pages() {
    let s = TestServer::standard().await;
    assert_eq!(s.json("/healthz", 200).await["status"], "ok");

    let all = s.json("/api/v1/datasets", 200).await;
    assert_eq!(all["total"], 2);
    assert_eq!((all["page"].as_u64(), all["per_page"].as_u64()), (Some(1), Some(20)));
    let orgs: Vec<_> = all["facets"]["organization"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["value"].as_str().unwrap(), f["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(orgs, [("agaar", 1), ("nso", 1)]);
    assert_eq!(all["facets"]["format"][0], serde_json::json!({"value": "csv", "count": 2}));
    assert_eq!(all["facets"]["license"][0]["value"], "CC-BY-4.0");
    assert_eq!(all["facets"]["tag"][0]["value"], "test");

    // Title words, upper case, ө/ү, and column labels all find the right dataset.
    for q in ["хүн", "ХҮН АМЫН", "аймгаар", "Өрхийн", "агаарын"] {
        let r = s.json(&format!("/api/v1/datasets?q={q}"), 200).await;
        assert_eq!(r["total"], 1, "{q}");
    }
    assert_eq!(ids(&s.json("/api/v1/datasets?q=тоо", 200).await), ["population"]);
    assert_eq!(ids(&s.json("/api/v1/datasets?q=station", 200).await), ["air-quality"]);

    let filtered = s.json("/api/v1/datasets?organization=agaar", 200).await;
    assert_eq!(ids(&filtered), ["air-quality"]);
    // A facet counts with every filter but its own: the other organization stays on offer.
    assert_eq!(filtered["facets"]["organization"].as_array().unwrap().len(), 2);
    assert_eq!(filtered["facets"]["format"][0], serde_json::json!({"value": "csv", "count": 1}));
    assert_eq!(s.json("/api/v1/datasets?tag=none", 200).await["total"], 0);
    assert_eq!(s.json("/api/v1/datasets?license=CC-BY-4.0&format=csv", 200).await["total"], 2);

    let by_title = s.json("/api/v1/datasets?sort=title&per_page=1&page=2", 200).await;
    assert_eq!(ids(&by_title), ["population"]);
    assert_eq!(by_title["total"], 2);
    let recent = s.json("/api/v1/datasets?sort=updated", 200).await;
    assert_eq!(ids(&recent), ["air-quality", "population"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_metadata_follows_the_contract() {
    let s = TestServer::standard().await;
    let d = s.json("/api/v1/datasets/population", 200).await;
    for key in [
        "id",
        "title",
        "description",
        "organization",
        "tags",
        "license",
        "source",
        "created_at",
        "updated_at",
        "tables",
    ] {
        assert!(d.get(key).is_some(), "missing {key}");
    }
    let t = &d["tables"][0];
    assert_eq!(t["name"], "main");
    assert_eq!(t["version"], 1);
    assert_eq!(t["row_count"], 300);
    assert_eq!(t["sql_name"], "population__main");
    assert_eq!(t["versions"].as_array().unwrap().len(), 1);
    let downloads = t["downloads"].as_object().unwrap();
    assert!(downloads["csv"].as_str().unwrap().starts_with(&s.base));
    assert!(
        downloads["parquet"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/datasets/population/tables/main/data.parquet?version=1")
    );
    let year = &t["columns"][0];
    assert_eq!(
        (year["name"].as_str(), year["label"].as_str(), year["type"].as_str()),
        (Some("on_"), Some("Он"), Some("integer"))
    );
    let stats = &year["stats"];
    assert_eq!(
        (&stats["null_count"], &stats["min"], &stats["max"], &stats["distinct_count"]),
        (&json!(0), &json!(2000), &json!(2049), &json!(50))
    );

    // The distributions, against the rows binned here.
    let rows = s.json("/api/v1/datasets/population/tables/main/rows?limit=1000", 200).await;
    let rows = rows["rows"].as_array().unwrap();
    let mut bins = vec![0_u64; 20];
    for r in rows {
        let y = r["on_"].as_f64().unwrap();
        bins[(((y - 2000.0) * 20.0 / 49.0) as usize).min(19)] += 1;
    }
    assert_eq!(stats["counts"], json!(bins));
    let listed =
        t["columns"].as_array().unwrap().iter().find(|c| c["stats"]["values"].is_array()).expect("a listed column");
    let name = listed["name"].as_str().unwrap();
    let expected: Vec<u64> = listed["stats"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| rows.iter().filter(|r| &r[name] == v).count() as u64)
        .collect();
    assert_eq!(listed["stats"]["counts"], json!(expected), "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations() {
    let s = TestServer::standard().await;
    let list = s.json("/api/v1/organizations", 200).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["results"][1]["id"], "nso");
    assert_eq!(list["results"][1]["dataset_count"], 1);
    let nso = s.json("/api/v1/organizations/nso", 200).await;
    assert_eq!(nso["id"], "nso");
    assert_eq!(ids(&serde_json::json!({"results": nso["datasets"]})), ["population"]);
}
