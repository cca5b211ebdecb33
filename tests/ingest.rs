//! Ingest of messy files, versions, failures that lose nothing, and live index updates.

use std::time::{Duration, Instant};

use serde_json::Value;

use opendata_ingest::ReadOptions;

use crate::common::{TestServer, dataset, fixture, ingest, ingest_with};

fn column<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["tables"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messy_csv_is_typed_over_the_whole_file() {
    let s = TestServer::standard().await;
    let d = s.json("/api/v1/datasets/population", 200).await;
    let kinds: Vec<(String, String, String)> = d["tables"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["label"].as_str().unwrap().into(),
                c["type"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect = [
        ("on_", "Он", "integer"),
        ("kod", "Код", "string"),
        ("aimag", "Аймаг", "string"),
        ("khun_amyn_too", "Хүн амын тоо", "integer"),
        // A "K" in row 290 of 300 makes the column text instead of failing the load.
        ("orkhiin_too", "Өрхийн тоо", "string"),
        ("dundaj_nas", "Дундаж нас", "float"),
        ("khot_esekh", "Хот эсэх", "boolean"),
        ("ognoo", "Огноо", "date"),
        ("tailbar", "Тайлбар", "string"),
    ];
    let expect: Vec<(String, String, String)> =
        expect.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(kinds, expect);
    // ".." is a null in a numeric column: rows 37, 74, ... 296.
    assert_eq!(column(&d, "dundaj_nas")["stats"]["null_count"], 8);
    assert_eq!(column(&d, "kod")["stats"]["min"], "011");
    assert_eq!(column(&d, "ognoo")["stats"]["max"], "2049-12-31");

    let t = "/api/v1/datasets/population/tables/main/rows";
    let codes = s.json(&format!("{t}?kod=045&select=kod,aimag&limit=1"), 200).await;
    assert_eq!(codes["rows"][0], serde_json::json!({"kod": "045", "aimag": "Дархан-Уул"}));
    assert_eq!(codes["total"], 50);
    let k = s.json(&format!("{t}?orkhiin_too=K"), 200).await;
    assert_eq!(k["total"], 1);
    // A quoted field with an embedded newline and a semicolon survives whole.
    let notes = s.json(&format!("{t}?tailbar__contains=шинэчилсэн&select=tailbar"), 200).await;
    assert_eq!(notes["total"], 13);
    assert_eq!(notes["rows"][0]["tailbar"], "Засвар; шинэчилсэн\nтоо");
    let city =
        s.json(&format!("{t}?khot_esekh=true&ognoo__gte=2049-01-01&select=ognoo,khot_esekh,dundaj_nas"), 200).await;
    assert_eq!(city["total"], 2);
    assert_eq!(city["rows"][0]["ognoo"], "2049-12-31");
    assert_eq!(city["rows"][0]["khot_esekh"], true);
    assert!(city["rows"][0]["dundaj_nas"].is_f64());
}

/// One odd value in 60,000 is a rejected value, reported with its line; a column with many
/// is text. Neither fails the load, unless the publisher asks for strict ingest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_text_value_after_fifty_thousand_numbers() {
    let s = TestServer::start(|data| {
        let mut csv = String::from("code,amount,ref\n");
        for i in 0..60_000 {
            let amount = if i == 50_001 { "K".to_string() } else { i.to_string() };
            let reference = if i % 300 == 7 { format!("R{i}") } else { i.to_string() };
            csv.push_str(&format!("{i},{amount},{reference}\n"));
        }
        let path = data.join("late.csv");
        std::fs::write(&path, csv).unwrap();
        let meta = dataset("late", "org", "Late");
        let strict = ReadOptions { strict: true, ..ReadOptions::default() };
        let err = ingest_with(data, &path, &meta, "main", strict, Default::default()).unwrap_err();
        assert!(err.contains("row 50003, column `amount`: `K`"), "{err}");
        ingest(data, &path, &meta, "main").unwrap();
    })
    .await;
    let d = s.json("/api/v1/datasets/late", 200).await;
    assert_eq!(column(&d, "code")["type"], "integer");
    assert_eq!(column(&d, "amount")["type"], "integer");
    assert_eq!(column(&d, "ref")["type"], "string");
    assert_eq!(d["tables"][0]["row_count"], 60_000);
    assert_eq!(column(&d, "amount")["stats"]["null_count"], 1);
    let r = s.json("/api/v1/datasets/late/tables/main/versions/1/report", 200).await;
    let report = &r["report"];
    assert_eq!((report["rows_read"].as_u64(), report["rows_kept"].as_u64()), (Some(60_000), Some(60_000)));
    assert_eq!(report["rows_rejected"], 1);
    assert_eq!(
        report["rejected"][0],
        serde_json::json!({"row": 50_003, "column": "amount", "value": "K", "reason": "not an integer"})
    );
    let decisions = report["decisions"]["columns"].as_array().unwrap();
    assert!(decisions[2]["reason"].as_str().unwrap().contains("`R7` (row 9)"), "{decisions:?}");
    assert_eq!(s.get("/api/v1/datasets/late/tables/main/versions/9/report").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_1251_is_detected_and_decoded() {
    let s = TestServer::start(|data| {
        ingest(data, &fixture("companies_cp1251.csv"), &dataset("companies", "rosstat", "Компании"), "main").unwrap();
    })
    .await;
    let d = s.json("/api/v1/datasets/companies", 200).await;
    assert_eq!(d["tables"][0]["versions"][0]["source"]["encoding"], "windows-1251");
    assert_eq!(column(&d, "naimenovanie")["label"], "Наименование");
    // INN codes with a leading zero keep the whole column as text.
    assert_eq!(column(&d, "inn")["type"], "string");
    let rows = s.json("/api/v1/datasets/companies/tables/main/rows?inn=7736050003", 200).await;
    assert_eq!(rows["rows"][0]["naimenovanie"], "ПАО \"Газпром\"");
    assert_eq!(rows["rows"][0]["vyruchka"], 6321);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_versions_keep_old_ones_and_failures_change_nothing() {
    let s = TestServer::standard().await;
    let data = s.data.path().to_owned();
    let meta = dataset("air-quality", "agaar", "Агаарын чанар");
    let v2 = data.join("v2.csv");
    std::fs::write(&v2, crate::common::readings_csv(10)).unwrap();
    let report = ingest(&data, &v2, &meta, "readings").unwrap();
    assert_eq!(report.tables[0].version.version, 2);

    let t = "/api/v1/datasets/air-quality/tables/readings/rows";
    assert_eq!(s.json(&format!("{t}?limit=1"), 200).await["total"], 10);
    assert_eq!(s.json(&format!("{t}?limit=1&version=1"), 200).await["total"], 2_500);

    // A broken upload: an empty file, then a binary one. Neither becomes a version.
    let empty = data.join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    assert!(ingest(&data, &empty, &meta, "readings").is_err());
    let binary = data.join("x.csv");
    std::fs::write(&binary, b"PAR1\x00\x01\x02garbage").unwrap();
    let err = ingest(&data, &binary, &meta, "readings").unwrap_err();
    assert!(err.contains("parquet"), "{err}");
    let d = s.json("/api/v1/datasets/air-quality", 200).await;
    assert_eq!(d["tables"][0]["version"], 2);
    assert_eq!(s.json(&format!("{t}?limit=1"), 200).await["total"], 10);
    // No half-written file is left in staging.
    assert_eq!(std::fs::read_dir(data.join("staging")).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_from_another_process_is_searchable_within_2_seconds() {
    let s = TestServer::standard().await;
    assert_eq!(s.json("/api/v1/datasets?q=ажилгүйдэл", 200).await["total"], 0);
    let path = s.data.path().join("u.csv");
    std::fs::write(&path, "Аймаг,Ажилгүйдэл\nДорнод,5.5\n").unwrap();
    let mut meta = dataset("unemployment", "mlsp", "Ажилгүйдлийн түвшин");
    meta.tags = vec!["ажилгүйдэл".into()];
    // The same code path as `opendata ingest`, with its own catalog and index handles.
    ingest(s.data.path(), &path, &meta, "main").unwrap();
    // The index commits before the ingest returns; the server's reader follows within 2 s.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if s.json("/api/v1/datasets?q=ажилгүйдэл", 200).await["total"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the new dataset did not appear in search within 2 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.json("/api/v1/datasets/unemployment/tables/main/rows", 200).await["total"], 1);
}
