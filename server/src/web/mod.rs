//! The portal in a browser: server-rendered pages, Mongolian by default and English with
//! `?lang=en`, built on the same catalog, index and rows API as the HTTP API. Every asset
//! is served from here: a page makes no request to another host.

mod i18n;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use opendata_datasets::Dataset;

pub use i18n::Lang;
use i18n::t;

use crate::api::base_url;
use crate::error::ApiResult;
use crate::state::AppState;

/// The stylesheet, versioned by its content so it can be cached for a year.
const CSS: &str = include_str!("portal.css");

fn css_path() -> String {
    format!("/assets/portal-{}.css", &blake3::hash(CSS.as_bytes()).to_hex()[..12])
}

/// The pages. `/datasets/{id}` also answers `{id}.jsonld`, `.ttl` and `.rdf` (DCAT-AP).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/datasets", get(search))
        .route("/datasets/{file}", get(dataset))
        .route("/datasets/{id}/chart.svg", get(chart_svg))
        .route("/organizations/{id}", get(organization))
        .route("/assets/{file}", get(asset))
}

/// Query parameters as pairs, for the pages (which keep the whole state in the URL).
fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// The current URL with `key` set to `value` (or removed when `None`).
fn with(path: &str, pairs: &[(String, String)], key: &str, value: Option<&str>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(k, _)| k != key) {
        s.append_pair(k, v);
    }
    if let Some(v) = value {
        s.append_pair(key, v);
    }
    let q = s.finish();
    if q.is_empty() { path.to_owned() } else { format!("{path}?{q}") }
}

fn page(lang: Lang, path: &str, pairs: &[(String, String)], title: &str, head: Markup, body: Markup) -> Response {
    let other = lang.other();
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t(lang, "site")) }
                link rel="stylesheet" href=(css_path());
                (head)
            }
            body {
                header.site {
                    a.brand href=(with("/", pairs, "lang", lang.param())) { (t(lang, "site")) }
                    form.search action="/datasets" method="get" role="search" {
                        @if let Some(l) = lang.param() { input type="hidden" name="lang" value=(l); }
                        label.visually-hidden for="q" { (t(lang, "search")) }
                        input #q type="search" name="q" value=(param(pairs, "q").unwrap_or_default())
                            placeholder=(t(lang, "search_placeholder")) list="suggestions" autocomplete="off";
                        datalist #suggestions {}
                        button type="submit" { (t(lang, "search")) }
                    }
                    a.lang href=(with(path, pairs, "lang", Some(other.code()))) hreflang=(other.code()) lang=(other.code()) {
                        (t(other, "language_name"))
                    }
                }
                main { (body) }
                footer.site {
                    a href="/api/docs" { (t(lang, "api")) } " · "
                    a href="/catalog.ttl" { "DCAT-AP" } " · "
                    a href="/api/3/action/status_show" { "CKAN API" }
                }
                script { (PreEscaped(SUGGEST_JS)) }
            }
        }
    };
    let mut res = Html(markup.into_string()).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// Search-box suggestions from `/api/v1/suggest`, as progressive enhancement.
const SUGGEST_JS: &str = r#"(function(){var q=document.getElementById('q'),l=document.getElementById('suggestions');if(!q||!l||!window.fetch)return;var t;q.addEventListener('input',function(){clearTimeout(t);t=setTimeout(function(){if(q.value.length<2)return;fetch('/api/v1/suggest?q='+encodeURIComponent(q.value)).then(function(r){return r.json()}).then(function(s){l.innerHTML='';s.titles.forEach(function(x){var o=document.createElement('option');o.value=x.title;l.appendChild(o)});s.terms.forEach(function(x){var o=document.createElement('option');o.value=x;l.appendChild(o)})}).catch(function(){})},120)})})();"#;

fn lang_of(pairs: &[(String, String)]) -> Lang {
    Lang::parse(param(pairs, "lang"))
}

/// The title in the reader's language, falling back to the other.
fn title_in<'a>(lang: Lang, mn: &'a str, en: Option<&'a str>) -> &'a str {
    match (lang, en.filter(|e| !e.is_empty())) {
        (Lang::En, Some(en)) => en,
        _ if mn.is_empty() => en.unwrap_or_default(),
        _ => mn,
    }
}

async fn home(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let catalog = state.store.catalog();
    let totals = catalog.totals()?;
    let mut recent = catalog.datasets()?;
    recent.sort_by_key(|d| std::cmp::Reverse(d.updated_at));
    let orgs = catalog.organizations()?;
    let body = html! {
        section.hero {
            h1 { (t(lang, "tagline")) }
            p.counts {
                strong { (totals.datasets) } " " (t(lang, "datasets")) " · "
                strong { (totals.organizations) } " " (t(lang, "organizations")) " · "
                strong { (totals.rows) } " " (t(lang, "rows"))
            }
        }
        section {
            h2 { (t(lang, "recent")) }
            ul.cards {
                @for d in recent.iter().take(8) {
                    li { (card(lang, d, &pairs)) }
                }
            }
        }
        section {
            h2 { (t(lang, "organizations")) }
            ul.orgs {
                @for o in &orgs {
                    li { a href=(with(&format!("/organizations/{}", o.id), &pairs, "q", None)) { (title_in(lang, &o.title, o.title_en.as_deref())) } }
                }
            }
        }
    };
    Ok(page(lang, "/", &pairs, t(lang, "tagline"), html! {}, body))
}

fn card(lang: Lang, d: &Dataset, pairs: &[(String, String)]) -> Markup {
    let m = &d.meta;
    let href = with(&format!("/datasets/{}", m.id), pairs, "q", None);
    html! {
        a href=(href) { (title_in(lang, &m.title, m.title_en.as_deref())) }
        p.meta { (m.organization) " · " (d.updated_at.format("%Y-%m-%d")) }
    }
}

async fn search(State(state): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
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
            _ => search_index::Sort::Relevance,
        },
        offset: (page_no - 1) * per_page,
        limit: per_page,
    };
    let found = crate::api::catalog::run_search(&state, query).await?;
    let facet = |name: &str, key: &str, values: &[search_index::FacetCount]| {
        html! {
            @if !values.is_empty() {
                section.facet {
                    h3 { (t(lang, name)) }
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
    let body = html! {
        div.search-layout {
            aside.facets aria-label=(t(lang, "filters")) {
                (facet("organization", "organization", &found.facets.organization))
                (facet("tag", "tag", &found.facets.tag))
                (facet("format", "format", &found.facets.format))
                (facet("license", "license", &found.facets.license))
                @if let (Some(first), Some(last)) = (found.facets.year.first(), found.facets.year.last()) {
                    section.facet {
                        h3 { (t(lang, "years")) }
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
                p.total { (found.total) " " (t(lang, "results")) }
                nav.sort aria-label=(t(lang, "sort")) {
                    @for (key, label) in [("relevance", "sort_relevance"), ("updated", "sort_updated"), ("title", "sort_title")] {
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
    let title = param(&pairs, "q").unwrap_or(t(lang, "search")).to_owned();
    Ok(page(lang, "/datasets", &pairs, &title, html! {}, body))
}

/// What a dataset URL asks to see.
struct View {
    /// The table: the first unless `table=`.
    table: String,
    /// The chart's `chart.*` parameters.
    chart: Vec<(String, String)>,
    /// The rest, in the rows API's syntax: filters, `order`, `cursor`.
    filters: Vec<(String, String)>,
}

fn view(pairs: &[(String, String)], d: &Dataset) -> View {
    let table = param(pairs, "table")
        .map(str::to_owned)
        .or_else(|| d.tables.first().map(|t| t.name.clone()))
        .unwrap_or_default();
    let (chart, filters) = pairs
        .iter()
        .filter(|(k, v)| !["lang", "table", "q"].contains(&k.as_str()) && !v.is_empty())
        .cloned()
        .partition(|(k, _)| k.starts_with("chart."));
    View { table, chart, filters }
}

async fn dataset(
    state: State<AppState>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if crate::api::linked::is_rdf(&file) {
        return crate::api::linked::dataset(state, Path(file), headers).await;
    }
    let State(state) = state;
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let catalog = state.store.catalog();
    let d = catalog.dataset(&file)?;
    let org = catalog.organization(&d.meta.organization).ok();
    let base = base_url(&state, &headers);
    let ld = crate::api::linked::schema_org(&base, &d, org.as_ref()).to_string().replace("</", "<\\/");
    let m = &d.meta;
    // The preview: one table (the first unless `table=`), filtered and ordered by the rows
    // API's own parameters, paged by its cursor, so it reaches any row of any table.
    let View { table: selected, chart: chart_pairs, filters } = view(&pairs, &d);
    let (preview_result, chart_result) = if d.tables.iter().any(|t| t.name == selected) {
        let raw = {
            let mut raw = form_urlencoded::Serializer::new(String::new());
            raw.extend_pairs(filters.iter().filter(|(k, _)| k != "limit"));
            raw.append_pair("limit", "20");
            raw.finish()
        };
        let page = crate::api::rows::page_of(&state, &m.id, &selected, &raw, crate::engine::task::PageEncoding::Values)
            .await
            .map_err(|e| e.detail);
        let chart =
            crate::api::rows::chart_of(&state, &m.id, &selected, &raw, &chart_pairs).await.map_err(|e| e.detail);
        (Some(page), chart.transpose())
    } else {
        (None, None)
    };
    let report = d
        .tables
        .iter()
        .find(|t| t.name == selected)
        .and_then(|t| catalog.report(&m.id, &t.name, t.latest().version).ok());
    let title = title_in(lang, &m.title, m.title_en.as_deref()).to_owned();
    let description = match (lang, m.description_en.as_deref().filter(|s| !s.is_empty())) {
        (Lang::En, Some(en)) => en,
        _ => m.description.as_str(),
    };
    let body = html! {
        article.dataset {
            h1 { (title) }
            p.meta {
                a href=(with(&format!("/organizations/{}", m.organization), &pairs, "q", None)) {
                    (org.as_ref().map_or(m.organization.as_str(), |o| title_in(lang, &o.title, o.title_en.as_deref())))
                }
                " · " (t(lang, "license")) ": " (m.license)
                " · " (t(lang, "updated")) ": " (d.updated_at.format("%Y-%m-%d"))
                @if let Some(source) = m.source.as_deref().filter(|s| s.starts_with("https://") || s.starts_with("http://")) {
                    " · " a href=(source) rel="nofollow" { (t(lang, "source")) }
                }
            }
            @if !m.tags.is_empty() {
                p.tags { @for tag in &m.tags { a href=(with("/datasets", &[("lang".to_owned(), lang.code().to_owned())], "tag", Some(tag))) { (tag) } " " } }
            }
            @if !description.is_empty() { p { (description) } }
            @for table in &d.tables {
                @let v = table.latest();
                section.table {
                    h2 { (table.title) }
                    p.meta { (t(lang, "version")) " " (v.version) " · " (v.row_count) " " (t(lang, "rows")) }
                    div.scroll { table.columns {
                        caption { (t(lang, "columns")) }
                        thead { tr {
                            th scope="col" { (t(lang, "column")) }
                            th scope="col" { (t(lang, "type")) }
                            th scope="col" { (t(lang, "range")) }
                            th scope="col" { (t(lang, "distribution")) }
                        } }
                        tbody {
                            @for c in &v.columns {
                                tr {
                                    th scope="row" { (c.label) br; code { (c.name) } }
                                    td { (c.kind.to_string()) }
                                    td {
                                        @if let (Some(lo), Some(hi)) = (&c.stats.min, &c.stats.max) { (plain(lo)) " – " (plain(hi)) }
                                        br;
                                        small { (c.stats.distinct_count) " " (t(lang, "distinct"))
                                            @if c.stats.null_count > 0 { " · " (c.stats.null_count) " " (t(lang, "empty")) } }
                                    }
                                    td { (distribution(lang, c)) }
                                }
                            }
                        }
                    } }
                    details.versions {
                        summary { (t(lang, "versions")) " (" (table.versions.len()) ")" }
                        ol reversed {
                            @for ver in table.versions.iter().rev() {
                                li {
                                    a href=(format!("/api/v1/datasets/{}/tables/{}/data.parquet?version={}", m.id, table.name, ver.version)) { (t(lang, "version")) " " (ver.version) }
                                    " · " (ver.created_at.format("%Y-%m-%d")) " · " (ver.row_count) " " (t(lang, "rows"))
                                    " · " (ver.source.file_name) " (" (ver.source.format) ", " (ver.source.encoding) ")"
                                    @if let Some(c) = &ver.changes {
                                        " · +" (c.rows_added) " / −" (c.rows_removed) " " (t(lang, "rows"))
                                        @if !c.columns_added.is_empty() { "; " (t(lang, "columns_added")) ": " (c.columns_added.join(", ")) }
                                        @if !c.columns_removed.is_empty() { "; " (t(lang, "columns_removed")) ": " (c.columns_removed.join(", ")) }
                                    }
                                    " · " a href=(format!("/api/v1/datasets/{}/tables/{}/versions/{}/report", m.id, table.name, ver.version)) { (t(lang, "quality_report")) }
                                }
                            }
                        }
                    }
                    @if table.name == selected {
                        @if let Some(report) = &report { (quality(lang, report)) }
                        (preview(lang, &base, &m.id, table, &filters, &preview_result, &pairs))
                        (chart_builder(lang, &m.id, table, &filters, &chart_pairs, &chart_result))
                    } @else {
                        p { a href=(with(&format!("/datasets/{}", m.id), &[("lang".to_owned(), lang.code().to_owned())], "table", Some(&table.name))) { (t(lang, "preview")) } }
                    }
                }
            }
            section.cite {
                h2 { (t(lang, "cite")) }
                @let publisher = org.as_ref().map_or(m.organization.as_str(), |o| o.title.as_str());
                @let versions: Vec<String> = d.tables.iter().map(|t| format!("{} v{}", t.name, t.latest().version)).collect();
                p { (publisher) " (" (d.updated_at.format("%Y")) "). " em { (m.title) } ". " (versions.join(", ")) ". " (base) "/datasets/" (m.id) " (" (d.updated_at.format("%Y-%m-%d")) ")." }
                pre.bibtex { code {
                    "@misc{" (m.id.replace('-', "_")) "_" (d.updated_at.format("%Y")) ",\n"
                    "  author = {" (publisher) "},\n"
                    "  title = {" (m.title) "},\n"
                    "  year = {" (d.updated_at.format("%Y")) "},\n"
                    "  note = {" (versions.join(", ")) "},\n"
                    "  url = {" (base) "/datasets/" (m.id) "}\n}"
                } }
            }
        }
    };
    let head = html! { script type="application/ld+json" { (PreEscaped(ld)) } };
    Ok(page(lang, &format!("/datasets/{}", m.id), &pairs, &title, head, body))
}

/// A page of a table's rows with its filters, downloads of the filtered view, a next-page
/// link by cursor, and code that fetches the same rows.
fn preview(
    lang: Lang,
    base: &str,
    id: &str,
    table: &opendata_datasets::Table,
    filters: &[(String, String)],
    result: &Option<Result<crate::api::rows::Page, String>>,
    pairs: &[(String, String)],
) -> Markup {
    let path = format!("/datasets/{id}");
    let v = table.latest();
    let query: String = {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.extend_pairs(filters.iter().filter(|(k, _)| !["cursor", "limit", "offset"].contains(&k.as_str())));
        q.finish()
    };
    let download = |ext: &str| {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("/api/v1/datasets/{id}/tables/{}/data.{ext}?version={}{sep}{query}", table.name, v.version)
    };
    let rows_url = format!("{base}/api/v1/datasets/{id}/tables/{}/rows?{query}", table.name);
    let csv_url = format!("{base}{}", download("csv"));
    let parquet_url = format!("{base}{}", download("parquet"));
    html! {
        section.preview {
            h3 { (t(lang, "preview")) }
            form method="get" action=(path) {
                input type="hidden" name="table" value=(table.name);
                @if let Some(l) = lang.param() { input type="hidden" name="lang" value=(l); }
                // Filtering keeps the chart, which then draws the filtered rows.
                @for (k, v) in pairs.iter().filter(|(k, _)| k.starts_with("chart.")) { input type="hidden" name=(k) value=(v); }
                details open[!query.is_empty()] {
                    summary { (t(lang, "filters")) }
                    div.fields {
                        @for c in v.columns.iter().take(12) {
                            label { (c.label) " " input type="text" name=(c.name) value=(param(filters, &c.name).unwrap_or_default()); }
                        }
                        label { (t(lang, "sort")) " "
                            select name="order" {
                                option value="" { "—" }
                                @for c in &v.columns {
                                    @for (dir, arrow) in [("", "↑"), ("-", "↓")] {
                                        @let value = format!("{dir}{}", c.name);
                                        option value=(value) selected[param(filters, "order") == Some(value.as_str())] { (c.label) " " (arrow) }
                                    }
                                }
                            }
                        }
                        button type="submit" { (t(lang, "apply")) }
                    }
                }
            }
            p.downloads {
                (t(lang, "download"))
                // The rows each file holds: the filtered view's when a filter is on.
                @let rows = match result { Some(Ok(page)) => page.total, _ => None }.unwrap_or(v.row_count);
                " (" (rows) " " (t(lang, "rows")) "): "
                @for ext in ["csv", "parquet", "xlsx", "ndjson"] {
                    a download href=(download(ext)) {
                        (ext.to_uppercase())
                        // The stored file's size is known; other encodings are made on the fly.
                        @if ext == "parquet" && query.is_empty() { " (" (human_bytes(v.byte_size)) ")" }
                    }
                    " "
                }
            }
            @match result {
                Some(Ok(page)) => {
                    p.total { @if let Some(n) = page.total { (n) " " (t(lang, "rows")) } }
                    div.scroll { table.rows {
                        thead { tr { @for c in &page.request.select { th scope="col" { (c) } } } }
                        tbody {
                            @if let crate::engine::PageBody::Values(rows) = &page.body {
                                @for row in rows {
                                    tr { @for c in &page.request.select { td { (match row.get(c) { Some(serde_json::Value::String(s)) => s.clone(), Some(serde_json::Value::Null) | None => String::new(), Some(other) => other.to_string() }) } } }
                                }
                            }
                        }
                    } }
                    @if let Some(next) = &page.next {
                        p { a rel="next" href=(with(&path, pairs, "cursor", Some(next))) { (t(lang, "next_page")) " →" } }
                    }
                }
                Some(Err(problem)) => p.error role="alert" { (problem) },
                None => {},
            }
            details.snippets {
                summary { (t(lang, "api_snippets")) }
                pre { code { "curl '" (rows_url) "'" } }
                pre { code { "import pandas as pd\ndf = pd.read_csv('" (csv_url) "')" } }
                pre { code { "import polars as pl\ndf = pl.read_parquet('" (parquet_url) "')" } }
                pre { code { "df <- read.csv('" (csv_url) "')" } }
                pre { code { "SELECT * FROM read_parquet('" (parquet_url) "');  -- DuckDB" } }
            }
        }
    }
}

/// A column's distribution from the catalog, as a small bar chart: a histogram of a
/// number or date column, or the rows per value of a text column, most common first.
fn distribution(lang: Lang, c: &opendata_datasets::Column) -> Markup {
    let counts = &c.stats.counts;
    if counts.is_empty() {
        return html! {};
    }
    let bars: Vec<(String, u64)> = if c.stats.values.len() == counts.len() {
        let mut v: Vec<(String, u64)> = c.stats.values.iter().cloned().zip(counts.iter().copied()).collect();
        v.sort_by_key(|b| std::cmp::Reverse(b.1));
        v.truncate(20);
        v
    } else {
        let (lo, hi) = (c.stats.min.as_ref().map(plain), c.stats.max.as_ref().map(plain));
        counts
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let edge = match (i, &lo, &hi) {
                    (0, Some(lo), _) => format!("{lo} …"),
                    (i, _, Some(hi)) if i + 1 == counts.len() => format!("… {hi}"),
                    _ => String::new(),
                };
                (edge, *n)
            })
            .collect()
    };
    let top = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let width = 120.0 / bars.len() as f64;
    let summary = match bars.first() {
        Some((value, n)) if !c.stats.values.is_empty() => format!("{}: {value} ({n})", t(lang, "most_common")),
        _ => format!("{} {}", t(lang, "histogram"), c.label),
    };
    html! {
        svg.spark viewBox="0 0 120 28" width="120" height="28" role="img" aria-label=(summary) {
            title { (summary) }
            @for (i, (label, n)) in bars.iter().enumerate() {
                @let h = (*n as f64 / top * 26.0).max(if *n > 0 { 1.0 } else { 0.0 });
                rect x=(format!("{:.1}", i as f64 * width)) y=(format!("{:.1}", 28.0 - h)) width=(format!("{:.1}", (width - 1.0).max(0.5))) height=(format!("{h:.1}")) {
                    title { @if !label.is_empty() { (label) ": " } (n) }
                }
            }
        }
    }
}

/// A size as a reader says it: 840 KB, 12.5 MB.
fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / f64::from(1 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1 << 20)),
        n => format!("{} KB", n.div_ceil(1024)),
    }
}

/// A statistic from the catalog as plain text.
fn plain(v: &serde_json::Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// What the ingest of the latest version found: rows kept and left out, values rejected,
/// how the file was read, and what the publisher may want to fix.
fn quality(lang: Lang, r: &opendata_datasets::QualityReport) -> Markup {
    let d = &r.decisions;
    html! {
        details.quality {
            summary {
                (t(lang, "quality")) ": " (r.rows_kept) " / " (r.rows_read) " " (t(lang, "rows_kept"))
                @if r.rows_rejected > 0 { " · " (r.rows_rejected) " " (t(lang, "rows_rejected")) }
                @if !r.warnings.is_empty() { " · " (r.warnings.len()) " " (t(lang, "warnings")) }
            }
            dl {
                dt { (t(lang, "read_as")) }
                dd { (d.format) ", " (d.encoding) @if let Some(delim) = &d.delimiter { ", «" (delim) "»" } @if let Some(part) = &d.part { ", " (part) } }
                dt { (t(lang, "layout")) } dd { (d.layout) }
                @if r.rows_dropped > 0 { dt { (t(lang, "rows_dropped")) } dd { (r.rows_dropped) } }
                @if !d.columns_dropped.is_empty() { dt { (t(lang, "columns_removed")) } dd { (d.columns_dropped.join(", ")) } }
            }
            @if !r.rejected.is_empty() {
                table {
                    caption { (t(lang, "rows_rejected")) }
                    thead { tr { th scope="col" { "#" } th scope="col" { (t(lang, "column")) } th scope="col" { (t(lang, "value")) } th scope="col" { (t(lang, "reason")) } } }
                    tbody { @for x in r.rejected.iter().take(10) { tr { td { (x.row) } td { (x.column) } td { code { (x.value) } } td { (x.reason) } } } }
                }
            }
            @if !r.warnings.is_empty() { ul { @for w in &r.warnings { li { (w) } } } }
        }
    }
}

/// The chart builder: x, y, aggregate, group and line or bar, over the filtered rows. The
/// chart is drawn on the server; the form works without script.
fn chart_builder(
    lang: Lang,
    id: &str,
    table: &opendata_datasets::Table,
    filters: &[(String, String)],
    chart_pairs: &[(String, String)],
    result: &Option<Result<(crate::chart::ChartSpec, crate::chart::Chart), String>>,
) -> Markup {
    use crate::chart::{self, Agg};
    let columns = &table.latest().columns;
    let current = |key: &str| param(chart_pairs, key).unwrap_or_default();
    let spec = match result {
        Some(Ok((spec, _))) => Some(spec),
        _ => None,
    };
    let svg_url = spec.map(|spec| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("table", &table.name);
        if let Some(l) = lang.param() {
            q.append_pair("lang", l);
        }
        q.extend_pairs(filters);
        q.extend_pairs(spec.pairs());
        format!("/datasets/{id}/chart.svg?{}", q.finish())
    });
    html! {
        section.chart-builder {
            h3 { (t(lang, "chart")) }
            form method="get" action=(format!("/datasets/{id}")) {
                input type="hidden" name="table" value=(table.name);
                @if let Some(l) = lang.param() { input type="hidden" name="lang" value=(l); }
                @for (k, v) in filters { input type="hidden" name=(k) value=(v); }
                label { (t(lang, "chart_x")) " "
                    select name="chart.x" required {
                        @for c in chart::x_columns(columns) { option value=(c.name) selected[current("chart.x") == c.name] { (c.label) } }
                    }
                }
                label { (t(lang, "chart_y")) " "
                    select name="chart.y" {
                        option value="" { "— " (t(lang, "rows")) " —" }
                        @for c in chart::y_columns(columns) { option value=(c.name) selected[current("chart.y") == c.name] { (c.label) } }
                    }
                }
                label { (t(lang, "chart_agg")) " "
                    select name="chart.agg" {
                        @for (name, agg) in Agg::ALL {
                            option value=(name) selected[spec.map_or(current("chart.agg") == name, |s| s.agg == agg)] { (t(lang, &format!("agg_{name}"))) }
                        }
                    }
                }
                label { (t(lang, "chart_group")) " "
                    select name="chart.group" {
                        option value="" { "—" }
                        @for c in chart::group_columns(columns) { option value=(c.name) selected[current("chart.group") == c.name] { (c.label) } }
                    }
                }
                label { (t(lang, "chart_kind")) " "
                    select name="chart.kind" {
                        option value="line" selected[current("chart.kind") != "bar"] { (t(lang, "line")) }
                        option value="bar" selected[current("chart.kind") == "bar"] { (t(lang, "bar")) }
                    }
                }
                button type="submit" { (t(lang, "draw")) }
            }
            @match result {
                Some(Ok((spec, chart))) => {
                    figure {
                        (chart.svg(spec.kind, &chart_title(lang, columns, spec)))
                        figcaption {
                            (chart_title(lang, columns, spec))
                            @if chart.hidden_series > 0 { " · " (chart.hidden_series) " " (t(lang, "hidden_series")) }
                            @if let Some(url) = &svg_url { " · " a download href=(url) { "SVG" } }
                        }
                    }
                }
                Some(Err(problem)) => p.error role="alert" { (problem) },
                None => {},
            }
        }
    }
}

/// "Mean of value by year, per aimag", in the reader's language.
fn chart_title(lang: Lang, columns: &[opendata_datasets::Column], spec: &crate::chart::ChartSpec) -> String {
    let label = |name: &str| columns.iter().find(|c| c.name == name).map_or(name, |c| c.label.as_str()).to_owned();
    let what = match &spec.y {
        Some(y) if spec.agg != crate::chart::Agg::Count => {
            format!("{} {}", t(lang, &format!("agg_{}", spec.agg.name())), label(y))
        }
        _ => t(lang, "rows").to_owned(),
    };
    let mut title = format!("{what} · {}", label(&spec.x));
    if let Some(g) = &spec.group {
        title.push_str(&format!(" · {}", label(g)));
    }
    title
}

/// A chart as a standalone SVG file, to embed or download: the dataset page's chart
/// builder under the same parameters.
async fn chart_svg(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let d = state.store.catalog().dataset(&id)?;
    let View { table, chart: chart_pairs, filters } = view(&pairs, &d);
    let raw = {
        let mut raw = form_urlencoded::Serializer::new(String::new());
        raw.extend_pairs(&filters);
        raw.finish()
    };
    let Some((spec, chart)) = crate::api::rows::chart_of(&state, &id, &table, &raw, &chart_pairs).await? else {
        return Err(crate::error::ApiError::new(
            crate::error::Code::InvalidParameter,
            "`chart.x` names the column along the x axis",
        ));
    };
    let columns = &d.tables.iter().find(|t| t.name == table).map(|t| t.latest().columns.clone()).unwrap_or_default();
    let svg = chart.svg(spec.kind, &chart_title(lang, columns, &spec)).into_string();
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        svg,
    )
        .into_response())
}

async fn organization(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let catalog = state.store.catalog();
    let org = catalog.organization(&id)?;
    let datasets = catalog.datasets_of(&id)?;
    let title = title_in(lang, &org.title, org.title_en.as_deref()).to_owned();
    let body = html! {
        h1 { (title) }
        @if !org.description.is_empty() { p { (org.description) } }
        ul.cards { @for d in &datasets { li { (card(lang, d, &pairs)) } } }
    };
    Ok(page(lang, &format!("/organizations/{id}"), &pairs, &title, html! {}, body))
}

async fn asset(Path(file): Path<String>) -> Response {
    if format!("/assets/{file}") != css_path() {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            // The name changes with the content: cache it for good.
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        ],
        CSS,
    )
        .into_response()
}
