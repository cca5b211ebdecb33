//! The catalog as DCAT-AP, schema.org and Frictionless, checked by the tools that read them:
//! `rdflib` parses every RDF serialization, `frictionless validate` checks the data package
//! against the CSV it points at (both from PyPI; `.ci/run` installs them).

use std::process::Command;

use serde_json::Value;

use crate::common::TestServer;

/// Runs a program to completion off the async runtime, failing with its output.
pub(crate) async fn run(program: &'static str, args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(program)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{program} runs (pip install frictionless rdflib; .ci/run installs them): {e}"));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{program} {args:?}:\n{text}");
        text
    })
    .await
    .unwrap()
}

pub(crate) const CHECK_DCAT: &str = r#"
import sys, rdflib
from rdflib.namespace import DCAT, DCTERMS, RDF, FOAF
for path, fmt in zip(sys.argv[1::2], sys.argv[2::2]):
    g = rdflib.Graph().parse(path, format=fmt)
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    for d in datasets:
        for p in (DCTERMS.title, DCTERMS.description, DCTERMS.publisher):
            assert g.value(d, p) is not None, (path, d, p)
        dists = list(g.objects(d, DCAT.distribution))
        assert dists, (path, d, "no distribution")
        for dist in dists:
            assert g.value(dist, DCAT.accessURL) is not None, (path, dist)
            assert g.value(dist, DCTERMS.license) is not None, (path, dist)
        publisher = g.value(d, DCTERMS.publisher)
        assert g.value(publisher, FOAF.name) is not None, (path, publisher)
        themes = sorted(str(t).rsplit('/', 1)[1] for t in g.objects(d, DCAT.theme))
        print("themes", str(d).rsplit('/', 1)[1], ",".join(themes))
    for c in g.subjects(RDF.type, DCAT.Catalog):
        for p in (DCTERMS.title, DCTERMS.description, DCTERMS.publisher):
            assert g.value(c, p) is not None, (path, c, p)
        assert set(g.objects(c, DCAT.dataset)) == datasets, path
    print(path, len(datasets), "datasets", len(g), "triples")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dcat_parses_in_rdflib_with_the_mandatory_properties() {
    let s = TestServer::standard().await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["-c".to_owned(), CHECK_DCAT.to_owned()];
    for (route, fmt) in [
        ("/catalog.ttl", "turtle"),
        ("/catalog.rdf", "xml"),
        ("/catalog.jsonld", "json-ld"),
        ("/datasets/population.ttl", "turtle"),
        ("/datasets/air-quality.jsonld", "json-ld"),
    ] {
        let res = s.get(route).await;
        assert_eq!(res.status(), 200, "{route}");
        let path = dir.path().join(route.trim_start_matches('/').replace('/', "_"));
        std::fs::write(&path, res.bytes().await.unwrap()).unwrap();
        args.extend([path.to_str().unwrap().to_owned(), fmt.to_owned()]);
    }
    let out = run("python3", args).await;
    assert!(out.contains("catalog.ttl 2 datasets"), "{out}");
    assert!(out.contains("datasets_population.ttl 1 datasets"), "{out}");
    // Themes from the EU vocabulary, read from the titles.
    assert!(out.contains("themes population SOCI\n") && out.contains("themes air-quality ENVI\n"), "{out}");

    // Harvesting what changed, page by page.
    let none = s.get("/catalog.jsonld?modified_since=2999-01-01").await.text().await.unwrap();
    assert!(!none.contains("dcat#Dataset\""), "{none}");
    assert_eq!(s.json("/catalog.ttl?page=0", 400).await["code"], "invalid_parameter");
    assert_eq!(s.json("/datasets/nope.ttl", 404).await["code"], "dataset_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_package_validates_against_its_csv() {
    let s = TestServer::standard().await;
    let dir = tempfile::tempdir().unwrap();
    for id in ["population", "air-quality"] {
        let package: Value = s.json(&format!("/datasets/{id}/datapackage.json"), 200).await;
        assert_eq!(package["profile"], "tabular-data-package");
        let fields = &package["resources"][0]["schema"]["fields"];
        assert!(fields.as_array().unwrap().iter().all(|f| f["title"].is_string() && f["type"].is_string()));
        let path = dir.path().join(format!("{id}.json"));
        std::fs::write(&path, package.to_string()).unwrap();
        let out = run("frictionless", vec!["validate".into(), path.to_str().unwrap().to_owned()]).await;
        assert!(!out.contains("INVALID"), "{out}");
    }
    let schema: Value = s.json("/datasets/population/schema.json", 200).await;
    assert_eq!(schema["@type"], "Dataset");
    assert_eq!(schema["@context"], "https://schema.org/");
    assert!(schema["distribution"][0]["contentUrl"].as_str().unwrap().contains("data.csv?version=1"));
}

/// Validates each file against the DCAT-AP 3.0.0 shapes named after it (pySHACL, with the
/// shapes' own RDFS inference off): prints `conforms` or each result.
const SHACL: &str = r#"
import sys, rdflib, pyshacl
shapes_dir, data, fmt, kinds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
shapes = rdflib.Graph()
for kind in kinds:
    shapes.parse(f"{shapes_dir}/dcat-ap-3.0.0-{kind}.ttl", format="turtle")
graph = rdflib.Graph().parse(data, format=fmt)
conforms, results, text = pyshacl.validate(graph, shacl_graph=shapes, inference="none", advanced=True)
print("conforms" if conforms else text)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dcat_ap_validates_against_its_shacl_shapes() {
    let s = TestServer::start(|data| {
        crate::common::standard_catalog(data);
        // A dataset described as a publisher should, with places in its data: every
        // recommended property has a source.
        let csv = data.join("p.csv");
        std::fs::write(
            &csv,
            "Он,Аймаг,Хүн ам,lon,lat\n2023,Ховд,90000,91.64,48.01\n2024,Дархан-Уул,91000,105.97,49.49\n",
        )
        .unwrap();
        let meta = opendata_datasets::DatasetMeta {
            description: "Оны эцсийн хүн ам, аймгаар.".into(),
            description_en: Some("Population at year end, by aimag.".into()),
            title_en: Some("Population by aimag".into()),
            frequency: Some("annual".into()),
            temporal: Some("2023–2024".into()),
            spatial: Some("Монгол Улс".into()),
            source: Some("https://www.1212.mn".into()),
            ..crate::common::dataset("described", "nso", "Хүн ам, аймгаар")
        };
        crate::common::ingest(data, &csv, &meta, "main").unwrap();
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let shapes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/shacl");
    for (route, fmt, kinds) in [
        // Every dataset meets the mandatory shapes and the classes of their values.
        ("/catalog.ttl", "turtle", "shapes,range"),
        ("/catalog.rdf", "xml", "shapes,range"),
        ("/catalog.jsonld", "json-ld", "shapes,range"),
        // A well-described one leaves nothing recommended missing either.
        ("/datasets/described.ttl", "turtle", "shapes,range,shapes_recommended"),
    ] {
        let path = dir.path().join(route.trim_start_matches('/').replace('/', "_"));
        std::fs::write(&path, s.get(route).await.bytes().await.unwrap()).unwrap();
        let args = ["-c", SHACL, shapes.to_str().unwrap(), path.to_str().unwrap(), fmt, kinds].map(String::from);
        let out = run("python3", args.to_vec()).await;
        assert_eq!(out.trim(), "conforms", "{route} against {kinds}:\n{out}");
    }
}
