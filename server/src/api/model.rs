//! The JSON shapes of the public API. They are separate from the catalog's model on
//! purpose: the contract with clients changes only when this file does.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use opendata_datasets as ds;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// A dataset as it appears in listings and search results.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "population-by-aimag",
    "title": "Хүн амын тоо, аймгаар",
    "title_en": "Population by aimag",
    "description": "Жил бүрийн эцсийн байдлаар",
    "description_en": "At the end of each year",
    "organization": "nso",
    "tags": ["хүн ам", "population"],
    "license": "CC-BY-4.0",
    "updated_at": "2026-01-15T08:00:00Z"
}))]
pub struct DatasetSummary {
    pub id: String,
    /// Title in Mongolian.
    pub title: String,
    /// Title in English, when published.
    pub title_en: Option<String>,
    pub description: String,
    pub description_en: Option<String>,
    /// Id of the publishing organization.
    pub organization: String,
    pub tags: Vec<String>,
    pub license: String,
    pub updated_at: DateTime<Utc>,
}

impl From<&ds::Dataset> for DatasetSummary {
    fn from(d: &ds::Dataset) -> Self {
        let m = &d.meta;
        Self {
            id: m.id.clone(),
            title: m.title.clone(),
            title_en: m.title_en.clone(),
            description: m.description.clone(),
            description_en: m.description_en.clone(),
            organization: m.organization.clone(),
            tags: m.tags.clone(),
            license: m.license.clone(),
            updated_at: d.updated_at,
        }
    }
}

impl From<&search_index::Hit> for DatasetSummary {
    fn from(h: &search_index::Hit) -> Self {
        Self {
            id: h.id.clone(),
            title: h.title.clone(),
            title_en: h.title_en.clone(),
            description: h.description.clone(),
            description_en: h.description_en.clone(),
            organization: h.organization.clone(),
            tags: h.tags.clone(),
            license: h.license.clone(),
            updated_at: DateTime::from_timestamp_micros(h.updated_at).unwrap_or_default(),
        }
    }
}

/// A search result: the dataset, and why it matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    #[serde(flatten)]
    pub dataset: DatasetSummary,
    /// First and last year the data covers, when known.
    #[schema(example = json!([2015, 2024]))]
    pub years: Option<[i32; 2]>,
    /// Field → the field's text around what matched, HTML-escaped, matches in `<mark>`
    /// (`title`, `title_en`, `description`, `description_en`, `tags`).
    #[schema(example = json!({"title": "<mark>Хүн</mark> амын тоо, аймгаар"}))]
    pub highlights: std::collections::BTreeMap<String, String>,
    /// Columns whose label, name or description matched.
    #[schema(example = json!(["Аймаг (aimag)"]))]
    pub matched_columns: Vec<String>,
    /// Values of the data's columns that matched (an aimag, an indicator).
    #[schema(example = json!(["Дархан-Уул"]))]
    pub matched_values: Vec<String>,
}

impl From<search_index::Hit> for SearchResult {
    fn from(h: search_index::Hit) -> Self {
        Self {
            dataset: DatasetSummary::from(&h),
            years: h.years.map(|(a, b)| [a, b]),
            highlights: h.highlights,
            matched_columns: h.matched_columns,
            matched_values: h.matched_values,
        }
    }
}

/// Completions for a search box.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestResponse {
    /// Datasets whose title matches what was typed.
    pub titles: Vec<SuggestedTitle>,
    /// Words that complete the last word typed.
    #[schema(example = json!(["хүн", "хүнс"]))]
    pub terms: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestedTitle {
    pub id: String,
    pub title: String,
    pub title_en: Option<String>,
}

/// A facet value and how many results carry it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
}

/// Facet counts over all results of the search, not only the page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Facets {
    pub organization: Vec<FacetValue>,
    pub tag: Vec<FacetValue>,
    pub format: Vec<FacetValue>,
    pub license: Vec<FacetValue>,
    /// Datasets covering each year, in year order.
    pub year: Vec<FacetValue>,
}

impl From<search_index::Facets> for Facets {
    fn from(f: search_index::Facets) -> Self {
        let conv = |v: Vec<search_index::FacetCount>| {
            v.into_iter().map(|c| FacetValue { value: c.value, count: c.count }).collect()
        };
        Self {
            organization: conv(f.organization),
            tag: conv(f.tag),
            format: conv(f.format),
            license: conv(f.license),
            year: conv(f.year),
        }
    }
}

/// A page of catalog search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// Number of datasets matching, over all pages.
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
    pub results: Vec<SearchResult>,
    pub facets: Facets,
}

/// Column statistics over the whole table version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnStats {
    pub null_count: u64,
    /// Smallest value, in the column's type (dates as ISO strings).
    pub min: Option<Value>,
    pub max: Option<Value>,
    /// Distinct non-null values (estimated within ~1% above a million rows).
    pub distinct_count: u64,
    /// Every value of a text column with at most 100 distinct values, sorted; absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["Архангай", "Баян-Өлгий", "Өмнөговь"]))]
    pub values: Vec<String>,
    /// The distribution. Number, date and datetime columns: rows in each of 20 equal-width
    /// bins from `min` to `max` (the last bin holds `max`). Text columns that list `values`:
    /// rows holding each value, in the order of `values`. Absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!([120, 48, 30]))]
    pub counts: Vec<u64>,
}

/// A column of a table.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnInfo {
    /// Stable name: use it in `select`, `order`, filters and SQL.
    pub name: String,
    /// The header as published.
    pub label: String,
    /// `integer`, `float`, `boolean`, `date`, `datetime` or `string`.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub stats: ColumnStats,
    /// On a map: `longitude`, `latitude` or `geometry` (absent when the column is not a place).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "longitude", value_type = Option<String>)]
    pub role: Option<ds::geo::ColumnRole>,
}

impl From<&ds::Column> for ColumnInfo {
    fn from(c: &ds::Column) -> Self {
        Self {
            name: c.name.clone(),
            label: c.label.clone(),
            kind: c.kind.to_string(),
            description: c.description.clone(),
            stats: ColumnStats {
                null_count: c.stats.null_count,
                min: c.stats.min.clone(),
                max: c.stats.max.clone(),
                distinct_count: c.stats.distinct_count,
                values: c.stats.values.clone(),
                counts: c.stats.counts.clone(),
            },
            role: c.role.filter(|r| *r != ds::geo::ColumnRole::None),
        }
    }
}

/// Where a version came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceFile {
    pub file_name: String,
    pub format: String,
    pub encoding: String,
    pub delimiter: Option<String>,
    pub byte_size: u64,
    /// The file as sent is kept, and downloads from `…/versions/{version}/source`.
    pub kept: bool,
}

/// One immutable version of a table.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionInfo {
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub row_count: u64,
    /// Size of the Parquet file.
    pub byte_size: u64,
    pub source: SourceFile,
    /// BLAKE3 of the source file: re-sending the same file makes no new version.
    pub content_hash: String,
    /// What changed since the previous version; absent on the first.
    pub changes: Option<VersionChanges>,
}

/// The difference between a version and the one before it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"previous": 1, "rows_added": 12, "rows_removed": 3, "columns_added": ["dundaj_nas"],
    "columns_removed": [], "columns_retyped": [{"column": "kod", "from": "integer", "to": "string"}]}))]
pub struct VersionChanges {
    pub previous: u32,
    /// Rows this version has that the previous one did not (whole rows, over shared columns).
    pub rows_added: u64,
    /// Rows of the previous version this one no longer has.
    pub rows_removed: u64,
    pub columns_added: Vec<String>,
    pub columns_removed: Vec<String>,
    pub columns_retyped: Vec<Retyped>,
}

/// A column whose type changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Retyped {
    pub column: String,
    pub from: String,
    pub to: String,
}

/// The quality report of one version: rows read, kept, dropped and rejected (with row,
/// column, raw value and reason), and every decision the ingest took (encoding, delimiter,
/// header rows, the type of each column and why).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"dataset": "population-by-aimag", "table": "main", "version": 2, "report": {
    "rows_read": 302, "rows_kept": 300, "rows_dropped": 2, "rows_rejected": 1,
    "rejected": [{"row": 291, "column": "orkhiin_too", "value": "K", "reason": "not an integer"}],
    "dropped": [{"row": 2, "reason": "HXL hashtag row", "text": "#date,#value"}],
    "decisions": {"format": "csv", "encoding": "windows-1251", "encoding_reason": "not UTF-8; the most likely legacy encoding for this text (chardetng)",
        "delimiter": ";", "quote": "\"", "layout": "header at row 1",
        "columns": [{"name": "khun_amyn_too", "label": "Хүн амын тоо", "type": "integer", "reason": "every value is an integer"}]},
    "warnings": []}}))]
pub struct VersionReport {
    pub dataset: String,
    pub table: String,
    pub version: u32,
    #[schema(value_type = Object)]
    pub report: ds::QualityReport,
}
impl From<&ds::TableVersion> for VersionInfo {
    fn from(v: &ds::TableVersion) -> Self {
        Self {
            version: v.version,
            created_at: v.created_at,
            row_count: v.row_count,
            byte_size: v.byte_size,
            source: SourceFile {
                file_name: v.source.file_name.clone(),
                format: v.source.format.clone(),
                encoding: v.source.encoding.clone(),
                delimiter: v.source.delimiter.clone(),
                byte_size: v.source.byte_size,
                kept: v.source.original.is_some(),
            },
            content_hash: v.content_hash.clone(),
            changes: v.changes.as_ref().map(|c| VersionChanges {
                previous: c.previous,
                rows_added: c.rows_added,
                rows_removed: c.rows_removed,
                columns_added: c.columns_added.clone(),
                columns_removed: c.columns_removed.clone(),
                columns_retyped: c
                    .columns_retyped
                    .iter()
                    .map(|r| Retyped { column: r.column.clone(), from: r.from.to_string(), to: r.to.to_string() })
                    .collect(),
            }),
        }
    }
}

/// A table, described by its latest version.
#[derive(Debug, Serialize, ToSchema)]
pub struct TableInfo {
    pub name: String,
    pub title: String,
    /// The latest version, starting at 1.
    pub version: u32,
    pub row_count: u64,
    /// The identifier of this table in SQL.
    pub sql_name: String,
    pub columns: Vec<ColumnInfo>,
    /// Every version, oldest first.
    pub versions: Vec<VersionInfo>,
    /// Download URL per format, pinned to the latest version.
    pub downloads: BTreeMap<String, String>,
}

impl TableInfo {
    pub fn new(t: &ds::Table, base_url: &str) -> Self {
        let latest = t.latest();
        let mapped = ds::geo::Geography::of(&latest.columns).is_some();
        let downloads = ["parquet", "csv", "ndjson", "geojson"]
            .iter()
            .filter(|ext| mapped || **ext != "geojson")
            .map(|ext| {
                let url = format!(
                    "{base_url}/api/v1/datasets/{}/tables/{}/data.{ext}?version={}",
                    t.dataset, t.name, latest.version
                );
                (ext.to_string(), url)
            })
            .collect();
        Self {
            name: t.name.clone(),
            title: t.title.clone(),
            version: latest.version,
            row_count: latest.row_count,
            sql_name: t.sql_name.clone(),
            columns: latest.columns.iter().map(ColumnInfo::from).collect(),
            versions: t.versions.iter().map(VersionInfo::from).collect(),
            downloads,
        }
    }
}

/// A dataset's full metadata: what listings show, plus provenance and tables.
#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetDetail {
    #[serde(flatten)]
    pub summary: DatasetSummary,
    /// Where the data comes from: a URL or a citation.
    pub source: Option<String>,
    /// How often it is updated: `continuous`, `daily`, `weekly`, `monthly`, `quarterly`,
    /// `biannual`, `annual`, `irregular` or `never`.
    pub frequency: Option<String>,
    /// The period the data covers, as its publisher writes it.
    pub temporal: Option<String>,
    /// The places it covers.
    pub spatial: Option<String>,
    /// Seen only by its organization's members.
    pub private: bool,
    pub created_at: DateTime<Utc>,
    pub tables: Vec<TableInfo>,
    /// Files and links that are not tables: documents, archives, images, links.
    pub resources: Vec<super::resources::ResourceView>,
}

impl DatasetDetail {
    pub fn new(d: &ds::Dataset, base_url: &str) -> Self {
        let m = &d.meta;
        Self {
            summary: DatasetSummary::from(d),
            source: m.source.clone(),
            frequency: m.frequency.clone(),
            temporal: m.temporal.clone(),
            spatial: m.spatial.clone(),
            private: m.private,
            created_at: d.created_at,
            tables: d.tables.iter().map(|t| TableInfo::new(t, base_url)).collect(),
            resources: d.resources.iter().map(|r| super::resources::ResourceView::new(r, base_url)).collect(),
        }
    }
}

/// A publishing organization.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "nso",
    "title": "Үндэсний статистикийн хороо",
    "title_en": "National Statistics Office of Mongolia",
    "description": "",
    "url": "https://www.1212.mn",
    "dataset_count": 3
}))]
pub struct OrganizationInfo {
    pub id: String,
    pub title: String,
    pub title_en: Option<String>,
    pub description: String,
    pub url: Option<String>,
    pub dataset_count: u64,
}

impl OrganizationInfo {
    pub fn new(o: &ds::Organization, dataset_count: u64) -> Self {
        Self {
            id: o.id.clone(),
            title: o.title.clone(),
            title_en: o.title_en.clone(),
            description: o.description.clone(),
            url: o.url.clone(),
            dataset_count,
        }
    }
}

/// All organizations.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationList {
    pub total: u64,
    pub results: Vec<OrganizationInfo>,
}

/// One organization with its datasets.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationDetail {
    #[serde(flatten)]
    pub organization: OrganizationInfo,
    pub datasets: Vec<DatasetSummary>,
}

/// Name and type of a returned column.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RowsColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A page of rows.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "columns": [{"name": "aimag", "type": "string"}, {"name": "population", "type": "integer"}],
    "rows": [{"aimag": "Архангай", "population": 97842}],
    "total": 21,
    "next": "eyJ2IjoxLCJvIjoxfQ"
}))]
pub struct RowsResponse {
    pub columns: Vec<RowsColumn>,
    /// Rows as objects keyed by column name.
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Map<String, Value>>,
    /// Rows matching the filters over all pages; null when `total=false`.
    pub total: Option<u64>,
    /// Pass as `cursor` to fetch the next page; null on the last page.
    pub next: Option<String>,
}

/// Health check answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers 200.
    pub status: String,
    pub datasets: u64,
}
