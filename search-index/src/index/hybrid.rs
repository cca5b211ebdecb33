//! Search by meaning beside search by words: each dataset's passage as a vector, kept in a
//! file beside the index and brought up to date in the background; a query's nearest
//! datasets (within the same filters and audience) fused with BM25's ranking by reciprocal
//! rank fusion. Without a model, or when it is busy or slow, search is by words alone.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Searcher, TantivyDocument, Term};

use super::{Clause, Retrieval, SearchIndex, SearchQuery, Sort};
use crate::semantic::{self, Embedder, Purpose, Vectors};
use crate::{Error, Result};

/// The vectors' file in the index folder.
const VECTORS_FILE: &str = "vectors.odvec";
/// Nearest datasets looked at before filters, and kept after them.
const NEAREST: usize = 50;
const MEANING_HITS: usize = 10;
/// How far below the nearest dataset's similarity another may be and still count as
/// meant, and the similarity below which nothing does: multilingual-e5's cosines crowd
/// between 0.7 and 0.9, so only the head of its ranking joins the results. Set by hand; the
/// judged set's figures (bench/README.md) are with these values.
const MARGIN: f32 = 0.04;
const FLOOR: f32 = 0.80;
/// The usual constant of reciprocal rank fusion, and the weight of meaning's ranking
/// against words': the small model's nearest datasets are noisier than BM25's matches in
/// Mongolian (the judged set: 0.76 success@3 alone against 0.91), so they count half.
const RRF_K: f32 = 60.0;
const MEANING_WEIGHT: f32 = 0.5;
/// Recent queries' vectors: paging, facets and sorting repeat a query.
const CACHED_QUERIES: usize = 256;
/// Passages embedded per request to the model.
const BATCH: usize = 8;

/// What one [`SearchIndex::sync_vectors`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Synced {
    /// Vectors made, replaced or dropped.
    pub changed: usize,
    /// Whether datasets past the budget still wait.
    pub more: bool,
}

pub(super) struct Semantic {
    embedder: Arc<dyn Embedder>,
    vectors: RwLock<Vectors>,
    path: PathBuf,
    cache: Mutex<VecDeque<(String, Arc<Vec<f32>>)>>,
}

impl Semantic {
    fn query_vector(&self, q: &str) -> Result<Arc<Vec<f32>>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = cache.iter().position(|(text, _)| text == q) {
            let hit = cache.remove(at).expect("position is in range");
            let vector = hit.1.clone();
            cache.push_front(hit);
            return Ok(vector);
        }
        drop(cache);
        let vector = self.embedder.embed(&[q.to_owned()], Purpose::Query)?.pop();
        let vector = Arc::new(vector.ok_or_else(|| Error::Embedder("no vector for the query".into()))?);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.push_front((q.to_owned(), vector.clone()));
        cache.truncate(CACHED_QUERIES);
        Ok(vector)
    }
}

impl SearchIndex {
    /// Searches by meaning too, with `embedder`, from vectors kept in the index folder
    /// (read now; [`SearchIndex::sync_vectors`] fills them in).
    pub fn set_embedder(&mut self, embedder: Arc<dyn Embedder>) {
        let path = self.dir.join(VECTORS_FILE);
        let vectors = Vectors::load(&path).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the dataset vectors are unreadable; making them again");
            Vectors::default()
        });
        self.semantic =
            Some(Semantic { embedder, vectors: RwLock::new(vectors), path, cache: Mutex::new(VecDeque::new()) });
    }

    /// Whether searches use meaning as well as words.
    pub fn has_embedder(&self) -> bool {
        self.semantic.is_some()
    }

    /// Bytes the dataset vectors take in memory, and how many datasets have one.
    pub fn vector_memory(&self) -> (usize, usize) {
        self.semantic.as_ref().map_or((0, 0), |s| {
            let v = s.vectors.read().unwrap_or_else(|e| e.into_inner());
            (v.memory(), v.len())
        })
    }

    /// The index's last commit stamp: vectors synced at one stamp stay synced until it moves.
    pub fn opstamp(&self) -> Result<u64> {
        Ok(self.index.load_metas()?.opstamp)
    }

    /// Brings the vectors in line with the index, with `embedder` (the same model as the
    /// queries', in a process of its own): embeds at most `budget` datasets that are new or
    /// whose text changed, drops those no longer indexed, and saves. The model runs with no
    /// lock held: searches go on meanwhile.
    pub fn sync_vectors(&self, embedder: &dyn Embedder, budget: usize) -> Result<Synced> {
        let Some(sem) = &self.semantic else { return Ok(Synced::default()) };
        let mut indexed = std::collections::HashSet::new();
        let mut stale = Vec::new();
        let mut more = false;
        {
            let vectors = sem.vectors.read().unwrap_or_else(|e| e.into_inner());
            self.each_document(|doc| {
                let id = self.stored(&doc, self.fields.id).into_iter().next().unwrap_or_default();
                let text = self.passage(&doc);
                let print = semantic::fingerprint(&text);
                if vectors.text_of(&id) != Some(print) {
                    if stale.len() < budget {
                        stale.push((id.clone(), print, text));
                    } else {
                        more = true;
                    }
                }
                indexed.insert(id);
            })?;
        }
        let mut changed = 0;
        for chunk in stale.chunks(BATCH) {
            let texts: Vec<String> = chunk.iter().map(|(_, _, t)| t.clone()).collect();
            let made = embedder.embed(&texts, Purpose::Passage)?;
            let mut vectors = sem.vectors.write().unwrap_or_else(|e| e.into_inner());
            for ((id, print, _), vector) in chunk.iter().zip(made) {
                vectors.upsert(id, *print, &vector)?;
                changed += 1;
            }
        }
        let mut vectors = sem.vectors.write().unwrap_or_else(|e| e.into_inner());
        let gone: Vec<String> = vectors.ids().filter(|id| !indexed.contains(*id)).map(str::to_owned).collect();
        for id in &gone {
            vectors.remove(id);
        }
        changed += gone.len();
        if changed > 0 {
            vectors.save(&sem.path)?;
        }
        Ok(Synced { changed, more })
    }

    /// The passage a dataset's vector is made from, out of its stored fields.
    fn passage(&self, doc: &TantivyDocument) -> String {
        let f = &self.fields;
        let mut parts = Vec::new();
        for field in [f.title, f.title_en, f.tags_text, f.description, f.description_en, f.columns, f.values] {
            parts.extend(self.stored(doc, field));
        }
        // Column entries carry their descriptions after a colon: the label is enough.
        let parts: Vec<String> =
            parts.into_iter().map(|p| p.split(": ").next().unwrap_or_default().to_owned()).collect();
        semantic::passage(parts.iter().map(String::as_str))
    }

    fn stored(&self, doc: &TantivyDocument, field: tantivy::schema::Field) -> Vec<String> {
        doc.get_all(field).filter_map(|v| v.as_str()).map(str::to_owned).collect()
    }

    /// The datasets nearest in meaning to the query's words, best first, among those the
    /// query's filters, exclusions and audience allow. Empty without a model, for another
    /// order than relevance, or when the model cannot answer now.
    pub(super) fn meaning(
        &self,
        searcher: &Searcher,
        query: &SearchQuery,
        clauses: &[Clause],
    ) -> Result<Vec<(String, f32)>> {
        let (Some(sem), Some(q), Sort::Relevance) = (&self.semantic, query.q.as_deref(), query.sort) else {
            return Ok(Vec::new());
        };
        if query.retrieval == Retrieval::Words {
            return Ok(Vec::new());
        }
        let words: Vec<&str> = q.split_whitespace().filter(|w| !w.starts_with('-')).collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let vector = match sem.query_vector(&words.join(" ")) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "searching by words alone");
                return Ok(Vec::new());
            }
        };
        let near: Vec<(String, f32)> = {
            let vectors = sem.vectors.read().unwrap_or_else(|e| e.into_inner());
            vectors.nearest(&vector, NEAREST, |_| true).into_iter().map(|(id, s)| (id.to_owned(), s)).collect()
        };
        let Some(best) = near.first().map(|n| n.1) else { return Ok(Vec::new()) };
        let alone = query.retrieval == Retrieval::Meaning;
        let near: Vec<(String, f32)> =
            near.into_iter().filter(|n| alone || (n.1 >= FLOOR && n.1 >= best - MARGIN)).collect();
        if near.is_empty() {
            return Ok(Vec::new());
        }
        let exclusions: Vec<Clause> = clauses.iter().filter(|c| c.exclude).cloned().collect();
        let allowed_text = self.text_query(searcher, &exclusions, query.lang, &query.audience)?;
        let candidates = BooleanQuery::new(vec![
            (Occur::Must, self.ids_query(near.iter().map(|n| n.0.as_str()))),
            (Occur::Must, allowed_text),
        ]);
        let allowed = self.with_filters(Box::new(candidates), query, None);
        let mut ids = std::collections::HashSet::new();
        for address in searcher.search(&allowed, &DocSetCollector)? {
            let doc: TantivyDocument = searcher.doc(address)?;
            ids.extend(self.stored(&doc, self.fields.id));
        }
        Ok(near.into_iter().filter(|n| ids.contains(&n.0)).take(MEANING_HITS).collect())
    }

    /// Matches the datasets of these ids.
    pub(super) fn ids_query<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            ids.map(|id| {
                let term = Term::from_field_text(self.fields.id, id);
                (Occur::Should, Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>)
            })
            .collect(),
        ))
    }

    /// One page of the fusion of BM25's ranking (of `words`, with filters) and `meant`.
    pub(super) fn fused_page(
        &self,
        searcher: &Searcher,
        words: &dyn Query,
        meant: &[(String, f32)],
        offset: usize,
        limit: usize,
    ) -> Result<Vec<(f32, tantivy::DocAddress)>> {
        let depth = offset + limit + meant.len();
        let mut by_id = std::collections::HashMap::new();
        let mut ranked = Vec::new();
        for (_, address) in searcher.search(words, &TopDocs::with_limit(depth.max(1)).order_by_score())? {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = self.stored(&doc, self.fields.id).pop() {
                by_id.insert(id.clone(), address);
                ranked.push(id);
            }
        }
        let meant_ids: Vec<String> = meant.iter().map(|m| m.0.clone()).collect();
        let mut page = Vec::new();
        for (id, score) in
            semantic::fuse(&[(&ranked, 1.0), (&meant_ids, MEANING_WEIGHT)], RRF_K).into_iter().skip(offset).take(limit)
        {
            let address = match by_id.get(&id) {
                Some(a) => *a,
                None => match searcher
                    .search(&*self.ids_query(std::iter::once(id.as_str())), &DocSetCollector)?
                    .into_iter()
                    .next()
                {
                    Some(a) => a,
                    None => continue,
                },
            };
            page.push((score, address));
        }
        Ok(page)
    }
}
