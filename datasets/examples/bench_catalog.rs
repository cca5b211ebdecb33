//! What a reading request pays the catalog before it reads any data: `Catalog::dataset` for
//! one dataset, and `Catalog::datasets` for a listing, over a SQLite catalog shaped like a
//! national portal's (`--datasets` datasets of 3 tables with 5 versions of 25 columns, each
//! column with statistics and a value list).
//!
//!     cargo run --release -p opendata-datasets --example bench_catalog -- [--datasets N] [--reads N]
//!
//! Prints microseconds per call, as the median of 5 rounds.

use std::time::Instant;

use opendata_datasets::*;

fn column(i: usize) -> Column {
    let values: Vec<String> = (0..40).map(|v| format!("Утга {v}")).collect();
    Column {
        name: format!("column_{i}"),
        label: format!("Багана {i}"),
        description: "Тайлбар: хэмжих нэгж, эх сурвалж".into(),
        kind: if i.is_multiple_of(3) { ColumnType::String } else { ColumnType::Float },
        stats: ColumnStats {
            null_count: 12,
            distinct_count: 40,
            min: Some(serde_json::json!(0.5)),
            max: Some(serde_json::json!(98765.25)),
            counts: vec![25; 40],
            values,
            ..Default::default()
        },
        role: None,
    }
}

fn version(dataset: &str, table: &str, n: u64) -> NewVersion {
    NewVersion {
        dataset: DatasetMeta {
            id: dataset.into(),
            organization: "nso".into(),
            title: format!("Өгөгдөл {dataset}"),
            license: "CC-BY-4.0".into(),
            ..Default::default()
        },
        create_dataset: true,
        table: table.into(),
        table_title: table.into(),
        row_count: 1000 * n,
        byte_size: 50_000,
        file: format!("tables/{dataset}/{table}/{n}.parquet"),
        columns: (0..25).map(column).collect(),
        source: SourceInfo::default(),
        content_hash: format!("{n:064}"),
        changes: None,
        report: QualityReport::default(),
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Median of 5 rounds of `reads` calls, in microseconds per call.
fn time(reads: usize, mut call: impl FnMut(usize)) -> f64 {
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            for i in 0..reads {
                call(i);
            }
            started.elapsed().as_secs_f64() * 1e6 / reads as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}

fn main() -> Result<()> {
    let (datasets, reads) = (arg("--datasets", 200), arg("--reads", 2000));
    let dir = tempfile::tempdir().expect("a temporary folder");
    let catalog = SqliteCatalog::open(&dir.path().join("catalog.sqlite"))?;
    catalog.upsert_organization(&Organization {
        id: "nso".into(),
        title: "Үндэсний статистикийн хороо".into(),
        title_en: None,
        description: String::new(),
        url: None,
    })?;
    for d in 0..datasets {
        for table in ["main", "by-aimag", "by-year"] {
            for n in 1..=5 {
                catalog.add_version(&version(&format!("dataset-{d}"), table, n))?;
            }
        }
    }
    let one = time(reads, |i| {
        let d = catalog.dataset(&format!("dataset-{}", i % datasets)).expect("found");
        assert_eq!(d.tables.len(), 3);
    });
    let all = time(reads.div_ceil(100).max(5), |_| {
        assert_eq!(catalog.datasets().expect("listed").len(), datasets);
    });
    println!("{datasets} datasets: Catalog::dataset {one:.1} µs/call; Catalog::datasets {all:.0} µs/call");
    Ok(())
}
