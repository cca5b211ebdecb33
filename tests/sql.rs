//! `/api/v1/sql`: queries over catalog tables, and every refusal.

use serde_json::{Value, json};

use crate::common::{TestServer, dataset, ingest};

async fn sql(s: &TestServer, q: &str) -> (u16, Value) {
    let url = reqwest::Url::parse_with_params(&s.url("/api/v1/sql"), [("q", q)]).unwrap();
    let res = s.client.get(url).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn server() -> TestServer {
    TestServer::start(|data| {
        let aimags = data.join("aimags.csv");
        std::fs::write(&aimags, "Код,Аймаг\n046,Өмнөговь\n065,Архангай\n083,Баян-Өлгий\n").unwrap();
        ingest(data, &aimags, &dataset("aimags", "nso", "Аймгууд"), "main").unwrap();
        let pop = data.join("pop.csv");
        std::fs::write(&pop, "Код,Он,Хүн ам\n046,2022,72000\n046,2023,73100\n065,2023,96500\n083,2023,116200\n")
            .unwrap();
        ingest(data, &pop, &dataset("population", "nso", "Хүн ам"), "main").unwrap();
        let v2 = data.join("pop2.csv");
        std::fs::write(&v2, "Код,Он,Хүн ам\n046,2024,74000\n").unwrap();
        ingest(data, &v2, &dataset("population", "nso", "Хүн ам"), "main").unwrap();
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_join_group_and_pin_versions() {
    let s = server().await;
    // Across datasets, on the latest version of each.
    let (status, body) = sql(
        &s,
        "SELECT a.aimag, p.on_, p.khun_am FROM population__main p JOIN aimags__main a ON a.kod = p.kod ORDER BY a.aimag",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], json!([{"aimag": "Өмнөговь", "on_": 2024, "khun_am": 74000}]));
    assert_eq!(body["columns"][2], json!({"name": "khun_am", "type": "integer"}));
    assert_eq!(body["truncated"], false);
    // Version 1, pinned, grouped, with a CTE.
    let (status, body) = sql(
        &s,
        "WITH p AS (SELECT * FROM population__main__v1) SELECT kod, count(*) AS n, sum(khun_am) AS total FROM p GROUP BY kod ORDER BY kod",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["rows"],
        json!([{"kod": "046", "n": 2, "total": 145100}, {"kod": "065", "n": 1, "total": 96500}, {"kod": "083", "n": 1, "total": 116200}])
    );
    // POST: JSON, and the bare query as the body, as CSV.
    let res = s
        .client
        .post(s.url("/api/v1/sql"))
        .json(&json!({"q": "SELECT count(*) AS n FROM aimags__main"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["rows"][0]["n"], 3);
    let res = s
        .client
        .post(s.url("/api/v1/sql?format=csv"))
        .header("content-type", "text/plain")
        .body("SELECT kod FROM aimags__main ORDER BY kod")
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "kod\n046\n065\n083\n");
}

/// The tables SQL reads are held in memory with their repetitive text as categoricals; every
/// query answers as it did from the files, whichever columns it needs as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_tables_answer_as_the_files_do() {
    let prepared = || {
        let data = tempfile::tempdir().unwrap();
        let mut codes = String::from("Код,Аймаг\n");
        let mut pop = String::from("Код,Аймаг,Он,Хүн ам\n");
        let aimags = [("046", "Өмнөговь"), ("065", "Архангай"), ("083", "Баян-Өлгий"), ("011", "Улаанбаатар")];
        for (i, (code, name)) in aimags.iter().cycle().take(40).enumerate() {
            codes.push_str(&format!("{code},{name}\n"));
            let people = if i % 9 == 4 { String::new() } else { (1000 + i * 37).to_string() };
            pop.push_str(&format!("{code},{name},{},{people}\n", 2000 + i / 4));
        }
        for (name, text, id) in [("codes.csv", codes, "aimags"), ("pop.csv", pop, "population")] {
            let path = data.path().join(name);
            std::fs::write(&path, text).unwrap();
            ingest(data.path(), &path, &dataset(id, "nso", id), "main").unwrap();
        }
        data
    };
    let files = TestServer::serve_with(prepared(), |c| c.limits.table_cache_mb = 0).await;
    let held = TestServer::serve(prepared()).await;
    let queries = [
        "SELECT aimag, count(*) AS n, sum(khun_am) AS people, avg(khun_am) AS mean FROM population__main GROUP BY 1 ORDER BY aimag",
        "SELECT kod, min(on_) AS first, max(on_) AS last FROM population__main WHERE aimag = 'Архангай' OR kod IN ('011') GROUP BY kod ORDER BY kod DESC",
        "SELECT count(DISTINCT aimag) AS n, count(khun_am) AS known FROM population__main WHERE khun_am IS NOT NULL",
        "SELECT aimag, on_, row_number() OVER (PARTITION BY aimag ORDER BY on_ DESC) AS r FROM population__main ORDER BY aimag, on_ LIMIT 12",
        // Text uses: each answers from the text, not the codes.
        "SELECT upper(aimag) AS a, length(aimag) AS l FROM population__main GROUP BY aimag ORDER BY aimag",
        "SELECT CAST(kod AS INTEGER) AS k, sum(khun_am) AS people FROM population__main GROUP BY 1 ORDER BY 1",
        "SELECT DISTINCT aimag FROM population__main WHERE aimag LIKE 'Б%' OR aimag > 'Ф' ORDER BY aimag",
        "SELECT x, count(*) AS n FROM (SELECT CAST(kod AS INTEGER) + 1 AS x FROM population__main) GROUP BY x ORDER BY x",
        "SELECT upper(a) AS a FROM (SELECT aimag AS a FROM population__main) GROUP BY 1 ORDER BY 1",
        // Text against numbers is refused from the files, and must be from the codes too.
        "SELECT count(*) AS n FROM population__main WHERE kod = on_ OR kod <> khun_am",
        // Two held tables: their categoricals do not compare, and the files answer.
        "SELECT c.aimag, sum(p.khun_am) AS people FROM population__main p JOIN aimags__main c ON c.kod = p.kod GROUP BY 1 ORDER BY 1",
        "SELECT kod FROM aimags__main UNION SELECT kod FROM population__main ORDER BY 1",
    ];
    let mut from_files = Vec::new();
    for q in queries {
        let answer = sql(&files, q).await;
        assert_eq!(answer.0, if q.contains("kod = on_") { 400 } else { 200 }, "{q}: {}", answer.1);
        from_files.push(answer);
        // The worker holds the tables once it has answered.
        sql(&held, q).await;
    }
    assert!(files.state.engine.held().is_empty());
    for _ in 0..500 {
        if held.state.engine.held().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(held.state.engine.held().len(), 2, "both tables are held");
    for (q, expected) in queries.iter().zip(&from_files) {
        assert_eq!(&sql(&held, q).await, expected, "{q}");
    }
    // Checked against the data itself, not only against the files' answers.
    assert_eq!(
        from_files[0].1["rows"][0],
        json!({"aimag": "Архангай", "n": 10, "people": 15549, "mean": 15549.0 / 9.0})
    );
    assert_eq!(
        from_files[5].1["rows"],
        json!([{"k": 11, "people": 15623}, {"k": 46, "people": 15512}, {"k": 65, "people": 15549}, {"k": 83, "people": 15586}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_why() {
    let s = server().await;
    for (q, code) in [
        ("SELECT * FROM read_csv('/etc/passwd')", "sql_not_allowed"),
        ("SELECT * FROM read_parquet('tables/population/main/x.parquet')", "sql_not_allowed"),
        ("SELECT read_csv('/etc/passwd')", "sql_not_allowed"),
        ("SELECT * FROM \"/etc/passwd\"", "sql_not_allowed"),
        ("SELECT * FROM 'https://example.org/data.csv'", "sql_not_allowed"),
        ("SELECT * FROM main.aimags__main", "sql_not_allowed"),
        ("DROP TABLE aimags__main", "sql_not_allowed"),
        ("INSERT INTO aimags__main VALUES ('1', 'x')", "sql_not_allowed"),
        ("SELECT 1; SELECT 2", "sql_not_allowed"),
        ("SELECT * FROM nope__main", "unknown_table"),
        ("SELECT * FROM population__main__v9", "version_not_found"),
        ("SELEKT 1", "invalid_sql"),
        ("SELECT no_such_column FROM aimags__main", "invalid_sql"),
    ] {
        let (status, body) = sql(&s, q).await;
        assert!(status == 400 || status == 404, "{q}: {status} {body}");
        assert_eq!(body["code"], code, "{q}: {body}");
        assert!(!body["detail"].as_str().unwrap().contains(s.data.path().to_str().unwrap()), "{q}: leaks a path");
    }
    let res = s.get("/api/v1/sql").await;
    assert_eq!(res.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_stop_at_the_row_limit_and_say_so() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("n.csv");
    std::fs::write(&csv, (0..500).fold(String::from("n\n"), |acc, i| acc + &format!("{i}\n"))).unwrap();
    ingest(data.path(), &csv, &dataset("numbers", "org", "Numbers"), "main").unwrap();
    let s = TestServer::serve_with(data, |c| c.limits.max_rows = 100).await;
    let url = reqwest::Url::parse_with_params(&s.url("/api/v1/sql"), [("q", "SELECT n FROM numbers__main ORDER BY n")])
        .unwrap();
    let res = s.client.get(url).send().await.unwrap();
    assert_eq!(res.headers()["x-truncated"], "true");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["truncated"], true);
    assert_eq!(body["rows"].as_array().unwrap().len(), 100);
    assert_eq!(body["rows"][99]["n"], 99);
}
