use opendata_datasets::{Dataset, Organization};
use tantivy::schema::{
    FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

/// Name of the analyzer for free text: Unicode word splitting (Cyrillic ө and ү are letters)
/// and Unicode lowercasing.
pub(crate) const TOKENIZER: &str = "portal";

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
    pub organization: Field,
    pub tag: Field,
    pub format: Field,
    pub license: Field,
    pub facet_organization: Field,
    pub facet_tag: Field,
    pub facet_format: Field,
    pub facet_license: Field,
    pub updated_at: Field,
    pub title_sort: Field,
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let opts = TextOptions::default().set_indexing_options(indexing);
        if stored { opts.set_stored() } else { opts }
    };
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        title: b.add_text_field("title", text(true)),
        title_en: b.add_text_field("title_en", text(true)),
        description: b.add_text_field("description", text(true)),
        description_en: b.add_text_field("description_en", text(true)),
        tags_text: b.add_text_field("tags_text", text(false)),
        organization_text: b.add_text_field("organization_text", text(false)),
        columns: b.add_text_field("columns", text(false)),
        organization: b.add_text_field("organization", STRING | STORED),
        tag: b.add_text_field("tag", STRING | STORED),
        format: b.add_text_field("format", STRING | STORED),
        license: b.add_text_field("license", STRING | STORED),
        facet_organization: b.add_facet_field("facet_organization", FacetOptions::default()),
        facet_tag: b.add_facet_field("facet_tag", FacetOptions::default()),
        facet_format: b.add_facet_field("facet_format", FacetOptions::default()),
        facet_license: b.add_facet_field("facet_license", FacetOptions::default()),
        updated_at: b.add_i64_field("updated_at", INDEXED | STORED | FAST),
        title_sort: b.add_text_field("title_sort", STRING | FAST),
    };
    (b.build(), fields)
}

/// What the index knows about a dataset: its metadata, its organization's names and its
/// tables' columns. Built from the catalog, so the index can always be rebuilt from it.
#[derive(Debug, Clone, PartialEq)]
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
    /// Column names and published labels of every table's latest version.
    pub columns: Vec<String>,
    pub updated_at: i64,
}

impl IndexedDataset {
    pub fn new(dataset: &Dataset, organization: &Organization) -> Self {
        let meta = &dataset.meta;
        let mut formats: Vec<String> = dataset.tables.iter().map(|t| t.latest().source.format.clone()).collect();
        formats.sort();
        formats.dedup();
        let columns = dataset
            .tables
            .iter()
            .flat_map(|t| t.latest().columns.iter().flat_map(|c| [c.name.clone(), c.label.clone()]))
            .chain(dataset.tables.iter().flat_map(|t| [t.name.clone(), t.title.clone()]))
            .collect();
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
            updated_at: dataset.updated_at.timestamp_micros(),
        }
    }
}
