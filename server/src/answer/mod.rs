//! Answers to questions: "Ховд аймгийн 2020 оны тэмээний тоо" → the number, the row it is
//! in, and the rows API call that shows it.
//!
//! The search (words and meaning) names the candidate datasets; each table of theirs reads
//! the question ([`link`]): which listed values it names, which year, quarter or month,
//! which number column. The best readings are asked of the rows API itself, through the
//! same code as the evidence URL, so every value an answer shows is one that URL returns.
//! When a reading leaves several rows, each is offered as a candidate and the answer says
//! it is ambiguous.

pub mod link;
pub mod question;

use std::sync::Arc;

use opendata_datasets::Dataset;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::api::rows::page_of;
use crate::engine::task::PageEncoding;
use crate::error::ApiResult;
use crate::reader::Reader;
use crate::state::AppState;
use link::Reading;
use question::Question;

/// Datasets the search offers, tables read per dataset, readings asked of the rows API.
const DATASETS: usize = 10;
const TABLES: usize = 10;
const READINGS: usize = 4;
/// Rows a reading may leave and still be offered row by row.
const CANDIDATE_ROWS: usize = 5;

/// A value and where it comes from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Answer {
    pub dataset: String,
    /// The dataset's title in the reader's language.
    pub dataset_title: String,
    pub table: String,
    /// The rows API filters that pick the row: column (or `column__op`) → value.
    #[schema(value_type = Object)]
    pub filters: Map<String, Value>,
    /// The column holding the value, and its label.
    pub column: String,
    pub column_label: String,
    /// A number: the cell of `column` in `row`.
    #[schema(value_type = f64, example = 14296)]
    pub value: Value,
    pub version: u32,
    /// The rows API call, pinned to the version, whose one row holds the value.
    pub url: String,
    /// The answer in one line, in the reader's language.
    pub sentence: String,
    /// The row the value is in.
    #[schema(value_type = Object)]
    pub row: Map<String, Value>,
}

/// What a question gets: answers best first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Answers {
    pub question: String,
    /// Whether the question fits several answers equally (the reader should choose).
    pub ambiguous: bool,
    pub answers: Vec<Answer>,
}

/// A reading of one table, with what the answer names it by.
struct Candidate {
    dataset: Arc<Dataset>,
    table: String,
    version: u32,
    reading: Reading,
}

/// Answers `text` for `reader`, at most `limit` of them, from the datasets the search
/// finds by `retrieval` (the portal's search: [`search_index::Retrieval::Fused`]).
pub async fn answer(
    state: &AppState,
    reader: &Reader,
    text: &str,
    lang: search_index::Lang,
    limit: usize,
    retrieval: search_index::Retrieval,
) -> ApiResult<Answers> {
    let question = Question::parse(text, &state.index.glossary());
    let query = search_index::SearchQuery {
        q: Some(text.to_owned()),
        lang,
        limit: DATASETS,
        audience: reader.audience(),
        retrieval,
        ..Default::default()
    };
    let found = crate::api::catalog::run_search(state, query).await?;
    let ids: Vec<String> = found.hits.into_iter().map(|h| h.id).collect();
    // The catalog may be a database across the network: read it off the async threads.
    let (catalog, who, asked) = (state.store.shared_catalog(), reader.clone(), question.clone());
    let candidates = tokio::task::spawn_blocking(move || readings(&*catalog, &who, &asked, &ids))
        .await
        .map_err(crate::error::ApiError::internal)?;
    for c in candidates.iter().take(READINGS) {
        tracing::debug!(dataset = %c.dataset.meta.id, table = %c.table, score = c.reading.score, filters = ?c.reading.filters, measure = %c.reading.measure, "a reading of the question");
    }
    let mut answers = Vec::new();
    let mut ambiguous = false;
    let best = candidates.first().map(|c| c.reading.score);
    for (i, c) in candidates.iter().take(READINGS).enumerate() {
        let found = match evidence(state, reader, c, lang, &question).await {
            Ok(found) => found,
            // A reading the rows API refuses (a value that does not fit a column's type) is
            // a wrong reading, not the reader's error.
            Err(e) if e.code.status().is_client_error() => {
                tracing::debug!(dataset = %c.dataset.meta.id, error = %e.detail, "a reading the rows API refused");
                continue;
            }
            Err(e) => return Err(e),
        };
        if i > 0 && Some(c.reading.score) == best && !found.is_empty() {
            ambiguous = true;
        }
        ambiguous |= found.len() > 1 && answers.is_empty();
        answers.extend(found);
        if answers.len() >= limit {
            break;
        }
    }
    answers.truncate(limit);
    Ok(Answers { question: text.to_owned(), ambiguous: ambiguous && answers.len() > 1, answers })
}

/// Each table's reading of the question, best first, over the datasets `ids` (the search's
/// order, which breaks ties: it weighed the whole text).
fn readings(
    catalog: &dyn opendata_datasets::Catalog,
    reader: &Reader,
    question: &Question,
    ids: &[String],
) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for (rank, id) in ids.iter().enumerate() {
        let Ok(dataset) = reader.dataset(catalog, id) else { continue };
        let titles = format!("{} {}", dataset.meta.title, dataset.meta.title_en.as_deref().unwrap_or_default());
        for table in dataset.tables.iter().take(TABLES) {
            let latest = table.latest();
            if let Some(mut reading) = link::read(question, &latest.columns, &format!("{} {titles}", table.title)) {
                reading.score += 1.0 / (rank as f32 + 2.0);
                candidates.push(Candidate {
                    dataset: dataset.clone(),
                    table: table.name.clone(),
                    version: latest.version,
                    reading,
                });
            }
        }
    }
    candidates.sort_by(|a, b| b.reading.score.total_cmp(&a.reading.score));
    candidates
}

/// The answers a reading's rows give: one per row when it leaves a few, none when it leaves
/// none or many. Each is checked against its own URL.
async fn evidence(
    state: &AppState,
    reader: &Reader,
    c: &Candidate,
    lang: search_index::Lang,
    question: &Question,
) -> ApiResult<Vec<Answer>> {
    let rows = fetch(state, reader, c, &c.reading.filters, CANDIDATE_ROWS + 1).await?;
    if rows.is_empty() || rows.len() > CANDIDATE_ROWS {
        return Ok(Vec::new());
    }
    if rows.len() == 1 {
        let filters = pinned(&c.reading.filters, &rows[0]);
        return Ok(make(c, &filters, rows.into_iter().next(), lang, question).into_iter().collect());
    }
    // Several rows: each is told apart by the text and date columns where they differ (a
    // period, a station), not by other figures.
    let differing: Vec<String> = rows[0]
        .iter()
        .filter(|(k, v)| *k != &c.reading.measure && v.is_string())
        .map(|(k, _)| k)
        .filter(|k| rows.iter().any(|r| r.get(*k) != rows[0].get(*k)))
        .cloned()
        .collect();
    let mut out = Vec::new();
    for row in &rows {
        let mut filters = pinned(&c.reading.filters, row);
        for k in &differing {
            if let Some(Value::String(s)) = row.get(k)
                && !filters.iter().any(|(f, _)| f == k)
            {
                filters.push((k.clone(), s.clone()));
            }
        }
        let one = fetch(state, reader, c, &filters, 2).await?;
        if one.len() == 1 && one[0].get(&c.reading.measure) == row.get(&c.reading.measure) {
            out.extend(make(c, &filters, one.into_iter().next(), lang, question));
        }
    }
    Ok(out)
}

/// `filters` with each range (a year's or a month's dates) replaced by the row's own value:
/// an answer's filters are column → value, and equality picks the same row out of the range.
fn pinned(filters: &[(String, String)], row: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(filters.len());
    for (key, value) in filters {
        let entry = match key.split_once("__") {
            Some((column, _)) => match row.get(column) {
                Some(Value::String(v)) => (column.to_owned(), v.clone()),
                _ => (key.clone(), value.clone()),
            },
            None => (key.clone(), value.clone()),
        };
        if !out.iter().any(|(k, _)| *k == entry.0) {
            out.push(entry);
        }
    }
    out
}

/// The query string of the rows API call for `filters` of a candidate's version.
fn query_string(c: &Candidate, filters: &[(String, String)], limit: usize) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("version", &c.version.to_string());
    for (k, v) in filters {
        q.append_pair(k, v);
    }
    if limit > 0 {
        q.append_pair("limit", &limit.to_string());
    }
    q.finish()
}

async fn fetch(
    state: &AppState,
    reader: &Reader,
    c: &Candidate,
    filters: &[(String, String)],
    limit: usize,
) -> ApiResult<Vec<Map<String, Value>>> {
    let raw = format!("{}&total=false", query_string(c, filters, limit));
    let page = page_of(state, reader, &c.dataset.meta.id, &c.table, &raw, PageEncoding::Values).await?;
    Ok(page.body.into_rows())
}

fn make(
    c: &Candidate,
    filters: &[(String, String)],
    row: Option<Map<String, Value>>,
    lang: search_index::Lang,
    question: &Question,
) -> Option<Answer> {
    let row = row?;
    let value = row.get(&c.reading.measure).filter(|v| !v.is_null())?.clone();
    let meta = &c.dataset.meta;
    let english = lang == search_index::Lang::En;
    let title = if english { meta.title_en.clone().unwrap_or_else(|| meta.title.clone()) } else { meta.title.clone() };
    let mut named: Vec<String> = c.reading.named.iter().map(|(_, v)| v.clone()).collect();
    if let Some(year) = question.years.first() {
        named.push(match (question.quarter, question.month) {
            (Some(q), _) if english => format!("Q{q} {year}"),
            (Some(q), _) => format!("{year} оны {q}-р улирал"),
            (_, Some(m)) if english => format!("{year}-{m:02}"),
            (_, Some(m)) => format!("{year} оны {m}-р сар"),
            _ if english => year.to_string(),
            _ => format!("{year} он"),
        });
    }
    let shown = match &value {
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    let sentence = if english {
        format!(
            "{} ({}): {shown}, according to \"{title}\", version {}.",
            c.reading.measure_label,
            named.join(", "),
            c.version
        )
    } else {
        format!(
            "{} ({}): {shown}. Эх сурвалж: «{title}», {}-р хувилбар.",
            c.reading.measure_label,
            named.join(", "),
            c.version
        )
    };
    let url = format!("/api/v1/datasets/{}/tables/{}/rows?{}", meta.id, c.table, query_string(c, filters, 0));
    Some(Answer {
        dataset: meta.id.clone(),
        dataset_title: title,
        table: c.table.clone(),
        filters: filters.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect(),
        column: c.reading.measure.clone(),
        column_label: c.reading.measure_label.clone(),
        value,
        version: c.version,
        url,
        sentence,
        row,
    })
}
