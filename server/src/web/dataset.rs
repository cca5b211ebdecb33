//! `/datasets/{id}`: metadata, the column dictionary with distributions, versions,
//! downloads and a citation; the preview and the chart builder are in their own modules.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use maud::{Markup, PreEscaped, html};
use opendata_datasets::geo::Geography;

use super::chart::chart_builder;
use super::i18n::{Lang, t};
use super::layout::{View, lang_of, page, pairs, title_in, view, with};
use super::preview::preview;
use crate::api::base_url;
use crate::error::ApiResult;
use crate::reader::Reader;
use crate::state::AppState;

pub(super) async fn dataset(
    state: State<AppState>,
    Path(file): Path<String>,
    reader: Reader,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(id) = file.strip_suffix(".atom") {
        return crate::api::feeds::dataset(&state.0, &reader, id, &headers).await;
    }
    if crate::api::linked::is_rdf(&file) {
        return crate::api::linked::dataset(state, Path(file), reader, headers).await;
    }
    let State(state) = state;
    let pairs = pairs(raw.as_deref());
    let lang = lang_of(&pairs);
    let catalog = state.store.catalog();
    let d = reader.dataset(catalog, &file)?;
    let org = catalog.organization(&d.meta.organization).ok();
    let base = base_url(&state, &headers);
    let ld = crate::api::linked::schema_org(&base, &d, org.as_ref()).to_string().replace("</", "<\\/");
    let m = &d.meta;
    let usage = crate::api::stats::usage_of(&state, &m.id, super::usage::DAYS)?;
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
        let page = crate::api::rows::page_of(
            &state,
            &reader,
            &m.id,
            &selected,
            &raw,
            crate::engine::task::PageEncoding::Values,
        )
        .await
        .map_err(|e| e.detail);
        let chart = crate::api::rows::chart_of(&state, &reader, &m.id, &selected, &raw, &chart_pairs)
            .await
            .map_err(|e| e.detail);
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
            @if m.private { p.badge { (t(lang, "private_badge")) } }
            @if m.frequency.is_some() || m.temporal.is_some() || m.spatial.is_some() {
                dl.coverage {
                    @if let Some(f) = &m.frequency { dt { (t(lang, "frequency")) } dd { (t(lang, f)) } }
                    @if let Some(v) = &m.temporal { dt { (t(lang, "temporal")) } dd { (v) } }
                    @if let Some(v) = &m.spatial { dt { (t(lang, "spatial")) } dd { (v) } }
                }
            }
            @if !d.resources.is_empty() {
                section.documents {
                    h2 { (t(lang, "documents")) }
                    ul {
                        @for r in &d.resources {
                            li {
                                a href=(crate::api::resources::url_of("", r)) rel=[r.file.is_none().then_some("nofollow")] { (r.title) }
                                " · " (r.format)
                                @if let Some(size) = r.size { " · " (super::layout::human_bytes(size)) }
                                @if !r.description.is_empty() { br; small { (r.description) } }
                            }
                        }
                    }
                }
            }
            @for table in &d.tables {
                @let v = table.latest();
                section.table {
                    h2 { (table.title) }
                    p.meta { (t(lang, "version")) " " (v.version) " · " (v.row_count) " " (t(lang, "rows")) }
                    div.scroll tabindex="0" role="region" aria-label=(format!("{}: {}", table.title, t(lang, "columns"))) { table.columns {
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
                                    @if ver.source.original.is_some() {
                                        " · " a href=(format!("/api/v1/datasets/{}/tables/{}/versions/{}/source", m.id, table.name, ver.version)) download { (t(lang, "original_file")) }
                                    }
                                }
                            }
                        }
                    }
                    @if table.name == selected {
                        @if let Some(report) = &report { (quality(lang, report)) }
                        (preview(lang, &base, &m.id, table, &filters, &preview_result, &pairs))
                        @if let Some(map) = super::map::section(lang, "", &m.id, table, &filters) { (map) }
                        (chart_builder(lang, &m.id, table, &filters, &chart_pairs, &chart_result))
                    } @else {
                        p { a href=(with(&format!("/datasets/{}", m.id), &[("lang".to_owned(), lang.code().to_owned())], "table", Some(&table.name))) { (t(lang, "preview")) } }
                    }
                }
            }
            (super::usage::section(lang, &usage))
            section.cite {
                h2 { (t(lang, "cite")) }
                @let publisher = org.as_ref().map_or(m.organization.as_str(), |o| o.title.as_str());
                @let versions: Vec<String> = d.tables.iter().map(|t| format!("{} v{}", t.name, t.latest().version)).collect();
                p { (publisher) " (" (d.updated_at.format("%Y")) "). " em { (m.title) } ". " (versions.join(", ")) ". " (base) "/datasets/" (m.id) " (" (d.updated_at.format("%Y-%m-%d")) ")." }
                pre.bibtex tabindex="0" aria-label="BibTeX" { code {
                    "@misc{" (m.id.replace('-', "_")) "_" (d.updated_at.format("%Y")) ",\n"
                    "  author = {" (publisher) "},\n"
                    "  title = {" (m.title) "},\n"
                    "  year = {" (d.updated_at.format("%Y")) "},\n"
                    "  note = {" (versions.join(", ")) "},\n"
                    "  url = {" (base) "/datasets/" (m.id) "}\n}"
                } }
            }
            section.embed-code {
                h2 { (t(lang, "embed")) }
                // The preview as it is now (table, filters, chart), for another site's page.
                @let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("table", &selected)
                    .extend_pairs(filters.iter().chain(&chart_pairs))
                    .finish();
                @let src = format!("{base}/datasets/{}/embed?{query}", m.id);
                pre tabindex="0" aria-label="HTML" { code {
                    "<iframe src=\"" (src) "\" width=\"100%\" height=\"480\" title=\"" (title) "\" loading=\"lazy\"></iframe>"
                } }
            }
        }
    };
    let mapped = d.tables.iter().any(|t| t.name == selected && Geography::of(&t.latest().columns).is_some());
    let head = html! {
        @if mapped { (super::map::head()) }
        script type="application/ld+json" { (PreEscaped(ld)) }
        link rel="alternate" type="application/atom+xml" title=(title) href=(format!("/datasets/{}.atom", m.id));
    };
    Ok(page(lang, &format!("/datasets/{}", m.id), &pairs, &title, head, body))
}

/// A column's distribution from the catalog, as a small bar chart: a histogram of a
/// number or date column, or the rows per value of a text column, most common first.
pub(super) fn distribution(lang: Lang, c: &opendata_datasets::Column) -> Markup {
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

/// A statistic from the catalog as plain text.
pub(super) fn plain(v: &serde_json::Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// What the ingest of the latest version found: rows kept and left out, values rejected,
/// how the file was read, and what the publisher may want to fix.
pub(super) fn quality(lang: Lang, r: &opendata_datasets::QualityReport) -> Markup {
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
                @if !d.clustering.is_empty() { dt { (t(lang, "stored_order")) } dd { (d.clustering) } }
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
