//! Documents and links beside a dataset's tables: added by its publishers, refused when
//! they are not what they claim, listed wherever the dataset is described, and served only
//! as downloads.

use opendata_datasets::Role;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::common::{TestServer, publisher, send};

pub(crate) const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// POSTs a resource form to dataset `id` with `token`: the status and the JSON answer.
pub(crate) async fn add(s: &TestServer, token: Option<&str>, id: &str, form: Form) -> (u16, Value) {
    let mut req = s.client.post(s.url(&format!("/api/v1/datasets/{id}/resources"))).multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A form with a file.
pub(crate) fn file(name: &str, bytes: &[u8], title: &str) -> Form {
    Form::new()
        .text("title", title.to_owned())
        .text("description", "Тооллогыг хэрхэн явуулсан / how the census was run")
        .part("file", Part::bytes(bytes.to_vec()).file_name(name.to_owned()))
}

/// A form with a link.
pub(crate) fn link(url: &str, title: &str) -> Form {
    Form::new().text("title", title.to_owned()).text("url", url.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_and_links_are_listed_everywhere_and_served_only_as_downloads() {
    let s = TestServer::standard().await;
    let editor = publisher(&s.state.store, "bat", false, &[("nso", Role::Editor)]);
    let stranger = publisher(&s.state.store, "saraa", false, &[("agaar", Role::Admin)]);

    // Who may add one.
    assert_eq!(add(&s, None, "population", file("a.pdf", PDF, "A")).await.0, 401);
    assert_eq!(add(&s, Some(&stranger), "population", file("a.pdf", PDF, "A")).await.0, 403);

    let (status, pdf) = add(&s, Some(&editor), "population", file("Аргачлал 2024.pdf", PDF, "Аргачлал")).await;
    assert_eq!(status, 201, "{pdf}");
    assert_eq!((pdf["format"].as_str(), pdf["size"].as_u64()), (Some("PDF"), Some(PDF.len() as u64)));
    let url = pdf["url"].as_str().unwrap();
    let path = &url[url.find("/api/").unwrap()..];
    let res = s.get(path).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    let disposition = h["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;") && disposition.contains("filename*=UTF-8''%D0%90"), "{disposition}");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PDF, "byte for byte");
    let ranged = s.client.get(s.url(path)).header("range", "bytes=0-3").send().await.unwrap();
    assert_eq!((ranged.status().as_u16(), ranged.bytes().await.unwrap().as_ref()), (206, &b"%PDF"[..]));

    // A page of this site it never becomes: HTML and SVG are served as bytes.
    let evil = b"<html><script>alert(document.cookie)</script></html>";
    let (status, html) = add(&s, Some(&editor), "population", file("notes.html", evil, "")).await;
    assert_eq!((status, html["format"].as_str(), html["title"].as_str()), (201, Some("HTML"), Some("notes.html")));
    let res = s.get(&format!("/api/v1/datasets/population/resources/{}", html["id"].as_str().unwrap())).await;
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));

    // Nonsense is refused, and nothing is added.
    for (form, code) in [
        (file("report.pdf", b"<html>not a pdf</html>", "x"), "unreadable_file"),
        (file("photo.png", b"GIF89a....", "x"), "unreadable_file"),
        (file("empty.pdf", b"", "x"), "unreadable_file"),
        (link("javascript:alert(1)", "x"), "invalid_parameter"),
        (link("https://example.org/a b", "x"), "invalid_parameter"),
        (Form::new().text("title", "nothing"), "invalid_parameter"),
        (file("a.pdf", PDF, "x").text("url", "https://example.org/"), "invalid_parameter"),
    ] {
        let (status, body) = add(&s, Some(&editor), "population", form).await;
        assert_eq!((status, body["code"].as_str()), (400, Some(code)), "{body}");
    }
    let (status, _, body) =
        send(&s, Method::POST, "/api/v1/datasets/population/resources", Some(&editor), Some("raw".into())).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_parameter")), "not a form: {body}");

    // A link: a report kept elsewhere, a PDF to catalogs by its name.
    let (status, report) =
        add(&s, Some(&editor), "population", link("https://example.org/report.pdf?v=2", "Тайлан")).await;
    assert_eq!((status, report["format"].as_str(), report["size"].as_u64()), (201, Some("PDF"), None), "{report}");
    assert_eq!(report["url"], "https://example.org/report.pdf?v=2");
    let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = b
        .get(s.url(&format!("/api/v1/datasets/population/resources/{}", report["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    let location = res.headers()["location"].to_str().unwrap();
    assert_eq!((res.status().as_u16(), location), (303, "https://example.org/report.pdf?v=2"));

    // Listed wherever the dataset is described.
    let d = s.json("/api/v1/datasets/population", 200).await;
    let titles: Vec<&str> = d["resources"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Аргачлал", "notes.html", "Тайлан"]);
    let ckan = s.json("/api/3/action/package_show?id=population", 200).await;
    let resources = ckan["result"]["resources"].as_array().unwrap();
    assert_eq!(ckan["result"]["num_resources"], 4, "the table and three documents");
    assert!(resources.iter().any(|r| r["format"] == "PDF" && r["url"] == url && r["name"] == "Аргачлал"), "{ckan}");
    let id = resources.iter().find(|r| r["name"] == "Тайлан").unwrap()["id"].as_str().unwrap().to_owned();
    let shown = s.json(&format!("/api/3/action/resource_show?id={}", urlencode(&id)), 200).await;
    assert_eq!(shown["result"]["url"], "https://example.org/report.pdf?v=2");
    let dcat = s.get("/datasets/population.ttl").await.text().await.unwrap();
    assert!(dcat.contains(url) && dcat.contains("/file-type/PDF>"), "{dcat}");
    let package = s.json("/datasets/population/datapackage.json", 200).await;
    assert_eq!(package["profile"], "data-package");
    assert!(package["resources"].as_array().unwrap().iter().any(|r| r["path"] == url && r["format"] == "pdf"));
    // And read by the tools that read them: rdflib finds every distribution complete, and
    // frictionless validates the package, tables and documents.
    let dir = tempfile::tempdir().unwrap();
    let ttl = dir.path().join("population.ttl");
    std::fs::write(&ttl, &dcat).unwrap();
    let args = vec!["-c".into(), crate::linked::CHECK_DCAT.into(), ttl.to_str().unwrap().into(), "turtle".into()];
    let out = crate::linked::run("python3", args).await;
    assert!(out.contains("1 datasets"), "{out}");
    // Without the link to example.org, which frictionless would fetch and CI cannot reach.
    let mut local = package.clone();
    local["resources"].as_array_mut().unwrap().retain(|r| r["path"].as_str().unwrap().starts_with(&s.url("/")));
    let json = dir.path().join("datapackage.json");
    std::fs::write(&json, local.to_string()).unwrap();
    let out = crate::linked::run("frictionless", vec!["validate".into(), json.to_str().unwrap().into()]).await;
    assert!(!out.contains("INVALID"), "{out}");
    let page = s.get("/datasets/population").await.text().await.unwrap();
    assert!(page.contains("Аргачлал") && page.contains(path), "the dataset page lists it");
    let found = s.json("/api/v1/datasets?q=Аргачлал", 200).await;
    assert_eq!(found["results"][0]["id"], "population", "a document's title finds its dataset: {found}");
    let formats = &found["facets"]["format"];
    assert!(formats.as_array().unwrap().iter().any(|f| f["value"] == "pdf"), "{formats}");

    // Removed by its publishers only; its address then answers 404.
    let rid = pdf["id"].as_str().unwrap();
    let target = format!("/api/v1/datasets/population/resources/{rid}");
    assert_eq!(send(&s, Method::DELETE, &target, Some(&stranger), None).await.0, 403);
    assert_eq!(send(&s, Method::DELETE, &target, Some(&editor), None).await.0, 204);
    assert_eq!(s.json(&target, 404).await["code"], "resource_not_found");
    assert_eq!(s.json("/api/v1/datasets/population", 200).await["resources"].as_array().unwrap().len(), 2);
    let site = publisher(&s.state.store, "root", true, &[]);
    let (_, _, log) = send(&s, Method::GET, "/api/v1/audit", Some(&site), None).await;
    assert_eq!(log[0]["action"], "resource.remove", "{log}");
    assert_eq!(log[1]["action"], "resource.add");
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_larger_than_the_upload_limit_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("t.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    crate::common::ingest(data.path(), &csv, &crate::common::dataset("small", "nso", "Бага"), "main").unwrap();
    let s = TestServer::serve_with(data, |c| c.limits.max_upload_bytes = 1024).await;
    let editor = publisher(&s.state.store, "bat", false, &[("nso", Role::Editor)]);
    let big = [PDF, &vec![b' '; 2048]].concat();
    let (status, body) = add(&s, Some(&editor), "small", file("big.pdf", &big, "big")).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("payload_too_large")), "{body}");
    assert!(s.json("/api/v1/datasets/small", 200).await["resources"].as_array().unwrap().is_empty());
    let (status, _) = add(&s, Some(&editor), "small", file("small.pdf", PDF, "small")).await;
    assert_eq!(status, 201);
}
