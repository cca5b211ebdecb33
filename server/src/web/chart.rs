//! The chart builder on the dataset page, and the same chart as `/datasets/{id}/chart.svg`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::i18n::{Lang, t};
use super::layout::{View, lang_of, pairs, param, view};
use crate::error::ApiResult;
use crate::state::AppState;

/// The chart builder: x, y, aggregate, group and line or bar, over the filtered rows. The
/// chart is drawn on the server; the form works without script.
pub(super) fn chart_builder(
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
pub(super) fn chart_title(lang: Lang, columns: &[opendata_datasets::Column], spec: &crate::chart::ChartSpec) -> String {
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
pub(super) async fn chart_svg(
    State(state): State<AppState>,
    Path(id): Path<String>,
    reader: crate::reader::Reader,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let d = reader.dataset(state.store.catalog(), &id)?;
    let View { table, chart: chart_pairs, filters } = view(&pairs, &d);
    let raw = {
        let mut raw = form_urlencoded::Serializer::new(String::new());
        raw.extend_pairs(&filters);
        raw.finish()
    };
    let Some((spec, chart)) = crate::api::rows::chart_of(&state, &reader, &id, &table, &raw, &chart_pairs).await?
    else {
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
