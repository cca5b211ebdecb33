//! Search relevance, measured: the judged query set (`tests/search/judged.toml`) over the
//! demo catalog, ingested for real, and the metadata of `tests/search/catalog.toml`.

use std::path::Path;

use opendata_datasets::Store;
use search_index::{IndexedDataset, SearchIndex, SearchQuery};
use serde::Deserialize;

#[derive(Deserialize)]
struct Catalog {
    dataset: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    organization: String,
    title: String,
    title_en: String,
    description: String,
    description_en: String,
    tags: Vec<String>,
    columns: Vec<String>,
    values: Vec<String>,
    years: [i32; 2],
}

#[derive(Deserialize)]
struct Judged {
    query: Vec<Judgement>,
}

#[derive(Deserialize)]
struct Judgement {
    q: String,
    expect: Vec<String>,
}

fn read<T: for<'de> Deserialize<'de>>(name: &str) -> T {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("search").join(name);
    toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The demo catalog plus the judged catalog, in one index on disk.
pub fn judged_index(data: &Path) -> (Store, SearchIndex) {
    let store = crate::common::store(data);
    let index = opendata_server::publish::open_index(&store, &store.index_dir()).unwrap();
    opendata_server::demo::install(&store, &index).unwrap();
    index.upsert(&judged_entries()).unwrap();
    (store, index)
}

/// The judged test catalog's entries: they live in the index alone, so a server that starts
/// over them (and brings its index in line with its catalog) gets them after it started.
fn judged_entries() -> Vec<IndexedDataset> {
    let catalog: Catalog = read("catalog.toml");
    catalog
        .dataset
        .into_iter()
        .map(|e| IndexedDataset {
            id: e.id,
            title: e.title,
            title_en: Some(e.title_en),
            description: e.description,
            description_en: Some(e.description_en),
            organization_names: vec![e.organization.clone()],
            organization: e.organization,
            tags: e.tags,
            license: "CC-BY-4.0".into(),
            formats: vec!["csv".into()],
            columns: e.columns,
            values: e.values,
            years: Some((e.years[0], e.years[1])),
            updated_at: 0,
            private: false,
        })
        .collect()
}

#[test]
fn judged_queries_find_the_right_datasets() {
    let data = tempfile::tempdir().unwrap();
    let (_store, index) = judged_index(data.path());
    let judged: Judged = read("judged.toml");
    assert!(judged.query.len() >= 40);
    let mut successes = 0;
    let mut reciprocal_ranks = 0.0;
    let mut misses = Vec::new();
    for j in &judged.query {
        let found = index.search(&SearchQuery { q: Some(j.q.clone()), limit: 10, ..Default::default() }).unwrap();
        let ids: Vec<&str> = found.hits.iter().map(|h| h.id.as_str()).collect();
        let rank = ids.iter().position(|id| j.expect.iter().any(|e| e == id));
        if rank.is_some_and(|r| r < 3) {
            successes += 1;
        } else {
            misses.push(format!("{:?}: expected {:?}, got {:?}", j.q, j.expect, &ids[..ids.len().min(5)]));
        }
        reciprocal_ranks += rank.map_or(0.0, |r| 1.0 / (r as f64 + 1.0));
    }
    let n = judged.query.len() as f64;
    let success = f64::from(successes) / n;
    println!("judged queries: {}, success@3 {success:.3}, MRR {:.3}", judged.query.len(), reciprocal_ranks / n);
    for m in &misses {
        println!("  miss {m}");
    }
    assert!(success >= 0.9, "success@3 {success:.3} < 0.9:\n{}", misses.join("\n"));
}

/// The search features over HTTP: why a result matched, phrases and exclusions, facets
/// that keep the other values on offer, years, languages and suggestions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_explains_filters_and_suggests() {
    let s = crate::common::TestServer::start(|data| {
        judged_index(data);
    })
    .await;
    s.state.index.upsert(&judged_entries()).unwrap();
    let search = async |q: &str| s.json(&format!("/api/v1/datasets?{q}"), 200).await;
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };

    // Why it matched: a value inside the data, a column, a highlighted title.
    let r = search("q=Таван толгой").await;
    assert_eq!(r["results"][0]["id"], "coal-production");
    assert_eq!(r["results"][0]["matched_values"], serde_json::json!(["Таван толгой"]));
    let r = search("q=malchid").await;
    assert_eq!(r["results"][0]["id"], "herder-households");
    let columns = r["results"][0]["matched_columns"].as_array().unwrap();
    assert!(columns.iter().any(|c| c == "Малчид (malchid)"), "{columns:?}");
    let r = search("q=hun am").await;
    let title = r["results"][0]["highlights"]["title"].as_str().unwrap();
    assert!(title.starts_with("<mark>Хүн</mark> <mark>амын</mark>"), "{title}");

    // A quoted phrase must match in order; -word excludes.
    assert_eq!(ids(&search("q=%22улаан буудай%22").await), ["wheat-harvest"]);
    assert!(search("q=%22буудай улаан%22").await["total"] == 0);
    let prices = ids(&search("q=үнэ").await);
    assert!(prices.contains(&"housing-prices".to_owned()));
    assert!(!ids(&search("q=үнэ -орон").await).contains(&"housing-prices".to_owned()));

    // Facets count with every filter but their own.
    let r = search("q=тээвэр&organization=police").await;
    assert!(ids(&r).iter().all(|id| ["road-accidents", "vehicle-registration"].contains(&id.as_str())));
    let orgs: Vec<&str> =
        r["facets"]["organization"].as_array().unwrap().iter().map(|f| f["value"].as_str().unwrap()).collect();
    assert!(orgs.contains(&"police") && orgs.contains(&"ub-city"), "{orgs:?}");

    // Years: a filter by overlap, and a facet in year order.
    let r = search("year_from=2024&per_page=100").await;
    for result in r["results"].as_array().unwrap() {
        assert!(result["years"][1].as_i64().unwrap() >= 2024, "{result}");
    }
    assert!(ids(&r).contains(&"exchange-rates".to_owned()));
    assert!(!ids(&r).contains(&"births-deaths".to_owned()), "births-deaths ends in 2023");
    let r = search("year_to=2004&per_page=100").await;
    assert!(ids(&r).contains(&"weather-stations".to_owned()) && !ids(&r).contains(&"public-transport-ub".to_owned()));
    let years = search("q=агаар").await["facets"]["year"].clone();
    let values: Vec<&str> = years.as_array().unwrap().iter().map(|f| f["value"].as_str().unwrap()).collect();
    let mut sorted = values.clone();
    sorted.sort();
    assert_eq!(values, sorted);

    // The reader's language weighs its own titles; unknown values are refused.
    assert_eq!(search("q=wheat&lang=en").await["results"][0]["id"], "wheat-harvest");
    assert_eq!(s.json("/api/v1/datasets?lang=fr", 400).await["code"], "invalid_parameter");

    // Suggestions complete the last word, in either script.
    let sug = s.json("/api/v1/suggest?q=хүн", 200).await;
    assert_eq!(sug["titles"][0]["id"], "population-by-aimag");
    assert!(sug["terms"].as_array().unwrap().iter().any(|t| t == "хүн"), "{sug}");
    let sug = s.json("/api/v1/suggest?q=tsetse", 200).await;
    assert_eq!(sug["titles"][0]["id"], "kindergartens");
    assert_eq!(s.json("/api/v1/suggest?q=x&limit=0", 400).await["code"], "invalid_parameter");
}

/// The glossary joins what only meaning joins: English words find datasets described only
/// in Mongolian and the reverse, which they do not without it.
#[test]
fn the_glossary_crosses_languages() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path()).unwrap();
    let entry = |id: &str, title: &str, description: &str| IndexedDataset {
        id: id.into(),
        title: title.into(),
        title_en: None,
        description: description.into(),
        description_en: None,
        organization_names: vec!["nso".into()],
        organization: "nso".into(),
        tags: vec![],
        license: "CC-BY-4.0".into(),
        formats: vec!["csv".into()],
        columns: vec![],
        values: vec![],
        years: None,
        updated_at: 0,
        private: false,
    };
    index
        .upsert(&[
            entry("camels", "Тэмээ, аймгаар", "Оны эцсийн тэмээ, аймаг тус бүрээр."),
            entry("jobless", "Бүртгэлтэй ажилгүйчүүд", "Хөдөлмөр эрхлэлтийн албанд бүртгэлтэй иргэд."),
            entry("poverty", "Poverty headcount", "Share of people below the poverty line."),
            entry("pollution", "Air pollution monitoring", "Hourly pollution readings."),
            entry("roads", "Авто замын сүлжээ", "Улсын чанартай авто зам."),
            entry("exports", "Exports by commodity", "Monthly exports of coal and copper."),
        ])
        .unwrap();
    let first = |index: &SearchIndex, q: &str| {
        let found = index.search(&SearchQuery { q: Some(q.into()), limit: 3, ..Default::default() }).unwrap();
        found.hits.first().map(|h| h.id.clone())
    };
    let cases = [("camels", "camels"), ("unemployment", "jobless"), ("ядуурал", "poverty"), ("бохирдол", "pollution")];
    for (q, id) in cases {
        assert_eq!(first(&index, q).as_deref(), Some(id), "{q}");
    }
    index.set_glossary(search_index::Glossary::empty());
    for (q, id) in cases {
        assert_ne!(first(&index, q).as_deref(), Some(id), "{q} without the glossary");
    }
}
