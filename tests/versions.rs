//! Versions: unchanged content makes none, changed content makes one with its changes, and
//! a publisher's column corrections outlive versions.

use std::collections::BTreeMap;

use opendata_datasets::{ColumnOverride, ColumnType};
use opendata_ingest::ReadOptions;

use crate::common::{TestServer, dataset, ingest, ingest_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_record_what_changed() {
    let s = TestServer::start(|data| {
        let meta = dataset("prices", "nso", "Үнэ");
        let v1 = data.join("v1.csv");
        std::fs::write(&v1, "item,code,price\nmilk,1,2500\nbread,2,1800\nmeat,3,14500\n").unwrap();
        let first = ingest(data, &v1, &meta, "main").unwrap();
        assert!(!first.tables[0].unchanged);
        // The same bytes again, under another name: nothing new is published.
        let again = data.join("again.csv");
        std::fs::copy(&v1, &again).unwrap();
        let same = ingest(data, &again, &meta, "main").unwrap();
        assert!(same.tables[0].unchanged);
        assert_eq!(same.tables[0].version.version, 1);
        // Bread is gone, two rows are new, `code` became text, `unit` is a new column.
        let v2 = data.join("v2.csv");
        std::fs::write(&v2, "item,code,price,unit\nmilk,1,2500,l\nmeat,3,14500,kg\nrice,A4,3200,kg\nsalt,5,900,kg\n")
            .unwrap();
        let second = ingest(data, &v2, &meta, "main").unwrap();
        assert_eq!(second.tables[0].version.version, 2);
    })
    .await;
    let d = s.json("/api/v1/datasets/prices", 200).await;
    let versions = d["tables"][0]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions[0]["changes"].is_null());
    assert_eq!(versions[0]["content_hash"].as_str().unwrap().len(), 64);
    assert_ne!(versions[0]["content_hash"], versions[1]["content_hash"]);
    assert_eq!(
        versions[1]["changes"],
        serde_json::json!({
            "previous": 1, "rows_added": 2, "rows_removed": 1,
            "columns_added": ["unit"], "columns_removed": [],
            "columns_retyped": [{"column": "code", "from": "integer", "to": "string"}],
        })
    );
    // The first version stays readable, pinned.
    let old = s.json("/api/v1/datasets/prices/tables/main/rows?version=1&item=bread", 200).await;
    assert_eq!(old["rows"][0]["price"], 1800);
    let csv = s.get("/api/v1/datasets/prices/tables/main/data.csv?version=1").await.text().await.unwrap();
    assert!(csv.contains("bread,2,1800"), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_corrections_persist_across_ingests() {
    let s = TestServer::start(|data| {
        let meta = dataset("soums", "nso", "Сумд");
        let v1 = data.join("v1.csv");
        std::fs::write(&v1, "Сум,Код,Хүн ам\nУлиастай,18101,16397\nАлдархаан,18104,4012\n").unwrap();
        let mut columns = BTreeMap::new();
        columns.insert(
            "kod".to_owned(),
            ColumnOverride {
                kind: Some(ColumnType::String),
                label: Some("Сумын код".into()),
                description: Some("ҮСХ-ны засаг захиргааны код".into()),
                ..Default::default()
            },
        );
        columns.insert("khun_am".to_owned(), ColumnOverride { kind: Some(ColumnType::Float), ..Default::default() });
        ingest_with(data, &v1, &meta, "main", ReadOptions::default(), columns).unwrap();
        // A later ingest without the manifest keeps the corrections.
        let v2 = data.join("v2.csv");
        std::fs::write(&v2, "Сум,Код,Хүн ам\nУлиастай,18101,16500\nАлдархаан,18104,4100\nАсгат,18107,2100\n").unwrap();
        ingest(data, &v2, &meta, "main").unwrap();
    })
    .await;
    let d = s.json("/api/v1/datasets/soums", 200).await;
    let t = &d["tables"][0];
    assert_eq!(t["version"], 2);
    let kod = &t["columns"][1];
    assert_eq!((kod["name"].as_str(), kod["type"].as_str()), (Some("kod"), Some("string")));
    assert_eq!(kod["label"], "Сумын код");
    assert_eq!(kod["description"], "ҮСХ-ны засаг захиргааны код");
    assert_eq!(t["columns"][2]["type"], "float");
    let r = s.json("/api/v1/datasets/soums/tables/main/versions/2/report", 200).await;
    let reason = r["report"]["decisions"]["columns"][1]["reason"].as_str().unwrap();
    assert!(reason.contains("as the manifest says"), "{reason}");
}
