//! Hostile requests and files, sent over HTTP to the real server. Each of these once took the
//! server down, or kept it working past the answer: after each the server must still answer,
//! with a clear 4xx that names the limit, and `/healthz` must answer within a second.

use std::io::Write;
use std::time::{Duration, Instant};

use opendata_datasets::Role;
use reqwest::Method as M;
use serde_json::{Value, json};

use crate::common::{TestServer, dataset, ingest, publisher, send, wait_for_job};

/// `/healthz` answers, and quickly: the attack left the server up and its async threads free.
pub async fn assert_healthy(s: &TestServer) {
    let started = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(1), s.get("/healthz")).await;
    let res = res.unwrap_or_else(|_| panic!("/healthz took more than 1 s"));
    assert_eq!(res.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// GET `path`: the status and the problem's `code` (or the body, when it is not one).
async fn code_of(s: &TestServer, path: &str) -> (u16, String, String) {
    let res = s.get(path).await;
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}

fn ckan(s: &TestServer, action: &str, body: Value) -> reqwest::RequestBuilder {
    s.client.post(s.url(&format!("/api/3/action/{action}"))).json(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_sql_is_refused_before_it_parses() {
    let s = TestServer::standard().await;
    let deep = format!("SELECT 1{}", "+1".repeat(1_500));
    let (status, code, detail) = code_of(&s, &format!("/api/v1/sql?q={}", urlencode(&deep))).await;
    assert_eq!((status, code.as_str()), (400, "limit_exceeded"), "{detail}");
    assert!(detail.contains("limits.max_sql_depth"), "{detail}");
    let res = s.client.post(s.url("/api/v1/sql")).body(deep.clone()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let nested = format!("SELECT {}1{} FROM air_quality__readings", "abs(".repeat(500), ")".repeat(500));
    let res = s.client.post(s.url("/api/v1/sql")).body(nested).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let union = vec!["SELECT 1"; 3_000].join(" UNION ALL ");
    let res = s.client.post(s.url("/api/v1/sql")).body(union).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let huge = format!("SELECT '{}'", "x".repeat(1 << 20));
    let res = s.client.post(s.url("/api/v1/sql")).body(huge).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let res = ckan(&s, "datastore_search_sql", json!({"sql": deep})).send().await.unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("max_sql_depth"), "{body}");
    // A join that would multiply tables is sized from the catalog and refused before it runs.
    let cross = "SELECT count(*) FROM air_quality__readings a, air_quality__readings b, air_quality__readings c";
    let (status, code, detail) = code_of(&s, &format!("/api/v1/sql?q={}", urlencode(cross))).await;
    assert_eq!((status, code.as_str()), (400, "limit_exceeded"), "{detail}");
    assert!(detail.contains("limits.max_join_rows") && detail.contains("15625000000"), "{detail}");
    let keyed = "SELECT count(*) AS n FROM air_quality__readings a JOIN air_quality__readings b ON a.id = b.id";
    assert_eq!(s.json(&format!("/api/v1/sql?q={}", urlencode(keyed)), 200).await["rows"][0]["n"], 2_500);
    assert_healthy(&s).await;
    // Ordinary queries still run.
    let ok = s.json("/api/v1/sql?q=SELECT%20count(*)%20AS%20n%20FROM%20air_quality__readings", 200).await;
    assert_eq!(ok["rows"][0]["n"], 2_500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_lists_and_filters_are_bounded_and_cost_what_they_match() {
    let s = TestServer::standard().await;
    let t = "/api/v1/datasets/air-quality/tables/readings/rows";
    let ids = |n: usize| (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let (status, code, detail) = code_of(&s, &format!("{t}?id__in={}", ids(8_000))).await;
    assert_eq!((status, code.as_str()), (400, "limit_exceeded"), "{detail}");
    assert!(detail.contains("limits.max_in_values"), "{detail}");
    // A thousand values is one membership test, not a thousand ORs: fast, and exact.
    let started = Instant::now();
    let page = s.json(&format!("{t}?id__in={}&limit=5&order=-id", ids(1_000)), 200).await;
    assert!(started.elapsed() < Duration::from_secs(5), "a 1,000-value in took {:?}", started.elapsed());
    assert_eq!(page["total"], 1_000);
    assert_eq!(page["rows"][0]["id"], 1_000);
    let text = s.json(&format!("{t}?station__in=ST01,ST03,nope&total=true&limit=1"), 200).await;
    let st01 = s.json(&format!("{t}?station=ST01&limit=1"), 200).await["total"].as_u64().unwrap();
    let st03 = s.json(&format!("{t}?station=ST03&limit=1"), 200).await["total"].as_u64().unwrap();
    assert_eq!(text["total"].as_u64().unwrap(), st01 + st03);
    let dates = s.json(&format!("{t}?observed_at__in=2024-01-02T01:00:00,2024-01-03T02:00:00&limit=100"), 200).await;
    assert!(dates["total"].as_u64().unwrap() > 0);
    let (status, code, _) = code_of(&s, &format!("{t}?id__in=1,two")).await;
    assert_eq!((status, code.as_str()), (400, "invalid_value"));
    let many: Vec<String> = (0..40).map(|i| format!("id__ne={i}")).collect();
    let (status, code, detail) = code_of(&s, &format!("{t}?{}", many.join("&"))).await;
    assert_eq!((status, code.as_str()), (400, "limit_exceeded"), "{detail}");
    assert!(detail.contains("limits.max_filters"));
    // CKAN's filters become the same filters, with the same bounds.
    let values: Vec<u64> = (0..100_000).collect();
    let res = ckan(&s, "datastore_search", json!({"resource_id": "air_quality__readings", "filters": {"id": values}}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("max_in_values"), "{body}");
    assert_healthy(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_searches_are_refused_everywhere_search_runs() {
    let s = TestServer::standard().await;
    let words: Vec<String> = (0..300).map(|i| format!("үг{i}")).collect();
    let q = urlencode(&words.join(" "));
    let (status, code, detail) = code_of(&s, &format!("/api/v1/datasets?q={q}")).await;
    assert_eq!((status, code.as_str()), (400, "limit_exceeded"), "{detail}");
    assert!(detail.contains("limits.max_search_words"));
    assert_eq!(s.get(&format!("/datasets?q={q}")).await.status().as_u16(), 400);
    assert_eq!(s.get(&format!("/api/v1/suggest?q={q}")).await.status().as_u16(), 400);
    let res = ckan(&s, "package_search", json!({"q": words.join(" ")})).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["success"], false);
    // One enormous word is as bad as many.
    let (status, _, _) = code_of(&s, &format!("/api/v1/datasets?q={}", "я".repeat(5_000))).await;
    assert_eq!(status, 400);
    // Excluded phrases that once panicked the engine (found by fuzzing).
    for q in ["-ам*хүн", "-хүн*хүн", "агаар -\"чанар агаар\""] {
        let (status, _, _) = code_of(&s, &format!("/api/v1/datasets?q={}", urlencode(q))).await;
        assert_eq!(status, 200, "{q}");
    }
    // Within the bound, search answers as before.
    let ok = s.json(&format!("/api/v1/datasets?q={}", urlencode(&words[..20].join(" "))), 200).await;
    assert!(ok["total"].is_u64());
    assert_healthy(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_defects_are_fixed() {
    let s = TestServer::standard().await;
    let t = "/api/v1/datasets/air-quality/tables/readings/rows";
    // limit=0 asks for the count alone.
    let counted = s.json(&format!("{t}?limit=0&station=ST01"), 200).await;
    assert_eq!(counted["rows"], json!([]));
    assert!(counted["total"].as_u64().unwrap() > 0);
    assert_eq!(counted["next"], Value::Null);
    let res = ckan(&s, "datastore_search", json!({"resource_id": "air_quality__readings", "limit": 0})).send().await;
    let body: Value = res.unwrap().json().await.unwrap();
    assert_eq!((body["success"].as_bool(), body["result"]["total"].as_u64()), (Some(true), Some(2_500)), "{body}");
    // A column selected twice is named.
    let (status, code, detail) = code_of(&s, &format!("{t}?select=id,id")).await;
    assert_eq!((status, code.as_str()), (400, "invalid_parameter"));
    assert!(detail.contains("`id` twice"), "{detail}");
    // A forged Host never reaches a link.
    let res = s.client.get(s.url(t)).header("host", "evil.example").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "unknown_host");
    let res = s.client.get(s.url("/healthz")).header("host", "evil.example").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "health checks come from balancers with any Host");
    let res = s.client.get(s.url(&format!("{t}?limit=1"))).header("host", "localhost:8080").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_healthy(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listed_hosts_and_public_url_decide_links() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("p.csv");
    std::fs::write(&csv, "id,v\n1,2\n2,3\n").unwrap();
    ingest(data.path(), &csv, &dataset("p", "nso", "P"), "main").unwrap();
    let s = TestServer::serve_with(data, |c| c.allowed_hosts = vec!["data.example.mn".into()]).await;
    let t = "/api/v1/datasets/p/tables/main/rows?limit=1";
    let res = s.client.get(s.url(t)).header("host", "data.example.mn").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers()["link"].to_str().unwrap().starts_with("<http://data.example.mn/"));
    // Once hosts are listed, loopback names are not special.
    let res = s.client.get(s.url(t)).header("host", "127.0.0.1").send().await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_downloads_defuse_spreadsheet_formulas() {
    let s = TestServer::start(|data| {
        let csv = data.join("f.csv");
        std::fs::write(
            &csv,
            "name,note\nа,=HYPERLINK(\"http://evil.example\";\"click\")\nб,-5\nв,@SUM(A1)\nг,+1+cmd|' /C calc'!A0\nд,plain\nе,-1.5e3\n",
        )
        .unwrap();
        ingest(data, &csv, &dataset("f", "nso", "F"), "main").unwrap();
    })
    .await;
    for path in ["/api/v1/datasets/f/tables/main/rows.csv", "/api/v1/datasets/f/tables/main/data.csv"] {
        let body = s.get(path).await.text().await.unwrap();
        assert!(body.contains("'=HYPERLINK"), "{path}: {body}");
        assert!(body.contains("'@SUM(A1)") && body.contains("'+1+cmd"), "{path}: {body}");
        assert!(body.contains("б,-5\n") && body.contains("д,plain\n") && body.contains("е,-1.5e3\n"), "{path}: {body}");
    }
    // JSON carries the values as they are.
    let rows = s.json("/api/v1/datasets/f/tables/main/rows", 200).await;
    assert_eq!(rows["rows"][0]["note"], "=HYPERLINK(\"http://evil.example\";\"click\")");
}

/// A minimal XLSX of `sheets` (name, cells as (A1-style reference, text)).
pub fn xlsx(sheets: &[(&str, &[(&str, &str)])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut put = |name: &str, body: String| {
        zip.start_file(name, options).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    };
    let mut types = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>"#,
    );
    let (mut book, mut rels) = (String::new(), String::new());
    for (i, (name, cells)) in sheets.iter().enumerate() {
        let n = i + 1;
        types.push_str(&format!(r#"<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#));
        book.push_str(&format!(r#"<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>"#));
        rels.push_str(&format!(r#"<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#));
        let mut rows: std::collections::BTreeMap<u32, String> = Default::default();
        for (at, text) in *cells {
            let digits = at.find(|c: char| c.is_ascii_digit()).unwrap();
            let row: u32 = at[digits..].parse().unwrap();
            rows.entry(row).or_default().push_str(&format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#));
        }
        let data: String = rows.iter().map(|(r, c)| format!(r#"<row r="{r}">{c}</row>"#)).collect();
        put(
            &format!("xl/worksheets/sheet{n}.xml"),
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{data}</sheetData></worksheet>"#
            ),
        );
    }
    types.push_str("</Types>");
    put("[Content_Types].xml", types);
    put("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.into());
    put(
        "xl/workbook.xml",
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{book}</sheets></workbook>"#
        ),
    );
    put(
        "xl/_rels/workbook.xml.rels",
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#
        ),
    );
    zip.finish().unwrap().into_inner()
}

/// A server with one dataset `d` of organization `nso` (two rows), and an editor's token.
async fn publishing_server() -> (TestServer, String) {
    publishing_server_with(|_| {}).await
}

/// [`publishing_server`] with settings changed by `configure`.
async fn publishing_server_with(configure: impl FnOnce(&mut opendata_server::Config)) -> (TestServer, String) {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("d.csv");
    std::fs::write(&csv, "aimag,people\nДорнод,80000\nХовд,90000\n").unwrap();
    ingest(data.path(), &csv, &dataset("d", "nso", "D"), "main").unwrap();
    let store = crate::common::store(data.path());
    let token = publisher(&store, "bat", false, &[("nso", Role::Editor)]);
    drop(store);
    (TestServer::serve_with(data, configure).await, token)
}

/// Uploads `body` as the next version of `d/{table}` and waits for the job to end.
async fn upload(s: &TestServer, token: &str, table: &str, body: Vec<u8>) -> Value {
    let path = format!("/api/v1/datasets/d/tables/{table}/versions");
    let (status, headers, job) = send(s, M::POST, &path, Some(token), Some(body.into())).await;
    assert_eq!(status, 202, "{job}");
    wait_for_job(s, token, headers["location"].to_str().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_fail_their_job_and_leave_the_server_up() {
    let (s, token) = publishing_server().await;
    // 1.6 KB that names cell XFD1048576: 17 billion cells if laid out.
    let far = xlsx(&[(
        "Sheet1",
        &[("A1", "a"), ("B1", "b"), ("A2", "1"), ("B2", "2"), ("A3", "3"), ("B3", "4"), ("XFD1048576", "x")],
    )]);
    assert!(far.len() < 4_096, "{} bytes", far.len());
    let job = upload(&s, &token, "far", far).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(job["error"].as_str().unwrap().contains("limits.max_sheet_cells"), "{job}");
    assert_healthy(&s).await;

    // Two sheets of one name once panicked the ingest and left its job running for good.
    let twins = xlsx(&[
        ("Data", &[("A1", "a"), ("B1", "b"), ("A2", "1"), ("B2", "2")]),
        ("Data", &[("A1", "c"), ("B1", "d"), ("A2", "3"), ("B2", "4")]),
    ]);
    let job = upload(&s, &token, "twins", twins).await;
    assert!(job["status"] == "succeeded" || job["status"] == "failed", "{job}");

    // 6,000 records that each bring a new key: once 931 MB of rows × columns.
    let mut json = String::from("[");
    for i in 0..6_000 {
        json.push_str(&format!("{}{{\"k{i}\": {i}}}", if i > 0 { "," } else { "" }));
    }
    json.push(']');
    let job = upload(&s, &token, "keys", json.into_bytes()).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(job["error"].as_str().unwrap().contains("limits.max_columns"), "{job}");
    // The dataset's served version is untouched by all of it.
    assert_eq!(s.json("/api/v1/datasets/d/tables/main/rows", 200).await["total"], 2);
    assert_healthy(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_type_keeps_the_quality_report_small() {
    let (s, token) = publishing_server().await;
    let mut csv = String::from("code,name\n");
    for i in 0..5_000 {
        csv.push_str(&format!("{i},нэр{i}\n"));
    }
    let job = upload(&s, &token, "names", csv.clone().into_bytes()).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    // Every name is now "not an integer".
    let (status, _, body) = send(
        &s,
        M::PATCH,
        "/api/v1/datasets/d/tables/names/columns",
        Some(&token),
        Some(json!({"name": {"type": "integer"}}).to_string().into()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    csv.push_str("5000,нэр5000\n");
    let job = upload(&s, &token, "names", csv.into_bytes()).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let report = &job["report"];
    assert_eq!(report["rows_rejected"], 5_001, "{report}");
    assert_eq!(report["rejected"].as_array().unwrap().len(), 100);
    assert!(report["warnings"].to_string().contains("5001 values were rejected; the first 100 are listed"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_cannot_inject_linked_data() {
    let injected = "CC-BY-4.0> ; <http://purl.org/dc/terms/publisher> <http://evil.example/org";
    let (s, token) = publishing_server().await;
    let new = json!({"id": "ld", "organization": "nso", "title": "LD", "license": injected}).to_string();
    let (status, _, problem) = send(&s, M::POST, "/api/v1/datasets", Some(&token), Some(new.into())).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_parameter")), "{problem}");
    let patch = json!({"license": injected}).to_string();
    let (status, _, _) = send(&s, M::PATCH, "/api/v1/datasets/d", Some(&token), Some(patch.into())).await;
    assert_eq!(status, 400);
    // A license stored before it was checked is written as one IRI, whatever it holds.
    let mut meta = s.state.store.catalog().dataset("d").unwrap().meta.clone();
    meta.license = injected.into();
    s.state.store.catalog().upsert_dataset(&meta).unwrap();
    let ttl = s.get("/datasets/d.ttl").await.text().await.unwrap();
    assert!(!ttl.contains("<http://evil.example/org>"), "{ttl}");
    assert!(ttl.contains("CC-BY-4.0\\u003E\\u0020;\\u0020\\u003Chttp://purl.org"), "{ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let (s, token) = publishing_server().await;
    for (i, scheme) in ["bearer", "BEARER", "Bearer"].iter().enumerate() {
        let res = s
            .client
            .post(s.url("/api/v1/datasets"))
            .header("authorization", format!("{scheme} {token}"))
            .body(json!({"id": format!("s-{i}"), "organization": "nso", "title": "S"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201, "{scheme}");
    }
    let res = s.client.post(s.url("/api/v1/datasets")).header("authorization", format!("Basic {token}")).send().await;
    assert_eq!(res.unwrap().status().as_u16(), 401);
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_names_belong_to_the_first_table_that_took_them() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("a.csv");
    std::fs::write(&csv, "station,value\nUB01,10\nUB02,20\n").unwrap();
    ingest(data.path(), &csv, &dataset("air-quality", "agaar", "Агаар"), "main").unwrap();
    ingest(data.path(), &csv, &dataset("a", "agaar", "A"), "b__c").unwrap();
    let store = crate::common::store(data.path());
    store.catalog().upsert_organization(&crate::common::org("nso", "NSO")).unwrap();
    let token = publisher(&store, "bat", false, &[("nso", Role::Editor)]);
    drop(store);
    let s = TestServer::serve(data).await;
    // Another organization's editor makes datasets whose SQL names would collide.
    for id in ["air_quality", "a__b"] {
        let new = json!({"id": id, "organization": "nso", "title": id}).to_string();
        let (status, _, body) = send(&s, M::POST, "/api/v1/datasets", Some(&token), Some(new.into())).await;
        assert_eq!(status, 201, "{body}");
    }
    let rogue = "station,value\nEVIL,666\n".as_bytes().to_vec();
    for (id, table) in [("air_quality", "main"), ("a__b", "c")] {
        let path = format!("/api/v1/datasets/{id}/tables/{table}/versions");
        let (status, headers, _) = send(&s, M::POST, &path, Some(&token), Some(rogue.clone().into())).await;
        assert_eq!(status, 202);
        let job = wait_for_job(&s, &token, headers["location"].to_str().unwrap()).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    for name in ["air_quality__main", "a__b__c"] {
        let q = format!("/api/v1/sql?q={}", urlencode(&format!("SELECT sum(value) AS v FROM {name}")));
        assert_eq!(s.json(&q, 200).await["rows"][0]["v"], 30, "{name} was taken over");
    }
    let rogue_table = s.json("/api/v1/datasets/air_quality", 200).await;
    assert_eq!(rogue_table["tables"][0]["sql_name"], "air_quality__main_2");
    let q = format!("/api/v1/sql?q={}", urlencode("SELECT value FROM air_quality__main_2"));
    assert_eq!(s.json(&q, 200).await["rows"][0]["value"], 666);
}

/// A server whose single ingest slot is busy for a while with a large upload, so that the
/// next upload waits as a queued job.
async fn busy_server() -> (TestServer, String, String, Value) {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("d.csv");
    std::fs::write(&csv, "aimag,people\nДорнод,80000\n").unwrap();
    ingest(data.path(), &csv, &dataset("d", "nso", "D"), "main").unwrap();
    let store = crate::common::store(data.path());
    store.catalog().upsert_organization(&crate::common::org("agaar", "Агаар")).unwrap();
    let editor = publisher(&store, "bat", false, &[("nso", Role::Editor), ("agaar", Role::Editor)]);
    let admin = publisher(&store, "saraa", false, &[("nso", Role::Admin), ("agaar", Role::Admin)]);
    drop(store);
    let s = TestServer::serve_with(data, |c| c.limits.max_running_ingests = 1).await;
    let mut big = String::from("id,value,label\n");
    for i in 0..400_000 {
        big.push_str(&format!("{i},{},label {}\n", i % 977, i % 13));
    }
    let (status, _, slow) =
        send(&s, M::POST, "/api/v1/datasets/d/tables/big/versions", Some(&editor), Some(big.into())).await;
    assert_eq!(status, 202, "{slow}");
    (s, editor, admin, slow)
}

async fn queue(s: &TestServer, token: &str) -> String {
    let body = "aimag,people\nХовд,90000\n";
    let (status, headers, job) =
        send(s, M::POST, "/api/v1/datasets/d/tables/main/versions", Some(token), Some(body.into())).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["status"], "queued", "the slot should still be busy: {job}");
    headers["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_uploads_check_again_before_they_run() {
    // Withdrawn while queued: the job is cancelled, and the dataset stays withdrawn.
    let (s, editor, admin, _) = busy_server().await;
    let job = queue(&s, &editor).await;
    let (status, _, _) = send(&s, M::DELETE, "/api/v1/datasets/d", Some(&admin), None).await;
    assert_eq!(status, 204);
    let done = wait_for_job(&s, &editor, &job).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap().contains("withdrawn"), "{done}");
    let (status, _, problem) = send(&s, M::GET, "/api/v1/datasets/d", None, None).await;
    assert_eq!((status, problem["code"].as_str()), (410, Some("dataset_withdrawn")), "the queued upload re-created it");

    // Moved to another organization while queued: the move stands.
    let (s, editor, admin, _) = busy_server().await;
    let job = queue(&s, &editor).await;
    let (status, _, _) = send(
        &s,
        M::PATCH,
        "/api/v1/datasets/d",
        Some(&admin),
        Some(json!({"organization": "agaar", "title": "Moved"}).to_string().into()),
    )
    .await;
    assert_eq!(status, 200);
    let done = wait_for_job(&s, &editor, &job).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let d = s.json("/api/v1/datasets/d", 200).await;
    assert_eq!((d["organization"].as_str(), d["title"].as_str()), (Some("agaar"), Some("Moved")));

    // The token revoked while queued: nothing is published.
    let (s, editor, admin, _) = busy_server().await;
    let job = queue(&s, &editor).await;
    let id = s.state.store.catalog().tokens().unwrap().into_iter().find(|t| t.user == "bat").unwrap().id;
    s.state.store.catalog().revoke_token(&id).unwrap();
    let done = wait_for_job(&s, &admin, &job).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap().contains("revoked"), "{done}");
    assert_eq!(s.json("/api/v1/datasets/d/tables/main/rows", 200).await["total"], 1);
}

/// A body that sends `first`, then waits `pause`, then sends `rest`.
fn slow_body(first: &'static str, pause: Duration, rest: &'static str) -> reqwest::Body {
    let stream = futures::stream::unfold(0, move |step| async move {
        match step {
            0 => Some((Ok::<_, std::io::Error>(bytes_of(first)), 1)),
            1 => {
                tokio::time::sleep(pause).await;
                Some((Ok(bytes_of(rest)), 2))
            }
            _ => None,
        }
    });
    reqwest::Body::wrap_stream(stream)
}

fn bytes_of(s: &'static str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_authorized_after_their_body_and_within_deadlines() {
    let (s, token) = publishing_server_with(|c| c.limits.upload_idle_secs = 1).await;
    let url = s.url("/api/v1/datasets/d/tables/main/versions");

    // Revoked while the body was on its way.
    let id = s.state.store.catalog().tokens().unwrap()[0].id.clone();
    let catalog_state = s.state.clone();
    let revoke = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        catalog_state.store.catalog().revoke_token(&id).unwrap();
    });
    let body = slow_body("aimag,people\n", Duration::from_millis(600), "Ховд,90000\n");
    let res = s.client.post(&url).bearer_auth(&token).body(body).send().await.unwrap();
    revoke.await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(s.json("/api/v1/datasets/d/tables/main/rows", 200).await["total"], 2);

    // A body that stalls is dropped.
    let store = crate::common::store(s.data.path());
    let token = publisher(&store, "dorj", false, &[("nso", Role::Editor)]);
    let body = slow_body("aimag,people\n", Duration::from_secs(3), "Ховд,90000\n");
    let res = s.client.post(&url).bearer_auth(&token).body(body).send().await;
    match res {
        Ok(res) => {
            assert_eq!(res.status().as_u16(), 408);
            assert_eq!(res.json::<Value>().await.unwrap()["code"], "upload_timeout");
        }
        // The server may close the connection before the client finishes sending.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    assert_eq!(s.json("/api/v1/datasets/d/tables/main/rows", 200).await["total"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_can_do_nothing() {
    let (s, token) = publishing_server().await;
    s.state.store.catalog().set_user_disabled("bat", true).unwrap();
    let new = json!({"id": "x", "organization": "nso", "title": "X"}).to_string();
    let (status, _, _) = send(&s, M::POST, "/api/v1/datasets", Some(&token), Some(new.into())).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_past_its_limits_fails_its_job_and_nothing_else() {
    let (s, token) = publishing_server_with(|c| {
        c.limits.ingest_memory_mb = 64;
        c.limits.ingest_timeout_secs = 20;
    })
    .await;
    // 30 MB of JSON records: well over 64 MB once parsed.
    let mut json = String::from("[");
    for i in 0..300_000 {
        json.push_str(&format!(
            "{}{{\"id\": {i}, \"name\": \"record number {i}\", \"v\": {}}}",
            if i > 0 { "," } else { "" },
            i % 100
        ));
    }
    json.push(']');
    let job = upload(&s, &token, "main", json.into_bytes()).await;
    assert_eq!(job["status"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    eprintln!("ingest stopped: {error}");
    assert!(error.contains("limits.ingest_memory_mb") || error.contains("stopped unexpectedly"), "{error}");
    assert_eq!(s.json("/api/v1/datasets/d/tables/main/rows", 200).await["total"], 2);
    assert_healthy(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_has_its_own_rate_limit() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("p.csv");
    std::fs::write(&csv, "id,v\n1,2\n").unwrap();
    ingest(data.path(), &csv, &dataset("p", "nso", "P"), "main").unwrap();
    let s = TestServer::serve_with(data, |c| {
        c.limits.requests_per_minute = 2;
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let get = |client: &'static str| {
        s.client.get(s.url("/api/v1/datasets/p")).header("x-forwarded-for", format!("203.0.113.7, {client}")).send()
    };
    for _ in 0..2 {
        assert_eq!(get("198.51.100.1").await.unwrap().status().as_u16(), 200);
    }
    assert_eq!(get("198.51.100.1").await.unwrap().status().as_u16(), 429, "the third from one client");
    assert_eq!(get("198.51.100.2").await.unwrap().status().as_u16(), 200, "another client behind the same proxy");
}
