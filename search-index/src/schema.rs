use opendata_datasets::{ColumnType, Dataset, Organization};
use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analysis::ANALYZER;

/// Fields of the index. Built once per [`crate::SearchIndex`].
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub id: Field,
    pub title: Field,
    pub title_en: Field,
    pub description: Field,
    pub description_en: Field,
    pub tags_text: Field,
    pub organization_text: Field,
    pub columns: Field,
    pub values: Field,
    pub years_text: Field,
    pub organization: Field,
    /// [`PUBLIC`] for a public dataset; its organization's [`members_of`] for a private one.
    pub audience: Field,
    pub tag: Field,
    pub format: Field,
    pub license: Field,
    pub facet_organization: Field,
    pub facet_tag: Field,
    pub facet_format: Field,
    pub facet_license: Field,
    pub facet_year: Field,
    pub year_from: Field,
    pub year_to: Field,
    pub updated_at: Field,
    pub title_sort: Field,
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = || {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        // Stored: results and highlights are built from the index alone.
        TextOptions::default().set_indexing_options(indexing).set_stored()
    };
    let fields = Fields {
        // FAST for `sort=popular`, which reads each result's id to rank it.
        id: b.add_text_field("id", STRING | STORED | FAST),
        title: b.add_text_field("title", text()),
        title_en: b.add_text_field("title_en", text()),
        description: b.add_text_field("description", text()),
        description_en: b.add_text_field("description_en", text()),
        tags_text: b.add_text_field("tags_text", text()),
        organization_text: b.add_text_field("organization_text", text()),
        columns: b.add_text_field("columns", text()),
        values: b.add_text_field("values", text()),
        years_text: b.add_text_field("years_text", text()),
        organization: b.add_text_field("organization", STRING | STORED),
        audience: b.add_text_field("audience", STRING),
        tag: b.add_text_field("tag", STRING | STORED),
        format: b.add_text_field("format", STRING | STORED),
        license: b.add_text_field("license", STRING | STORED),
        facet_organization: b.add_facet_field("facet_organization", FacetOptions::default()),
        facet_tag: b.add_facet_field("facet_tag", FacetOptions::default()),
        facet_format: b.add_facet_field("facet_format", FacetOptions::default()),
        facet_license: b.add_facet_field("facet_license", FacetOptions::default()),
        facet_year: b.add_facet_field("facet_year", FacetOptions::default()),
        year_from: b.add_i64_field("year_from", INDEXED | STORED | FAST),
        year_to: b.add_i64_field("year_to", INDEXED | STORED | FAST),
        updated_at: b.add_i64_field("updated_at", INDEXED | STORED | FAST),
        title_sort: b.add_text_field("title_sort", STRING | FAST),
    };
    (b.build(), fields)
}

/// What the index knows about a dataset: its metadata, its organization's names, its
/// tables' columns and their values, and the years it covers. Built from the catalog, so
/// the index can always be rebuilt from it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IndexedDataset {
    pub id: String,
    pub title: String,
    pub title_en: Option<String>,
    pub description: String,
    pub description_en: Option<String>,
    pub organization: String,
    pub organization_names: Vec<String>,
    pub tags: Vec<String>,
    pub license: String,
    /// Source formats of the tables (`csv`, `xlsx`, ...).
    pub formats: Vec<String>,
    /// Column names, published labels and descriptions, and table titles.
    pub columns: Vec<String>,
    /// The values of low-cardinality text columns (aimags, indicators, code lists).
    pub values: Vec<String>,
    /// First and last year the data covers, from date columns and year columns.
    pub years: Option<(i32, i32)>,
    pub updated_at: i64,
    /// Found only by its organization's members (see [`crate::Audience`]).
    pub private: bool,
}

/// The audience term of a public dataset.
pub(crate) const PUBLIC: &str = "public";

/// The audience term of a dataset private to `organization`.
pub(crate) fn members_of(organization: &str) -> String {
    format!("members:{organization}")
}

/// Years outside this range in a "year" column are codes, not years.
const YEARS: std::ops::RangeInclusive<i64> = 1900..=2100;

impl IndexedDataset {
    pub fn new(dataset: &Dataset, organization: &Organization) -> Self {
        let meta = &dataset.meta;
        let mut formats: Vec<String> = dataset.tables.iter().map(|t| t.latest().source.format.clone()).collect();
        formats.extend(dataset.resources.iter().map(|r| r.format.to_lowercase()));
        formats.sort();
        formats.dedup();
        let mut columns = Vec::new();
        let mut values = Vec::new();
        let mut years: Option<(i32, i32)> = None;
        for table in &dataset.tables {
            columns.push(table.title.clone());
            for c in &table.latest().columns {
                let mut entry = c.label.clone();
                if c.name != c.label {
                    entry = format!("{} ({})", c.label, c.name);
                }
                if !c.description.is_empty() {
                    entry = format!("{entry}: {}", c.description);
                }
                columns.push(entry);
                values.extend(c.stats.values.iter().cloned());
                if let Some((from, to)) = year_span(c) {
                    years = Some(years.map_or((from, to), |(a, b)| (a.min(from), b.max(to))));
                }
            }
        }
        values.sort();
        values.dedup();
        // A methodology note's title is as much what a dataset holds as a table's.
        columns.extend(dataset.resources.iter().map(|r| r.title.clone()));
        Self {
            id: meta.id.clone(),
            title: meta.title.clone(),
            title_en: meta.title_en.clone(),
            description: meta.description.clone(),
            description_en: meta.description_en.clone(),
            organization: meta.organization.clone(),
            organization_names: [Some(organization.title.clone()), organization.title_en.clone()]
                .into_iter()
                .flatten()
                .collect(),
            tags: meta.tags.clone(),
            license: meta.license.clone(),
            formats,
            columns,
            values,
            years,
            updated_at: dataset.updated_at.timestamp_micros(),
            private: meta.private,
        }
    }
}

/// The years a column spans: date columns by their range, integer columns named like a
/// year (`year`, `он`, `жил`) when their values are years.
fn year_span(c: &opendata_datasets::Column) -> Option<(i32, i32)> {
    let year_of = |v: &serde_json::Value| -> Option<i64> {
        match v {
            serde_json::Value::String(s) => s.get(..4)?.parse().ok(),
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        }
    };
    let named_year = c.names_word(&["year", "он", "жил"]);
    let eligible = match c.kind {
        ColumnType::Date | ColumnType::Datetime => true,
        ColumnType::Integer => named_year,
        _ => false,
    };
    if !eligible {
        return None;
    }
    let (from, to) = (year_of(c.stats.min.as_ref()?)?, year_of(c.stats.max.as_ref()?)?);
    (YEARS.contains(&from) && YEARS.contains(&to) && from <= to).then_some((from as i32, to as i32))
}
