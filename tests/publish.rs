//! The write API: tokens, roles, creating, editing and withdrawing datasets, uploads as
//! ingest jobs, and the audit log, over HTTP against the real server.

use opendata_datasets::Role;
use serde_json::{Value, json};

use crate::common::{TestServer, dataset, ingest, org, publisher, send, wait_for_job};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_write_through_the_api() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("p.csv");
    std::fs::write(&csv, "aimag,people\nДорнод,80000\n").unwrap();
    ingest(data.path(), &csv, &dataset("population", "nso", "Хүн ам"), "main").unwrap();
    let store = crate::common::store(data.path());
    store.catalog().upsert_organization(&org("agaar", "Агаар")).unwrap();
    let editor = publisher(&store, "bat", false, &[("nso", Role::Editor)]);
    let nso_admin = publisher(&store, "saraa", false, &[("nso", Role::Admin)]);
    let other = publisher(&store, "dorj", false, &[("agaar", Role::Admin)]);
    let admin = publisher(&store, "root", true, &[]);
    let expired_token = opendata_server::auth::issue(store.catalog(), "bat", "old", Some(-1)).unwrap().1;
    let (revoked, revoked_token) = opendata_server::auth::issue(store.catalog(), "bat", "gone", None).unwrap();
    store.catalog().revoke_token(&revoked.id).unwrap();
    drop(store);
    let s = TestServer::serve_with(data, |c| c.limits.max_upload_bytes = 10_000).await;
    use reqwest::Method as M;
    let body = |v: Value| Some(reqwest::Body::from(v.to_string()));
    let new = json!({"id": "road-accidents", "organization": "nso", "title": "Зам тээврийн осол", "tags": ["тээвэр"]});

    // Reading is anonymous; writing is not.
    let (status, headers, problem) = send(&s, M::POST, "/api/v1/datasets", None, body(new.clone())).await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("unauthorized")));
    assert_eq!(headers["www-authenticate"], "Bearer");
    for bad in ["od_nope", expired_token.as_str(), revoked_token.as_str()] {
        let (status, _, _) = send(&s, M::POST, "/api/v1/datasets", Some(bad), body(new.clone())).await;
        assert_eq!(status, 401, "{bad}");
    }
    // Only for one's own organization.
    let (status, _, problem) = send(&s, M::POST, "/api/v1/datasets", Some(&other), body(new.clone())).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")));
    let (status, headers, created) = send(&s, M::POST, "/api/v1/datasets", Some(&editor), body(new.clone())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(headers["location"], "/api/v1/datasets/road-accidents");
    assert_eq!(created["title"], "Зам тээврийн осол");
    let (status, _, problem) = send(&s, M::POST, "/api/v1/datasets", Some(&editor), body(new.clone())).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("dataset_exists")));
    let (status, _, _) = send(
        &s,
        M::POST,
        "/api/v1/datasets",
        Some(&editor),
        body(json!({"id": "Bad Id", "organization": "nso", "title": "x"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, _) = send(&s, M::POST, "/api/v1/datasets", Some(&editor), body(json!({"title": "no id"}))).await;
    assert_eq!(status, 400);

    // Edits change what was sent, and search sees them.
    let (status, _, edited) = send(
        &s,
        M::PATCH,
        "/api/v1/datasets/road-accidents",
        Some(&editor),
        body(json!({"title_en": "Road traffic accidents"})),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["title"], "Зам тээврийн осол");
    assert_eq!(s.json("/api/v1/datasets?q=traffic", 200).await["results"][0]["id"], "road-accidents");
    let (status, _, _) =
        send(&s, M::PATCH, "/api/v1/datasets/road-accidents", Some(&other), body(json!({"title": "x"}))).await;
    assert_eq!(status, 403);

    // An upload is a job; the version it publishes is served.
    let upload = "/api/v1/datasets/road-accidents/tables/monthly/versions?file_name=accidents.csv";
    let csv = "Сар;Осол\n2024-01;120\n2024-02;98\n";
    let (status, headers, job) = send(&s, M::POST, upload, Some(&editor), Some(csv.into())).await;
    assert_eq!(status, 202, "{job}");
    let location = headers["location"].to_str().unwrap().to_owned();
    let done = wait_for_job(&s, &editor, &location).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["version"], 1);
    assert_eq!(done["report"]["rows_kept"], 2);
    assert_eq!(s.json("/api/v1/datasets/road-accidents/tables/monthly/rows", 200).await["total"], 2);
    // The column dictionary: labels and descriptions at once, kept for later versions.
    let columns = "/api/v1/datasets/road-accidents/tables/monthly/columns";
    let edit = json!({"osol": {"label": "Ослын тоо", "description": "Бүртгэгдсэн осол"}});
    let (status, _, edited) = send(&s, M::PATCH, columns, Some(&editor), body(edit)).await;
    assert_eq!(status, 200, "{edited}");
    let osol = edited["tables"][0]["columns"].as_array().unwrap().iter().find(|c| c["name"] == "osol").unwrap().clone();
    assert_eq!((osol["label"].as_str(), osol["description"].as_str()), (Some("Ослын тоо"), Some("Бүртгэгдсэн осол")));
    assert_eq!(s.json("/api/v1/datasets?q=Бүртгэгдсэн", 200).await["results"][0]["id"], "road-accidents");
    let (status, _, problem) = send(&s, M::PATCH, columns, Some(&editor), body(json!({"nope": {"label": "x"}}))).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("unknown_column")));
    let (status, _, _) = send(&s, M::PATCH, columns, Some(&other), body(json!({"osol": {"label": "x"}}))).await;
    assert_eq!(status, 403);
    let (_, headers, _) = send(&s, M::POST, upload, Some(&editor), Some("Сар;Осол\n2024-03;77\n".into())).await;
    let v2 = wait_for_job(&s, &editor, headers["location"].to_str().unwrap()).await;
    assert_eq!(v2["version"], 2, "{v2}");
    let d = s.json("/api/v1/datasets/road-accidents", 200).await;
    let osol = d["tables"][0]["columns"].as_array().unwrap().iter().find(|c| c["name"] == "osol").unwrap().clone();
    assert_eq!(osol["label"], "Ослын тоо", "the edit outlives the version");

    // A broken upload fails its job and leaves the latest version served.
    let (_, headers, _) = send(&s, M::POST, upload, Some(&editor), Some(b"PAR1\x00\x01garbage".to_vec().into())).await;
    let failed = wait_for_job(&s, &editor, headers["location"].to_str().unwrap()).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(!failed["error"].as_str().unwrap().contains(s.data.path().to_str().unwrap()), "{failed}");
    assert_eq!(s.json("/api/v1/datasets/road-accidents", 200).await["tables"][0]["version"], 2);
    // Nonsense publishes nothing, and says why: one byte, a header with no rows, blank lines.
    for (nonsense, why) in
        [(&b"x"[..], "no rows"), (&b"\xff"[..], ""), ("Сар;Осол\n".as_bytes(), "no rows"), (&b"\n\n\n"[..], "empty")]
    {
        let (_, headers, _) = send(&s, M::POST, upload, Some(&editor), Some(nonsense.to_vec().into())).await;
        let failed = wait_for_job(&s, &editor, headers["location"].to_str().unwrap()).await;
        assert_eq!(failed["status"], "failed", "{nonsense:?}: {failed}");
        assert!(failed["error"].as_str().unwrap().contains(why), "{nonsense:?}: {failed}");
    }
    assert_eq!(s.json("/api/v1/datasets/road-accidents", 200).await["tables"][0]["version"], 2);
    // Too large, empty, or someone else's job.
    let (status, _, problem) = send(&s, M::POST, upload, Some(&editor), Some(vec![b'x'; 20_000].into())).await;
    assert_eq!((status, problem["code"].as_str()), (413, Some("payload_too_large")));
    let (status, _, _) = send(&s, M::POST, upload, Some(&editor), None).await;
    assert_eq!(status, 400);
    let (status, _, _) = send(&s, M::GET, &location, Some(&other), None).await;
    assert_eq!(status, 403);
    let (status, _, _) = send(&s, M::GET, "/api/v1/jobs/nope", Some(&editor), None).await;
    assert_eq!(status, 404);

    // Withdrawal, once, by an admin of the organization: editors publish, admins withdraw.
    for not_allowed in [&other, &editor] {
        let (status, _, _) = send(&s, M::DELETE, "/api/v1/datasets/road-accidents", Some(not_allowed), None).await;
        assert_eq!(status, 403);
    }
    let withdraw = "/api/v1/datasets/road-accidents?reason=counted%20twice%3B%20see%20road-accidents-2025";
    let (status, _, _) = send(&s, M::DELETE, withdraw, Some(&nso_admin), None).await;
    assert_eq!(status, 204);
    // Its address, and every address under it, says it is gone and why.
    let gone = s.json("/api/v1/datasets/road-accidents", 410).await;
    assert_eq!(gone["code"], "dataset_withdrawn");
    assert!(gone["detail"].as_str().unwrap().contains("counted twice; see road-accidents-2025"), "{gone}");
    assert_eq!(s.json("/api/v1/datasets/road-accidents/tables/main/rows", 410).await["code"], "dataset_withdrawn");
    assert_eq!(s.get("/datasets/road-accidents").await.status(), 410);
    assert_eq!(s.json("/api/v1/datasets/nope", 404).await["code"], "dataset_not_found");
    assert_eq!(s.json("/api/v1/datasets?q=traffic", 200).await["total"], 0);
    let (status, _, _) = send(&s, M::DELETE, "/api/v1/datasets/road-accidents", Some(&nso_admin), None).await;
    assert_eq!(status, 410);

    // The audit log: who did what, for site administrators.
    let (status, _, _) = send(&s, M::GET, "/api/v1/audit", Some(&editor), None).await;
    assert_eq!(status, 403);
    let (status, _, log) = send(&s, M::GET, "/api/v1/audit", Some(&admin), None).await;
    assert_eq!(status, 200);
    let actions: Vec<(&str, &str)> =
        log.as_array().unwrap().iter().map(|e| (e["user"].as_str().unwrap(), e["action"].as_str().unwrap())).collect();
    assert_eq!(actions.first(), Some(&("saraa", "dataset.withdraw")));
    for expected in ["dataset.create", "dataset.update", "version.upload", "table.columns"] {
        assert!(actions.contains(&("bat", expected)), "{actions:?}");
    }
}

/// A version uploaded as a draft waits for review: readers see the previous version, its
/// organization reads the draft's report, and it is published on request, or by the
/// maintainer at the time set; a version published meanwhile makes it stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_wait_for_review_then_publish_now_or_on_schedule() {
    use reqwest::Method as M;
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("p.csv");
    std::fs::write(&csv, "aimag,people\nДорнод,80000\n").unwrap();
    ingest(data.path(), &csv, &dataset("population", "nso", "Хүн ам"), "main").unwrap();
    let store = crate::common::store(data.path());
    store.catalog().upsert_organization(&org("agaar", "Агаар")).unwrap();
    let editor = publisher(&store, "bat", false, &[("nso", Role::Editor)]);
    let other = publisher(&store, "dorj", false, &[("agaar", Role::Admin)]);
    drop(store);
    let s = TestServer::serve(data).await;
    let upload = |rows: &str, draft: bool| {
        let (s, editor, body) = (&s, editor.clone(), format!("aimag,people\n{rows}"));
        async move {
            let path = format!("/api/v1/datasets/population/tables/main/versions?file_name=p.csv&draft={draft}");
            let (status, headers, job) = send(s, M::POST, &path, Some(&editor), Some(body.into())).await;
            assert_eq!(status, 202, "{job}");
            wait_for_job(s, &editor, headers["location"].to_str().unwrap()).await
        }
    };
    let latest = || async { s.json("/api/v1/datasets/population", 200).await["tables"][0]["version"].as_u64() };

    let job = upload("Дорнод,81000\nХэнтий,70000\n", true).await;
    assert_eq!(
        (job["status"].as_str(), job["version"].as_u64(), job["draft"].as_bool()),
        (Some("succeeded"), Some(2), Some(true)),
        "{job}"
    );
    assert_eq!(job["report"]["rows_read"], 2, "the publisher sees the draft's report: {job}");
    // Readers see version 1 everywhere.
    assert_eq!(latest().await, Some(1));
    let rows = s.json("/api/v1/datasets/population/tables/main/rows", 200).await;
    assert_eq!(rows["rows"].as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(
        s.json("/api/v1/datasets/population/tables/main/rows?version=2", 404).await["code"],
        "version_not_found"
    );
    let csv = s.get("/api/v1/datasets/population/tables/main/data.csv").await.text().await.unwrap();
    assert!(!csv.contains("Хэнтий"), "{csv}");
    // A draft waits as long as its review takes: an old draft file survives the sweep that
    // opening the data folder runs, and a backup carries it.
    let draft = s.state.store.catalog().draft("population", "main").unwrap().unwrap();
    let file = s.data.path().join(&draft.new.file);
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
    drop(crate::common::store(s.data.path()));
    assert!(file.exists(), "the sweep took a draft's file");
    if !crate::SCALED {
        let backup = tempfile::tempdir().unwrap();
        s.state.store.backup(&backup.path().join("b")).unwrap();
        assert!(backup.path().join("b").join(&draft.new.file).exists(), "the backup lacks the draft's file");
    }

    // The draft's report, for its organization only.
    let report = "/api/v1/datasets/population/tables/main/versions/2/report";
    assert_eq!(s.json(report, 404).await["code"], "version_not_found");
    assert_eq!(send(&s, M::GET, report, Some(&other), None).await.0, 404);
    let (status, _, got) = send(&s, M::GET, report, Some(&editor), None).await;
    assert_eq!((status, got["report"]["rows_read"].as_u64()), (200, Some(2)), "{got}");

    // Published by its organization, and only the draft it has.
    let publish = "/api/v1/datasets/population/tables/main/versions/2/publish";
    assert_eq!(send(&s, M::POST, publish, None, None).await.0, 401);
    assert_eq!(send(&s, M::POST, publish, Some(&other), None).await.0, 403);
    let (status, _, problem) =
        send(&s, M::POST, "/api/v1/datasets/population/tables/main/versions/3/publish", Some(&editor), None).await;
    assert_eq!((status, problem["code"].as_str()), (404, Some("draft_not_found")));
    let (status, _, published) = send(&s, M::POST, publish, Some(&editor), None).await;
    assert_eq!((status, published["version"].as_u64()), (200, Some(2)), "{published}");
    assert_eq!(latest().await, Some(2));
    let rows = s.json("/api/v1/datasets/population/tables/main/rows", 200).await;
    assert_eq!(rows["rows"].as_array().unwrap().len(), 2, "{rows}");
    assert_eq!(send(&s, M::POST, publish, Some(&editor), None).await.0, 404, "published once");

    // Scheduled: invisible until its time, then published by the maintainer.
    let job = upload("Дорнод,82000\nХэнтий,71000\nСүхбаатар,62000\n", true).await;
    assert_eq!(job["version"], 3, "{job}");
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let path = format!("/api/v1/datasets/population/tables/main/versions/3/publish?publish_at={at}");
    let (status, _, scheduled) = send(&s, M::POST, &path, Some(&editor), None).await;
    assert_eq!((status, scheduled["version"].as_u64()), (202, Some(3)), "{scheduled}");
    assert_eq!(latest().await, Some(2), "not before its time");
    let started = std::time::Instant::now();
    while latest().await != Some(3) {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the scheduled release did not happen");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000), "published early");

    // A version published after a draft was made overtakes it.
    let job = upload("Дорнод,83000\n", true).await;
    assert_eq!(job["version"], 4, "{job}");
    let direct = upload("Дорнод,84000\n", false).await;
    assert_eq!((direct["version"].as_u64(), direct["draft"].as_bool()), (Some(4), Some(false)), "{direct}");
    let stale = "/api/v1/datasets/population/tables/main/versions/4/publish";
    assert_eq!(send(&s, M::POST, stale, Some(&editor), None).await.2["code"], "draft_not_found");
    let rows = s.json("/api/v1/datasets/population/tables/main/rows", 200).await;
    assert_eq!(rows["rows"][0]["people"], 84000, "{rows}");

    // A draft that drops or retypes a column readers query asks for confirmation, naming it.
    let path = "/api/v1/datasets/population/tables/main/versions?file_name=p.csv&draft=true";
    let body = "aimag,people\nДорнод,many\n";
    let (_, headers, _) = send(&s, M::POST, path, Some(&editor), Some(body.into())).await;
    let job = wait_for_job(&s, &editor, headers["location"].to_str().unwrap()).await;
    assert_eq!(job["version"], 5, "{job}");
    let publish = "/api/v1/datasets/population/tables/main/versions/5/publish";
    let (status, _, problem) = send(&s, M::POST, publish, Some(&editor), None).await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("breaking_change")), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("`people` changes from integer to string"), "{problem}");
    assert_eq!(latest().await, Some(4));
    let (status, _, published) = send(&s, M::POST, &format!("{publish}?confirm=true"), Some(&editor), None).await;
    assert_eq!((status, published["version"].as_u64()), (200, Some(5)), "{published}");
}

/// What the ingest guessed can be corrected and the same file read again, without sending
/// it again: here the row that holds the column names, a type, and the agency's own marks
/// of a missing value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_read_again_with_corrections() {
    use reqwest::Method as M;
    let data = tempfile::tempdir().unwrap();
    let store = crate::common::store(data.path());
    store.catalog().upsert_organization(&org("nso", "ҮСХ")).unwrap();
    store.catalog().upsert_dataset(&dataset("accidents", "nso", "Осол")).unwrap();
    let editor = publisher(&store, "bat", false, &[("nso", Role::Editor)]);
    drop(store);
    let s = TestServer::serve(data).await;
    let body = "Хүснэгт 1,,\nСар,Осол,Тайлбар\n2024-01,120,\n2024-02,98,н/б\n2024-03,-999,засвартай\n";
    let path = "/api/v1/datasets/accidents/tables/main/versions?file_name=osol.csv&draft=true";
    let (_, headers, _) = send(&s, M::POST, path, Some(&editor), Some(body.into())).await;
    let guessed = wait_for_job(&s, &editor, headers["location"].to_str().unwrap()).await;
    assert_eq!((guessed["status"].as_str(), guessed["version"].as_u64()), (Some("succeeded"), Some(1)), "{guessed}");

    let reread = "/api/v1/datasets/accidents/tables/main/versions/1/reread";
    let (status, _, problem) =
        send(&s, M::POST, reread, Some(&editor), Some(json!({"delimiter": ";;"}).to_string().into())).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_parameter")), "{problem}");
    let (status, _, problem) =
        send(&s, M::POST, reread, Some(&editor), Some(json!({"encoding": "klingon"}).to_string().into())).await;
    assert_eq!(status, 400, "{problem}");
    let many = json!({"null_markers": vec!["x"; 21]}).to_string();
    let (status, _, problem) = send(&s, M::POST, reread, Some(&editor), Some(many.into())).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_parameter")), "{problem}");
    let fixes = json!({"header_row": 2, "types": {"osol": "float"}, "null_markers": ["-999", " н/б "]});
    let (status, headers, _) = send(&s, M::POST, reread, Some(&editor), Some(fixes.to_string().into())).await;
    assert_eq!(status, 202);
    let read = wait_for_job(&s, &editor, headers["location"].to_str().unwrap()).await;
    assert_eq!((read["status"].as_str(), read["draft"].as_bool()), (Some("succeeded"), Some(true)), "{read}");
    assert_eq!(read["version"], 1, "the new reading replaces the draft: {read}");
    let (_, _, published) =
        send(&s, M::POST, "/api/v1/datasets/accidents/tables/main/versions/1/publish", Some(&editor), None).await;
    assert_eq!(published["row_count"], 3, "{published}");
    let d = s.json("/api/v1/datasets/accidents", 200).await;
    let columns: Vec<(&str, &str)> = d["tables"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(columns[1], ("osol", "float"), "{columns:?}");
    assert_eq!(d["tables"][0]["columns"][1]["label"], "Осол", "{d}");
    assert_eq!(d["tables"][0]["columns"][1]["stats"]["null_count"], 1, "-999 is no value: {d}");
    let rows = s.json("/api/v1/datasets/accidents/tables/main/rows?select=osol,tailbar", 200).await;
    assert_eq!(
        rows["rows"],
        json!([{"osol": 120.0, "tailbar": null}, {"osol": 98.0, "tailbar": null}, {"osol": null, "tailbar": "засвартай"}]),
        "a marker is no value in text columns too"
    );
    // The file was kept, not consumed by the reading.
    let original = s.get("/api/v1/datasets/accidents/tables/main/versions/1/source").await;
    assert_eq!(original.text().await.unwrap(), body);
}
