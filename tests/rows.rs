//! The rows API: every operator against results computed here, independently of the server.

use std::collections::HashSet;

use crate::common::TestServer;

const ROWS: usize = 2_500;
const T: &str = "/api/v1/datasets/air-quality/tables/readings/rows";

/// Ids 1..=ROWS that the generator (`readings_csv`) gives these properties.
fn station(i: usize) -> String {
    format!("ST{:02}", i % 7)
}
fn value(i: usize) -> Option<f64> {
    (!i.is_multiple_of(10)).then_some((i % 100) as f64 + 0.5)
}
fn expected(pred: impl Fn(usize) -> bool) -> u64 {
    (1..=ROWS).filter(|&i| pred(i)).count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operator_matches_an_independent_count() {
    let s = TestServer::standard().await;
    let cases: Vec<(&str, u64)> = vec![
        ("station=ST03", expected(|i| station(i) == "ST03")),
        ("station__eq=ST03", expected(|i| station(i) == "ST03")),
        ("station__ne=ST03", expected(|i| station(i) != "ST03")),
        ("id__gt=2400", expected(|i| i > 2400)),
        ("id__gte=2400", expected(|i| i >= 2400)),
        ("id__lt=10", expected(|i| i < 10)),
        ("id__lte=10", expected(|i| i <= 10)),
        ("value__lt=10", expected(|i| value(i).is_some_and(|v| v < 10.0))),
        ("value__gte=90.5", expected(|i| value(i).is_some_and(|v| v >= 90.5))),
        ("station__in=ST01,ST02", expected(|i| ["ST01", "ST02"].contains(&station(i).as_str()))),
        ("id__in=1,2,3,99999", 3),
        ("station__contains=05", expected(|i| station(i).contains("05"))),
        ("station__startswith=ST0", expected(|i| station(i).starts_with("ST0"))),
        ("value__isnull=true", expected(|i| value(i).is_none())),
        ("value__isnull=false", expected(|i| value(i).is_some())),
        ("observed_at__gte=2024-01-28", expected(|i| 1 + i % 28 >= 28)),
        ("observed_at__lt=2024-01-02T00:00:00", expected(|i| 1 + i % 28 < 2)),
        (
            "station=ST01&id__gt=2000&value__isnull=false",
            expected(|i| station(i) == "ST01" && i > 2000 && value(i).is_some()),
        ),
    ];
    for (filter, want) in cases {
        let page = s.json(&format!("{T}?{filter}&limit=10000"), 200).await;
        assert_eq!(page["total"], want, "{filter}: total");
        assert_eq!(page["rows"].as_array().unwrap().len() as u64, want, "{filter}: rows");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_order_and_types() {
    let s = TestServer::standard().await;
    let page = s.json(&format!("{T}?select=value,id&order=-value,id&limit=3"), 200).await;
    let cols: Vec<_> =
        page["columns"].as_array().unwrap().iter().map(|c| (c["name"].clone(), c["type"].clone())).collect();
    assert_eq!(cols, [("value".into(), "float".into()), ("id".into(), "integer".into())]);
    // Highest value is 99.5, held by ids ≡ 99 (mod 100); ties in id order.
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows[0], serde_json::json!({"value": 99.5, "id": 99}));
    assert_eq!(rows[1], serde_json::json!({"value": 99.5, "id": 199}));
    // Keys come in the selected order.
    let keys: Vec<_> = rows[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["value", "id"]);
    // Nulls sort last, whichever the direction.
    let asc = s.json(&format!("{T}?select=id,value&order=value&offset=2249&limit=2"), 200).await;
    assert_eq!(asc["rows"][1]["value"], serde_json::Value::Null);
    assert_eq!(asc["rows"][0]["value"], 99.5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_paging_returns_every_row_exactly_once() {
    let s = TestServer::standard().await;
    for (query, want) in [("order=-id", ROWS as u64), ("station=ST02&order=value", expected(|i| station(i) == "ST02"))]
    {
        let mut seen = HashSet::new();
        let mut url = format!("{T}?{query}&select=id&limit=333");
        let mut pages = 0;
        loop {
            let page = s.json(&url, 200).await;
            assert_eq!(page["total"], want);
            for row in page["rows"].as_array().unwrap() {
                assert!(seen.insert(row["id"].as_i64().unwrap()), "{query}: row {row} twice");
            }
            pages += 1;
            match page["next"].as_str() {
                Some(next) => url = format!("{T}?{query}&select=id&limit=333&cursor={next}"),
                None => break,
            }
        }
        assert_eq!(seen.len() as u64, want, "{query}");
        assert_eq!(pages, want.div_ceil(333), "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_and_ndjson_pages() {
    let s = TestServer::standard().await;
    let res = s.get(&format!("{T}?select=id,station&id__lte=3&format=csv")).await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(res.headers()["x-total-count"], "3");
    assert_eq!(res.text().await.unwrap(), "id,station\n1,ST01\n2,ST02\n3,ST03\n");
    // Datasette-style suffixes.
    let csv = s.get("/api/v1/datasets/air-quality/tables/readings/rows.csv?select=id&limit=2").await;
    assert!(csv.headers()["link"].to_str().unwrap().contains("rel=\"next\""));
    assert_eq!(csv.text().await.unwrap(), "id\n1\n2\n");
    let nd = s.get("/api/v1/datasets/air-quality/tables/readings/rows.ndjson?select=id,value&id__in=9,10").await;
    assert_eq!(nd.text().await.unwrap(), "{\"id\":9,\"value\":9.5}\n{\"id\":10,\"value\":null}\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_can_be_skipped() {
    let s = TestServer::standard().await;
    let page = s.json(&format!("{T}?station=ST01&total=false&limit=1"), 200).await;
    assert_eq!(page["total"], serde_json::Value::Null);
    assert!(page["next"].is_string());
}

/// Following `next` over a 250,000-row table returns every row exactly once, in file order
/// and in a requested order with ties and nulls, with a filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_paging_over_250k_rows_returns_every_row_once() {
    const N: u64 = 250_000;
    let s = TestServer::start(|data| {
        let mut csv = String::from("id,grp,value\n");
        for i in 0..N {
            let value = if i % 97 == 0 { String::new() } else { ((i * 7919) % 1000).to_string() };
            csv.push_str(&format!("{i},g{},{value}\n", i % 7));
        }
        let path = data.join("big.csv");
        std::fs::write(&path, csv).unwrap();
        crate::common::ingest(data, &path, &crate::common::dataset("paging", "org", "Paging"), "main").unwrap();
    })
    .await;
    let base = "/api/v1/datasets/paging/tables/main/rows";
    let follow = |first: String| {
        let s = &s;
        async move {
            let mut rows: Vec<serde_json::Value> = Vec::new();
            let mut url = first;
            let mut pages = 0;
            loop {
                let page = s.json(&url, 200).await;
                rows.extend(page["rows"].as_array().unwrap().iter().cloned());
                pages += 1;
                match page["next"].as_str() {
                    Some(next) => url = format!("{base}?{}", next_query(&url, next)),
                    None => break,
                }
            }
            (rows, pages)
        }
    };
    let (rows, pages) = follow(format!("{base}?limit=10000&total=false")).await;
    assert_eq!(pages, 25);
    let ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert!(ids.iter().copied().eq(0..N), "file order, every row once");

    let (rows, _) = follow(format!("{base}?grp=g3&order=-value&limit=7000&total=false")).await;
    let mut ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (0..N).filter(|i| i % 7 == 3).collect();
    // Descending values, nulls last; ties in file order.
    let keys: Vec<(i64, u64)> =
        rows.iter().map(|r| (r["value"].as_i64().map_or(i64::MIN, |v| v), r["id"].as_u64().unwrap())).collect();
    assert!(keys.windows(2).all(|w| w[0].0 > w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1)));
    ids.sort_unstable();
    assert_eq!(ids, expected);
}

/// The query string of `url` with the cursor replaced.
fn next_query(url: &str, cursor: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let mut out: Vec<String> = query.split('&').filter(|p| !p.starts_with("cursor=")).map(str::to_owned).collect();
    out.push(format!("cursor={cursor}"));
    out.join("&")
}
