//! Cross-origin requests: a page on another site reads the API from the browser, and writes
//! only from the origins the operator lists. The browser journey (`tests/browser`) checks the
//! same from a real page; these check every header and refusal over HTTP.

use opendata_datasets::Role;
use reqwest::Method;
use serde_json::json;

use crate::common::{TestServer, dataset, ingest, publisher};

const NEWSROOM: &str = "https://news.example";
const PUBLISHER_APP: &str = "https://publish.nso.example";

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn server() -> (TestServer, String) {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("p.csv");
    std::fs::write(&csv, "aimag,people\nДорнод,80000\nХовд,90000\n").unwrap();
    ingest(data.path(), &csv, &dataset("population", "nso", "Хүн ам"), "main").unwrap();
    let token = publisher(&crate::common::store(data.path()), "bat", false, &[("nso", Role::Editor)]);
    let s = TestServer::serve_with(data, |c| c.cors.write_origins = vec![PUBLISHER_APP.into()]).await;
    (s, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_sites_read_the_api() {
    let (s, _) = server().await;
    let rows = "/api/v1/datasets/population/tables/main/rows?aimag=Ховд";

    // A simple GET from another site: readable, with the headers a script needs.
    let res = s.client.get(s.url(rows)).header("origin", NEWSROOM).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some("*"));
    assert!(header(&res, "access-control-expose-headers").unwrap().contains("etag"));
    assert!(header(&res, "access-control-allow-credentials").is_none());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["rows"][0]["people"], 90000);

    // The preflight of a read with a header (If-None-Match): 204, no route reached.
    let res = s
        .client
        .request(Method::OPTIONS, s.url(rows))
        .header("origin", NEWSROOM)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "if-none-match")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(header(&res, "access-control-allow-methods").as_deref(), Some("GET, HEAD"));
    assert!(header(&res, "access-control-allow-headers").unwrap().contains("if-none-match"));
    assert_eq!(header(&res, "access-control-max-age").as_deref(), Some("86400"));

    // Errors are readable too: a script sees the problem, not a network failure.
    let res = s.client.get(s.url("/api/v1/datasets/nope")).header("origin", NEWSROOM).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(header(&res, "content-type").as_deref(), Some("application/problem+json"));

    // SQL by POST only queries: a read.
    let res = s
        .client
        .request(Method::OPTIONS, s.url("/api/v1/sql"))
        .header("origin", NEWSROOM)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some("*"));

    // The web pages are not an API: no CORS headers, and a request without Origin gets none.
    let res = s.client.get(s.url("/datasets/population")).header("origin", NEWSROOM).send().await.unwrap();
    assert!(header(&res, "access-control-allow-origin").is_none());
    let res = s.get(rows).await;
    assert!(header(&res, "access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_only_from_listed_origins() {
    let (s, token) = server().await;
    let edit = || json!({"title": "Хүн амын тоо"}).to_string();
    let patch = |origin: Option<&str>| {
        let mut req = s.client.patch(s.url("/api/v1/datasets/population")).bearer_auth(&token).body(edit());
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };

    // The preflight of a write from an unlisted site: answered, but nothing allowed.
    let res = s
        .client
        .request(Method::OPTIONS, s.url("/api/v1/datasets/population"))
        .header("origin", NEWSROOM)
        .header("access-control-request-method", "PATCH")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(header(&res, "access-control-allow-origin").is_none());
    assert!(header(&res, "access-control-allow-methods").is_none());
    assert!(header(&res, "vary").unwrap().contains("Origin"));

    // The write itself, sent anyway (a form needs no preflight): refused before it runs.
    let res = patch(Some(NEWSROOM)).await.unwrap();
    assert_eq!(res.status(), 403);
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "origin_not_allowed");
    let title = s.json("/api/v1/datasets/population", 200).await["title"].clone();
    assert_eq!(title, "Хүн ам");

    // From the listed publisher's app: allowed, with its origin echoed (never `*`).
    let res = s
        .client
        .request(Method::OPTIONS, s.url("/api/v1/datasets/population"))
        .header("origin", PUBLISHER_APP)
        .header("access-control-request-method", "PATCH")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some(PUBLISHER_APP));
    assert!(header(&res, "access-control-allow-methods").unwrap().contains("PATCH"));
    let res = patch(Some(PUBLISHER_APP)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "access-control-allow-origin").as_deref(), Some(PUBLISHER_APP));
    assert_eq!(s.json("/api/v1/datasets/population", 200).await["title"], "Хүн амын тоо");

    // The portal's own pages, and clients that send no Origin, write as before.
    let own = s.base.clone();
    assert_eq!(patch(Some(&own)).await.unwrap().status(), 200);
    assert_eq!(patch(None).await.unwrap().status(), 200);
}
