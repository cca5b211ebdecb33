//! The dataset page's preview: a table filtered and ordered with the rows API's
//! parameters, paged by cursor, with downloads of that view and code that fetches it.

use maud::{Markup, html};

use super::i18n::{Lang, t};
use super::layout::{human_bytes, param, with};

/// A page of a table's rows with its filters, downloads of the filtered view, a next-page
/// link by cursor, and code that fetches the same rows.
pub(super) fn preview(
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
                    div.scroll tabindex="0" role="region" aria-label=(t(lang, "preview")) { table.rows {
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
