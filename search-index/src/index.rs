use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::directory::error::LockError;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{Facet, IndexRecordOption, Value};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, TantivyError, Term};

use crate::schema::{self, Fields, IndexedDataset, TOKENIZER};
use crate::{Error, Result};

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Relevance,
    /// Most recently updated first.
    Updated,
    /// By title, A to Я.
    Title,
}

/// A catalog search: free text, exact-match filters, ordering and a page.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub q: Option<String>,
    pub organization: Option<String>,
    pub tag: Option<String>,
    pub format: Option<String>,
    pub license: Option<String>,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
}

/// One result, with what a listing shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub id: String,
    pub score: f32,
}

/// A value of a facet and how many results have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// Facet counts over all results of a search (not only the page).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Facets {
    pub organization: Vec<FacetCount>,
    pub tag: Vec<FacetCount>,
    pub format: Vec<FacetCount>,
    pub license: Vec<FacetCount>,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

/// The on-disk index and a reader that follows commits.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").finish_non_exhaustive()
    }
}

/// How long a writer waits for another process's writer to finish before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(30);

impl SearchIndex {
    /// Opens the index in `dir`, creating an empty one if there is none.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_owned(), source })?;
        let (schema, fields) = schema::build();
        let directory = tantivy::directory::MmapDirectory::open(dir).map_err(TantivyError::from)?;
        let index = Index::open_or_create(directory, schema.clone()).map_err(|e| match e {
            TantivyError::SchemaError(_) => Error::SchemaMismatch,
            other => Error::Index(other),
        })?;
        if index.schema() != schema {
            return Err(Error::SchemaMismatch);
        }
        let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(60))
            .filter(LowerCaser)
            .build();
        index.tokenizers().register(TOKENIZER, analyzer);
        let reader = index.reader_builder().reload_policy(ReloadPolicy::OnCommitWithDelay).try_into()?;
        Ok(Self { index, reader, fields })
    }

    /// Adds or replaces the given datasets, and commits.
    pub fn upsert(&self, datasets: &[IndexedDataset]) -> Result<()> {
        self.write(|writer, fields| {
            for d in datasets {
                writer.delete_term(Term::from_field_text(fields.id, &d.id));
                writer.add_document(self.document(d))?;
            }
            Ok(())
        })
    }

    /// Removes a dataset, and commits.
    pub fn remove(&self, id: &str) -> Result<()> {
        self.write(|writer, fields| {
            writer.delete_term(Term::from_field_text(fields.id, id));
            Ok(())
        })
    }

    /// Replaces the whole index with `datasets`, in one commit.
    pub fn rebuild(&self, datasets: &[IndexedDataset]) -> Result<()> {
        self.write(|writer, _| {
            writer.delete_all_documents()?;
            for d in datasets {
                writer.add_document(self.document(d))?;
            }
            Ok(())
        })
    }

    fn write(&self, f: impl FnOnce(&mut IndexWriter, &Fields) -> tantivy::Result<()>) -> Result<()> {
        let started = Instant::now();
        let mut writer: IndexWriter = loop {
            match self.index.writer_with_num_threads(1, 20_000_000) {
                Ok(w) => break w,
                Err(TantivyError::LockFailure(LockError::LockBusy, _)) if started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e.into()),
            }
        };
        f(&mut writer, &self.fields)?;
        writer.commit()?;
        // This process sees its own commit at once; other processes within the reload delay.
        self.reader.reload()?;
        Ok(())
    }

    fn document(&self, d: &IndexedDataset) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &d.id);
        doc.add_text(f.title, &d.title);
        if let Some(t) = &d.title_en {
            doc.add_text(f.title_en, t);
        }
        doc.add_text(f.description, &d.description);
        if let Some(t) = &d.description_en {
            doc.add_text(f.description_en, t);
        }
        doc.add_text(f.organization, &d.organization);
        doc.add_facet(f.facet_organization, Facet::from_path([d.organization.as_str()]));
        for name in &d.organization_names {
            doc.add_text(f.organization_text, name);
        }
        for tag in &d.tags {
            doc.add_text(f.tag, tag);
            doc.add_text(f.tags_text, tag);
            doc.add_facet(f.facet_tag, Facet::from_path([tag.as_str()]));
        }
        for format in &d.formats {
            doc.add_text(f.format, format);
            doc.add_facet(f.facet_format, Facet::from_path([format.as_str()]));
        }
        doc.add_text(f.license, &d.license);
        doc.add_facet(f.facet_license, Facet::from_path([d.license.as_str()]));
        for c in &d.columns {
            doc.add_text(f.columns, c);
        }
        doc.add_i64(f.updated_at, d.updated_at);
        let sort_title = d.title_en.as_deref().filter(|_| d.title.is_empty()).unwrap_or(&d.title);
        doc.add_text(f.title_sort, sort_title.to_lowercase());
        doc
    }

    /// Runs a search. Facet counts cover every result, not just the requested page.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        let f = &self.fields;
        let searcher = self.reader.searcher();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => clauses.push((Occur::Must, self.parse(q))),
            None => clauses.push((Occur::Must, Box::new(AllQuery))),
        }
        for (field, value) in [
            (f.organization, &query.organization),
            (f.tag, &query.tag),
            (f.format, &query.format),
            (f.license, &query.license),
        ] {
            if let Some(v) = value {
                let term = Term::from_field_text(field, v);
                // Boost 0: a filter narrows results without changing their relevance order.
                let filter = TermQuery::new(term, IndexRecordOption::Basic);
                clauses.push((Occur::Must, Box::new(BoostQuery::new(Box::new(filter), 0.0))));
            }
        }
        let query_all = BooleanQuery::new(clauses);

        let facet = |field: tantivy::schema::Field| {
            let mut c = FacetCollector::for_field(self.index.schema().get_field_name(field));
            c.add_facet(Facet::root());
            c
        };
        // tantivy combines at most four collectors in a tuple, hence the nesting.
        let (total, (org, tag), (format, license)) = searcher.search(
            &query_all,
            &(
                Count,
                (facet(f.facet_organization), facet(f.facet_tag)),
                (facet(f.facet_format), facet(f.facet_license)),
            ),
        )?;
        let limit = query.limit.max(1);
        let page = TopDocs::with_limit(limit).and_offset(query.offset);
        let addresses: Vec<(f32, tantivy::DocAddress)> = match query.sort {
            Sort::Relevance => searcher.search(&query_all, &page.order_by_score())?,
            Sort::Updated => searcher
                .search(&query_all, &page.order_by_fast_field::<i64>("updated_at", Order::Desc))?
                .into_iter()
                .map(|(_, a)| (0.0, a))
                .collect(),
            Sort::Title => searcher
                .search(&query_all, &page.order_by_string_fast_field("title_sort", Order::Asc))?
                .into_iter()
                .map(|(_, a)| (0.0, a))
                .collect(),
        };
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            let id = doc.get_first(f.id).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            hits.push(Hit { id, score });
        }
        let counts = |fc: tantivy::collector::FacetCounts| {
            let mut v: Vec<FacetCount> = fc
                .get("/")
                .map(|(facet, count)| FacetCount {
                    value: facet.to_path().last().map(|s| s.to_string()).unwrap_or_default(),
                    count,
                })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            v
        };
        Ok(SearchResults {
            total,
            hits,
            facets: Facets {
                organization: counts(org),
                tag: counts(tag),
                format: counts(format),
                license: counts(license),
            },
        })
    }

    /// Free text over every searchable field, titles weighted most. Syntax errors in user
    /// input are forgiven (lenient parsing): a search box must never answer with an error.
    fn parse(&self, q: &str) -> Box<dyn Query> {
        let f = &self.fields;
        let mut parser = QueryParser::for_index(
            &self.index,
            vec![f.title, f.title_en, f.tags_text, f.columns, f.organization_text, f.description, f.description_en],
        );
        parser.set_conjunction_by_default();
        for (field, boost) in
            [(f.title, 4.0), (f.title_en, 4.0), (f.tags_text, 2.5), (f.columns, 1.5), (f.organization_text, 1.5)]
        {
            parser.set_field_boost(field, boost);
        }
        parser.parse_query_lenient(q).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str, org: &str, tags: &[&str], columns: &[&str], updated: i64) -> IndexedDataset {
        IndexedDataset {
            id: id.into(),
            title: title.into(),
            title_en: None,
            description: String::new(),
            description_en: None,
            organization: org.into(),
            organization_names: vec![],
            tags: tags.iter().map(|s| s.to_string()).collect(),
            license: "CC-BY-4.0".into(),
            formats: vec!["csv".into()],
            columns: columns.iter().map(|s| s.to_string()).collect(),
            updated_at: updated,
        }
    }

    fn ids(r: &SearchResults) -> Vec<&str> {
        r.hits.iter().map(|h| h.id.as_str()).collect()
    }

    #[test]
    fn cyrillic_search_facets_and_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        index
            .upsert(&[
                doc("pop", "Хүн амын тоо, аймгаар", "nso", &["хүн ам"], &["aimag", "Аймаг"], 10),
                doc("air", "Агаарын чанар", "env", &["агаар"], &["pm2_5"], 30),
                doc("prices", "Өргөн хэрэглээний барааны үнэ", "nso", &["үнэ"], &["Үнэ"], 20),
            ])
            .unwrap();
        let search =
            |q: &str| index.search(&SearchQuery { q: Some(q.into()), limit: 10, ..Default::default() }).unwrap();
        // Case-folding of Cyrillic, including ө and ү.
        assert_eq!(ids(&search("ХҮН")), ["pop"]);
        assert_eq!(ids(&search("өргөн")), ["prices"]);
        // Column labels are searchable.
        assert_eq!(ids(&search("аймаг")), ["pop"]);
        // Syntax errors are forgiven.
        assert_eq!(search("\"unbalanced").total, 0);

        let all = index.search(&SearchQuery { limit: 10, sort: Sort::Updated, ..Default::default() }).unwrap();
        assert_eq!(ids(&all), ["air", "prices", "pop"]);
        assert_eq!(all.facets.organization[0], FacetCount { value: "nso".into(), count: 2 });
        let by_title =
            index.search(&SearchQuery { limit: 2, offset: 1, sort: Sort::Title, ..Default::default() }).unwrap();
        assert_eq!(ids(&by_title), ["pop", "prices"]);
        let nso =
            index.search(&SearchQuery { organization: Some("nso".into()), limit: 10, ..Default::default() }).unwrap();
        assert_eq!(nso.total, 2);
        assert_eq!(nso.facets.tag.len(), 2);

        // Replacing and removing.
        index.upsert(&[doc("air", "Агаарын бохирдол", "env", &[], &[], 40)]).unwrap();
        assert_eq!(search("бохирдол").total, 1);
        assert_eq!(search("чанар").total, 0);
        index.remove("air").unwrap();
        assert_eq!(search("бохирдол").total, 0);
    }

    #[test]
    fn another_index_handle_sees_commits() {
        let dir = tempfile::tempdir().unwrap();
        let server = SearchIndex::open(dir.path()).unwrap();
        let cli = SearchIndex::open(dir.path()).unwrap();
        cli.upsert(&[doc("pop", "Хүн ам", "nso", &[], &[], 1)]).unwrap();
        let q = SearchQuery { q: Some("хүн".into()), limit: 5, ..Default::default() };
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.search(&q).unwrap().total == 0 {
            assert!(Instant::now() < deadline, "commit not seen by the other reader");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
