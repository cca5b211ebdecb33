//! The API describes itself: the served OpenAPI document covers every route, the
//! interactive docs are served locally, and the README documents every error code.

use crate::common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_covers_every_route() {
    let s = TestServer::standard().await;
    let doc = s.json("/api/v1/openapi.json", 200).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/healthz",
        "/api/v1/datasets",
        "/api/v1/datasets/{id}",
        "/api/v1/organizations",
        "/api/v1/organizations/{id}",
        "/api/v1/datasets/{id}/tables/{table}/rows",
        "/api/v1/datasets/{id}/tables/{table}/{file}",
        "/api/v1/datasets/{id}/tables/{table}/versions/{version}/report",
        "/api/v1/sql",
    ] {
        let item = paths.get(route).unwrap_or_else(|| panic!("{route} is not documented"));
        let get = &item["get"];
        assert!(get["summary"].is_string(), "{route} has no summary");
        assert!(get["responses"].as_object().unwrap().keys().any(|k| k.starts_with('4') || k == "200"));
    }
    // Every documented query parameter of the rows route is one the server understands.
    let params: Vec<&str> = paths["/api/v1/datasets/{id}/tables/{table}/rows"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in opendata_server::engine::params::RESERVED_PARAMS.iter().filter(|p| **p != "bom") {
        assert!(params.contains(p), "rows parameter `{p}` is undocumented");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_docs_need_no_network() {
    let s = TestServer::standard().await;
    let res = s.get("/api/docs/").await;
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    assert!(!html.contains("https://"), "the docs page loads something from another host");
}

#[test]
fn readme_documents_every_error_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for code in opendata_server::error::Code::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.status().as_u16());
        assert!(readme.contains(&row), "README.md lacks the error code row {row}");
    }
}
