//! Each table is also a Delta Lake table: a `_delta_log/` beside its version files, in which
//! Delta version `n - 1` is the portal's version `n`, so Spark, Trino, DuckDB, polars and the
//! `deltalake` packages read any version in place (time travel) without a copy.
//!
//! The log is written by hand rather than with the `deltalake` crate: a commit here is five
//! JSON lines (protocol, metadata, remove, add, commit info), while the crate would bring
//! DataFusion-sized dependencies and a second arrow major version. Every commit is made from
//! the catalog alone (timestamps included), so writing one twice writes the same bytes: two
//! nodes that race, or a repair after a crash, cannot disagree.

use serde_json::{Value, json};

use crate::model::{ColumnType, Table, TableVersion};

/// Where a table's log lives, relative to the data folder or bucket.
pub fn log_dir(dataset: &str, table: &str) -> String {
    format!("tables/{dataset}/{table}/_delta_log")
}

/// The log file of the commit for the portal's version `version` (Delta version `version - 1`).
pub fn commit_path(dataset: &str, table: &str, version: u32) -> String {
    format!("{}/{:020}.json", log_dir(dataset, table), version.saturating_sub(1))
}

/// The commit that makes `table`'s version `at` (an index into its versions) the table's
/// whole content: it adds that version's file and removes the one before.
pub fn commit(table: &Table, at: usize) -> String {
    let version = &table.versions[at];
    let millis = version.created_at.timestamp_millis();
    // Readers need the timestampNtz feature once any version had a datetime without a zone;
    // a protocol is never lowered.
    let ntz = table.versions[..=at].iter().any(|v| v.columns.iter().any(|c| c.kind == ColumnType::Datetime));
    let protocol = if ntz {
        json!({"minReaderVersion": 3, "minWriterVersion": 7,
               "readerFeatures": ["timestampNtz"], "writerFeatures": ["timestampNtz"]})
    } else {
        json!({"minReaderVersion": 1, "minWriterVersion": 2})
    };
    let mut actions = vec![
        json!({"protocol": protocol}),
        json!({"metaData": {
            "id": table_id(&table.dataset, &table.name),
            "name": table.sql_name,
            "format": {"provider": "parquet", "options": {}},
            "schemaString": schema(version).to_string(),
            "partitionColumns": [],
            "configuration": {},
            "createdTime": table.versions[0].created_at.timestamp_millis(),
        }}),
    ];
    if let Some(previous) = at.checked_sub(1).map(|i| &table.versions[i]) {
        actions.push(json!({"remove": {
            "path": file_name(previous),
            "deletionTimestamp": millis,
            "dataChange": true,
            "extendedFileMetadata": true,
            "partitionValues": {},
            "size": previous.byte_size,
        }}));
    }
    actions.push(json!({"add": {
        "path": file_name(version),
        "partitionValues": {},
        "size": version.byte_size,
        "modificationTime": millis,
        "dataChange": true,
        "stats": json!({"numRecords": version.row_count}).to_string(),
    }}));
    actions.push(json!({"commitInfo": {
        "timestamp": millis,
        "operation": if at == 0 { "CREATE TABLE AS SELECT" } else { "WRITE" },
        "operationParameters": {"mode": "Overwrite"},
        "engineInfo": concat!("opendata/", env!("CARGO_PKG_VERSION")),
        "opendataVersion": version.version,
    }}));
    let mut out = String::new();
    for action in actions {
        out.push_str(&action.to_string());
        out.push('\n');
    }
    out
}

/// A version's file, relative to the table's folder (the Delta table's root).
fn file_name(version: &TableVersion) -> &str {
    version.file.rsplit('/').next().unwrap_or(&version.file)
}

/// The Delta schema of a version: every column nullable, typed as the ingest writes it.
fn schema(version: &TableVersion) -> Value {
    let fields: Vec<Value> = version
        .columns
        .iter()
        .map(|c| {
            let ty = match c.kind {
                ColumnType::Boolean => "boolean",
                ColumnType::Integer => "long",
                ColumnType::Float => "double",
                ColumnType::Date => "date",
                ColumnType::Datetime => "timestamp_ntz",
                ColumnType::String => "string",
            };
            json!({"name": c.name, "type": ty, "nullable": true, "metadata": {}})
        })
        .collect();
    json!({"type": "struct", "fields": fields})
}

/// A stable id for the table, shaped as a UUID: the same on every node and every rewrite.
fn table_id(dataset: &str, table: &str) -> String {
    let fnv = |seed: u64| {
        format!("{dataset}/{table}").bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}
