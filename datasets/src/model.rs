//! The catalog's model. Versions are immutable: a new upload is a new version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A publishing agency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    /// Name in Mongolian (the portal's default language).
    pub title: String,
    /// Name in English, when published.
    pub title_en: Option<String>,
    pub description: String,
    pub url: Option<String>,
}

/// Dataset metadata as a publisher sets it. Ids are validated by the catalog.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DatasetMeta {
    pub id: String,
    pub organization: String,
    /// Title in Mongolian; `title_en` in English. Either may be the only one set.
    pub title: String,
    pub title_en: Option<String>,
    pub description: String,
    pub description_en: Option<String>,
    pub tags: Vec<String>,
    /// An SPDX-style identifier such as `CC-BY-4.0`.
    pub license: String,
    /// Where the data comes from: a URL or a citation.
    pub source: Option<String>,
}

/// A dataset with its timestamps and tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    #[serde(flatten)]
    pub meta: DatasetMeta,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tables: Vec<Table>,
}

/// A named table in a dataset, with every version it has had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub dataset: String,
    pub name: String,
    pub title: String,
    /// The identifier for this table in SQL.
    pub sql_name: String,
    /// Oldest first; never empty for a table in the catalog.
    pub versions: Vec<TableVersion>,
}

impl Table {
    /// The latest version.
    pub fn latest(&self) -> &TableVersion {
        // A table row is only written together with its first version.
        self.versions.last().expect("a table always has a version")
    }

    /// The given version, or the latest when `None`.
    pub fn version(&self, version: Option<u32>) -> crate::Result<&TableVersion> {
        match version {
            None => Ok(self.latest()),
            Some(v) => self
                .versions
                .iter()
                .find(|tv| tv.version == v)
                .ok_or_else(|| crate::Error::VersionNotFound { table: self.name.clone(), version: v }),
        }
    }
}

/// One immutable version of a table: one Parquet file and its schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableVersion {
    /// Starts at 1.
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub row_count: u64,
    /// Size of the Parquet file in bytes.
    pub byte_size: u64,
    /// Path of the Parquet file relative to the data folder.
    pub file: String,
    pub columns: Vec<Column>,
    /// What was ingested: file name, detected format, encoding, delimiter.
    pub source: SourceInfo,
}

/// How a version's source file was read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceInfo {
    pub file_name: String,
    /// `csv`, later `xlsx`, `json`, ...
    pub format: String,
    pub encoding: String,
    pub delimiter: Option<String>,
    pub byte_size: u64,
}

/// The portal's column types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Boolean,
    Integer,
    Float,
    Date,
    Datetime,
    String,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Boolean => "boolean",
            ColumnType::Integer => "integer",
            ColumnType::Float => "float",
            ColumnType::Date => "date",
            ColumnType::Datetime => "datetime",
            ColumnType::String => "string",
        }
    }
}

impl std::fmt::Display for ColumnType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A column: the stable `name` used in SQL and URLs, and the header as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    pub description: String,
    pub stats: ColumnStats,
}

/// Whole-table statistics. `min` and `max` are rendered as JSON in the column's type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ColumnStats {
    pub null_count: u64,
    pub min: Option<serde_json::Value>,
    pub max: Option<serde_json::Value>,
    pub distinct_count: u64,
}
