//! The catalog in the vocabularies other tools read: DCAT-AP (JSON-LD, Turtle, RDF/XML) for
//! harvesters such as data.europa.eu, schema.org `Dataset` for dataset search engines, and
//! Frictionless Data Packages for validators.
//!
//! DCAT is built once as triples ([`super::dcat`], [`super::rdf`]) and written in the
//! format asked for.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use opendata_datasets::{ColumnType, Dataset, Organization};
use serde_json::{Value, json};

use super::base_url;
use super::dcat::describe;
use super::rdf::*;
use crate::error::{ApiError, ApiResult, Code};
use crate::reader::Reader;
use crate::state::AppState;

/// Catalog pages hold this many datasets; `?page=N` walks them.
const PAGE_SIZE: usize = 100;

#[derive(Clone, Copy)]
enum RdfFormat {
    JsonLd,
    Turtle,
    RdfXml,
}

/// Whether a `/datasets/{file}` names a DCAT-AP serialization rather than a dataset page.
pub(crate) fn is_rdf(file: &str) -> bool {
    RdfFormat::of(file).is_some()
}

impl RdfFormat {
    fn of(name: &str) -> Option<(&str, Self)> {
        [(".jsonld", Self::JsonLd), (".ttl", Self::Turtle), (".rdf", Self::RdfXml)]
            .into_iter()
            .find_map(|(ext, f)| name.strip_suffix(ext).map(|stem| (stem, f)))
    }

    fn respond(self, g: &Graph) -> Response {
        let (kind, body) = match self {
            Self::JsonLd => ("application/ld+json", g.json_ld().to_string()),
            Self::Turtle => ("text/turtle; charset=utf-8", g.turtle()),
            Self::RdfXml => ("application/rdf+xml", g.rdf_xml()),
        };
        ([(header::CONTENT_TYPE, HeaderValue::from_static(kind))], body).into_response()
    }
}

/// `/catalog.jsonld`, `/catalog.ttl`, `/catalog.rdf`: the DCAT-AP catalog, 100 datasets a
/// page (`?page=N`, from 1; `?modified_since=2024-01-01` for harvesting what changed).
pub async fn catalog(
    State(state): State<AppState>,
    reader: Reader,
    uri: axum::http::Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let file = uri.path().trim_start_matches('/').to_owned();
    let Some(("catalog", format)) = RdfFormat::of(&file) else {
        return Err(ApiError::new(Code::RouteNotFound, format!("no `/{file}`; try /catalog.jsonld, .ttl or .rdf")));
    };
    let (mut page, mut since) = (1usize, None);
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "page" => {
                page =
                    v.parse().ok().filter(|&p| p >= 1).ok_or_else(|| {
                        ApiError::new(Code::InvalidParameter, format!("`page` starts at 1, not `{v}`"))
                    })?
            }
            "modified_since" => {
                let day = chrono::NaiveDate::parse_from_str(v.get(..10).unwrap_or(&v), "%Y-%m-%d").map_err(|_| {
                    ApiError::new(Code::InvalidParameter, format!("`modified_since` is a date (YYYY-MM-DD), not `{v}`"))
                })?;
                since = Some(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
            }
            _ => {}
        }
    }
    let base = base_url(&state, &headers);
    let catalog_store = state.store.catalog();
    let orgs = catalog_store.organizations()?;
    let mut datasets = reader.datasets(catalog_store)?;
    datasets.retain(|d| since.is_none_or(|s| d.updated_at >= s));
    datasets.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    let pages = datasets.len().div_ceil(PAGE_SIZE).max(1);
    let mut g = Graph::default();
    let cat = format!("{base}/catalog");
    g.iri(&cat, RDF_TYPE, format!("{DCAT}Catalog"));
    g.text(&cat, &format!("{DCT}title"), "Нээлттэй өгөгдлийн портал", Some("mn"));
    g.text(&cat, &format!("{DCT}title"), "Open data portal", Some("en"));
    g.text(&cat, &format!("{DCT}description"), "Төрийн байгууллагуудын нээлттэй өгөгдөл", Some("mn"));
    g.text(&cat, &format!("{DCT}description"), "Open data published by public agencies", Some("en"));
    g.iri(&cat, &format!("{DCT}publisher"), format!("{base}/#publisher"));
    g.iri(&format!("{base}/#publisher"), RDF_TYPE, format!("{FOAF}Agent"));
    g.text(&format!("{base}/#publisher"), &format!("{FOAF}name"), "opendata", None);
    g.typed_iri(&cat, &format!("{FOAF}homepage"), format!("{base}/"), &format!("{FOAF}Document"));
    if let Some(latest) = datasets.iter().map(|d| d.updated_at).max() {
        g.typed(&cat, &format!("{DCT}modified"), stamp(latest), "dateTime");
    }
    // Paging in the Hydra vocabulary, which DCAT-AP harvesters follow.
    let hydra = "http://www.w3.org/ns/hydra/core#";
    let ext = &file["catalog".len()..];
    let page_url = |n: usize| format!("{base}/catalog{ext}?page={n}");
    let view = page_url(page);
    g.iri(&view, RDF_TYPE, format!("{hydra}PartialCollectionView"));
    g.typed(&view, &format!("{hydra}totalItems"), datasets.len().to_string(), "integer");
    g.iri(&view, &format!("{hydra}first"), page_url(1));
    g.iri(&view, &format!("{hydra}last"), page_url(pages));
    if page < pages {
        g.iri(&view, &format!("{hydra}next"), page_url(page + 1));
    }
    for d in datasets.iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE) {
        g.iri(&cat, &format!("{DCAT}dataset"), format!("{base}/datasets/{}", d.meta.id));
        describe(&mut g, &base, d, orgs.iter().find(|o| o.id == d.meta.organization));
    }
    Ok(format.respond(&g))
}

/// A dataset and its publisher (absent only if the catalog lost it).
fn load(state: &AppState, reader: &Reader, id: &str) -> ApiResult<(std::sync::Arc<Dataset>, Option<Organization>)> {
    let catalog = state.store.catalog();
    let d = reader.dataset(catalog, id)?;
    let org = catalog.organization(&d.meta.organization).ok();
    Ok((d, org))
}

/// `/datasets/{id}.jsonld`, `.ttl`, `.rdf`: one dataset in DCAT-AP.
pub async fn dataset(
    State(state): State<AppState>,
    Path(file): Path<String>,
    reader: Reader,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some((id, format)) = RdfFormat::of(&file) else {
        return Err(ApiError::new(Code::RouteNotFound, format!("no `/datasets/{file}`; try {file}.jsonld or .ttl")));
    };
    let (d, org) = load(&state, &reader, id)?;
    let mut g = Graph::default();
    let base = base_url(&state, &headers);
    describe(&mut g, &base, &d, org.as_ref());
    Ok(format.respond(&g))
}

/// schema.org `Dataset` JSON-LD: what the dataset pages embed for dataset search engines.
pub fn schema_org(base: &str, d: &Dataset, org: Option<&Organization>) -> Value {
    let m = &d.meta;
    let mut downloads = Vec::new();
    for t in &d.tables {
        for (ext, media) in [("csv", "text/csv"), ("parquet", "application/vnd.apache.parquet")] {
            downloads.push(json!({
                "@type": "DataDownload",
                "name": format!("{} ({ext})", t.title),
                "encodingFormat": media,
                "contentUrl": format!("{base}/api/v1/datasets/{}/tables/{}/data.{ext}?version={}", m.id, t.name, t.latest().version),
            }));
        }
    }
    let columns: Vec<Value> = d
        .tables
        .iter()
        .flat_map(|t| &t.latest().columns)
        .map(|c| json!({"@type": "PropertyValue", "name": c.label, "description": c.description}))
        .collect();
    json!({
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": format!("{base}/datasets/{}", m.id),
        "name": m.title,
        "alternateName": m.title_en,
        "description": if m.description.is_empty() { m.title_en.clone().unwrap_or_else(|| m.title.clone()) } else { m.description.clone() },
        "url": format!("{base}/datasets/{}", m.id),
        "identifier": m.id,
        "keywords": m.tags,
        "license": opendata_datasets::license::iri(&m.license),
        "isAccessibleForFree": true,
        "dateModified": stamp(d.updated_at),
        "inLanguage": ["mn", "en"],
        "creator": {"@type": "Organization", "name": org.map_or(m.organization.as_str(), |o| o.title.as_str()),
                    "url": format!("{base}/organizations/{}", m.organization)},
        "distribution": downloads,
        "variableMeasured": columns,
    })
}

/// `/datasets/{id}/schema.json`: the schema.org description on its own.
pub async fn schema_org_json(
    State(state): State<AppState>,
    Path(id): Path<String>,
    reader: Reader,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (d, org) = load(&state, &reader, &id)?;
    let body = schema_org(&base_url(&state, &headers), &d, org.as_ref()).to_string();
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/ld+json"))], body).into_response())
}

/// `/datasets/{id}/datapackage.json`: a Frictionless Tabular Data Package, a resource per
/// table pointing at the latest version's CSV, with its Table Schema.
pub async fn datapackage(
    State(state): State<AppState>,
    Path(id): Path<String>,
    reader: Reader,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let base = base_url(&state, &headers);
    let (d, org) = load(&state, &reader, &id)?;
    let m = &d.meta;
    let resources: Vec<Value> = d
        .tables
        .iter()
        .map(|t| {
            let v = t.latest();
            let fields: Vec<Value> = v
                .columns
                .iter()
                .map(|c| {
                    let kind = match c.kind {
                        ColumnType::Integer => "integer",
                        ColumnType::Float => "number",
                        ColumnType::Boolean => "boolean",
                        ColumnType::Date => "date",
                        ColumnType::Datetime => "datetime",
                        ColumnType::String => "string",
                    };
                    let mut f = json!({"name": c.name, "title": c.label, "type": kind});
                    if !c.description.is_empty() {
                        f["description"] = json!(c.description);
                    }
                    if c.kind == ColumnType::Datetime {
                        // The CSV writes ISO 8601 without a zone; times are UTC.
                        f["format"] = json!("any");
                    }
                    if c.kind == ColumnType::Boolean {
                        f["trueValues"] = json!(["true"]);
                        f["falseValues"] = json!(["false"]);
                    }
                    f
                })
                .collect();
            json!({
                "profile": "tabular-data-resource",
                "name": t.name.replace('_', "-"),
                "title": t.title,
                "path": format!("{base}/api/v1/datasets/{}/tables/{}/data.csv?version={}", m.id, t.name, v.version),
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": Value::Null,
                "hash": Value::Null,
                "dialect": {"delimiter": ",", "header": true, "quoteChar": "\""},
                "schema": {"fields": fields, "missingValues": [""]},
            })
            .as_object()
            .map(|o| {
                Value::Object(o.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect())
            })
            .unwrap_or_default()
        })
        .collect();
    // Documents are resources too; with them the package is no longer only tabular.
    let documents = d.resources.iter().map(|r| {
        let mut out = json!({
            "name": format!("document-{}", r.id),
            "title": r.title,
            "path": super::resources::url_of(&base, r),
            "format": r.format.to_lowercase(),
            "mediatype": r.media_type,
        });
        if !r.description.is_empty() {
            out["description"] = json!(r.description);
        }
        if let Some(size) = r.size {
            out["bytes"] = json!(size);
        }
        out
    });
    let profile = if d.resources.is_empty() { "tabular-data-package" } else { "data-package" };
    let resources: Vec<Value> = resources.into_iter().chain(documents).collect();
    let body = json!({
        "profile": profile,
        "name": m.id,
        "title": m.title,
        "description": m.description,
        "homepage": format!("{base}/datasets/{}", m.id),
        "keywords": m.tags,
        "licenses": [{"name": m.license, "path": opendata_datasets::license::iri(&m.license)}],
        "sources": [{"title": org.as_ref().map_or(m.organization.clone(), |o| o.title.clone()), "path": m.source.clone().unwrap_or_else(|| format!("{base}/organizations/{}", m.organization))}],
        "contributors": [{"title": org.as_ref().map_or(m.organization.clone(), |o| o.title.clone()), "role": "publisher"}],
        "created": stamp(d.updated_at),
        "resources": resources,
    });
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.to_string()).into_response())
}
