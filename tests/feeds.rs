//! Atom feeds of new versions: the portal's, a publisher's and a dataset's, read by a real
//! XML parser (Python's standard library), newest first, with private datasets left out.

use std::process::Command;

use serde_json::Value;

use crate::common::{TestServer, dataset, ingest};

/// The feed at `url` as a parser reads it: its title and each entry's title, updated time,
/// links (rel → href) and summary. Fails on anything that is not well-formed Atom.
async fn parse(url: String) -> Value {
    const SCRIPT: &str = "import json, sys, urllib.request, xml.etree.ElementTree as ET
A = '{http://www.w3.org/2005/Atom}'
with urllib.request.urlopen(sys.argv[1]) as r:
    kind = r.headers['content-type']
    root = ET.fromstring(r.read())
assert root.tag == A + 'feed', root.tag
print(json.dumps({'type': kind, 'title': root.find(A + 'title').text, 'id': root.find(A + 'id').text,
  'entries': [{'title': e.find(A + 'title').text, 'updated': e.find(A + 'updated').text, 'id': e.find(A + 'id').text,
               'summary': e.find(A + 'summary').text,
               'links': {l.get('rel'): l.get('href') for l in e.findall(A + 'link')}} for e in root.findall(A + 'entry')]}))";
    let out = tokio::task::spawn_blocking(move || Command::new("python3").args(["-c", SCRIPT, &url]).output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn titles(feed: &Value) -> Vec<String> {
    feed["entries"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_list_new_versions() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("p.csv");
    let population = dataset("population", "nso", "Хүн ам <аймгаар> & сумаар");
    std::fs::write(&csv, "aimag,people\nДорнод,80000\n").unwrap();
    ingest(data.path(), &csv, &population, "main").unwrap();
    std::fs::write(&csv, "aimag,air\nХовд,12\n").unwrap();
    ingest(data.path(), &csv, &dataset("air", "agaar", "Агаар"), "main").unwrap();
    std::fs::write(&csv, "aimag,people\nДорнод,80000\nХовд,90000\n").unwrap();
    ingest(data.path(), &csv, &population, "main").unwrap();
    let secret = opendata_datasets::DatasetMeta { private: true, ..dataset("draft-census", "nso", "Тооллого") };
    ingest(data.path(), &csv, &secret, "main").unwrap();
    let s = TestServer::serve(data).await;

    let portal = parse(s.url("/feeds/datasets.atom")).await;
    assert_eq!(portal["type"], "application/atom+xml; charset=utf-8");
    // Newest first; the private dataset is nobody's news; markup in a title stays text.
    assert_eq!(
        titles(&portal),
        [
            "Хүн ам <аймгаар> & сумаар — main, version 2",
            "Агаар — main, version 1",
            "Хүн ам <аймгаар> & сумаар — main, version 1"
        ]
    );
    let newest = &portal["entries"][0];
    assert_eq!(newest["summary"], "2 rows; 1 added, 0 removed since version 1");
    let csv = newest["links"]["enclosure"].as_str().unwrap();
    assert!(csv.ends_with("/api/v1/datasets/population/tables/main/data.csv?version=2"), "{csv}");
    let body = s.client.get(csv).send().await.unwrap().text().await.unwrap();
    assert_eq!(body.lines().count(), 3, "the enclosure is that version's CSV: {body}");
    let page = newest["links"]["alternate"].as_str().unwrap().to_owned();
    assert_eq!(s.client.get(page).send().await.unwrap().status(), 200);
    let ids: Vec<&str> = portal["entries"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(ids.iter().enumerate().all(|(i, id)| !ids[..i].contains(id)), "entry ids are unique: {ids:?}");

    let dataset_feed = parse(s.url("/datasets/population.atom")).await;
    assert_eq!(dataset_feed["title"], "Хүн ам <аймгаар> & сумаар");
    assert_eq!(titles(&dataset_feed).len(), 2);
    let org_feed = parse(s.url("/feeds/organizations/agaar.atom")).await;
    assert_eq!(titles(&org_feed), ["Агаар — main, version 1"]);

    // What readers may not see is not there: 404, as everywhere else.
    assert_eq!(s.get("/datasets/draft-census.atom").await.status(), 404);
    assert_eq!(s.get("/feeds/organizations/nope.atom").await.status(), 404);
    assert_eq!(s.get("/feeds/organizations/agaar.rss").await.status(), 404);
}
