//! Aggregates in the rows API (`group_by`, `count/sum/avg/min/max`), checked against DuckDB
//! over the same CSV, in every encoding and through paging and downloads.

use std::process::Command;

use serde_json::Value;

use crate::common::{TestServer, dataset, ingest};

/// Livestock counts with the gaps real tables have: an aimag left empty, heads not counted.
fn livestock_csv() -> String {
    let aimags = ["Ховд", "Увс", "Баян-Өлгий", "Дорнод", ""];
    let species = ["тэмээ", "адуу", "хонь"];
    let mut s = String::from("aimag,species,year,head,price\n");
    for i in 0..3_000_u64 {
        let head = if i % 11 == 0 { String::new() } else { ((i * 7919) % 5_000).to_string() };
        let price = format!("{}.{}", (i * 31) % 900, i % 100);
        s.push_str(&format!(
            "{},{},{},{head},{price}\n",
            aimags[(i % 5) as usize],
            species[((i / 5) % 3) as usize],
            2010 + i % 14
        ));
    }
    s
}

/// The rows DuckDB answers for `sql` over `csv` (as table `t`), as JSON arrays.
async fn duckdb(csv: &std::path::Path, sql: &str) -> Vec<Vec<Value>> {
    const SCRIPT: &str = "import duckdb, json, sys
con = duckdb.connect()
con.execute(\"CREATE TABLE t AS SELECT * FROM read_csv(?, header=true, columns={'aimag':'VARCHAR','species':'VARCHAR','year':'BIGINT','head':'BIGINT','price':'DOUBLE'})\", [sys.argv[1]])
print(json.dumps([list(r) for r in con.execute(sys.argv[2]).fetchall()], default=float))";
    let (csv, sql) = (csv.to_string_lossy().into_owned(), sql.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3").args(["-c", SCRIPT, &csv, &sql]).output().expect("python3 with duckdb")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The answer's rows as arrays in its columns' order.
fn arrays(answer: &Value) -> Vec<Vec<Value>> {
    let names: Vec<&str> = answer["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    answer["rows"].as_array().unwrap().iter().map(|r| names.iter().map(|n| r[*n].clone()).collect()).collect()
}

fn same(got: &[Vec<Value>], expected: &[Vec<Value>], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: {got:?}\nvs {expected:?}");
    for (g, e) in got.iter().zip(expected) {
        for (a, b) in g.iter().zip(e) {
            let equal = match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                _ => a == b,
            };
            assert!(equal, "{what}: {g:?} vs DuckDB {e:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_equal_duckdb() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("livestock.csv");
    std::fs::write(&csv, livestock_csv()).unwrap();
    ingest(data.path(), &csv, &dataset("livestock", "nso", "Мал тооллого"), "main").unwrap();
    let kept = tempfile::tempdir().unwrap();
    let source = kept.path().join("livestock.csv");
    std::fs::copy(&csv, &source).unwrap();
    let s = TestServer::serve(data).await;
    let rows = "/api/v1/datasets/livestock/tables/main/rows";

    for (query, sql) in [
        (
            "group_by=aimag&select=aimag,count(*),count(head),sum(head) as heads,avg(price),min(price),max(year)",
            "SELECT aimag, count(*), count(head), sum(head), avg(price), min(price), max(year) FROM t GROUP BY aimag ORDER BY aimag NULLS LAST",
        ),
        (
            "group_by=aimag&select=aimag,sum(head) as heads&year__gte=2015&species=тэмээ&order=-heads",
            "SELECT aimag, sum(head) AS heads FROM t WHERE year >= 2015 AND species = 'тэмээ' GROUP BY aimag ORDER BY heads DESC NULLS LAST, aimag NULLS LAST",
        ),
        (
            "group_by=aimag,species&select=species,aimag,sum(head) as heads,max(price) as top&order=species,-heads",
            "SELECT species, aimag, sum(head) AS heads, max(price) FROM t GROUP BY aimag, species ORDER BY species NULLS LAST, heads DESC NULLS LAST, aimag NULLS LAST",
        ),
        (
            "select=count(*),avg(price) as mean,min(year)&aimag=Ховд",
            "SELECT count(*), avg(price), min(year) FROM t WHERE aimag = 'Ховд'",
        ),
        (
            "group_by=year&order=-count&limit=5",
            "SELECT year, count(*) AS c FROM t GROUP BY year ORDER BY c DESC, year LIMIT 5",
        ),
    ] {
        // The query's own `limit` comes last, and the last one counts.
        let answer = s.json(&format!("{rows}?limit=1000&{query}"), 200).await;
        same(&arrays(&answer), &duckdb(&source, sql).await, query);
    }

    // By now the worker holds the table decoded (the first grouping asked for it), its text
    // columns as codes: filters, keys and min() over codes still answer as DuckDB does.
    let q =
        format!("{rows}?group_by=species,aimag&select=species,aimag,min(aimag) as first,count(*)&aimag__startswith=Х");
    let first = s.json(&q, 200).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(s.json(&q, 200).await, first);
    let expected = duckdb(
        &source,
        "SELECT species, aimag, min(aimag), count(*) FROM t WHERE starts_with(aimag, 'Х') GROUP BY ALL ORDER BY species, aimag",
    )
    .await;
    same(&arrays(&first), &expected, "held");

    // Types of the answer's columns, and the count of groups as the total.
    let answer = s.json(&format!("{rows}?group_by=aimag&select=aimag,count(*),avg(head),sum(price) as p"), 200).await;
    let kinds: Vec<&str> = answer["columns"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["string", "integer", "float", "float"]);
    assert_eq!(answer["total"], 5, "four aimags and the empty one");

    // Paging through the groups by cursor gives every group once, in order.
    let all = s.json(&format!("{rows}?group_by=aimag,species&limit=1000"), 200).await;
    let mut paged = Vec::new();
    let mut next = Some(format!("{rows}?group_by=aimag,species&limit=4"));
    while let Some(url) = next {
        let page = s.json(&url, 200).await;
        assert_eq!(page["total"], 15);
        paged.extend(page["rows"].as_array().unwrap().iter().cloned());
        next = page["next"].as_str().map(|c| format!("{rows}?group_by=aimag,species&limit=4&cursor={c}"));
    }
    assert_eq!(Value::Array(paged), all["rows"]);

    // CSV and NDJSON pages, and the download: the same groups.
    let q = "group_by=species&select=species,count(*) as n,sum(head)";
    let page = s.get(&format!("{rows}.csv?{q}")).await.text().await.unwrap();
    let download = s.get(&format!("/api/v1/datasets/livestock/tables/main/data.csv?{q}")).await.text().await.unwrap();
    assert_eq!(page.lines().next(), Some("species,n,sum_head"));
    assert_eq!(page, download);
    let expected =
        duckdb(&source, "SELECT species, count(*), sum(head) FROM t GROUP BY species ORDER BY species").await;
    let lines: Vec<Vec<Value>> = s
        .get(&format!("{rows}.ndjson?{q}"))
        .await
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| {
            let o: Value = serde_json::from_str(l).unwrap();
            vec![o["species"].clone(), o["n"].clone(), o["sum_head"].clone()]
        })
        .collect();
    same(&lines, &expected, "ndjson");

    // Mistakes get the API's problems.
    for (query, code) in [
        ("group_by=aimag&select=year", "invalid_parameter"),
        ("group_by=aimag&select=sum(aimag)", "invalid_value"),
        ("group_by=nope", "unknown_column"),
        ("group_by=aimag&order=year", "unknown_column"),
        ("group_by=aimag&select=aimag,median(head)", "invalid_parameter"),
    ] {
        let problem = s.json(&format!("{rows}?{query}"), 400).await;
        assert_eq!(problem["code"], code, "{query}");
    }
}

/// Counts per value of a column whose every value the catalog lists come from the
/// statistics, with no data read: the same answers as the engine's, in every order, page and
/// encoding, and still there when the table's file cannot be read at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_of_listed_values_come_from_the_statistics() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("livestock.csv");
    std::fs::write(&csv, livestock_csv()).unwrap();
    ingest(data.path(), &csv, &dataset("livestock", "nso", "Мал тооллого"), "main").unwrap();
    let rows = "/api/v1/datasets/livestock/tables/main/rows";
    let queries = [
        "group_by=aimag",
        "group_by=aimag&order=-count",
        "group_by=species&select=count(*) as n,species&order=n",
        "group_by=aimag&select=aimag,count(aimag) as named,count(*)&order=-named",
        "group_by=aimag&limit=2&offset=1",
        "group_by=aimag&limit=2&total=false",
    ];
    let mut answers = Vec::new();
    {
        let s = TestServer::serve_at(data.path()).await;
        for q in queries {
            let counted = s.json(&format!("{rows}?{q}"), 200).await;
            // A filter that keeps every row sends the same grouping to the engine.
            let scanned = s.json(&format!("{rows}?{q}&year__gte=0"), 200).await;
            assert_eq!(counted["rows"], scanned["rows"], "{q}");
            assert_eq!(
                (&counted["total"], &counted["next"].is_string()),
                (&scanned["total"], &scanned["next"].is_string()),
                "{q}"
            );
            answers.push(counted);
        }
        let expected =
            duckdb(&csv, "SELECT aimag, count(*) FROM t GROUP BY aimag ORDER BY count(*) DESC, aimag NULLS LAST").await;
        same(&arrays(&answers[1]), &expected, "against DuckDB");
        for ext in ["csv", "ndjson"] {
            let counted = s.get(&format!("{rows}.{ext}?group_by=species&order=-count")).await.text().await.unwrap();
            let scanned =
                s.get(&format!("{rows}.{ext}?group_by=species&order=-count&year__gte=0")).await.text().await.unwrap();
            assert_eq!(counted, scanned, "{ext}");
        }
    }
    // The file made unreadable, a fresh server still counts from the catalog, and only that.
    let parquet: Vec<_> = walk(&data.path().join("tables/livestock/main"));
    assert!(!parquet.is_empty());
    for file in &parquet {
        std::fs::write(file, b"not parquet").unwrap();
    }
    let s = TestServer::serve_at(data.path()).await;
    for (q, answer) in queries.iter().zip(&answers) {
        assert_eq!(&s.json(&format!("{rows}?{q}"), 200).await, answer, "{q}");
    }
    assert_ne!(s.get(&format!("{rows}?group_by=aimag&year__gte=0")).await.status(), 200, "the engine reads the file");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path].into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).collect()
            }
        })
        .collect()
}
