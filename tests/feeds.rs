//! Following a dataset: Atom feeds of new versions (the portal's, a publisher's and a
//! dataset's, read by a real XML parser, newest first, private datasets left out), and the
//! rows added and removed between two versions, against a diff computed here.

use std::process::Command;

use serde_json::Value;

use crate::common::{TestServer, dataset, ingest, org};

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
               'summary': e.find(A + 'summary').text, 'author': e.find(A + 'author/' + A + 'name').text,
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
    crate::common::store(data.path())
        .catalog()
        .upsert_organization(&org("nso", "Үндэсний статистикийн хороо"))
        .unwrap();
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
    assert_eq!(newest["author"], "Үндэсний статистикийн хороо", "the publisher as readers know it");
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

/// `lines` minus `other` as multisets, in `lines`' order.
fn minus(lines: &[&str], other: &[&str]) -> Vec<String> {
    let mut left: Vec<&str> = other.to_vec();
    lines
        .iter()
        .filter(|l| match left.iter().position(|o| o == *l) {
            Some(i) => {
                left.remove(i);
                false
            }
            None => true,
        })
        .map(|l| (*l).to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_between_versions() {
    let data = tempfile::tempdir().unwrap();
    let csv = data.path().join("p.csv");
    let meta = dataset("population", "nso", "Хүн ам");
    let v1 = "Дорнод,80000\nХовд,90000\nХовд,90000\nУвс,70000\nУвс,70000";
    let v2 = "Дорнод,80000\nХовд,90000\nУвс,71000\nЗавхан,60000\nУвс,70000\nЗавхан,60000";
    for rows in [v1, v2] {
        std::fs::write(&csv, format!("aimag,people\n{rows}\n")).unwrap();
        ingest(data.path(), &csv, &meta, "main").unwrap();
    }
    let s = TestServer::serve(data).await;
    let base = "/api/v1/datasets/population/tables/main/versions/2";

    let (old, new): (Vec<&str>, Vec<&str>) = (v1.lines().collect(), v2.lines().collect());
    let mut expected: Vec<String> = minus(&old, &new).iter().map(|l| format!("removed,{l}")).collect();
    expected.extend(minus(&new, &old).iter().map(|l| format!("added,{l}")));
    let res = s.get(&format!("{base}/changes.csv")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let etag = res.headers()["etag"].clone();
    let body = res.text().await.unwrap();
    let again = s.client.get(s.url(&format!("{base}/changes.csv"))).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), 304, "a client that has it computes nothing");
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("_change,aimag,people"));
    assert_eq!(lines.map(str::to_owned).collect::<Vec<_>>(), expected);
    assert_eq!(s.get(&format!("{base}/changes.csv?since=1")).await.text().await.unwrap(), body);

    // The catalog's counts are the download's rows.
    let d = s.json("/api/v1/datasets/population", 200).await;
    let counted = &d["tables"][0]["versions"][1]["changes"];
    let ndjson = s.get(&format!("{base}/changes.ndjson")).await.text().await.unwrap();
    let rows: Vec<serde_json::Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let count = |kind: &str| rows.iter().filter(|r| r["_change"] == kind).count() as u64;
    assert_eq!((count("added"), count("removed")), (3, 2));
    assert_eq!((counted["rows_added"].as_u64(), counted["rows_removed"].as_u64()), (Some(3), Some(2)));
    assert_eq!(rows[0]["people"], 90000, "numbers stay numbers");

    for (path, status) in [
        (format!("{base}/changes.csv?since=2"), 400),
        (format!("{base}/changes.csv?since=x"), 400),
        ("/api/v1/datasets/population/tables/main/versions/1/changes.csv".to_owned(), 400),
        (format!("{base}/changes.xml"), 404),
        ("/api/v1/datasets/population/tables/main/versions/3/changes.csv".to_owned(), 404),
    ] {
        let res = s.get(&path).await;
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json", "{path}");
    }
}
