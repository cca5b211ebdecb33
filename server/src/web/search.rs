//! `/datasets`: search with highlights, facets, sort and paging, all in the URL.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use maud::{PreEscaped, html};

use super::i18n::{Lang, t};
use super::layout::{lang_of, page, pairs, param, title_in, with};
use crate::error::ApiResult;
use crate::state::AppState;

pub(super) async fn search(
    State(state): State<AppState>,
    reader: crate::reader::Reader,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let page_no: usize =
        param(&pairs, "page").and_then(|p| p.parse().ok()).filter(|&p| (1..=10_000).contains(&p)).unwrap_or(1);
    let per_page = 20;
    let query = search_index::SearchQuery {
        q: param(&pairs, "q").map(str::to_owned),
        organization: param(&pairs, "organization").map(str::to_owned),
        tag: param(&pairs, "tag").map(str::to_owned),
        format: param(&pairs, "format").map(str::to_owned),
        license: param(&pairs, "license").map(str::to_owned),
        year_from: param(&pairs, "year_from").and_then(|y| y.parse().ok()),
        year_to: param(&pairs, "year_to").and_then(|y| y.parse().ok()),
        lang: match lang {
            Lang::Mn => search_index::Lang::Mn,
            Lang::En => search_index::Lang::En,
        },
        sort: match param(&pairs, "sort") {
            Some("updated") => search_index::Sort::Updated,
            Some("title") => search_index::Sort::Title,
            Some("popular") => search_index::Sort::Popular,
            _ => search_index::Sort::Relevance,
        },
        offset: (page_no - 1) * per_page,
        limit: per_page,
        audience: reader.audience(),
        popularity: Default::default(),
        retrieval: Default::default(),
    };
    let found = crate::api::catalog::run_search(&state, query.clone()).await?;
    // A question gets its answer above the results, on the first page of an unfiltered
    // search; a question the answerer cannot take (too long) just has none.
    let filtered =
        ["organization", "tag", "format", "license", "year_from", "year_to"].iter().any(|k| param(&pairs, k).is_some());
    let answers = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) if page_no == 1 && !filtered && q.chars().count() <= crate::api::answer::MAX_QUESTION => {
            crate::answer::answer(&state, &reader, q, query.lang, 3, search_index::Retrieval::Fused).await.ok()
        }
        _ => None,
    };
    let facet = |name: &str, key: &str, values: &[search_index::FacetCount]| {
        html! {
            @if !values.is_empty() {
                section.facet {
                    h2 { (t(lang, name)) }
                    ul {
                        @for v in values.iter().take(12) {
                            @let active = param(&pairs, key) == Some(v.value.as_str());
                            li {
                                a href=(with("/datasets", &pairs, key, if active { None } else { Some(v.value.as_str()) }))
                                  aria-current=[active.then_some("true")] {
                                    (v.value) " " span.count { (v.count) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let pages = found.total.div_ceil(per_page).max(1);
    let title = param(&pairs, "q").unwrap_or(t(lang, "search")).to_owned();
    let body = html! {
        h1.visually-hidden { (t(lang, "search")) ": " (title) }
        div.search-layout {
            aside.facets aria-label=(t(lang, "filters")) {
                (facet("organization", "organization", &found.facets.organization))
                (facet("tag", "tag", &found.facets.tag))
                (facet("format", "format", &found.facets.format))
                (facet("license", "license", &found.facets.license))
                @if let (Some(first), Some(last)) = (found.facets.year.first(), found.facets.year.last()) {
                    section.facet {
                        h2 { (t(lang, "years")) }
                        form method="get" action="/datasets" {
                            @for (k, v) in pairs.iter().filter(|(k, _)| !["year_from", "year_to", "page"].contains(&k.as_str())) {
                                input type="hidden" name=(k) value=(v);
                            }
                            label { (t(lang, "from")) " " input type="number" name="year_from" min=(first.value) max=(last.value) value=(param(&pairs, "year_from").unwrap_or(&first.value)) size="5"; }
                            " "
                            label { (t(lang, "to")) " " input type="number" name="year_to" min=(first.value) max=(last.value) value=(param(&pairs, "year_to").unwrap_or(&last.value)) size="5"; }
                            " " button type="submit" { (t(lang, "apply")) }
                        }
                    }
                }
            }
            section.results {
                @if let Some(found) = answers.as_ref().filter(|a| !a.answers.is_empty()) {
                    (answer_box(lang, found))
                }
                p.total { (found.total) " " (t(lang, "results")) }
                nav.sort aria-label=(t(lang, "sort")) {
                    @for (key, label) in [("relevance", "sort_relevance"), ("updated", "sort_updated"), ("title", "sort_title"), ("popular", "sort_popular")] {
                        a href=(with("/datasets", &pairs, "sort", Some(key))) aria-current=[(param(&pairs, "sort").unwrap_or("relevance") == key).then_some("true")] { (t(lang, label)) } " "
                    }
                }
                ol.hits {
                    @for hit in &found.hits {
                        li {
                            h2 {
                                a href=(with(&format!("/datasets/{}", hit.id), &pairs, "q", None)) {
                                    @match hit.highlights.get(if lang == Lang::En { "title_en" } else { "title" }).or_else(|| hit.highlights.get("title")) {
                                        Some(marked) => (PreEscaped(marked)),
                                        None => (title_in(lang, &hit.title, hit.title_en.as_deref())),
                                    }
                                }
                            }
                            @if let Some(snippet) = hit.highlights.get("description").or_else(|| hit.highlights.get("description_en")) {
                                p.snippet { (PreEscaped(snippet)) }
                            }
                            @if !hit.matched_columns.is_empty() {
                                p.why { (t(lang, "matched_columns")) ": " (hit.matched_columns.join(", ")) }
                            }
                            @if !hit.matched_values.is_empty() {
                                p.why { (t(lang, "matched_values")) ": " (hit.matched_values.join(", ")) }
                            }
                            p.meta { (hit.organization) }
                        }
                    }
                }
                @if pages > 1 {
                    nav.pages aria-label=(t(lang, "pages")) {
                        @if page_no > 1 { a rel="prev" href=(with("/datasets", &pairs, "page", Some(&(page_no - 1).to_string()))) { "←" } }
                        " " (page_no) " / " (pages) " "
                        @if page_no < pages { a rel="next" href=(with("/datasets", &pairs, "page", Some(&(page_no + 1).to_string()))) { "→" } }
                    }
                }
            }
        }
    };
    Ok(page(lang, "/datasets", &pairs, &title, html! {}, body))
}

/// The answers to the search's question: each value with its sentence, its row and where
/// it comes from.
fn answer_box(lang: Lang, found: &crate::answer::Answers) -> maud::Markup {
    html! {
        section.answer aria-labelledby="answer" {
            h2 #answer { (t(lang, "answer")) }
            @if found.ambiguous {
                p.ambiguous { (t(lang, "answer_ambiguous")) }
            }
            @for a in &found.answers {
                article {
                    p.value { data value=(a.value) { (a.value) } }
                    p.sentence { (a.sentence) }
                    table.evidence {
                        thead { tr { @for k in a.row.keys() { th scope="col" { (k) } } } }
                        tbody { tr { @for v in a.row.values() {
                            td { @match v { serde_json::Value::String(s) => (s), serde_json::Value::Null => "", other => (other) } }
                        } } }
                    }
                    p.meta {
                        (t(lang, "source")) ": "
                        a href=(format!("/datasets/{}{}", a.dataset, if lang == Lang::En { "?lang=en" } else { "" })) { (a.dataset_title) }
                        ", " (t(lang, "version")) " " (a.version) " · "
                        a.evidence href=(a.url) { (t(lang, "evidence")) }
                    }
                }
            }
        }
    }
}
