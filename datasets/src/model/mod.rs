//! The catalog's model. Versions are immutable: a new upload is a new version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod accounts;
mod jobs;
mod usage;
mod webhooks;

pub use accounts::*;
pub use jobs::*;
pub use usage::*;
pub use webhooks::*;

/// The search glossary's TOML text as a site admin saved it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedGlossary {
    pub text: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// The user who saved it.
    pub updated_by: String,
}

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
    /// How often it is updated: one of [`FREQUENCIES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
    /// The period the data covers, as the publisher writes it (`2010–2024`, `2024 Q3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporal: Option<String>,
    /// The places it covers (`Mongolia`, `Ulaanbaatar, by district`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spatial: Option<String>,
    /// Seen only by its organization's members (and site admins), on every surface.
    #[serde(default)]
    pub private: bool,
}

/// Update frequencies a dataset may declare, as in DCAT's frequency vocabulary.
pub const FREQUENCIES: [&str; 9] =
    ["continuous", "daily", "weekly", "monthly", "quarterly", "biannual", "annual", "irregular", "never"];

/// A dataset with its timestamps and tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    #[serde(flatten)]
    pub meta: DatasetMeta,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tables: Vec<Table>,
    /// Files and links that are not tables, oldest first.
    #[serde(default)]
    pub resources: Vec<Resource>,
}

/// A file or link that is not a table: a methodology PDF, a DOCX, a ZIP, an image, or a
/// link to something kept elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Unique within its dataset.
    pub id: String,
    pub dataset: String,
    pub title: String,
    pub description: String,
    /// Upper-case, as catalogs show it: `PDF`, `DOCX`, `ZIP`, `PNG`, `LINK`.
    pub format: String,
    /// What it is served as; only types that browsers do not run (see the server).
    pub media_type: String,
    /// Bytes of a stored file; `None` for a link.
    pub size: Option<u64>,
    /// The stored file (relative to storage), or `None` for a link.
    pub file: Option<String>,
    /// The file's name as it was sent, for downloads.
    pub file_name: Option<String>,
    /// Where a link points.
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl DatasetMeta {
    /// Whether `user` (or an anonymous reader, `None`) may see the dataset at all.
    pub fn visible_to(&self, user: Option<&User>) -> bool {
        !self.private || user.is_some_and(|u| u.may_publish(&self.organization))
    }
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

impl TableVersion {
    /// The stored files this version needs: its Parquet file and the original it was read
    /// from (which several versions and tables may share).
    pub fn files(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.file.as_str()).chain(self.source.original.as_deref())
    }
}

impl Dataset {
    /// The table named `name`.
    pub fn table(&self, name: &str) -> crate::Result<&Table> {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| crate::Error::TableNotFound { dataset: self.meta.id.clone(), table: name.to_owned() })
    }
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
    /// BLAKE3 of the source bytes: an unchanged source makes no new version.
    #[serde(default)]
    pub content_hash: String,
    /// What changed since the previous version; `None` for the first.
    #[serde(default)]
    pub changes: Option<VersionChanges>,
}

/// The difference between a version and the one before it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VersionChanges {
    pub previous: u32,
    /// Rows in this version that the previous one did not have (compared whole, as a multiset).
    pub rows_added: u64,
    /// Rows of the previous version that this one no longer has.
    pub rows_removed: u64,
    pub columns_added: Vec<String>,
    pub columns_removed: Vec<String>,
    pub columns_retyped: Vec<Retyped>,
}

/// A column whose type changed between versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retyped {
    pub column: String,
    pub from: ColumnType,
    pub to: ColumnType,
}

/// How an ingest read its source, what it kept, and every decision it took: served with the
/// version so a publisher can see why a column is text or a row is missing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QualityReport {
    /// Records after the header (data, blank, notes, undecodable).
    pub rows_read: u64,
    pub rows_kept: u64,
    /// Rows left out of the table: blank, HXL tags, repeated headers, notes below the table,
    /// undecodable. The first ones of each kind are listed in `dropped`.
    pub rows_dropped: u64,
    /// Rows with at least one rejected value. Such a row is kept; the value becomes null.
    pub rows_rejected: u64,
    pub rejected: Vec<RejectedValue>,
    pub dropped: Vec<DroppedRow>,
    pub decisions: Decisions,
    /// Things a publisher may want to fix at the source.
    pub warnings: Vec<String>,
}

/// A value that did not fit its column's type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedValue {
    pub row: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// A row left out of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedRow {
    pub row: u64,
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// What the ingest detected or was told, with the reason.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Decisions {
    pub format: String,
    pub encoding: String,
    pub encoding_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Sheet of a workbook, or the path of the records in a JSON document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
    /// The sheet's name, when the table is one sheet of a workbook: reading the file again
    /// reads that sheet, not every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// Where the header is, and what was above it.
    pub layout: String,
    pub columns: Vec<ColumnDecision>,
    /// Columns left out: empty, with no header.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns_dropped: Vec<String>,
    /// The sort keys the published file was sorted by (`-name` descending), chosen from the
    /// data unless the publisher gave them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sorted_by: Vec<String>,
    /// How the file is laid out for reads (sort keys, page index, bloom filters), and why.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub clustering: String,
    /// Columns whose row groups carry a bloom filter, for lookups by value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bloom_filters: Vec<String>,
    /// Which columns place the rows on a map, and how they were chosen.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub geography: String,
}

/// Why a column has its name and type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDecision {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
    pub reason: String,
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
    /// The file as the agency sent it, kept under this path (relative to the data folder or
    /// the bucket); `None` for versions published before originals were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
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
    /// What the column is on a map, when the table is geographic (see [`crate::geo`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::geo::ColumnRole>,
}

impl Column {
    /// Whether a word of its name or label is one of `words` (compared in the name's
    /// folded spelling, so `Он` is `on` and `Уртраг` is `urtrag`; without the `_` a name
    /// that is an SQL keyword gets, as `on_`).
    pub fn names_word(&self, words: &[&str]) -> bool {
        let folded: Vec<String> =
            words.iter().map(|w| crate::ident::column_name(w).trim_matches('_').to_owned()).collect();
        let label = crate::ident::column_name(&self.label);
        [self.name.as_str(), label.as_str()].iter().any(|n| n.split('_').any(|part| folded.iter().any(|w| w == part)))
    }
}

/// Whole-table statistics. `min` and `max` are rendered as JSON in the column's type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ColumnStats {
    pub null_count: u64,
    pub min: Option<serde_json::Value>,
    pub max: Option<serde_json::Value>,
    pub distinct_count: u64,
    /// Every value of a text column with at most [`ColumnStats::MAX_VALUES`] distinct
    /// values, sorted: the aimags, indicators and codes a reader filters and searches by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// The column's distribution, for a glance before any query. For number, date and
    /// datetime columns: the rows in each of [`ColumnStats::BINS`] equal-width bins from
    /// `min` to `max` (the last bin holds `max`). For text columns that list `values`: the
    /// rows holding each value, in the order of `values`. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<u64>,
    /// Whether some text value starts as a spreadsheet formula would (`=`, `+`, `-`, `@`, a
    /// tab or a carriage return): CSV downloads defuse such columns, and only those. Absent
    /// for versions published before it was recorded, which are defused whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula_like: Option<bool>,
}

impl ColumnStats {
    /// Text columns with more distinct values than this do not list them.
    pub const MAX_VALUES: u64 = 100;
    /// Bins of a number or date column's histogram.
    pub const BINS: usize = 20;
}

/// What a publisher fixed about a table, kept across versions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TableSettings {
    /// By column name.
    #[serde(default)]
    pub columns: std::collections::BTreeMap<String, ColumnOverride>,
    /// The last fetch of a URL source, for conditional requests.
    #[serde(default)]
    pub fetched: Option<FetchState>,
    /// Columns the published Parquet is sorted by (`-name` descending), so that filters on
    /// them read only the row groups that hold matches. Empty lets the ingest choose them
    /// from the data; `["none"]` keeps the source's row order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort_by: Vec<String>,
}

/// A publisher's correction to one column.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ColumnOverride {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ColumnType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `longitude`, `latitude`, `geometry`, or `none` for a column that only looks like one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<crate::geo::ColumnRole>,
}

/// Validators from the last successful download of a URL source.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FetchState {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Why a dataset left the catalog, kept so that its address answers `410 Gone` with the
/// reason rather than a bare 404: citations of it stay explicable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub dataset: String,
    pub organization: String,
    pub title: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The user who withdrew it.
    pub by: String,
    /// It was private then: to readers outside its organization it is not found, rather
    /// than gone with a reason.
    #[serde(default)]
    pub private: bool,
}
