//! Search benchmark: indexes a synthetic catalog (`bench/gen_catalog.py`), then times
//! reindexing, searches with facets and suggestions, in process.
//!
//! ```text
//! python3 bench/gen_catalog.py --n 10000 --seed 42 --out catalog.jsonl
//! cargo run --release -p opendata-search-index --example bench_search -- catalog.jsonl INDEX_DIR bench/search_queries.txt
//! ```
//!
//! INDEX_DIR is left behind: `opendata serve --data DIR` serves it when it is `DIR/index`,
//! for the HTTP figures (`bench/search.sh`).

use std::time::{Duration, Instant};

use search_index::{IndexedDataset, SearchIndex, SearchQuery};
use serde_json::Value;

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn dataset(v: &Value) -> IndexedDataset {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    IndexedDataset {
        id: s("id"),
        title: s("title"),
        title_en: Some(s("title_en")),
        description: s("description"),
        description_en: Some(s("description_en")),
        organization: s("organization"),
        organization_names: strings(&v["organization_names"]),
        tags: strings(&v["tags"]),
        license: s("license"),
        formats: strings(&v["formats"]),
        columns: strings(&v["columns"]),
        values: strings(&v["values"]),
        years: v["years"][0].as_i64().zip(v["years"][1].as_i64()).map(|(a, b)| (a as i32, b as i32)),
        updated_at: v["updated_at"].as_i64().unwrap_or_default(),
        private: false,
    }
}

fn percentiles(mut xs: Vec<Duration>) -> (f64, f64) {
    xs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(xs[xs.len() / 2]), ms(xs[(xs.len() * 99 / 100).min(xs.len() - 1)]))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, catalog, dir, queries] = args.as_slice() else {
        anyhow::bail!("usage: bench_search CATALOG.jsonl INDEX_DIR QUERIES.txt");
    };
    let docs: Vec<IndexedDataset> = std::fs::read_to_string(catalog)?
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).map(|v| dataset(&v)))
        .collect::<Result<_, _>>()?;
    let queries: Vec<String> = std::fs::read_to_string(queries)?.lines().map(str::to_owned).collect();
    let index = SearchIndex::open(std::path::Path::new(dir))?;

    let started = Instant::now();
    index.rebuild(&docs)?;
    println!("reindex {} datasets: {:.2} s", docs.len(), started.elapsed().as_secs_f64());

    let rounds = 20;
    let mut times = Vec::new();
    let mut hits = 0;
    for round in 0..=rounds {
        for q in &queries {
            let query = SearchQuery { q: Some(q.clone()), limit: 20, ..Default::default() };
            let t = Instant::now();
            let found = index.search(&query)?;
            // Round 0 warms the caches.
            if round > 0 {
                times.push(t.elapsed());
                hits += usize::from(found.total > 0);
            }
        }
    }
    let (p50, p99) = percentiles(times);
    println!(
        "search with facets and highlights, {} queries x {rounds}: p50 {p50:.2} ms, p99 {p99:.2} ms ({:.0}% with results)",
        queries.len(),
        100.0 * hits as f64 / (queries.len() * rounds) as f64
    );

    let mut times = Vec::new();
    for _ in 0..rounds {
        for q in &queries {
            // What a search box sends while the last word is half typed.
            let typed: String = q.chars().take(q.chars().count().max(3) - 1).collect();
            let t = Instant::now();
            index.suggest(&typed, 5, &Default::default())?;
            times.push(t.elapsed());
        }
    }
    let (p50, p99) = percentiles(times);
    println!("suggest: p50 {p50:.2} ms, p99 {p99:.2} ms");
    Ok(())
}
