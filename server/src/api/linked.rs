//! The catalog in the vocabularies other tools read: DCAT-AP (JSON-LD, Turtle, RDF/XML) for
//! harvesters such as data.europa.eu, schema.org `Dataset` for dataset search engines, and
//! Frictionless Data Packages for validators.
//!
//! DCAT is built once as triples and written by three small serializers, so the formats
//! cannot drift apart.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use opendata_datasets::{ColumnType, Dataset, Organization};
use serde_json::{Map, Value, json};

use super::base_url;
use crate::error::{ApiError, ApiResult, Code};
use crate::reader::Reader;
use crate::state::AppState;

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
/// The EU file-type vocabulary, which DCAT-AP's `dct:format` takes its values from.
const EU_FILE_TYPES: &str = "http://publications.europa.eu/resource/authority/file-type/";
/// DCAT-AP's own terms (`dcatap:availability`) and the vocabularies its values come from.
const DCATAP: &str = "http://data.europa.eu/r5r/";
const AVAILABILITY: &str = "http://publications.europa.eu/resource/authority/planned-availability/";
const ADMS_PUBLISHER_TYPES: &str = "http://purl.org/adms/publishertype/";
const ADMS_LICENCE_TYPES: &str = "http://purl.org/adms/licencetype/";
const GEOSPARQL: &str = "http://www.opengis.net/ont/geosparql#";
/// IANA's media types, as IRIs for `dcat:mediaType`.
const IANA_MEDIA_TYPES: &str = "https://www.iana.org/assignments/media-types/";

/// Catalog pages hold this many datasets; `?page=N` walks them.
const PAGE_SIZE: usize = 100;

/// An RDF term in object position.
#[derive(Debug, Clone, PartialEq)]
enum Object {
    Iri(String),
    Text { value: String, lang: Option<&'static str> },
    Typed { value: String, datatype: String },
}

#[derive(Debug, Default)]
struct Graph {
    triples: Vec<(String, String, Object)>,
}

impl Graph {
    fn iri(&mut self, s: &str, p: &str, o: impl Into<String>) {
        self.triples.push((s.to_owned(), p.to_owned(), Object::Iri(o.into())));
    }

    /// `s p o`, and `o a class`: DCAT-AP's shapes check the class of each value.
    fn typed_iri(&mut self, s: &str, p: &str, o: String, class: &str) {
        self.iri(&o, RDF_TYPE, class);
        self.iri(s, p, o);
    }

    fn text(&mut self, s: &str, p: &str, value: &str, lang: Option<&'static str>) {
        if !value.is_empty() {
            self.triples.push((s.to_owned(), p.to_owned(), Object::Text { value: value.to_owned(), lang }));
        }
    }

    fn typed(&mut self, s: &str, p: &str, value: String, datatype: &str) {
        self.literal(s, p, value, format!("{XSD}{datatype}"));
    }

    fn literal(&mut self, s: &str, p: &str, value: String, datatype: String) {
        self.triples.push((s.to_owned(), p.to_owned(), Object::Typed { value, datatype }));
    }

    /// `s p concept`, the concept a `skos:Concept` with its English label.
    fn concept(&mut self, s: &str, p: &str, concept: String, label: &str) {
        self.text(&concept, &format!("{SKOS}prefLabel"), label, Some("en"));
        self.typed_iri(s, p, concept, &format!("{SKOS}Concept"));
    }

    /// Subjects in first-seen order, each with its predicates and objects.
    fn subjects(&self) -> Vec<(&str, Vec<(&str, &Object)>)> {
        let mut out: Vec<(&str, Vec<(&str, &Object)>)> = Vec::new();
        for (s, p, o) in &self.triples {
            match out.iter_mut().find(|(x, _)| x == s) {
                Some((_, props)) => props.push((p, o)),
                None => out.push((s, vec![(p, o)])),
            }
        }
        out
    }

    fn turtle(&self) -> String {
        let mut out = String::new();
        for (s, props) in self.subjects() {
            out.push_str(&format!("{}\n", turtle_iri(s)));
            for (i, (p, o)) in props.iter().enumerate() {
                let end = if i + 1 == props.len() { " .\n\n" } else { " ;\n" };
                out.push_str(&format!("    {} {}{end}", turtle_iri(p), turtle_object(o)));
            }
        }
        out
    }

    fn rdf_xml(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n",
        );
        for (s, props) in self.subjects() {
            out.push_str(&format!("  <rdf:Description rdf:about=\"{}\">\n", xml(s)));
            for (p, o) in props {
                // RDF/XML needs the predicate as a qualified name: split at the last # or /.
                let cut = p.rfind(['#', '/']).map_or(0, |i| i + 1);
                let (ns, local) = p.split_at(cut);
                let open = format!("<p:{local} xmlns:p=\"{}\"", xml(ns));
                match o {
                    Object::Iri(iri) => out.push_str(&format!("    {open} rdf:resource=\"{}\"/>\n", xml(iri))),
                    Object::Text { value, lang: Some(l) } => {
                        out.push_str(&format!("    {open} xml:lang=\"{l}\">{}</p:{local}>\n", xml(value)))
                    }
                    Object::Text { value, lang: None } => {
                        out.push_str(&format!("    {open}>{}</p:{local}>\n", xml(value)))
                    }
                    Object::Typed { value, datatype } => out.push_str(&format!(
                        "    {open} rdf:datatype=\"{}\">{}</p:{local}>\n",
                        xml(datatype),
                        xml(value)
                    )),
                }
            }
            out.push_str("  </rdf:Description>\n");
        }
        out.push_str("</rdf:RDF>\n");
        out
    }

    /// Expanded JSON-LD: no context to fetch, so it parses offline.
    fn json_ld(&self) -> Value {
        let nodes: Vec<Value> = self
            .subjects()
            .into_iter()
            .map(|(s, props)| {
                let mut node = Map::new();
                node.insert("@id".into(), json!(s));
                for (p, o) in props {
                    let (key, value) = if p == RDF_TYPE {
                        (
                            "@type".to_owned(),
                            match o {
                                Object::Iri(i) => json!(i),
                                _ => continue,
                            },
                        )
                    } else {
                        (
                            p.to_owned(),
                            match o {
                                Object::Iri(i) => json!({"@id": i}),
                                Object::Text { value, lang: Some(l) } => json!({"@value": value, "@language": l}),
                                Object::Text { value, lang: None } => json!({"@value": value}),
                                Object::Typed { value, datatype } => json!({"@value": value, "@type": datatype}),
                            },
                        )
                    };
                    match node.get_mut(&key) {
                        Some(Value::Array(a)) => a.push(value),
                        _ => {
                            node.insert(key, json!([value]));
                        }
                    }
                }
                Value::Object(node)
            })
            .collect();
        json!({"@graph": nodes})
    }
}

fn turtle_object(o: &Object) -> String {
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\r', "\\r");
    match o {
        Object::Iri(i) => turtle_iri(i),
        Object::Text { value, lang: Some(l) } => format!("\"{}\"@{l}", escape(value)),
        Object::Text { value, lang: None } => format!("\"{}\"", escape(value)),
        Object::Typed { value, datatype } => format!("\"{}\"^^<{datatype}>", escape(value)),
    }
}

/// An IRI in Turtle: the characters that could end it or start another term are written as
/// `\uXXXX` escapes, so no value a publisher gives (a source URL, a license) can add triples.
fn turtle_iri(iri: &str) -> String {
    let mut out = String::with_capacity(iri.len() + 2);
    out.push('<');
    for c in iri.chars() {
        if c <= ' ' || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\') {
            out.push_str(&format!("\\u{:04X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out.push('>');
    out
}

/// Text for XML content and attributes (RDF/XML here, Atom in [`super::feeds`]).
/// Characters XML 1.0 cannot hold are left out: one would make the whole document unreadable.
pub(super) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

pub(super) fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A distribution's `dct:format` (the EU file type named by `format`: `csv`, `PDF`…) and
/// `dcat:mediaType` (IANA's, when known), as the vocabularies' IRIs DCAT-AP asks for.
fn file_type(g: &mut Graph, dist: &str, media: &str, format: &str) {
    // NDJSON has no code of its own in the EU list; it is JSON, a record a line.
    let code = match format.to_ascii_uppercase().as_str() {
        "NDJSON" => "JSON".to_owned(),
        other => other.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect(),
    };
    if !code.is_empty() {
        g.typed_iri(
            dist,
            &format!("{DCT}format"),
            format!("{EU_FILE_TYPES}{code}"),
            &format!("{DCT}MediaTypeOrExtent"),
        );
    }
    let media = media.split(';').next().unwrap_or_default().trim();
    if media.contains('/') && media.chars().all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c)) {
        g.typed_iri(
            dist,
            &format!("{DCAT}mediaType"),
            format!("{IANA_MEDIA_TYPES}{media}"),
            &format!("{DCT}MediaType"),
        );
    }
}

fn license(g: &mut Graph, dist: &str, license: &str) {
    let document = opendata_datasets::license::iri(license);
    // What the license asks of a reuser, in ADMS's licence types.
    let id = license.to_ascii_uppercase();
    let kinds: &[(&str, &str)] = if id.starts_with("CC0") || id.starts_with("PDDL") {
        &[("PublicDomain", "Public domain")]
    } else if id.starts_with("CC-BY-SA") || id.starts_with("ODBL") {
        &[("Attribution", "Attribution"), ("ShareAlike", "Share alike")]
    } else if id.starts_with("CC-BY") || id.starts_with("ODC-BY") || id.starts_with("OGL") {
        &[("Attribution", "Attribution")]
    } else {
        &[]
    };
    for (kind, label) in kinds {
        g.concept(&document, &format!("{DCT}type"), format!("{ADMS_LICENCE_TYPES}{kind}"), label);
    }
    g.typed_iri(dist, &format!("{DCT}license"), document, &format!("{DCT}LicenseDocument"));
}

/// One dataset's DCAT description: the dataset, its publisher, and a distribution per
/// table and format.
fn describe(g: &mut Graph, base: &str, d: &Dataset, org: Option<&Organization>) {
    let m = &d.meta;
    let ds = format!("{base}/datasets/{}", m.id);
    g.iri(&ds, RDF_TYPE, format!("{DCAT}Dataset"));
    g.text(&ds, &format!("{DCT}identifier"), &m.id, None);
    g.text(&ds, &format!("{DCT}title"), &m.title, Some("mn"));
    g.text(&ds, &format!("{DCT}title"), m.title_en.as_deref().unwrap_or_default(), Some("en"));
    let description = if m.description.is_empty() { m.title.as_str() } else { m.description.as_str() };
    g.text(&ds, &format!("{DCT}description"), description, Some("mn"));
    g.text(&ds, &format!("{DCT}description"), m.description_en.as_deref().unwrap_or_default(), Some("en"));
    for tag in &m.tags {
        g.text(&ds, &format!("{DCAT}keyword"), tag, None);
    }
    for code in super::themes::of(m) {
        let theme = format!("{}{code}", super::themes::EU_THEMES);
        g.concept(&ds, &format!("{DCAT}theme"), theme, super::themes::label(code));
    }
    g.typed(&ds, &format!("{DCT}modified"), stamp(d.updated_at), "dateTime");
    // The dataset's IRI is its page: a reader's landing page as well.
    g.typed_iri(&ds, &format!("{DCAT}landingPage"), ds.clone(), &format!("{FOAF}Document"));
    let publisher = format!("{base}/organizations/{}", m.organization);
    g.iri(&ds, &format!("{DCT}publisher"), publisher.clone());
    g.iri(&publisher, RDF_TYPE, format!("{FOAF}Agent"));
    // The portal's publishers are the state's agencies.
    g.concept(
        &publisher,
        &format!("{DCT}type"),
        format!("{ADMS_PUBLISHER_TYPES}NationalAuthority"),
        "National authority",
    );
    g.text(&publisher, &format!("{FOAF}name"), org.map_or(m.organization.as_str(), |o| o.title.as_str()), Some("mn"));
    if let Some(en) = org.and_then(|o| o.title_en.as_deref()) {
        g.text(&publisher, &format!("{FOAF}name"), en, Some("en"));
    }
    let contact = format!("{publisher}#contact");
    g.iri(&ds, &format!("{DCAT}contactPoint"), contact.clone());
    g.iri(&contact, RDF_TYPE, format!("{VCARD}Organization"));
    g.iri(&contact, RDF_TYPE, format!("{VCARD}Kind"));
    g.text(&contact, &format!("{VCARD}fn"), org.map_or(m.organization.as_str(), |o| o.title.as_str()), None);
    let years = d
        .tables
        .iter()
        .flat_map(|t| &t.latest().columns)
        .filter(|c| matches!(c.kind, ColumnType::Date | ColumnType::Datetime))
        .filter_map(|c| {
            Some((
                c.stats.min.as_ref()?.as_str()?.get(..10)?.to_owned(),
                c.stats.max.as_ref()?.as_str()?.get(..10)?.to_owned(),
            ))
        })
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
        // Without dates in the data, the period the publisher wrote (`2010–2024`).
        .or_else(|| m.temporal.as_deref().and_then(year_span));
    if let Some((start, end)) = years {
        let period = format!("{ds}#temporal");
        g.iri(&ds, &format!("{DCT}temporal"), period.clone());
        g.iri(&period, RDF_TYPE, format!("{DCT}PeriodOfTime"));
        g.typed(&period, &format!("{DCAT}startDate"), start, "date");
        g.typed(&period, &format!("{DCAT}endDate"), end, "date");
    }
    for t in &d.tables {
        let v = t.latest();
        for (ext, media) in [
            ("csv", "text/csv"),
            ("parquet", "application/vnd.apache.parquet"),
            ("ndjson", "application/x-ndjson"),
            ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ] {
            let url = format!("{base}/api/v1/datasets/{}/tables/{}/data.{ext}", m.id, t.name);
            let dist = format!("{url}?version={}", v.version);
            g.iri(&ds, &format!("{DCAT}distribution"), dist.clone());
            g.iri(&dist, RDF_TYPE, format!("{DCAT}Distribution"));
            g.text(&dist, &format!("{DCT}title"), &format!("{} ({ext})", t.title), None);
            g.iri(&dist, &format!("{DCAT}accessURL"), url.clone());
            g.iri(&dist, &format!("{DCAT}downloadURL"), dist.clone());
            let about = format!("{}, v{} ({})", t.title, v.version, ext.to_uppercase());
            g.text(&dist, &format!("{DCT}description"), &about, None);
            file_type(g, &dist, media, ext);
            license(g, &dist, &m.license);
            // A pinned version never changes: it stays as long as the portal does.
            g.concept(&dist, &format!("{DCATAP}availability"), format!("{AVAILABILITY}STABLE"), "stable");
            g.typed(&dist, &format!("{DCT}modified"), stamp(v.created_at), "dateTime");
            if ext == "parquet" {
                g.typed(&dist, &format!("{DCAT}byteSize"), v.byte_size.to_string(), "decimal");
            }
        }
    }
    for r in &d.resources {
        let dist = format!("{base}/api/v1/datasets/{}/resources/{}", m.id, r.id);
        g.iri(&ds, &format!("{DCAT}distribution"), dist.clone());
        g.iri(&dist, RDF_TYPE, format!("{DCAT}Distribution"));
        g.text(&dist, &format!("{DCT}title"), &r.title, None);
        if !r.description.is_empty() {
            g.text(&dist, &format!("{DCT}description"), &r.description, None);
        }
        g.iri(&dist, &format!("{DCAT}accessURL"), super::resources::url_of(base, r));
        if r.file.is_some() {
            g.iri(&dist, &format!("{DCAT}downloadURL"), dist.clone());
        }
        if let Some(size) = r.size {
            g.typed(&dist, &format!("{DCAT}byteSize"), size.to_string(), "decimal");
        }
        file_type(g, &dist, if r.file.is_some() { &r.media_type } else { "" }, &r.format);
        license(g, &dist, &m.license);
        g.concept(&dist, &format!("{DCATAP}availability"), format!("{AVAILABILITY}AVAILABLE"), "available");
        g.typed(&dist, &format!("{DCT}modified"), stamp(r.created_at), "dateTime");
    }
    if let Some(code) = m.frequency.as_deref().and_then(frequency_code) {
        let eu = "http://publications.europa.eu/resource/authority/frequency/";
        g.typed_iri(&ds, &format!("{DCT}accrualPeriodicity"), format!("{eu}{code}"), &format!("{DCT}Frequency"));
    }
    spatial(g, &ds, d);
}

/// `dct:spatial`: the place the publisher names, and the box the tables' own places fill
/// (with its centre), when a table has a geography.
fn spatial(g: &mut Graph, ds: &str, d: &Dataset) {
    let place = d.meta.spatial.as_deref().filter(|p| !p.is_empty());
    let bbox = d
        .tables
        .iter()
        .filter_map(|t| extent(&t.latest().columns))
        .reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])]);
    if place.is_none() && bbox.is_none() {
        return;
    }
    let location = format!("{ds}#spatial");
    g.iri(ds, &format!("{DCT}spatial"), location.clone());
    g.iri(&location, RDF_TYPE, format!("{DCT}Location"));
    if let Some(place) = place {
        g.text(&location, &format!("{SKOS}prefLabel"), place, None);
    }
    if let Some([w, s, e, n]) = bbox {
        let wkt = format!("{GEOSPARQL}wktLiteral");
        let polygon = format!("POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))");
        g.literal(&location, &format!("{DCAT}bbox"), polygon, wkt.clone());
        g.literal(&location, &format!("{DCAT}centroid"), format!("POINT({} {})", (w + e) / 2.0, (s + n) / 2.0), wkt);
    }
}

/// The box (west, south, east, north) a table's places fill, from its column statistics.
fn extent(columns: &[opendata_datasets::Column]) -> Option<[f64; 4]> {
    use opendata_datasets::geo::Geography;
    let stat = |name: &str, max: bool| {
        let c = columns.iter().find(|c| c.name == name)?;
        let v = if max { &c.stats.max } else { &c.stats.min };
        v.as_ref()?.as_f64()
    };
    match Geography::of(columns)? {
        Geography::Points { lon, lat } => {
            Some([stat(&lon, false)?, stat(&lat, false)?, stat(&lon, true)?, stat(&lat, true)?])
        }
        Geography::Shapes { bbox: [w, s, e, n], .. } => {
            Some([stat(&w, false)?, stat(&s, false)?, stat(&e, true)?, stat(&n, true)?])
        }
    }
}

/// The EU frequency vocabulary's code (DCAT-AP's `dct:accrualPeriodicity`) for a dataset's
/// update frequency.
fn frequency_code(frequency: &str) -> Option<&'static str> {
    Some(match frequency {
        "continuous" => "CONT",
        "daily" => "DAILY",
        "weekly" => "WEEKLY",
        "monthly" => "MONTHLY",
        "quarterly" => "QUARTERLY",
        "biannual" => "ANNUAL_2",
        "annual" => "ANNUAL",
        "irregular" => "IRREG",
        "never" => "NEVER",
        _ => return None,
    })
}

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

/// The first and last day of the years a period's text names (`2010–2024`, `2024 оны
/// III улирал`), or none when it names no year.
fn year_span(text: &str) -> Option<(String, String)> {
    let years: Vec<u32> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 4)
        .filter_map(|w| w.parse().ok())
        .filter(|y| (1900..=2100).contains(y))
        .collect();
    let (first, last) = (years.iter().min()?, years.iter().max()?);
    Some((format!("{first}-01-01"), format!("{last}-12-31")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_from_the_publishers_text() {
        assert_eq!(year_span("2010–2024"), Some(("2010-01-01".into(), "2024-12-31".into())));
        assert_eq!(year_span("2024 оны III улирал"), Some(("2024-01-01".into(), "2024-12-31".into())));
        assert_eq!(year_span("сар бүр, 12345"), None);
    }

    #[test]
    fn one_graph_three_serializations() {
        let mut g = Graph::default();
        g.iri("http://x/ds", RDF_TYPE, format!("{DCAT}Dataset"));
        g.text("http://x/ds", &format!("{DCT}title"), "Хүн \"ам\"", Some("mn"));
        g.typed("http://x/ds", &format!("{DCT}modified"), "2024-01-01T00:00:00Z".into(), "dateTime");
        let ttl = g.turtle();
        assert!(ttl.contains("<http://purl.org/dc/terms/title> \"Хүн \\\"ам\\\"\"@mn ;"), "{ttl}");
        let xml = g.rdf_xml();
        assert!(
            xml.contains("<p:title xmlns:p=\"http://purl.org/dc/terms/\" xml:lang=\"mn\">Хүн &quot;ам&quot;</p:title>"),
            "{xml}"
        );
        let ld = g.json_ld();
        assert_eq!(ld["@graph"][0]["@type"], json!([format!("{DCAT}Dataset")]));
        assert_eq!(ld["@graph"][0][format!("{DCT}title")][0]["@language"], "mn");
    }
}
