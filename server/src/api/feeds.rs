//! Atom feeds of new versions, so that a reader follows a dataset, a publisher or the whole
//! portal in any feed reader: `/feeds/datasets.atom`, `/feeds/organizations/{id}.atom` and
//! `/datasets/{id}.atom`. Each entry is one published version of one table, with what
//! changed since the version before and its CSV as an enclosure.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use opendata_datasets::{Dataset, Table, TableVersion};

use super::base_url;
use super::rdf::{stamp, xml};
use crate::error::{ApiError, ApiResult, Code};
use crate::reader::Reader;
use crate::state::AppState;

/// Entries of a feed: the newest versions; older ones are in the catalog.
const ENTRIES: usize = 50;

/// `/feeds/datasets.atom`: new versions across the portal.
pub async fn portal(State(state): State<AppState>, reader: Reader, headers: HeaderMap) -> ApiResult<Response> {
    let datasets = reader.datasets(state.store.catalog())?;
    let base = base_url(&state, &headers);
    Ok(feed(&state, &base, "/feeds/datasets.atom", "New versions", &datasets))
}

/// `/feeds/organizations/{id}.atom`: one publisher's new versions.
pub async fn organization(
    State(state): State<AppState>,
    Path(file): Path<String>,
    reader: Reader,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some(id) = file.strip_suffix(".atom") else {
        return Err(ApiError::new(Code::RouteNotFound, format!("no `/feeds/organizations/{file}`; try {file}.atom")));
    };
    let catalog = state.store.catalog();
    let org = catalog.organization(id)?;
    let datasets: Vec<_> = reader.datasets(catalog)?.into_iter().filter(|d| d.meta.organization == org.id).collect();
    let base = base_url(&state, &headers);
    Ok(feed(&state, &base, &format!("/feeds/organizations/{id}.atom"), &org.title, &datasets))
}

/// `/datasets/{id}.atom`: one dataset's new versions (answered by the dataset page's route).
pub async fn dataset(state: &AppState, reader: &Reader, id: &str, headers: &HeaderMap) -> ApiResult<Response> {
    let d = reader.dataset(state.store.catalog(), id)?;
    let base = base_url(state, headers);
    Ok(feed(state, &base, &format!("/datasets/{id}.atom"), &d.meta.title, std::slice::from_ref(&d)))
}

fn feed(state: &AppState, base: &str, path: &str, title: &str, datasets: &[std::sync::Arc<Dataset>]) -> Response {
    // Entries name their publisher as readers know it; an organization the catalog cannot
    // list goes by its id.
    let publishers: HashMap<String, String> =
        state.store.catalog().organizations().unwrap_or_default().into_iter().map(|o| (o.id, o.title)).collect();
    let mut versions: Vec<(&Dataset, &Table, &TableVersion)> = datasets
        .iter()
        .flat_map(|d| d.tables.iter().flat_map(move |t| t.versions.iter().map(move |v| (d.as_ref(), t, v))))
        .collect();
    versions.sort_by(|a, b| b.2.created_at.cmp(&a.2.created_at).then_with(|| a.0.meta.id.cmp(&b.0.meta.id)));
    versions.truncate(ENTRIES);
    let updated = versions.first().map_or_else(Utc::now, |v| v.2.created_at);
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    let _ = write!(
        out,
        "<id>{base}{path}</id>\n<title>{}</title>\n<updated>{}</updated>\n<link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}/\"/>\n",
        xml(title),
        stamp(updated),
        xml(&format!("{base}{path}")),
        xml(base),
    );
    for (d, t, v) in versions {
        let publisher = publishers.get(&d.meta.organization).unwrap_or(&d.meta.organization);
        entry(&mut out, base, publisher, d, t, v);
    }
    out.push_str("</feed>\n");
    ([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], out).into_response()
}

fn entry(out: &mut String, base: &str, publisher: &str, d: &Dataset, t: &Table, v: &TableVersion) {
    let id = &d.meta.id;
    let page = format!("{base}/datasets/{id}?table={}", t.name);
    let csv = format!("{base}/api/v1/datasets/{id}/tables/{}/data.csv?version={}", t.name, v.version);
    let mut summary = format!("{} rows", v.row_count);
    if let Some(c) = &v.changes {
        let _ = write!(summary, "; {} added, {} removed since version {}", c.rows_added, c.rows_removed, c.previous);
    }
    let _ = write!(
        out,
        "<entry>\n<id>{}</id>\n<title>{}</title>\n<updated>{}</updated>\n<author><name>{}</name></author>\n<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n<link rel=\"enclosure\" type=\"text/csv\" href=\"{}\"/>\n<summary>{}</summary>\n</entry>\n",
        xml(&format!("{base}/datasets/{id}/tables/{}/versions/{}", t.name, v.version)),
        xml(&format!("{} — {}, version {}", d.meta.title, t.title, v.version)),
        stamp(v.created_at),
        xml(publisher),
        xml(&page),
        xml(&csv),
        xml(&summary),
    );
}
