//! One dataset in DCAT-AP: the dataset, its publisher and contact, a distribution per table
//! and format, its themes, period, place and update frequency, with the classes and
//! vocabularies the DCAT-AP 3.0.0 shapes ask for (`tests/linked.rs` validates them).

use opendata_datasets::{ColumnType, Dataset, Organization};

use super::rdf::*;

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
pub(super) fn describe(g: &mut Graph, base: &str, d: &Dataset, org: Option<&Organization>) {
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
}
