//! Error shapes: every failure is problem+json with a stable code; nothing leaks.

use crate::common::TestServer;

async fn problem(s: &TestServer, path: &str, status: u16, code: &str) -> String {
    let res = s.get(path).await;
    assert_eq!(res.status().as_u16(), status, "{path}");
    assert_eq!(res.headers()["content-type"], "application/problem+json", "{path}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{path}: {body}");
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], format!("urn:opendata:problem:{code}"));
    assert!(body["title"].is_string());
    body["detail"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_names_the_culprit() {
    let s = TestServer::standard().await;
    let d = problem(&s, "/api/v1/datasets/nope", 404, "dataset_not_found").await;
    assert!(d.contains("nope"));
    let d = problem(&s, "/api/v1/datasets/population/tables/nope/rows", 404, "table_not_found").await;
    assert!(d.contains("nope"));
    problem(&s, "/api/v1/datasets/population/tables/main/rows?version=9", 404, "version_not_found").await;
    problem(&s, "/api/v1/organizations/nope", 404, "organization_not_found").await;
    problem(&s, "/api/v1/nothing-here", 404, "route_not_found").await;
    problem(&s, "/api/v1/datasets/population/tables/main/data.exe", 404, "route_not_found").await;
    // Path tricks are just unknown ids.
    problem(&s, "/api/v1/datasets/..%2F..%2Fetc/tables/main/data.csv", 404, "dataset_not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_parameters_are_400s_that_name_them() {
    let s = TestServer::standard().await;
    let t = "/api/v1/datasets/air-quality/tables/readings/rows";
    assert!(problem(&s, &format!("{t}?stationn=ST01"), 400, "unknown_column").await.contains("stationn"));
    assert!(problem(&s, &format!("{t}?select=id,nope"), 400, "unknown_column").await.contains("nope"));
    assert!(problem(&s, &format!("{t}?order=-nope"), 400, "unknown_column").await.contains("nope"));
    assert!(problem(&s, &format!("{t}?id__like=3"), 400, "unknown_operator").await.contains("like"));
    assert!(problem(&s, &format!("{t}?id__gt=three"), 400, "invalid_value").await.contains("three"));
    assert!(problem(&s, &format!("{t}?observed_at__gt=yesterday"), 400, "invalid_value").await.contains("yesterday"));
    assert!(problem(&s, &format!("{t}?id__contains=3"), 400, "invalid_value").await.contains("text"));
    problem(&s, &format!("{t}?value__isnull=maybe"), 400, "invalid_value").await;
    problem(&s, &format!("{t}?limit=10001"), 400, "invalid_parameter").await;
    problem(&s, &format!("{t}?limit=-1"), 400, "invalid_parameter").await;
    problem(&s, &format!("{t}?cursor=garbage"), 400, "invalid_cursor").await;
    problem(&s, &format!("{t}?format=xml"), 400, "unsupported_format").await;
    problem(&s, "/api/v1/datasets?per_page=101", 400, "invalid_parameter").await;
    problem(&s, "/api/v1/datasets?page=0", 400, "invalid_parameter").await;
    problem(&s, "/api/v1/datasets?sort=random", 400, "invalid_parameter").await;
    problem(&s, "/api/v1/datasets?page=abc", 400, "invalid_parameter").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_is_405_in_the_same_shape() {
    let s = TestServer::standard().await;
    let res = s.client.delete(s.url("/api/v1/organizations")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

/// More queries than may run and wait: the surplus is turned away at once with a 503 that
/// says when to retry, and nothing fails with a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_server_answers_503_with_retry_after() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("big.csv");
    let mut text = String::from("id,note\n");
    for i in 0..400_000 {
        text.push_str(&format!("{i},note number {i}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    crate::common::ingest(data.path(), &csv, &crate::common::dataset("busy", "org", "Busy"), "main").unwrap();
    let s = crate::common::TestServer::serve_with(data, |c| {
        c.limits.max_running_queries = 1;
        c.limits.max_queued_queries = 0;
    })
    .await;
    // Full scans: each holds the only slot for a while.
    let requests = (0..6).map(|i| {
        s.client.get(s.url(&format!("/api/v1/datasets/busy/tables/main/rows?note__contains=number {i}9999"))).send()
    });
    let responses = futures::future::join_all(requests).await;
    let mut refused = 0;
    for res in responses {
        let res = res.unwrap();
        match res.status().as_u16() {
            200 => {}
            503 => {
                refused += 1;
                assert_eq!(res.headers()["retry-after"], "1");
                let body: serde_json::Value = res.json().await.unwrap();
                assert_eq!(body["code"], "overloaded");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(refused >= 1, "six concurrent scans with one slot and no queue were all admitted");
    // Once the burst is over the server answers again.
    assert_eq!(s.get("/api/v1/datasets/busy/tables/main/rows?limit=1").await.status(), 200);
}

/// An address that sends more than its share gets a 429 that says when to retry; every
/// answer says how much is left; health checks are never limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_clients_are_rate_limited() {
    let data = tempfile::tempdir().unwrap();
    let s = crate::common::TestServer::serve_with(data, |c| c.limits.requests_per_minute = 3).await;
    for left in ["2", "1", "0"] {
        let res = s.get("/api/v1/datasets").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["ratelimit-limit"], "3");
        assert_eq!(res.headers()["ratelimit-remaining"], left);
        assert_eq!(res.headers()["ratelimit-policy"], "3;w=60");
    }
    let refused = s.get("/api/v1/datasets").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(s.get("/healthz").await.status(), 200);
}

/// A query that runs past the time limit is answered 503 with `Retry-After`, for rows and SQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_past_the_time_limit_get_503() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("big.csv");
    let text = (0..300_000).fold(String::from("id,note\n"), |acc, i| acc + &format!("{i},note {i}\n"));
    std::fs::write(&csv, text).unwrap();
    crate::common::ingest(data.path(), &csv, &crate::common::dataset("slow", "org", "Slow"), "main").unwrap();
    // No query finishes within zero seconds.
    let s = crate::common::TestServer::serve_with(data, |c| c.limits.query_timeout_secs = 0).await;
    for path in [
        "/api/v1/datasets/slow/tables/main/rows?note__contains=299999&order=-id".to_owned(),
        format!("/api/v1/sql?q={}", "SELECT%20count(*)%20FROM%20slow__main"),
    ] {
        let res = s.get(&path).await;
        assert_eq!(res.status(), 503, "{path}");
        assert_eq!(res.headers()["retry-after"], "5");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "query_timeout", "{path}");
    }
}

/// A query that needs more than the memory limit has its worker stopped, and answers 503
/// with why; catalog routes still answer, and so do later queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_past_the_memory_limit_get_503() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("n.csv");
    let text = (0..200_000).fold(String::from("id,note\n"), |acc, i| acc + &format!("{i},note {i}\n"));
    std::fs::write(&csv, text).unwrap();
    crate::common::ingest(data.path(), &csv, &crate::common::dataset("big", "org", "Big"), "main").unwrap();
    // Sorting 100,000 texts takes more than a megabyte.
    let s = crate::common::TestServer::serve_with(data, |c| c.limits.max_query_memory_mb = 1).await;
    for path in [
        "/api/v1/datasets/big/tables/main/rows?note__contains=9&order=-note".to_owned(),
        format!("/api/v1/sql?q={}", "SELECT%20note%20||%20note%20AS%20x%20FROM%20big__main%20ORDER%20BY%20x"),
    ] {
        let res = s.get(&path).await;
        assert_eq!(res.status(), 503, "{path}");
        assert_eq!(res.headers()["retry-after"], "5");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "query_memory", "{path}");
        assert!(body["detail"].as_str().unwrap().contains("1 MB"), "{body}");
    }
    assert_eq!(s.get("/api/v1/datasets/big").await.status(), 200);
}

/// schemathesis (PyPI; `.ci/run` installs it) generates requests from the served OpenAPI
/// document: none may get a 5xx, and every answer must match the document. A bounded run;
/// `schemathesis run` against a served demo goes further.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_find_no_server_errors_and_no_spec_violations() {
    let s = crate::common::TestServer::demo().await;
    // Writes are generated too, as a site administrator.
    let store = crate::common::store(s.data.path());
    let admin = opendata_datasets::User {
        id: "fuzz".into(),
        name: "fuzz".into(),
        site_admin: true,
        created_at: chrono::Utc::now(),
        memberships: vec![],
        disabled: false,
    };
    store.catalog().create_user(&admin).unwrap();
    let token = opendata_server::auth::issue(store.catalog(), "fuzz", "schemathesis", None).unwrap().1;
    let spec = s.url("/api/v1/openapi.json");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("schemathesis")
            .args([
                "run",
                &spec,
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-examples",
                "25",
                "--seed",
                "1",
                "--phases",
                "examples,coverage,fuzzing",
                "--header",
                &format!("Authorization: Bearer {token}"),
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("schemathesis runs (pip install schemathesis; .ci/run installs it)")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
}
