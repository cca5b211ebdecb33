//! Fuzzing every parser that takes outside input, with generated and mutated inputs: rows
//! parameters, the SQL checker, CSV sniffing and layout detection, the JSON and workbook
//! readers, the search query parser, and CKAN's action bodies. Each target must answer every
//! input with a result or a clear error: no panic, no 500, and within the bounds.
//!
//! The stable toolchain has no coverage-guided fuzzer, so these are property tests with
//! shrinking (proptest). `cargo test` runs a bounded number of cases of each;
//! `scripts/fuzz MINUTES` runs every target for that long (`FUZZ_SECONDS` per target), and
//! a failure prints the smallest input that fails.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::common::{TestServer, dataset, ingest};

/// Runs `test` over `strategy`: `cases` cases, or, with `FUZZ_SECONDS` set, batches of them
/// until that many seconds have passed.
fn fuzz<S: Strategy>(name: &str, cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let seconds = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse::<u64>().ok());
    let until = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let mut total = 0u64;
    loop {
        let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("fuzz target {name} failed after {total} cases: {e:?}");
        }
        total += u64::from(cases);
        if until.is_none_or(|u| Instant::now() >= u) {
            break;
        }
    }
    if seconds.is_some() {
        eprintln!("fuzz target {name}: {total} cases, no failure");
    }
}

/// Text made of the pieces a parser cares about, in any order, with some noise.
fn pieces(alphabet: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![4 => prop::sample::select(alphabet).prop_map(str::to_owned), 1 => ".{0,6}"],
        0..max,
    )
    .prop_map(|v| v.concat())
}

fn columns() -> Vec<opendata_datasets::Column> {
    use opendata_datasets::{Column, ColumnStats, ColumnType};
    let column = |name: &str, kind| Column {
        name: name.into(),
        label: name.into(),
        kind,
        description: String::new(),
        stats: ColumnStats::default(),
        role: None,
    };
    vec![
        column("id", ColumnType::Integer),
        column("station", ColumnType::String),
        column("value", ColumnType::Float),
        column("observed_at", ColumnType::Datetime),
        column("day", ColumnType::Date),
        column("ok", ColumnType::Boolean),
    ]
}

#[test]
fn rows_parameters() {
    const PIECES: &[&str] = &[
        "&",
        "=",
        ",",
        "-",
        "__",
        "id",
        "station",
        "value",
        "observed_at",
        "day",
        "ok",
        "select",
        "order",
        "limit",
        "offset",
        "cursor",
        "version",
        "format",
        "total",
        "bom",
        "eq",
        "ne",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "contains",
        "startswith",
        "isnull",
        "true",
        "false",
        "1",
        "0",
        "-1",
        "99999999999999999999",
        "2024-01-02",
        "2024-01-02T03:04:05",
        "NaN",
        "inf",
        "%00",
        "%2C",
        "json",
        "csv",
        "ndjson",
        "eyJ2IjoxfQ",
        "ST01",
    ];
    let columns = columns();
    let limits = opendata_server::config::Limits::default();
    let frame = polars::prelude::df!(
        "id" => [1i64, 2, 3],
        "station" => ["ST01", "ST02", "ST01"],
        "value" => [1.5f64, f64::NAN, -2.0],
        "observed_at" => [0i64, 3_600_000_000, 7_200_000_000],
        "day" => [0i32, 1, 2],
        "ok" => [true, false, true],
    )
    .unwrap();
    let frame = polars::prelude::IntoLazy::lazy(frame)
        .with_columns([
            polars::prelude::col("observed_at")
                .cast(polars::prelude::DataType::Datetime(polars::prelude::TimeUnit::Microseconds, None)),
            polars::prelude::col("day").cast(polars::prelude::DataType::Date),
        ])
        .collect()
        .unwrap();
    fuzz("rows_parameters", 512, pieces(PIECES, 24), |q| {
        let params = opendata_server::engine::params::RawParams::parse(Some(&q));
        let Ok((_, cursor)) = params.version() else { return Ok(()) };
        if let Ok(req) = params.resolve(&columns, cursor, &limits) {
            prop_assert!(req.filters.len() <= limits.max_filters);
            prop_assert!(req.limit <= limits.max_rows);
            // A request that validates plans and runs without a panic.
            let _ = req.plan(polars::prelude::IntoLazy::lazy(frame.clone())).collect();
        }
        Ok(())
    });
}

#[test]
fn sql_checker() {
    const PIECES: &[&str] = &[
        "SELECT ",
        "FROM ",
        "WHERE ",
        "GROUP BY ",
        "ORDER BY ",
        "UNION ",
        "WITH ",
        "AS ",
        "JOIN ",
        "ON ",
        "(",
        ")",
        "[",
        "]",
        ",",
        ";",
        "+",
        "-",
        "*",
        "/",
        "=",
        "<>",
        "'",
        "\"",
        "`",
        "1",
        "x",
        "t__main",
        "read_csv(",
        "'/etc/passwd'",
        "count(*)",
        "CAST(",
        " AS INTEGER)",
        "CASE WHEN ",
        " THEN ",
        " END",
        "NOT ",
        "--",
        "/*",
        "*/",
        "$$",
        "\\",
        "\u{0}",
        "ы",
        " ",
    ];
    let bounds = opendata_server::config::Limits::default().sql_bounds();
    fuzz("sql_checker", 1_024, pieces(PIECES, 64), |sql| {
        if let Ok(checked) = opendata_server::engine::sql::check(&sql, &bounds) {
            // Nothing that passes names a file or a function that reads one.
            for r in &checked.relations {
                prop_assert!(r.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            }
        }
        Ok(())
    });
    // Deep shapes of every kind, past the bounds: refused, never a stack overflow.
    fuzz("sql_checker_deep", 64, (1usize..3_000, 0usize..4), |(n, shape)| {
        let sql = match shape {
            0 => format!("SELECT 1{}", "+1".repeat(n)),
            1 => format!("SELECT {}1{}", "(".repeat(n), ")".repeat(n)),
            2 => format!("SELECT {}1", "-".repeat(n)),
            _ => format!("SELECT {}1{}", "abs(".repeat(n), ")".repeat(n)),
        };
        let _ = opendata_server::engine::sql::check(&sql, &bounds);
        Ok(())
    });
}

#[test]
fn search_queries() {
    const PIECES: &[&str] = &["\"", "-", " ", "хүн", "ам", "population", "Дархан-Уул", "*", ":", "(", ")", "~", "ё"];
    let dir = tempfile::tempdir().unwrap();
    let index = search_index::SearchIndex::open(dir.path()).unwrap();
    index
        .upsert(&[search_index::IndexedDataset {
            id: "d".into(),
            title: "Хүн амын тоо".into(),
            organization: "nso".into(),
            ..Default::default()
        }])
        .unwrap();
    fuzz("search_queries", 256, pieces(PIECES, 16), |q| {
        let _ = search_index::clause_count(&q);
        let query = search_index::SearchQuery { q: Some(q.clone()), limit: 10, ..Default::default() };
        prop_assert!(index.search(&query).is_ok());
        prop_assert!(index.suggest(&q, 5, &Default::default()).is_ok());
        Ok(())
    });
}

/// Ingests `bytes` as a file into a fresh data folder: an error is fine, a panic is not.
fn ingest_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upload");
    std::fs::write(&path, bytes).unwrap();
    let outcome = std::panic::catch_unwind(|| ingest(&dir.path().join("data"), &path, &dataset("f", "o", "F"), "main"));
    prop_assert!(outcome.is_ok(), "the ingest panicked");
    Ok(())
}

#[test]
fn delimited_text() {
    const PIECES: &[&str] = &[
        ",",
        ";",
        "\t",
        "|",
        "\n",
        "\r\n",
        "\"",
        "'",
        "1",
        "-2,5",
        "3.0",
        "1 234",
        "..",
        "NA",
        "-",
        "2024-01-02",
        "02.01.2024",
        "2020Q1",
        "2020M03",
        "Аймаг",
        "Хүн ам",
        "\u{feff}",
        "%",
        "x",
        "",
        "#",
        "©",
        "total",
    ];
    fuzz("delimited_text", 48, pieces(PIECES, 200), |text| {
        let bytes = text.into_bytes();
        let sample = &bytes[..bytes.len().min(64 * 1024)];
        let _ = opendata_ingest::sniff::format(sample);
        let _ = opendata_ingest::sniff::encoding(sample, true);
        ingest_bytes(&bytes)
    });
    // Bytes of every kind, encodings included.
    fuzz("raw_bytes", 32, prop::collection::vec(any::<u8>(), 0..4_096), |bytes| ingest_bytes(&bytes));
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-zа-я0-9 .,-]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-zA-Z_.]{1,8}", inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn json_documents() {
    fuzz("json_documents", 48, json_value(), |doc| {
        let text = serde_json::to_string(&doc).unwrap();
        ingest_bytes(text.as_bytes())?;
        // NDJSON: the same values a line each.
        if let serde_json::Value::Array(items) = &doc {
            let lines: Vec<String> = items.iter().map(|v| v.to_string()).collect();
            ingest_bytes(lines.join("\n").as_bytes())?;
        }
        Ok(())
    });
}

#[test]
fn workbooks() {
    let cell = ("[A-Z]{1,3}[1-9][0-9]{0,6}", "[a-zа-я0-9 .,-]{0,8}");
    let sheet = ("[A-Za-z ]{0,6}", prop::collection::vec(cell, 0..12));
    fuzz(
        "workbooks",
        32,
        (prop::collection::vec(sheet, 1..4), prop::collection::vec((any::<usize>(), any::<u8>()), 0..4)),
        |(sheets, flips)| {
            let owned: Vec<(String, Vec<(String, String)>)> = sheets;
            let cells: Vec<Vec<(&str, &str)>> =
                owned.iter().map(|(_, c)| c.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()).collect();
            let sheets: Vec<(&str, &[(&str, &str)])> =
                owned.iter().zip(&cells).map(|((name, _), c)| (name.as_str(), c.as_slice())).collect();
            let mut bytes = crate::hostile::xlsx(&sheets);
            // A few flipped bytes: a damaged file.
            for (at, byte) in flips {
                let n = bytes.len();
                bytes[at % n] ^= byte;
            }
            ingest_bytes(&bytes)
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ckan_action_bodies() {
    let s = TestServer::standard().await;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, String)>(1);
    let (answers_tx, answers) = std::sync::mpsc::channel::<u16>();
    // The generated bodies are sent over HTTP by this runtime; the runner waits for each.
    let sender = s.client.clone();
    let base = s.base.clone();
    let http = tokio::spawn(async move {
        while let Some((action, body)) = rx.recv().await {
            let url = format!("{base}/api/3/action/{action}");
            let status = sender.post(url).header("content-type", "application/json").body(body).send().await;
            let _ = answers_tx.send(status.map(|r| r.status().as_u16()).unwrap_or(0));
        }
    });
    tokio::task::spawn_blocking(move || {
        const ACTIONS: &[&str] =
            &["package_search", "datastore_search", "datastore_search_sql", "package_show", "resource_show"];
        let strategy = (prop::sample::select(ACTIONS), json_value());
        fuzz("ckan_action_bodies", 128, strategy, |(action, body)| {
            let body = match body {
                serde_json::Value::Object(_) => body,
                other => serde_json::json!({"resource_id": "air_quality__readings", "q": other, "filters": other, "sql": other.to_string()}),
            };
            tx.blocking_send((action.to_owned(), body.to_string())).unwrap();
            let status = answers.recv().unwrap();
            prop_assert!(status != 0 && status < 500, "{action} answered {status}");
            Ok(())
        });
    })
    .await
    .unwrap();
    http.abort();
}
