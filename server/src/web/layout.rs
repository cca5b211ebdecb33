//! What every page shares: the frame around it (header, search box, language toggle,
//! footer), the query string it keeps its state in, and titles in the reader's language.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use opendata_datasets::Dataset;

use super::css_path;
use super::i18n::{Lang, t};

/// Query parameters as pairs, for the pages (which keep the whole state in the URL).
pub(super) fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

pub(super) fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// The current URL with `key` set to `value` (or removed when `None`).
pub(super) fn with(path: &str, pairs: &[(String, String)], key: &str, value: Option<&str>) -> String {
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

pub(super) fn page(
    lang: Lang,
    path: &str,
    pairs: &[(String, String)],
    title: &str,
    head: Markup,
    body: Markup,
) -> Response {
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
                    a href=(with("/popular", pairs, "lang", lang.param())) { (t(lang, "most_used")) } " · "
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

pub(super) fn lang_of(pairs: &[(String, String)]) -> Lang {
    Lang::parse(param(pairs, "lang"))
}

/// The title in the reader's language, falling back to the other.
pub(super) fn title_in<'a>(lang: Lang, mn: &'a str, en: Option<&'a str>) -> &'a str {
    match (lang, en.filter(|e| !e.is_empty())) {
        (Lang::En, Some(en)) => en,
        _ if mn.is_empty() => en.unwrap_or_default(),
        _ => mn,
    }
}

pub(super) fn card(lang: Lang, d: &Dataset, pairs: &[(String, String)]) -> Markup {
    let m = &d.meta;
    let href = with(&format!("/datasets/{}", m.id), pairs, "q", None);
    html! {
        a href=(href) { (title_in(lang, &m.title, m.title_en.as_deref())) }
        p.meta { (m.organization) " · " (d.updated_at.format("%Y-%m-%d")) }
    }
}

/// What a dataset URL asks to see.
pub(super) struct View {
    /// The table: the first unless `table=`.
    pub(super) table: String,
    /// The chart's `chart.*` parameters.
    pub(super) chart: Vec<(String, String)>,
    /// The rest, in the rows API's syntax: filters, `order`, `cursor`.
    pub(super) filters: Vec<(String, String)>,
}

pub(super) fn view(pairs: &[(String, String)], d: &Dataset) -> View {
    let table = param(pairs, "table")
        .map(str::to_owned)
        .or_else(|| d.tables.first().map(|t| t.name.clone()))
        .unwrap_or_default();
    let (chart, filters) = pairs
        .iter()
        .filter(|(k, v)| !["lang", "table", "q", "map"].contains(&k.as_str()) && !v.is_empty())
        .cloned()
        .partition(|(k, _)| k.starts_with("chart."));
    View { table, chart, filters }
}

/// A size as a reader says it: 840 KB, 12.5 MB.
pub(super) fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GB", n as f64 / f64::from(1 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / f64::from(1 << 20)),
        n => format!("{} KB", n.div_ceil(1024)),
    }
}
