//! `/datasets/{id}/embed`: a table preview and, with `chart.*` parameters, a chart, in a
//! minimal page that any site may frame, so a journalist can put live figures in an
//! article. It takes the dataset page's parameters (`table`, the rows API's filters and
//! `order`, `chart.*`, `lang`; `map=true` for the map of a table with a place) and names
//! its source, which opens in a new tab.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::chart::chart_title;
use super::css_path;
use super::i18n::t;
use super::layout::{View, lang_of, pairs, title_in, view};
use crate::api::base_url;
use crate::error::ApiResult;
use crate::reader::Reader;
use crate::state::AppState;

/// Rows an embedded table shows: what fits an article.
const ROWS: usize = 20;

pub(super) async fn embed(
    State(state): State<AppState>,
    Path(id): Path<String>,
    reader: Reader,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let d = reader.dataset(state.store.catalog(), &id)?;
    let View { table, chart: chart_pairs, filters } = view(&pairs, &d);
    let t_meta = d.table(&table)?;
    let raw = {
        let mut raw = form_urlencoded::Serializer::new(String::new());
        raw.extend_pairs(filters.iter().filter(|(k, _)| k != "limit" && k != "cursor"));
        raw.append_pair("limit", &ROWS.to_string());
        raw.finish()
    };
    let chart = if chart_pairs.is_empty() {
        None
    } else {
        crate::api::rows::chart_of(&state, &reader, &id, &table, &raw, &chart_pairs).await?
    };
    let page = crate::api::rows::page_of(&state, &reader, &id, &table, &raw, crate::engine::task::PageEncoding::Values)
        .await?;
    let rows = page.body.into_rows();
    let columns: Vec<&opendata_datasets::Column> =
        page.request.select.iter().filter_map(|n| page.version.columns.iter().find(|c| &c.name == n)).collect();
    let base = base_url(&state, &headers);
    // `map=true` adds the map of the same rows, for a table with a place.
    let map = (super::layout::param(&pairs, "map") == Some("true"))
        .then(|| super::map::section(lang, &base, &id, t_meta, &filters))
        .flatten();
    let title = title_in(lang, &d.meta.title, d.meta.title_en.as_deref());
    let source = format!("{base}/datasets/{id}?table={table}");
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href=(format!("{base}{}", css_path()));
                @if map.is_some() { (super::map::head()) }
            }
            body.embed {
                @if let Some(map) = &map { (map) }
                @if let Some((spec, chart)) = &chart {
                    figure.chart { (chart.svg(spec.kind, &chart_title(lang, &page.version.columns, spec))) }
                }
                (table_of(&columns, &rows))
                p.source {
                    (t(lang, "source")) ": "
                    a href=(source) target="_blank" rel="noopener" { (title) " — " (t_meta.title) }
                    " · " (d.meta.organization) " · " (t(lang, "version")) " " (page.version.version)
                    @if let Some(total) = page.total { " · " (total) " " (t(lang, "rows")) }
                }
            }
        }
    };
    let mut res = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response();
    // The one page other sites may frame: it answers for no one but an anonymous reader's
    // view of public data.
    res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors *"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, no-cache"));
    Ok(res)
}

fn table_of(columns: &[&opendata_datasets::Column], rows: &[serde_json::Map<String, serde_json::Value>]) -> Markup {
    html! {
        table {
            thead { tr { @for c in columns { th scope="col" { (c.label) } } } }
            tbody {
                @for r in rows {
                    tr {
                        @for c in columns {
                            td {
                                @match r.get(&c.name) {
                                    Some(serde_json::Value::String(s)) => (s),
                                    Some(serde_json::Value::Null) | None => "",
                                    Some(v) => (v.to_string()),
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
