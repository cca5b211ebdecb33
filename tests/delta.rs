//! Every table is a Delta Lake table too: the Python `deltalake` package and polars read each
//! of its versions (time travel) from the data folder, with the rows the rows API serves.

use std::process::Command;

use serde_json::Value;

use crate::common::{TestServer, dataset, ingest};

const READ_DELTA: &str = r#"
import json, sys, deltalake, polars as pl
path, versions = sys.argv[1], int(sys.argv[2])
def plain(rows):
    return [{k: (x.isoformat() if hasattr(x, "isoformat") else x) for k, x in r.items()} for r in rows]
out = []
for v in range(versions):
    table = deltalake.DeltaTable(path, version=v)
    out.append({
        "deltalake": plain(table.to_pyarrow_table().to_pylist()),
        "polars": plain(pl.read_delta(path, version=v).to_dicts()),
        "protocol": table.protocol().min_reader_version,
    })
print(json.dumps(out, ensure_ascii=False))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltalake_and_polars_read_every_version_as_the_api_serves_it() {
    let data = tempfile::tempdir().unwrap();
    let meta = dataset("stations", "agaar", "Агаарын чанар");
    let versions = [
        "station,value,observed_at,note\nУБ-1,10.5,2024-01-01 08:00:00,цэвэр\nУБ-2,,2024-01-01 09:30:00,\n",
        "station,value,observed_at,note\nУБ-1,11,2024-01-02 08:00:00,a\nУБ-2,12.25,2024-01-02 09:00:00,b\nУБ-3,7,2024-01-02 10:00:00,c\n",
        // A column added, one removed: the schema changes between Delta versions.
        "station,value,observed_at,valid\nУБ-1,3,2024-02-01 00:00:00,true\n",
    ];
    for (i, csv) in versions.iter().enumerate() {
        let file = data.path().join(format!("v{i}.csv"));
        std::fs::write(&file, csv).unwrap();
        ingest(data.path(), &file, &meta, "main").unwrap();
        std::fs::remove_file(file).unwrap();
    }
    let table = data.path().join("tables/stations/main");
    let log: Vec<_> = std::fs::read_dir(table.join("_delta_log")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(log.len(), 3, "one commit per version: {log:?}");

    // A commit lost between the catalog's commit and the log's is written again at start.
    let last = table.join("_delta_log/00000000000000000002.json");
    let written = std::fs::read_to_string(&last).unwrap();
    std::fs::remove_file(&last).unwrap();
    let s = TestServer::serve(data).await;
    assert_eq!(std::fs::read_to_string(&last).unwrap(), written, "the same commit, byte for byte");
    let path = table.to_string_lossy().into_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", READ_DELTA, &path, "3"])
            .output()
            .expect("python3 with deltalake and polars")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let read: Vec<Value> = serde_json::from_str(&text).unwrap();
    for (i, got) in read.iter().enumerate() {
        let api = s.json(&format!("/api/v1/datasets/stations/tables/main/rows?version={}&limit=100", i + 1), 200).await;
        let expected = api["rows"].as_array().unwrap();
        assert_eq!(expected.len(), versions[i].lines().count() - 1);
        for reader in ["deltalake", "polars"] {
            assert_eq!(got[reader].as_array().unwrap(), expected, "{reader}, version {}", i + 1);
        }
        assert_eq!(got["protocol"], 3, "timestampNtz needs reader version 3");
    }
}
