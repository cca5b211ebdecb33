//! `opendata harvest`: import another portal's catalog, over CKAN's Action API or a DCAT-AP
//! catalog in JSON-LD. Metadata always; the data too where a resource is tabular, through
//! the ordinary ingest (with conditional requests, so a second harvest downloads only what
//! changed).
//!
//! The remote portal is not trusted. Its organizations and datasets get ids under the
//! source's namespace (`<namespace>--<id>`), which local ids cannot have, so a harvest never
//! touches what this portal's publishers made; licenses it names are kept only when they
//! are license ids; and every request goes through [`crate::fetch::agent`]'s address fence.

use anyhow::{Context, bail};
use opendata_datasets::{Change, DatasetMeta, HarvestProtocol, HarvestSource, Organization, Store, ident};
use search_index::SearchIndex;
use serde_json::Value;

/// One dataset found at the source: its metadata and its tabular downloads.
#[derive(Debug, Clone, PartialEq)]
pub struct Harvested {
    pub organization: Organization,
    pub meta: DatasetMeta,
    /// (table name, title, URL)
    pub tables: Vec<(String, String, String)>,
    /// Resources that are not tables (documents, archives, images, links): kept as links
    /// to where the source serves them.
    pub documents: Vec<HarvestedDocument>,
}

/// A non-tabular resource found at the source.
#[derive(Debug, Clone, PartialEq)]
pub struct HarvestedDocument {
    pub title: String,
    pub description: String,
    /// Upper-case, as catalogs show it (`PDF`).
    pub format: String,
    pub url: String,
}

/// What one harvest of a source did.
#[derive(Debug, Default)]
pub struct Report {
    pub datasets: usize,
    /// Tables ingested (or found unchanged at the source).
    pub tables: usize,
    /// `dataset/table: why` for each table that could not be harvested.
    pub failures: Vec<String>,
}

impl Report {
    /// The one line an operator or a job record shows.
    pub fn summary(&self, source: &str) -> String {
        format!(
            "harvested {} datasets and {} tables from {source}; {} tables failed",
            self.datasets,
            self.tables,
            self.failures.len()
        )
    }
}

/// Harvests `source` once: its organizations and datasets' metadata (searchable at once),
/// then each tabular download through `ingest_table` (dataset, table, title, URL), unless
/// the source is metadata only. A table that fails is reported; the others go on.
pub fn run(
    source: &HarvestSource,
    store: &Store,
    index: &SearchIndex,
    agent: &ureq::Agent,
    ingest_table: &mut dyn FnMut(&DatasetMeta, &str, &str, &str) -> anyhow::Result<()>,
) -> anyhow::Result<Report> {
    let found = match source.protocol {
        HarvestProtocol::Ckan => ckan(&source.url, agent, &source.namespace)?,
        HarvestProtocol::Dcat => dcat(&source.url, agent, &source.namespace)?,
    };
    let mut report = Report { datasets: found.len(), ..Report::default() };
    for h in &found {
        store.catalog().upsert_organization(&h.organization)?;
        if source.metadata_only || h.tables.is_empty() {
            // A metadata-only dataset: it links to its source, as CKAN allows.
            store.catalog().upsert_dataset(&h.meta)?;
        } else {
            for (table, title, url) in &h.tables {
                match ingest_table(&h.meta, table, title, url) {
                    Ok(()) => report.tables += 1,
                    Err(e) => report.failures.push(format!("{}/{table}: {e:#}", h.meta.id)),
                }
            }
        }
        match sync_documents(store, &source.namespace, h) {
            Ok(()) => crate::publish::index_dataset(store, index, &h.meta.id)?,
            Err(e) => report.failures.push(format!("{} documents: {e:#}", h.meta.id)),
        }
    }
    Ok(report)
}

/// Makes the harvested dataset's links to documents those the source lists now: new ones
/// added, gone ones removed, each audited as the harvest's. A link's id is its URL's hash,
/// so harvesting again changes nothing that did not change.
fn sync_documents(store: &Store, namespace: &str, h: &Harvested) -> anyhow::Result<()> {
    let catalog = store.catalog();
    let Ok(dataset) = catalog.dataset(&h.meta.id) else { return Ok(()) };
    let id_of = |url: &str| blake3::hash(url.as_bytes()).to_hex()[..8].to_owned();
    let entry = |action: &str, target: String, detail: String| opendata_datasets::AuditEntry {
        at: chrono::Utc::now(),
        user: format!("harvest:{namespace}"),
        action: action.into(),
        target,
        detail,
    };
    for doc in &h.documents {
        let id = id_of(&doc.url);
        if dataset.resources.iter().any(|r| r.id == id) {
            continue;
        }
        let resource = opendata_datasets::Resource {
            id: id.clone(),
            dataset: h.meta.id.clone(),
            title: doc.title.chars().take(300).collect(),
            description: doc.description.chars().take(8192).collect(),
            format: doc.format.clone(),
            media_type: "text/html".into(),
            size: None,
            file: None,
            file_name: None,
            url: Some(doc.url.clone()),
            created_at: chrono::Utc::now(),
        };
        let target = format!("{}/{id}", h.meta.id);
        catalog.audited(&Change::AddResource(&resource), &entry("resource.add", target, doc.url.clone()))?;
    }
    for r in dataset.resources.iter().filter(|r| !h.documents.iter().any(|d| id_of(&d.url) == r.id)) {
        let change = Change::RemoveResource { dataset: &h.meta.id, id: &r.id };
        catalog.audited(&change, &entry("resource.remove", format!("{}/{}", h.meta.id, r.id), String::new()))?;
    }
    Ok(())
}

/// A document of the source, if `url` is a web address a reader can follow.
fn document(title: String, description: String, format: &str, url: String) -> Option<HarvestedDocument> {
    let ok = crate::api::resources::is_link(&url);
    let format: String = format.chars().filter(char::is_ascii_alphanumeric).take(10).collect();
    let format = if format.is_empty() { "LINK".to_owned() } else { format.to_ascii_uppercase() };
    let title = if title.trim().is_empty() { url.clone() } else { title };
    ok.then_some(HarvestedDocument { title, description, format, url })
}

/// A source's namespace when none is given: its host name (`data.gov.mn` → `data-gov-mn`).
pub fn default_namespace(url: &str) -> String {
    ident::slug(url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or_default())
}

/// Formats the ingest reads.
const TABULAR: &[&str] = &["csv", "tsv", "xlsx", "xls", "ods", "json", "ndjson", "geojson", "parquet"];

/// A license id from the remote portal, or `notspecified` for anything that is not one.
fn license(remote: Option<String>) -> String {
    remote.filter(|l| opendata_datasets::license::validate(l).is_ok()).unwrap_or_else(|| "notspecified".into())
}

fn get_json(agent: &ureq::Agent, url: &str) -> anyhow::Result<Value> {
    let response = agent.get(url).call().with_context(|| format!("cannot fetch {url}"))?;
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().with_context(|| format!("cannot read {url}"))?;
    let value: Value = serde_json::from_str(&text).with_context(|| format!("{url} is not JSON"))?;
    if !(200..300).contains(&status) {
        bail!("{url} answered HTTP {status}: {}", value["error"]["message"].as_str().unwrap_or_default());
    }
    Ok(value)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The catalog of a CKAN portal at `base`: `package_list`, then `package_show` for each,
/// with ids under `namespace`.
pub fn ckan(base: &str, agent: &ureq::Agent, namespace: &str) -> anyhow::Result<Vec<Harvested>> {
    let base = base.trim_end_matches('/');
    let action = |name: &str, query: &str| -> anyhow::Result<Value> {
        let v = get_json(agent, &format!("{base}/api/3/action/{name}?{query}"))?;
        if v["success"] != Value::Bool(true) {
            bail!("{name} failed at {base}");
        }
        Ok(v["result"].clone())
    };
    let ids = action("package_list", "")?;
    let mut out = Vec::new();
    for id in ids.as_array().into_iter().flatten().filter_map(Value::as_str) {
        let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("id", id).finish();
        let p = action("package_show", &query)?;
        let org = &p["organization"];
        let org_id = ident::namespaced(
            namespace,
            &Some(text(&org["name"])).filter(|s| !s.is_empty()).unwrap_or_else(|| text(&p["owner_org"])),
        );
        let organization = Organization {
            id: org_id.clone(),
            title: Some(text(&org["title"])).filter(|t| !t.is_empty()).unwrap_or_else(|| org_id.clone()),
            title_en: org["title_translated"]["en"].as_str().map(str::to_owned),
            description: text(&org["description"]),
            url: None,
        };
        let meta = DatasetMeta {
            id: ident::namespaced(namespace, &text(&p["name"])),
            organization: org_id,
            title: text(&p["title"]),
            title_en: p["title_translated"]["en"].as_str().map(str::to_owned),
            description: text(&p["notes"]),
            description_en: p["notes_translated"]["en"].as_str().map(str::to_owned),
            tags: p["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| text(&t["name"]))
                .filter(|t| !t.is_empty())
                .collect(),
            license: license(Some(text(&p["license_id"]))),
            source: p["url"].as_str().filter(|u| !u.is_empty()).map(str::to_owned),
            ..Default::default()
        };
        let (mut tables, mut documents) = (Vec::new(), Vec::new());
        for r in p["resources"].as_array().into_iter().flatten() {
            let format = text(&r["format"]).to_lowercase();
            let url = text(&r["url"]);
            let title = Some(text(&r["name"])).filter(|n| !n.is_empty()).unwrap_or_else(|| text(&r["id"]));
            if TABULAR.contains(&format.as_str()) && url.starts_with("http") {
                tables.push((unique(&tables, ident::slug(&title)), title, url));
            } else if let Some(doc) = document(title, text(&r["description"]), &format, url) {
                documents.push(doc);
            }
        }
        out.push(Harvested { organization, meta, tables, documents });
    }
    Ok(out)
}

/// `name`, or `name-2`, `name-3`… when a table of the dataset already has it.
fn unique(tables: &[(String, String, String)], name: String) -> String {
    let taken = |n: &str| tables.iter().any(|(t, _, _)| t == n);
    if !taken(&name) {
        return name;
    }
    (2..).map(|i| format!("{name}-{i}")).find(|n| !taken(n)).unwrap_or(name)
}

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const HYDRA_NEXT: &str = "http://www.w3.org/ns/hydra/core#next";

/// A DCAT-AP catalog in expanded JSON-LD (as this portal and many harvesters publish it),
/// following Hydra `next` pages, with ids under `namespace`. Compacted JSON-LD, which needs
/// its `@context` fetched and applied, is not read.
pub fn dcat(url: &str, agent: &ureq::Agent, namespace: &str) -> anyhow::Result<Vec<Harvested>> {
    let mut out = Vec::new();
    let mut next = Some(url.to_owned());
    let mut pages = 0;
    while let Some(page) = next.take() {
        pages += 1;
        if pages > 10_000 {
            bail!("{url}: more than 10,000 pages; stopping");
        }
        let doc = get_json(agent, &page)?;
        let nodes: Vec<&Value> = match &doc {
            Value::Array(a) => a.iter().collect(),
            v => v["@graph"].as_array().map(|a| a.iter().collect()).unwrap_or_default(),
        };
        if nodes.is_empty() {
            bail!("{page} has no JSON-LD nodes (only expanded JSON-LD is read)");
        }
        let node = |id: &str| nodes.iter().copied().find(|n| n["@id"] == id);
        let is = |n: &Value, kind: &str| n["@type"].as_array().is_some_and(|t| t.iter().any(|x| x == kind));
        let values = |n: &Value, p: &str| -> Vec<Value> { n[p].as_array().cloned().unwrap_or_default() };
        let literal = |n: &Value, p: &str, lang: Option<&str>| -> Option<String> {
            values(n, p)
                .iter()
                .find(|v| lang.is_none_or(|l| v["@language"] == l))
                .and_then(|v| v["@value"].as_str().map(str::to_owned))
        };
        for n in nodes.iter().filter(|n| is(n, &format!("{DCAT}Dataset"))) {
            let iri = text(&n["@id"]);
            let id = literal(n, &format!("{DCT}identifier"), None)
                .unwrap_or_else(|| iri.rsplit('/').next().unwrap_or_default().to_owned());
            let publisher = values(n, &format!("{DCT}publisher")).first().map(|p| text(&p["@id"])).unwrap_or_default();
            let agent_node = node(&publisher);
            let org_id = ident::namespaced(namespace, publisher.rsplit('/').next().unwrap_or("unknown"));
            let name = |lang| agent_node.and_then(|a| literal(a, &format!("{FOAF}name"), lang));
            let organization = Organization {
                id: org_id.clone(),
                title: name(Some("mn")).or_else(|| name(None)).unwrap_or_else(|| org_id.clone()),
                title_en: name(Some("en")),
                description: String::new(),
                url: None,
            };
            let title =
                literal(n, &format!("{DCT}title"), Some("mn")).or_else(|| literal(n, &format!("{DCT}title"), None));
            let (mut tables, mut documents) = (Vec::new(), Vec::new());
            let mut license = None;
            for d in values(n, &format!("{DCAT}distribution")) {
                let Some(dist) = node(&text(&d["@id"])) else { continue };
                license = license.or_else(|| {
                    let iri = values(dist, &format!("{DCT}license")).first().map(|l| text(&l["@id"]))?;
                    opendata_datasets::license::from_iri(&iri)
                });
                // A name (`CSV`), or the EU file-type vocabulary's IRI (`…/file-type/CSV`).
                let format = literal(dist, &format!("{DCT}format"), None)
                    .or_else(|| {
                        let iri = values(dist, &format!("{DCT}format")).first().map(|f| text(&f["@id"]))?;
                        iri.rsplit('/').next().map(str::to_owned)
                    })
                    .unwrap_or_default()
                    .to_lowercase();
                let download = values(dist, &format!("{DCAT}downloadURL"))
                    .first()
                    .or(values(dist, &format!("{DCAT}accessURL")).first())
                    .map(|u| text(&u["@id"]))
                    .unwrap_or_default();
                // One download per table: CSV where offered, which every portal can read.
                let t = literal(dist, &format!("{DCT}title"), None).unwrap_or_else(|| "data".into());
                if format == "csv" && download.starts_with("http") {
                    let t = t.trim_end_matches(" (csv)").to_owned();
                    tables.push((unique(&tables, ident::slug(&t)), t, download));
                } else if !TABULAR.contains(&format.as_str()) && !format.is_empty() {
                    // A table's other encodings are the table again; anything else is a document.
                    let description = literal(dist, &format!("{DCT}description"), None).unwrap_or_default();
                    documents.extend(document(t, description, &format, download));
                }
            }
            out.push(Harvested {
                organization,
                meta: DatasetMeta {
                    id: ident::namespaced(namespace, &id),
                    organization: org_id,
                    title: title.unwrap_or_else(|| id.clone()),
                    title_en: literal(n, &format!("{DCT}title"), Some("en")),
                    description: literal(n, &format!("{DCT}description"), Some("mn"))
                        .or_else(|| literal(n, &format!("{DCT}description"), None))
                        .unwrap_or_default(),
                    description_en: literal(n, &format!("{DCT}description"), Some("en")),
                    tags: values(n, &format!("{DCAT}keyword"))
                        .iter()
                        .filter_map(|k| k["@value"].as_str().map(str::to_owned))
                        .collect(),
                    license: self::license(license),
                    source: Some(iri),
                    ..Default::default()
                },
                tables,
                documents,
            });
        }
        next = nodes
            .iter()
            .find_map(|n| n[HYDRA_NEXT].as_array().and_then(|a| a.first()).map(|v| text(&v["@id"])))
            .filter(|n| !n.is_empty() && *n != page);
    }
    Ok(out)
}
