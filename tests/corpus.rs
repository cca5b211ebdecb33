//! The development corpus: every real agency file in `../shared/datasets`, ingested with no
//! option, checked against `tests/corpus.toml` through the HTTP API.
//!
//! The corpus sits beside the project, not in it. Without it this test says so and passes;
//! `scripts/corpus-check` sets `OPENDATA_CORPUS_REQUIRED=1`, and then a missing corpus fails.

use std::collections::BTreeMap;
use std::path::PathBuf;

use opendata_datasets::ident::slug;
use serde::Deserialize;

use crate::common::{TestServer, dataset, ingest};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectations {
    file: Vec<FileSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    name: String,
    #[serde(default)]
    skipped: usize,
    tables: Vec<TableSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableSpec {
    name: String,
    rows: u64,
    columns: Option<usize>,
    dropped: Option<u64>,
    #[serde(default)]
    types: BTreeMap<String, String>,
    filter: Option<String>,
}

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("OPENDATA_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    dir.is_dir().then_some(dir)
}

fn dataset_id(file: &str) -> String {
    let id = slug(file.rsplit_once('.').map_or(file, |(stem, _)| stem));
    id.chars().take(60).collect::<String>().trim_end_matches('-').to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_file_ingests_as_expected() {
    let Some(dir) = corpus_dir() else {
        assert!(
            std::env::var_os("OPENDATA_CORPUS_REQUIRED").is_none(),
            "OPENDATA_CORPUS_REQUIRED is set but the corpus is not at ../shared/datasets or $OPENDATA_CORPUS"
        );
        eprintln!("corpus not found beside the project: skipping the corpus check");
        return;
    };
    let expected: Expectations = toml::from_str(include_str!("corpus.toml")).unwrap();
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "SOURCES.md" && !n.starts_with('.'))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = expected.file.iter().map(|f| f.name.clone()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "tests/corpus.toml must list every corpus file");

    let mut failures: Vec<String> = Vec::new();
    let mut skipped_counts = BTreeMap::new();
    let files = &expected.file;
    let s = TestServer::start(|data| {
        for f in files {
            let meta = dataset(&dataset_id(&f.name), "corpus", &f.name);
            match ingest(data, &dir.join(&f.name), &meta, "main") {
                Ok(outcome) => {
                    skipped_counts.insert(f.name.clone(), outcome.skipped.len());
                }
                Err(e) => failures.push(format!("{}: ingest failed: {e}", f.name)),
            }
        }
    })
    .await;

    for f in files {
        let id = dataset_id(&f.name);
        let Some(&skipped) = skipped_counts.get(&f.name) else { continue };
        let mut problems = Vec::new();
        if skipped != f.skipped {
            problems.push(format!("{skipped} parts skipped, expected {}", f.skipped));
        }
        let d = s.json(&format!("/api/v1/datasets/{id}"), 200).await;
        let tables = d["tables"].as_array().unwrap();
        let mut names: Vec<&str> = tables.iter().map(|t| t["name"].as_str().unwrap()).collect();
        names.sort_unstable();
        let mut want: Vec<&str> = f.tables.iter().map(|t| t.name.as_str()).collect();
        want.sort_unstable();
        if names != want {
            problems.push(format!("tables {names:?}, expected {want:?}"));
        }
        for spec in &f.tables {
            let Some(t) = tables.iter().find(|t| t["name"] == spec.name.as_str()) else { continue };
            let rows = t["row_count"].as_u64().unwrap();
            if rows != spec.rows {
                problems.push(format!("{}: {rows} rows, expected {}", spec.name, spec.rows));
            }
            let columns = t["columns"].as_array().unwrap();
            if let Some(n) = spec.columns
                && columns.len() != n
            {
                problems.push(format!("{}: {} columns, expected {n}", spec.name, columns.len()));
            }
            for (name, kind) in &spec.types {
                match columns.iter().find(|c| c["name"] == name.as_str()) {
                    Some(c) if c["type"] == kind.as_str() => {}
                    Some(c) => problems.push(format!("{}: `{name}` is {}, expected {kind}", spec.name, c["type"])),
                    None => problems.push(format!("{}: no column `{name}`", spec.name)),
                }
            }
            let version = t["version"].as_u64().unwrap();
            let report =
                s.json(&format!("/api/v1/datasets/{id}/tables/{}/versions/{version}/report", spec.name), 200).await;
            if let Some(dropped) = spec.dropped
                && report["report"]["rows_dropped"] != dropped
            {
                problems.push(format!(
                    "{}: {} rows dropped, expected {dropped}",
                    spec.name, report["report"]["rows_dropped"]
                ));
            }
            if let Some(filter) = &spec.filter {
                let (column, value) = filter.split_once('=').unwrap();
                let path = format!("/api/v1/datasets/{id}/tables/{}/rows", spec.name);
                let url = reqwest::Url::parse_with_params(&s.url(&path), [(column, value), ("limit", "1")]).unwrap();
                let res = s.client.get(url).send().await.unwrap();
                let status = res.status();
                let body: serde_json::Value = res.json().await.unwrap();
                if !status.is_success() || body["total"].as_u64().unwrap_or(0) == 0 {
                    problems.push(format!("{}: no row has {filter} ({status}: {body})", spec.name));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", f.name, problems.join("; ")));
        }
    }
    let ok = files.len() - failures.len();
    eprintln!("corpus: {ok}/{} files ingested with no option and matched tests/corpus.toml", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
