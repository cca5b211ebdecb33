use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use tantivy::collector::{Count, DocSetCollector, FacetCollector, FacetCounts, TopDocs};
use tantivy::directory::error::LockError;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Facet, Field, IndexRecordOption, Value};
use tantivy::{Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument, TantivyError, Term};

use crate::analysis::{self, ANALYZER, MnEnTokenizer};
use crate::schema::{self, Fields, IndexedDataset, PUBLIC, members_of};
use crate::{Error, Result};

pub(crate) mod hybrid;

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Relevance,
    /// Most recently updated first.
    Updated,
    /// By title, A to Я.
    Title,
    /// Most used first (by [`SearchQuery::popularity`]), then by relevance.
    Popular,
}

/// What a search ranks by: words and meaning fused (the default), or either alone (to
/// measure each against the fusion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retrieval {
    #[default]
    Fused,
    /// BM25 alone, as without a model.
    Words,
    /// The model's nearest datasets alone, however far.
    Meaning,
}

/// The reader's language: its title and description fields weigh more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Mn,
    En,
}

/// A catalog search: free text, exact-match filters, ordering and a page.
///
/// `q` is words (each must match, a word with no match anywhere is left out), `"quoted
/// phrases"`, and `-word` or `-"phrase"` to exclude. Words of five letters or more forgive
/// one typo, of nine or more two; the last word also matches as a prefix.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub q: Option<String>,
    pub organization: Option<String>,
    pub tag: Option<String>,
    pub format: Option<String>,
    pub license: Option<String>,
    /// Datasets whose years overlap this range (inclusive; either end open).
    pub year_from: Option<i32>,
    pub year_to: Option<i32>,
    pub lang: Lang,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
    /// Whose private datasets may be found: by default nobody's.
    pub audience: Audience,
    /// Each dataset's recent use, which [`Sort::Popular`] ranks by (a dataset not in it
    /// counts as unused). Usage changes by the minute: it is not in the index, where every
    /// change would be a commit.
    pub popularity: std::sync::Arc<std::collections::HashMap<String, u64>>,
    pub retrieval: Retrieval,
}

/// Who searches, as far as private datasets go: they are found, counted and faceted only
/// for their organization's members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Audience {
    /// Anonymous: public datasets only.
    #[default]
    Public,
    /// Public datasets, and the private ones of these organizations.
    Members(Vec<String>),
    /// Every dataset (a site admin).
    Everyone,
}

impl Audience {
    /// The filter it adds to a query, if any.
    fn filter(&self, field: Field) -> Option<Box<dyn Query>> {
        let term = |t: &str| -> (Occur, Box<dyn Query>) {
            (Occur::Should, Box::new(TermQuery::new(Term::from_field_text(field, t), IndexRecordOption::Basic)))
        };
        match self {
            Audience::Everyone => None,
            Audience::Public => Some(Box::new(BooleanQuery::new(vec![term(PUBLIC)]))),
            Audience::Members(orgs) => Some(Box::new(BooleanQuery::new(
                std::iter::once(term(PUBLIC)).chain(orgs.iter().map(|o| term(&members_of(o)))).collect(),
            ))),
        }
    }
}

/// One result: what a listing shows, and why it matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub id: String,
    pub score: f32,
    pub title: String,
    pub title_en: Option<String>,
    pub description: String,
    pub description_en: Option<String>,
    pub organization: String,
    pub tags: Vec<String>,
    pub license: String,
    /// Microseconds since the epoch.
    pub updated_at: i64,
    pub years: Option<(i32, i32)>,
    /// Field name → the field's text around the match, HTML-escaped, matches in `<mark>`.
    pub highlights: BTreeMap<String, String>,
    /// Columns (label and name) that matched.
    pub matched_columns: Vec<String>,
    /// Column values that matched (an aimag, an indicator).
    pub matched_values: Vec<String>,
}

/// A value of a facet and how many results have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// Facet counts over all results of a search (not only the page). Each facet counts with
/// every active filter but its own, so a reader sees what choosing another value gives.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Facets {
    pub organization: Vec<FacetCount>,
    pub tag: Vec<FacetCount>,
    pub format: Vec<FacetCount>,
    pub license: Vec<FacetCount>,
    /// Datasets covering each year, in year order.
    pub year: Vec<FacetCount>,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<Hit>,
    pub facets: Facets,
}

/// Completions for a search box.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Suggestions {
    /// Datasets whose title matches what was typed so far.
    pub titles: Vec<SuggestedTitle>,
    /// Words from titles and tags that complete the last word typed.
    pub terms: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuggestedTitle {
    pub id: String,
    pub title: String,
    pub title_en: Option<String>,
}

/// The on-disk index and a reader that follows commits.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// Swapped whole when a site admin edits it; searches hold their own copy.
    glossary: std::sync::RwLock<std::sync::Arc<crate::Glossary>>,
    dir: std::path::PathBuf,
    /// Search by meaning, when a model is set.
    semantic: Option<hybrid::Semantic>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").finish_non_exhaustive()
    }
}

/// How long a writer waits for another process's writer to finish before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// A facet dimension: its filter field, its facet field, and the query's filter value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dim {
    Organization,
    Tag,
    Format,
    License,
    Year,
}

const DIMS: [Dim; 5] = [Dim::Organization, Dim::Tag, Dim::Format, Dim::License, Dim::Year];

/// One word or phrase of a query, analyzed.
#[derive(Debug, Clone)]
struct Clause {
    /// Each word's terms (a Latin word has a Mongolian and an English reading).
    words: Vec<Vec<String>>,
    /// Letters typed, for the typo allowance.
    letters: usize,
    phrase: bool,
    exclude: bool,
    /// The last word, still being typed: also a prefix.
    prefix: bool,
    /// A word of [`STOPWORDS`].
    stop: bool,
}

impl Clause {
    /// Typos forgiven: one from five letters, two from nine; none in a phrase or exclusion,
    /// which must match as written.
    fn typos(&self) -> u8 {
        if self.phrase || self.exclude {
            return 0;
        }
        match self.letters {
            0..=4 => 0,
            5..=8 => 1,
            _ => 2,
        }
    }
}

/// The sort key of [`Sort::Popular`]: (use, relevance). Each segment maps its `id` column's
/// term ordinals to use once, so ranking a document is two array reads.
fn by_popularity(
    ranking: std::sync::Arc<std::collections::HashMap<String, u64>>,
) -> impl Fn(&tantivy::SegmentReader) -> Box<dyn Fn(tantivy::DocId, tantivy::Score) -> (u64, tantivy::Score)>
+ Send
+ Sync
+ 'static {
    move |segment: &tantivy::SegmentReader| {
        let Some(ids) = segment.fast_fields().str("id").ok().flatten() else {
            return Box::new(|_, score| (0, score));
        };
        let mut use_of_ord = vec![0u64; ids.num_terms()];
        if let Ok(mut terms) = ids.dictionary().stream() {
            while terms.advance() {
                let used = std::str::from_utf8(terms.key()).ok().and_then(|id| ranking.get(id)).copied();
                if let Some(slot) = use_of_ord.get_mut(terms.term_ord() as usize) {
                    *slot = used.unwrap_or(0);
                }
            }
        }
        Box::new(move |doc, score| {
            let used = ids.ords().first(doc).and_then(|o| use_of_ord.get(o as usize)).copied().unwrap_or(0);
            (used, score)
        })
    }
}

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
        index.tokenizers().register(ANALYZER, MnEnTokenizer::default());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::OnCommitWithDelay).try_into()?;
        Ok(Self { index, reader, fields, glossary: Default::default(), dir: dir.to_owned(), semantic: None })
    }

    /// Searches from now on with `glossary` instead of the shipped one.
    pub fn set_glossary(&self, glossary: crate::Glossary) {
        *self.glossary.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(glossary);
    }

    /// The glossary searches use.
    pub fn glossary(&self) -> std::sync::Arc<crate::Glossary> {
        self.glossary.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Opens the index in `dir`; an index of an older schema is emptied first, for the
    /// caller to rebuild from the catalog. Returns whether that happened.
    pub fn open_or_reset(dir: &Path) -> Result<(Self, bool)> {
        match Self::open(dir) {
            Err(Error::SchemaMismatch) => {
                std::fs::remove_dir_all(dir).map_err(|source| Error::Io { path: dir.to_owned(), source })?;
                Ok((Self::open(dir)?, true))
            }
            other => other.map(|index| (index, false)),
        }
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

    /// Every dataset in the index: its id and when it was updated (microseconds), as of the
    /// last commit the reader has seen.
    pub fn entries(&self) -> Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        self.each_document(|doc| {
            let id = doc.get_first(self.fields.id).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let updated = doc.get_first(self.fields.updated_at).and_then(|v| v.as_i64()).unwrap_or_default();
            out.push((id, updated));
        })?;
        Ok(out)
    }

    /// Calls `f` with every stored dataset, as of the last commit (this process's at once).
    fn each_document(&self, mut f: impl FnMut(TantivyDocument)) -> Result<()> {
        self.reader.reload()?;
        let searcher = self.reader.searcher();
        for segment in searcher.segment_readers() {
            let store = segment.get_store_reader(1).map_err(TantivyError::from)?;
            for doc in segment.doc_ids_alive() {
                f(store.get(doc)?);
            }
        }
        Ok(())
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
        doc.add_text(f.audience, if d.private { members_of(&d.organization) } else { PUBLIC.to_owned() });
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
        for v in &d.values {
            doc.add_text(f.values, v);
        }
        if let Some((from, to)) = d.years {
            doc.add_i64(f.year_from, i64::from(from));
            doc.add_i64(f.year_to, i64::from(to));
            let years: Vec<String> = (from..=to).map(|y| y.to_string()).collect();
            doc.add_text(f.years_text, years.join(" "));
            for y in &years {
                doc.add_facet(f.facet_year, Facet::from_path([y.as_str()]));
            }
        }
        doc.add_i64(f.updated_at, d.updated_at);
        let sort_title = d.title_en.as_deref().filter(|_| d.title.is_empty()).unwrap_or(&d.title);
        doc.add_text(f.title_sort, sort_title.to_lowercase());
        doc
    }

    /// The text fields a query searches, with their weight for a reader of `lang`.
    fn weighted(&self, lang: Lang) -> Vec<(Field, f32)> {
        let f = &self.fields;
        let (mn, en) = match lang {
            Lang::Mn => (1.5, 1.0),
            Lang::En => (1.0, 1.5),
        };
        vec![
            (f.title, 5.0 * mn),
            (f.title_en, 5.0 * en),
            (f.tags_text, 3.0),
            (f.columns, 2.0),
            (f.organization_text, 1.5),
            (f.description, 1.0 * mn),
            (f.description_en, 1.0 * en),
            (f.values, 0.8),
            (f.years_text, 0.5),
        ]
    }

    /// Runs a search. Facet counts cover every result, not just the requested page.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        let searcher = self.reader.searcher();
        let mut clauses = query.q.as_deref().map(parse).unwrap_or_default();
        // Words the glossary knows also match their other language's words; phrases and
        // exclusions stay as written.
        let glossary = self.glossary();
        for c in clauses.iter_mut().filter(|c| !c.phrase && !c.exclude) {
            for terms in &mut c.words {
                glossary.expand(terms);
            }
        }
        let words = match query.retrieval {
            Retrieval::Meaning if query.q.is_some() => Box::new(EmptyQuery),
            _ => self.text_query(&searcher, &clauses, query.lang, &query.audience)?,
        };
        // Datasets near in meaning are results too, counted and faceted with the others.
        let meant = self.meaning(&searcher, query, &clauses)?;
        let text: Box<dyn Query> = if meant.is_empty() {
            words.box_clone()
        } else {
            Box::new(BooleanQuery::new(vec![
                (Occur::Should, words.box_clone()),
                (Occur::Should, Box::new(BoostQuery::new(self.ids_query(meant.iter().map(|m| m.0.as_str())), 0.0))),
            ]))
        };
        let main = self.with_filters(text.box_clone(), query, None);

        // One pass gives the count, the facets and (by relevance) the page. The facets of
        // dimensions without an active filter come from it; each filtered one is counted
        // again without its own filter.
        let mut facets = Facets::default();
        let c = |d| self.facet_collector(d);
        // tantivy sizes its heap by offset + limit: past the last document a page is empty,
        // and asking for it must not allocate for the offset.
        let num_docs = usize::try_from(searcher.num_docs()).unwrap_or(usize::MAX);
        let beyond = query.offset >= num_docs;
        let offset = if beyond { 0 } else { query.offset };
        let page = || TopDocs::with_limit(query.limit.clamp(1, num_docs.max(1))).and_offset(offset);
        // tantivy combines at most four collectors in a tuple, hence the nesting.
        let (total, (org, tag), (format, license, year), by_score) = searcher.search(
            &main,
            &(
                Count,
                (c(Dim::Organization), c(Dim::Tag)),
                (c(Dim::Format), c(Dim::License), c(Dim::Year)),
                page().order_by_score(),
            ),
        )?;
        for (dim, counts) in DIMS.iter().zip([org, tag, format, license, year]) {
            let counts = if self.filter_of(query, *dim).is_some() {
                let without = self.with_filters(text.box_clone(), query, Some(*dim));
                searcher.search(&without, &self.facet_collector(*dim))?
            } else {
                counts
            };
            *facets.get_mut(*dim) = facet_counts(&counts, *dim == Dim::Year);
        }
        let addresses: Vec<(f32, tantivy::DocAddress)> = match query.sort {
            Sort::Relevance if !meant.is_empty() && !beyond => {
                let words = self.with_filters(words, query, None);
                self.fused_page(&searcher, &words, &meant, offset, query.limit.clamp(1, num_docs.max(1)))?
            }
            Sort::Relevance => by_score,
            Sort::Updated => searcher
                .search(&main, &page().order_by_fast_field::<i64>("updated_at", Order::Desc))?
                .into_iter()
                .map(|(_, a)| (0.0, a))
                .collect(),
            Sort::Title => searcher
                .search(&main, &page().order_by_string_fast_field("title_sort", Order::Asc))?
                .into_iter()
                .map(|(_, a)| (0.0, a))
                .collect(),
            Sort::Popular => searcher
                .search(&main, &page().tweak_score(by_popularity(query.popularity.clone())))?
                .into_iter()
                .map(|((_, score), a)| (score, a))
                .collect(),
        };
        let addresses = if beyond { Vec::new() } else { addresses };
        let marker = Marker::new(&clauses);
        let mut hits = Vec::with_capacity(addresses.len());
        for (score, address) in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            hits.push(self.hit(&doc, score, &marker));
        }
        Ok(SearchResults { total, hits, facets })
    }

    /// Title and term completions for what has been typed so far.
    pub fn suggest(&self, q: &str, limit: usize, audience: &Audience) -> Result<Suggestions> {
        let clauses: Vec<Clause> = parse(q).into_iter().filter(|c| !c.exclude).collect();
        let Some(last) = clauses.last() else {
            return Ok(Suggestions::default());
        };
        let f = &self.fields;
        let searcher = self.reader.searcher();
        let fields = [(f.title, 2.0), (f.title_en, 2.0), (f.tags_text, 1.0)];
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for c in &clauses {
            must.push((Occur::Must, word_query(&fields, c)));
        }
        if let Some(only) = audience.filter(f.audience) {
            must.push((Occur::Must, Box::new(BoostQuery::new(only, 0.0))));
        }
        let top = searcher.search(&BooleanQuery::new(must), &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let prefixes: Vec<String> = last.words.last().cloned().unwrap_or_default();
        let mut out = Suggestions::default();
        for (_, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_owned);
            let hit = SuggestedTitle {
                id: text(f.id).unwrap_or_default(),
                title: text(f.title).unwrap_or_default(),
                title_en: text(f.title_en),
            };
            for field in [f.title, f.title_en, f.tags_text] {
                for value in doc.get_all(field).filter_map(|v| v.as_str()) {
                    for word in analysis::words(value) {
                        let lower = word.text.to_lowercase();
                        let completes = analysis::terms(word.text)
                            .iter()
                            .any(|t| prefixes.iter().any(|p| t.starts_with(p.as_str())));
                        if completes
                            && lower.chars().count() > 2
                            && !out.terms.contains(&lower)
                            && out.terms.len() < limit
                        {
                            out.terms.push(lower);
                        }
                    }
                }
            }
            out.titles.push(hit);
        }
        Ok(out)
    }

    /// The free-text part: every clause must match (a word that matches no dataset at all
    /// is left out, as a search engine would), excluded ones must not. When no dataset has
    /// every word, datasets with all but one of them are found instead, and so on: a
    /// journalist's `air pollution ulaanbaatar` should not come back empty because no
    /// title says "pollution".
    fn text_query(
        &self,
        searcher: &Searcher,
        clauses: &[Clause],
        lang: Lang,
        audience: &Audience,
    ) -> Result<Box<dyn Query>> {
        if clauses.is_empty() {
            return Ok(Box::new(AllQuery));
        }
        // Counted among what the searcher may see only: which words are kept must not
        // depend on private datasets' text.
        let only = audience.filter(self.fields.audience);
        let count = |q: &dyn Query| -> Result<usize> {
            Ok(match &only {
                Some(only) => searcher.search(
                    &BooleanQuery::new(vec![(Occur::Must, q.box_clone()), (Occur::Must, only.box_clone())]),
                    &Count,
                )?,
                None => searcher.search(q, &Count)?,
            })
        };
        let weighted = self.weighted(lang);
        let mut required: Vec<Box<dyn Query>> = Vec::new();
        let mut excluded: Vec<Box<dyn Query>> = Vec::new();
        // With one word, checking it alone would only repeat the search itself.
        let check = clauses.iter().filter(|c| !c.exclude).count() > 1;
        for c in clauses {
            let q = word_query(&weighted, c);
            if c.exclude {
                if let Some(q) = self.excluding(searcher, q)? {
                    excluded.push(q);
                }
            } else if !check || count(q.as_ref())? > 0 {
                required.push(q);
            }
        }
        if required.is_empty() {
            // Nothing typed matched anything: no results, rather than everything.
            if clauses.iter().any(|c| !c.exclude) {
                return Ok(Box::new(EmptyQuery));
            }
            required.push(Box::new(AllQuery));
        }
        let build = |min: usize| -> Box<dyn Query> {
            let mut parts: Vec<(Occur, Box<dyn Query>)> =
                required.iter().map(|q| (Occur::Should, q.box_clone())).collect();
            parts.extend(excluded.iter().map(|q| (Occur::MustNot, q.box_clone())));
            Box::new(BooleanQuery::with_minimum_required_clauses(parts, min))
        };
        let mut min = required.len();
        loop {
            let query = build(min);
            if min <= 1 || count(query.as_ref())? > 0 {
                return Ok(query);
            }
            min -= 1;
        }
    }

    /// What an exclusion takes out, as the ids of the datasets `q` matches, or none when it
    /// matches nothing. tantivy 0.27's phrase scorer panics when a `MustNot` clause seeks it
    /// past its end (found by fuzzing: `-ам*хүн`); collected on its own it only advances.
    fn excluding(&self, searcher: &Searcher, q: Box<dyn Query>) -> Result<Option<Box<dyn Query>>> {
        let docs = searcher.search(&q, &DocSetCollector)?;
        let mut ids: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(docs.len());
        for address in docs {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()) {
                let term = Term::from_field_text(self.fields.id, id);
                ids.push((Occur::Should, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
            }
        }
        Ok((!ids.is_empty()).then(|| Box::new(BooleanQuery::new(ids)) as Box<dyn Query>))
    }

    fn filter_of<'q>(&self, query: &'q SearchQuery, dim: Dim) -> Option<&'q dyn std::any::Any> {
        match dim {
            Dim::Organization => query.organization.as_ref().map(|v| v as _),
            Dim::Tag => query.tag.as_ref().map(|v| v as _),
            Dim::Format => query.format.as_ref().map(|v| v as _),
            Dim::License => query.license.as_ref().map(|v| v as _),
            Dim::Year => (query.year_from.is_some() || query.year_to.is_some()).then_some(&query.year_from as _),
        }
    }

    /// `text` narrowed by every filter of `query` except `skip`'s.
    fn with_filters(&self, text: Box<dyn Query>, query: &SearchQuery, skip: Option<Dim>) -> BooleanQuery {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text)];
        // Boost 0: a filter narrows results without changing their relevance order.
        let filter =
            |q: Box<dyn Query>| -> (Occur, Box<dyn Query>) { (Occur::Must, Box::new(BoostQuery::new(q, 0.0))) };
        // Never skipped: a facet's counts must not count what the searcher may not see.
        if let Some(only) = query.audience.filter(f.audience) {
            clauses.push(filter(only));
        }
        for (dim, field, value) in [
            (Dim::Organization, f.organization, &query.organization),
            (Dim::Tag, f.tag, &query.tag),
            (Dim::Format, f.format, &query.format),
            (Dim::License, f.license, &query.license),
        ] {
            if let (Some(v), false) = (value, skip == Some(dim)) {
                clauses
                    .push(filter(Box::new(TermQuery::new(Term::from_field_text(field, v), IndexRecordOption::Basic))));
            }
        }
        if skip != Some(Dim::Year) {
            // Overlap: the dataset ends after the range starts and starts before it ends.
            if let Some(from) = query.year_from {
                let lower = Bound::Included(Term::from_field_i64(f.year_to, i64::from(from)));
                clauses.push(filter(Box::new(RangeQuery::new(lower, Bound::Unbounded))));
            }
            if let Some(to) = query.year_to {
                let upper = Bound::Included(Term::from_field_i64(f.year_from, i64::from(to)));
                clauses.push(filter(Box::new(RangeQuery::new(Bound::Unbounded, upper))));
            }
        }
        BooleanQuery::new(clauses)
    }

    fn facet_field(&self, dim: Dim) -> Field {
        let f = &self.fields;
        match dim {
            Dim::Organization => f.facet_organization,
            Dim::Tag => f.facet_tag,
            Dim::Format => f.facet_format,
            Dim::License => f.facet_license,
            Dim::Year => f.facet_year,
        }
    }

    fn facet_collector(&self, dim: Dim) -> FacetCollector {
        let mut c = FacetCollector::for_field(self.index.schema().get_field_name(self.facet_field(dim)));
        c.add_facet(Facet::root());
        c
    }

    fn hit(&self, doc: &TantivyDocument, score: f32, marker: &Marker) -> Hit {
        let f = &self.fields;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let opt = |field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_owned);
        let int = |field| doc.get_first(field).and_then(|v| v.as_i64());
        let mut highlights = BTreeMap::new();
        for (name, field, whole) in [
            ("title", f.title, true),
            ("title_en", f.title_en, true),
            ("description", f.description, false),
            ("description_en", f.description_en, false),
        ] {
            if let Some(snippet) = doc.get_first(field).and_then(|v| v.as_str()).and_then(|t| marker.mark(t, whole)) {
                highlights.insert(name.to_owned(), snippet);
            }
        }
        let matched = |field| -> Vec<String> {
            doc.get_all(field).filter_map(|v| v.as_str()).filter(|t| marker.matches(t)).map(str::to_owned).collect()
        };
        let tags: Vec<String> = doc.get_all(f.tag).filter_map(|v| v.as_str()).map(str::to_owned).collect();
        let matched_tags = matched(f.tags_text);
        if !matched_tags.is_empty() {
            let marked: Vec<String> = matched_tags.iter().filter_map(|t| marker.mark(t, true)).collect();
            highlights.insert("tags".into(), marked.join(", "));
        }
        Hit {
            id: text(f.id),
            score,
            title: text(f.title),
            title_en: opt(f.title_en),
            description: text(f.description),
            description_en: opt(f.description_en),
            organization: text(f.organization),
            tags,
            license: text(f.license),
            updated_at: int(f.updated_at).unwrap_or_default(),
            years: int(f.year_from).zip(int(f.year_to)).map(|(a, b)| (a as i32, b as i32)),
            highlights,
            matched_columns: matched(f.columns),
            matched_values: matched(f.values),
        }
    }
}

impl Facets {
    fn get_mut(&mut self, dim: Dim) -> &mut Vec<FacetCount> {
        match dim {
            Dim::Organization => &mut self.organization,
            Dim::Tag => &mut self.tag,
            Dim::Format => &mut self.format,
            Dim::License => &mut self.license,
            Dim::Year => &mut self.year,
        }
    }
}

fn facet_counts(fc: &FacetCounts, by_value: bool) -> Vec<FacetCount> {
    let mut v: Vec<FacetCount> = fc
        .get("/")
        .map(|(facet, count)| FacetCount {
            value: facet.to_path().last().map(|s| s.to_string()).unwrap_or_default(),
            count,
        })
        .collect();
    if by_value {
        v.sort_by(|a, b| a.value.cmp(&b.value));
    } else {
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    }
    v
}

/// How many words, `"phrases"` and `-exclusions` a search for `q` has: its cost grows with
/// their square (every clause is tried left out), so callers bound it.
pub fn clause_count(q: &str) -> usize {
    parse(q).len()
}

/// Splits what a reader typed into words, `"phrases"` and `-exclusions`. Never fails: an
/// unbalanced quote runs to the end.
/// Words that carry no topic: a question's "how many … were there in" or `хэд вэ`. They
/// are left out of a search that has other words, which would otherwise have to match them.
const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "and",
    "are",
    "at",
    "by",
    "do",
    "does",
    "for",
    "from",
    "how",
    "in",
    "is",
    "many",
    "much",
    "of",
    "on",
    "the",
    "there",
    "to",
    "was",
    "were",
    "what",
    "which",
    "with",
    "ба",
    "бэ",
    "вэ",
    "болон",
    "нь",
    "уу",
    "үү",
    "хэд",
    "хэдэн",
    "юу",
    "ямар",
];

fn parse(q: &str) -> Vec<Clause> {
    let mut out = parse_all(q);
    let stop = |c: &Clause| !c.phrase && !c.exclude && c.stop;
    if out.iter().any(|c| !stop(c)) {
        let typing = out.last().is_some_and(|c| c.prefix);
        out.retain(|c| !stop(c));
        if typing
            && let Some(last) = out.last_mut()
            && !last.phrase
            && !last.exclude
        {
            last.prefix = true;
        }
    }
    out
}

fn parse_all(q: &str) -> Vec<Clause> {
    let mut out = Vec::new();
    let mut rest = q.trim_start();
    let still_typing = !q.ends_with(char::is_whitespace) && !q.ends_with('"');
    while !rest.is_empty() {
        let exclude = rest.starts_with('-');
        if exclude {
            rest = &rest[1..];
        }
        let (chunk, phrase, after) = if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            (&r[..end], true, r.get(end + 1..).unwrap_or(""))
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], false, &rest[end..])
        };
        let words: Vec<analysis::Word<'_>> = analysis::words(chunk).collect();
        if !words.is_empty() {
            let letters = words.iter().map(|w| w.text.chars().count()).max().unwrap_or(0);
            out.push(Clause {
                words: words.iter().map(|w| analysis::terms(w.text)).collect(),
                letters,
                // A hyphenated name (`Дархан-Уул`) is a phrase of its parts.
                phrase: phrase || words.len() > 1,
                exclude,
                prefix: false,
                stop: words.len() == 1 && STOPWORDS.contains(&words[0].text.to_lowercase().as_str()),
            });
        }
        rest = after.trim_start();
    }
    if still_typing
        && let Some(last) = out.last_mut()
        && !last.phrase
        && !last.exclude
    {
        last.prefix = true;
    }
    out
}

/// One clause over weighted fields: exact terms, typo-tolerant terms at half weight, and
/// the last word as a prefix; a phrase must match in order.
fn word_query(fields: &[(Field, f32)], c: &Clause) -> Box<dyn Query> {
    let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for &(field, boost) in fields {
        if c.phrase {
            // The Mongolian reading of each word: the one every script shares.
            let terms: Vec<Term> =
                c.words.iter().filter_map(|w| w.first()).map(|t| Term::from_field_text(field, t)).collect();
            let q: Box<dyn Query> = if terms.len() > 1 {
                Box::new(PhraseQuery::new(terms))
            } else {
                Box::new(TermQuery::new(terms[0].clone(), IndexRecordOption::WithFreqs))
            };
            should.push((Occur::Should, Box::new(BoostQuery::new(q, boost))));
            continue;
        }
        let distance = c.typos();
        for (i, t) in c.words.iter().flat_map(|w| w.iter().enumerate()) {
            let term = Term::from_field_text(field, t);
            should.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)), boost)),
            ));
            // Typos are forgiven on the Mongolian reading, which every script shares;
            // automata for the English one too would double the cost for little.
            if distance > 0 && i == 0 {
                let fuzzy = FuzzyTermQuery::new(term.clone(), distance, true);
                should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(fuzzy), boost * 0.4))));
            }
            if c.prefix && t.chars().count() >= 2 {
                let prefix = FuzzyTermQuery::new_prefix(term, 0, true);
                should.push((Occur::Should, Box::new(BoostQuery::new(Box::new(prefix), boost * 0.6))));
            }
        }
    }
    Box::new(BooleanQuery::new(should))
}

/// Finds the words of a stored text that a query matched, the way the index matched them.
struct Marker {
    /// (term, typo allowance, prefix)
    terms: Vec<(String, usize, bool)>,
    /// Words already judged in this search: the same column names and values recur from
    /// hit to hit, and stemming them again is most of a search's highlighting cost.
    seen: std::cell::RefCell<std::collections::HashMap<String, bool>>,
}

impl Marker {
    fn new(clauses: &[Clause]) -> Self {
        let mut terms = Vec::new();
        for c in clauses.iter().filter(|c| !c.exclude) {
            let distance = usize::from(c.typos());
            for t in c.words.iter().flatten() {
                terms.push((t.clone(), distance, c.prefix));
            }
        }
        Marker { terms, seen: Default::default() }
    }

    fn word_matches(&self, word: &str) -> bool {
        if let Some(&known) = self.seen.borrow().get(word) {
            return known;
        }
        let matches = self.judge(word);
        self.seen.borrow_mut().insert(word.to_owned(), matches);
        matches
    }

    fn judge(&self, word: &str) -> bool {
        analysis::terms(word).iter().any(|w| {
            self.terms.iter().any(|(t, distance, prefix)| {
                w == t || (*prefix && w.starts_with(t.as_str())) || (*distance > 0 && edit_distance(w, t) <= *distance)
            })
        })
    }

    fn matches(&self, text: &str) -> bool {
        analysis::words(text).any(|w| self.word_matches(w.text))
    }

    /// `text` HTML-escaped with its matching words in `<mark>`: whole for a title, else
    /// about 160 characters around the first match. `None` when nothing matches.
    fn mark(&self, text: &str, whole: bool) -> Option<String> {
        let hits: Vec<analysis::Word<'_>> = analysis::words(text).filter(|w| self.word_matches(w.text)).collect();
        let first = hits.first()?;
        let (mut from, mut to) = (0, text.len());
        if !whole {
            from = floor_char(text, first.from.saturating_sub(60));
            to = floor_char(text, (first.from + 160).min(text.len()));
            if to < text.len() {
                to = text[..to].rfind(char::is_whitespace).filter(|&i| i > first.to).unwrap_or(to);
            }
            if from > 0 {
                from = text[from..]
                    .find(char::is_whitespace)
                    .map(|i| from + i + 1)
                    .filter(|&i| i <= first.from)
                    .unwrap_or(from);
            }
        }
        let mut out = String::new();
        if from > 0 {
            out.push('…');
        }
        let mut at = from;
        for w in hits.iter().filter(|w| w.from >= from && w.to <= to) {
            out.push_str(&escape(&text[at..w.from]));
            out.push_str("<mark>");
            out.push_str(&escape(w.text));
            out.push_str("</mark>");
            at = w.to;
        }
        out.push_str(&escape(&text[at..to]));
        if to < text.len() {
            out.push('…');
        }
        Some(out)
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Levenshtein distance with adjacent transpositions costing one, as tantivy's fuzzy
/// queries count it.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
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
            ..Default::default()
        }
    }

    fn ids(r: &SearchResults) -> Vec<&str> {
        r.hits.iter().map(|h| h.id.as_str()).collect()
    }

    #[test]
    fn private_datasets_are_found_counted_and_suggested_only_for_their_members() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let hidden = IndexedDataset {
            private: true,
            ..doc("budget-draft", "Төсвийн хэлэлцүүлэг", "mof", &["төсөв"], &[], 2)
        };
        index.upsert(&[doc("budget", "Төсвийн гүйцэтгэл", "mof", &["төсөв"], &[], 1), hidden]).unwrap();
        let search = |audience: Audience, q: &str| {
            index.search(&SearchQuery { q: Some(q.into()), limit: 10, audience, ..Default::default() }).unwrap()
        };
        for audience in [Audience::Public, Audience::Members(vec!["nso".into()])] {
            let found = search(audience.clone(), "төсөв");
            assert_eq!((ids(&found), found.total), (vec!["budget"], 1), "{audience:?}");
            assert_eq!(found.facets.organization[0], FacetCount { value: "mof".into(), count: 1 });
            assert!(found.facets.tag.iter().all(|t| t.count == 1), "{:?}", found.facets.tag);
            // A word only the private dataset has finds nothing, rather than narrowing
            // what the other words find differently.
            assert_eq!(search(audience.clone(), "хэлэлцүүлэг").total, 0);
            assert_eq!(search(audience.clone(), "төсөв хэлэлцүүлэг").total, 1);
            let titles = index.suggest("төс", 10, &audience).unwrap().titles;
            assert_eq!(titles.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["budget"]);
        }
        for audience in [Audience::Members(vec!["mof".into()]), Audience::Everyone] {
            let found = search(audience.clone(), "төсөв");
            assert_eq!(found.total, 2, "{audience:?}");
            assert_eq!(found.facets.organization[0].count, 2);
            assert_eq!(index.suggest("төс", 10, &audience).unwrap().titles.len(), 2);
        }
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

    /// Found by fuzzing: excluded phrases made tantivy's phrase scorer panic, first one that
    /// repeats a word, then one whose words a title has in another order.
    #[test]
    fn phrases_that_repeat_a_word() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        index.upsert(&[doc("d", "Хүн амын тоо", "nso", &[], &[], 1)]).unwrap();
        let search =
            |q: &str| index.search(&SearchQuery { q: Some(q.into()), limit: 10, ..Default::default() }).unwrap();
        assert_eq!(ids(&search("-хүн*хүн")), ["d"], "the title does not say хүн twice");
        assert_eq!(ids(&search("-ам*хүн")), ["d"], "the words are there, the phrase is not");
        assert_eq!(search("-хүн*ам").total, 0);
        assert_eq!(search("хүн*хүн").total, 0);
        assert_eq!(ids(&search("-\"морь морь\" хүн")), ["d"]);
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
