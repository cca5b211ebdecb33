//! Whole-table downloads: Parquet in place (Range, ETag), and filtered streams.

use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::common::TestServer;

const D: &str = "/api/v1/datasets/air-quality/tables/readings";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_supports_range_etag_and_conditional_requests() {
    let s = TestServer::standard().await;
    let full = s.get(&format!("{D}/data.parquet")).await;
    assert_eq!(full.status().as_u16(), 200);
    let etag = full.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert!(full.headers()["content-disposition"].to_str().unwrap().contains("air-quality__readings_v1.parquet"));
    let bytes = full.bytes().await.unwrap();
    let meta = s.json("/api/v1/datasets/air-quality", 200).await;
    assert_eq!(bytes.len() as u64, meta["tables"][0]["versions"][0]["byte_size"].as_u64().unwrap());
    let reader = SerializedFileReader::new(bytes.clone()).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 2_500);

    // A reader fetching the footer: the last 8 bytes are the footer length and "PAR1".
    let tail = s.client.get(s.url(&format!("{D}/data.parquet"))).header("Range", "bytes=-8").send().await.unwrap();
    assert_eq!(tail.status().as_u16(), 206);
    let n = bytes.len();
    assert_eq!(tail.headers()["content-range"], format!("bytes {}-{}/{}", n - 8, n - 1, n));
    assert_eq!(tail.bytes().await.unwrap(), bytes.slice(n - 8..));
    let mid = s.client.get(s.url(&format!("{D}/data.parquet"))).header("Range", "bytes=4-9").send().await.unwrap();
    assert_eq!(mid.bytes().await.unwrap(), bytes.slice(4..10));

    let cached = s.client.get(s.url(&format!("{D}/data.parquet"))).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(cached.status().as_u16(), 304);
    let beyond =
        s.client.get(s.url(&format!("{D}/data.parquet"))).header("Range", format!("bytes={n}-")).send().await.unwrap();
    assert_eq!(beyond.status().as_u16(), 416);
    assert_eq!(beyond.headers()["content-type"], "application/problem+json");
    // HEAD, as DuckDB sends before reading in place.
    let head = s.client.head(s.url(&format!("{D}/data.parquet"))).send().await.unwrap();
    assert_eq!(head.headers()["content-length"], n.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_stream_every_filtered_row_without_a_limit() {
    let s = TestServer::standard().await;
    // More rows than the rows API's default and maximum page: all of them come.
    let csv = s.get(&format!("{D}/data.csv")).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 2_500 + 1);
    assert!(text.starts_with("id,station,value,observed_at\n1,ST01,1.5,2024-01-02T01:00:00"));

    for filter in ["station=ST04", "value__gt=50&station__in=ST01,ST02", "id__lte=0"] {
        let total = s.json(&format!("{D}/rows?{filter}&limit=1"), 200).await["total"].as_u64().unwrap();
        let csv = s.get(&format!("{D}/data.csv?{filter}")).await.text().await.unwrap();
        assert_eq!(csv.lines().count() as u64, total + 1, "csv {filter}");
        let nd = s.get(&format!("{D}/data.ndjson?{filter}")).await.text().await.unwrap();
        assert_eq!(nd.lines().count() as u64, total, "ndjson {filter}");
        let pq = s.get(&format!("{D}/data.parquet?{filter}")).await.bytes().await.unwrap();
        let rows = SerializedFileReader::new(pq).unwrap().metadata().file_metadata().num_rows();
        assert_eq!(rows as u64, total, "parquet {filter}");
    }
    let sorted = s.get(&format!("{D}/data.csv?select=id&order=-id&id__gt=2497&bom=true")).await.bytes().await.unwrap();
    assert_eq!(&sorted[..], "\u{feff}id\n2500\n2499\n2498\n".as_bytes());
}

/// A grouping with as many items as the table has columns is still a grouping, not the file
/// as stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grouped_download_is_never_the_stored_file() {
    let s = TestServer::standard().await;
    let select = "station,count(*)%20as%20n,avg(value)%20as%20mean,max(id)%20as%20top";
    let pq = s.get(&format!("{D}/data.parquet?group_by=station&select={select}")).await.bytes().await.unwrap();
    let rows = SerializedFileReader::new(pq).unwrap().metadata().file_metadata().num_rows();
    assert_eq!(rows, 7, "one row per station");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_versions_download_by_number() {
    let s = TestServer::standard().await;
    let v = s.get(&format!("{D}/data.csv?version=1&id=1")).await.text().await.unwrap();
    assert_eq!(v.lines().count(), 2);
    let missing = s.get(&format!("{D}/data.csv?version=7")).await;
    assert_eq!(missing.status().as_u16(), 404);
}

/// Pinned versions are immutable and cached for a year; latest-version URLs revalidate, and
/// a new version changes their validator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_validators_and_cache_policies() {
    let s = TestServer::standard().await;
    let get = |path: String, etag: Option<String>| {
        let mut req = s.client.get(s.url(&path));
        if let Some(etag) = etag {
            req = req.header("If-None-Match", etag);
        }
        req.send()
    };
    for path in [
        format!("{D}/rows?version=1&station=ST03&limit=5"),
        format!("{D}/rows.csv?version=1&limit=5"),
        format!("{D}/data.ndjson?version=1&station=ST03"),
        format!("{D}/data.parquet?version=1"),
    ] {
        let first = get(path.clone(), None).await.unwrap();
        assert_eq!(first.status(), 200, "{path}");
        assert_eq!(first.headers()["cache-control"], "public, max-age=31536000, immutable", "{path}");
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.len() > 10, "{path}: {etag}");
        let again = get(path.clone(), Some(etag.clone())).await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        // Another query is another representation.
        let other = get(format!("{path}&select=id"), Some(etag)).await.unwrap();
        assert_ne!(other.status(), 304, "{path}");
    }
    let latest = format!("{D}/rows?station=ST03&limit=5");
    let first = get(latest.clone(), None).await.unwrap();
    assert_eq!(first.headers()["cache-control"], "public, no-cache");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(get(latest.clone(), Some(etag.clone())).await.unwrap().status(), 304);
    // A new version: the same URL means something else now.
    let path = s.data.path().join("v2.csv");
    std::fs::write(&path, crate::common::readings_csv(40)).unwrap();
    let meta = crate::common::dataset("air-quality", "agaar", "Агаарын чанар");
    crate::common::ingest(s.data.path(), &path, &meta, "readings").unwrap();
    let after = get(latest, Some(etag.clone())).await.unwrap();
    assert_eq!(after.status(), 200);
    assert_ne!(after.headers()["etag"], etag.as_str());
}

/// An XLSX export opens as a workbook: read back by the portal's own ingest, it has the
/// filtered rows and typed columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_exports_round_trip() {
    let s = TestServer::standard().await;
    let res = s.get(&format!("{D}/data.xlsx?station=ST03&order=id")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("air-quality__readings_v1.xlsx"));
    assert!(res.headers().get("x-truncated").is_none());
    let bytes = res.bytes().await.unwrap();
    let filtered = s.json(&format!("{D}/rows?station=ST03&limit=1"), 200).await["total"].as_u64().unwrap();
    assert!(filtered > 300, "{filtered}");
    let path = s.data.path().join("export.xlsx");
    std::fs::write(&path, &bytes).unwrap();
    let meta = crate::common::dataset("roundtrip", "agaar", "Round trip");
    crate::common::ingest(s.data.path(), &path, &meta, "main").unwrap();
    let d = s.json("/api/v1/datasets/roundtrip", 200).await;
    let t = &d["tables"][0];
    assert_eq!(t["row_count"].as_u64(), Some(filtered));
    let original = s.json("/api/v1/datasets/air-quality", 200).await;
    let types = |t: &serde_json::Value| -> Vec<String> {
        t["columns"].as_array().unwrap().iter().map(|c| format!("{}:{}", c["name"], c["type"])).collect()
    };
    assert_eq!(types(t), types(&original["tables"][0]));
}

/// The file an agency sent comes back byte for byte, under its own name, as an attachment
/// no browser renders as a page; a workbook's sheets share one kept copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_file_comes_back_byte_for_byte() {
    let sent = std::fs::read(crate::common::fixture("companies_cp1251.csv")).unwrap();
    let s = TestServer::start(|data| {
        let path = data.join("Компаниуд 2024.csv");
        std::fs::write(&path, &sent).unwrap();
        crate::common::ingest(data, &path, &crate::common::dataset("companies", "nso", "Компаниуд"), "main").unwrap();
        std::fs::remove_file(path).unwrap();
        let budget = crate::common::fixture("budget.xlsx");
        crate::common::ingest(data, &budget, &crate::common::dataset("budget", "mof", "Төсөв"), "budget").unwrap();
    })
    .await;
    let url = "/api/v1/datasets/companies/tables/main/versions/1/source";
    let res = s.get(url).await;
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert_eq!(headers["content-type"], "text/csv");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\""), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''%D0%9A%D0%BE%D0%BC"), "the Cyrillic name survives: {disposition}");
    assert_eq!(res.bytes().await.unwrap().as_ref(), sent.as_slice(), "byte for byte, in its own encoding");
    let etag = headers["etag"].to_str().unwrap();
    let again = s.client.get(s.url(url)).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let part = s.client.get(s.url(url)).header("range", "bytes=0-9").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &sent[..10]);

    let d = s.json("/api/v1/datasets/companies", 200).await;
    assert_eq!(d["tables"][0]["versions"][0]["source"]["kept"], true, "{d}");
    let problem = s.json("/api/v1/datasets/companies/tables/main/versions/2/source", 404).await;
    assert_eq!(problem["code"], "version_not_found");

    // The sheets of one workbook name one original.
    let budget = s.state.store.catalog().dataset("budget").unwrap();
    let originals: Vec<_> = budget.tables.iter().map(|t| t.latest().source.original.clone().unwrap()).collect();
    assert!(originals.len() > 1, "{originals:?}");
    assert!(originals.iter().all(|o| *o == originals[0]), "{originals:?}");
    let table = &budget.tables[1].name;
    let res = s.get(&format!("/api/v1/datasets/budget/tables/{table}/versions/1/source")).await;
    assert_eq!(res.headers()["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), std::fs::read(crate::common::fixture("budget.xlsx")).unwrap().as_slice());
}

/// Rows whose text breaks a careless CSV writer: formulas and signed numbers, separators,
/// quotes, line breaks, empty text and Cyrillic, beside every other stored type.
fn notes_csv(n: usize) -> String {
    const NOTES: [&str; 10] = [
        "\"=HYPERLINK(\"\"http://x\"\")\"",
        "+1.5",
        "-cmd|x",
        "@sum",
        "\"a, b\"",
        "\"say \"\"hi\"\"\"",
        "\"two\nlines\"",
        "",
        "Улаанбаатар",
        "plain",
    ];
    let mut csv = String::from("id,note,amount,flag,day,at\n");
    for i in 0..n {
        let amount = if i % 7 == 0 { String::new() } else { format!("{}", (i as f64) / 8.0 - 900.0) };
        let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days((i % 2000) as i64);
        let at = day.and_hms_opt(0, 0, 0).unwrap() + chrono::Duration::seconds((i * 37 % 86_400) as i64);
        let flag = ["true", "false", ""][i % 3];
        csv.push_str(&format!("{i},{},{amount},{flag},{day},{at}\n", NOTES[i % NOTES.len()]));
    }
    csv
}

/// A whole table as CSV is written from the version file (`engine::csv_dump`); anything
/// filtered goes through polars. A filter every row passes gives the same bytes: on a small
/// table written as it was read, on a messy agency file, and on a laid-out table of two row
/// groups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_table_has_the_bytes_of_a_filter_that_keeps_every_row() {
    let s = TestServer::start(|data| {
        crate::common::standard_catalog(data);
        let path = data.join("notes.csv");
        std::fs::write(&path, notes_csv(140_000)).unwrap();
        crate::common::ingest(data, &path, &crate::common::dataset("notes", "nso", "Notes"), "main").unwrap();
        std::fs::remove_file(path).unwrap();
    })
    .await;
    let notes = s.json("/api/v1/datasets/notes", 200).await;
    let types: Vec<&str> =
        notes["tables"][0]["columns"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["integer", "string", "float", "boolean", "date", "datetime"]);
    for (table, everything, columns) in [
        ("population/tables/main", "on___gte=0", "aimag,on_"),
        ("air-quality/tables/readings", "id__gte=0", "observed_at,value"),
        ("notes/tables/main", "id__gte=0", "note,at,id"),
    ] {
        let csv = |query: String| {
            let s = &s;
            async move {
                let res = s.get(&format!("/api/v1/datasets/{table}/data.csv{query}")).await;
                assert_eq!(res.status(), 200, "{table}{query}");
                res.bytes().await.unwrap()
            }
        };
        let whole = csv(String::new()).await;
        assert_eq!(whole, csv(format!("?{everything}")).await, "{table}");
        let chosen = csv(format!("?select={columns}&bom=true")).await;
        assert_eq!(chosen, csv(format!("?select={columns}&bom=true&{everything}")).await, "{table}");
        assert!(chosen.starts_with(format!("\u{feff}{columns}\n").as_bytes()), "{table}");
    }
    let text = String::from_utf8(csv_of(&s, "notes/tables/main").await).unwrap();
    assert_eq!(text.lines().count(), 140_000 + 140_000 / 10 + 1, "one line a row, two for the note on two lines");
    for defused in
        ["'=HYPERLINK(\"\"http://x\"\")", "'-cmd|x", "'@sum", ",+1.5,", "\"say \"\"hi\"\"\"", "\"two\nlines\""]
    {
        assert!(text.contains(defused), "{defused}");
    }
}

async fn csv_of(s: &TestServer, table: &str) -> Vec<u8> {
    s.get(&format!("/api/v1/datasets/{table}/data.csv")).await.bytes().await.unwrap().to_vec()
}
