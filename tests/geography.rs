//! Geography: longitude and latitude found by name and range, GeoJSON shapes kept with
//! their bounding boxes, `data.geojson` read by a real client (shapely), and `bbox`
//! compared with a filter computed here.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use opendata_datasets::ColumnOverride;
use opendata_datasets::geo::ColumnRole;
use serde_json::{Value, json};

use crate::common::{TestServer, dataset, ingest, ingest_with};

/// Deterministic points over Mongolia: (name, lon, lat, value).
fn stations(n: usize) -> Vec<(String, f64, f64, i64)> {
    let mut seed: u64 = 42;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|i| {
            let lon = 87.75 + next() * 32.0;
            let lat = 41.6 + next() * 10.5;
            (format!("ST{i:04}"), (lon * 1e5).round() / 1e5, (lat * 1e5).round() / 1e5, i as i64)
        })
        .collect()
}

/// Polygons as an agency's GeoJSON has them, a point, and a feature with no geometry.
pub(crate) fn boundaries() -> Value {
    let square = |w: f64, s: f64, e: f64, n: f64| json!({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]});
    json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Ховд", "code": "84"}, "geometry": square(89.0, 45.0, 94.5, 49.5)},
        {"type": "Feature", "properties": {"name": "Төв", "code": "61"}, "geometry": square(103.5, 45.8, 109.0, 49.0)},
        {"type": "Feature", "properties": {"name": "Дорнод", "code": "21"}, "geometry": {"type": "MultiPolygon", "coordinates": [
            [[[111.0, 46.0], [119.9, 46.0], [119.9, 50.0], [111.0, 50.0], [111.0, 46.0]]],
            [[[112.0, 44.5], [113.0, 44.5], [113.0, 45.0], [112.0, 45.0], [112.0, 44.5]]]]}},
        {"type": "Feature", "properties": {"name": "Улаанбаатар", "code": "11"}, "geometry": {"type": "Point", "coordinates": [106.92, 47.92]}},
        {"type": "Feature", "properties": {"name": "Тодорхойгүй", "code": "99"}, "geometry": null},
    ]})
}

fn write_stations(data: &Path, rows: &[(String, f64, f64, i64)]) -> std::path::PathBuf {
    let mut csv = String::from("Станц,Уртраг,Өргөрөг,Утга\n");
    for (name, lon, lat, value) in rows {
        csv.push_str(&format!("{name},{lon},{lat},{value}\n"));
    }
    let path = data.join("stations.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

async fn server(rows: &[(String, f64, f64, i64)]) -> TestServer {
    TestServer::start(|data| {
        let csv = write_stations(data, rows);
        ingest(data, &csv, &dataset("stations", "agaar", "Агаарын станцууд"), "main").unwrap();
        let geo = data.join("aimags.geojson");
        std::fs::write(&geo, boundaries().to_string()).unwrap();
        ingest(data, &geo, &dataset("aimags", "nso", "Аймгийн хил"), "main").unwrap();
        // Columns whose names say nothing, made a place by the publisher.
        let xy = data.join("xy.csv");
        std::fs::write(&xy, "name,x,y\na,106.9,47.9\nb,91.6,48.0\n").unwrap();
        let columns = [("x", ColumnRole::Longitude), ("y", ColumnRole::Latitude)]
            .map(|(c, role)| (c.to_owned(), ColumnOverride { role: Some(role), ..Default::default() }))
            .into_iter()
            .collect();
        ingest_with(data, &xy, &dataset("xy", "nso", "XY"), "main", Default::default(), columns).unwrap();
        let plain = data.join("plain.csv");
        std::fs::write(&plain, "lon,lat\n500000.5,41.6\n600000.5,52.1\n").unwrap();
        ingest(data, &plain, &dataset("metres", "nso", "Projected"), "main").unwrap();
    })
    .await
}

fn roles(detail: &Value) -> Vec<(String, String)> {
    detail["tables"][0]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["role"].as_str().map(|r| (c["name"].as_str().unwrap().to_owned(), r.to_owned())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn places_are_found_and_served_as_geojson() {
    let rows = stations(500);
    let s = server(&rows).await;

    let detail = s.json("/api/v1/datasets/stations", 200).await;
    assert_eq!(roles(&detail), vec![("urtrag".into(), "longitude".into()), ("orgorog".into(), "latitude".into())]);
    assert!(detail["tables"][0]["downloads"]["geojson"].as_str().unwrap().contains("/data.geojson?version=1"));
    let aimags = s.json("/api/v1/datasets/aimags", 200).await;
    assert_eq!(roles(&aimags), vec![("geometry".into(), "geometry".into())]);
    assert_eq!(roles(&s.json("/api/v1/datasets/xy", 200).await).len(), 2, "the publisher's roles");
    let metres = s.json("/api/v1/datasets/metres", 200).await;
    assert!(roles(&metres).is_empty(), "named lon and lat, but not degrees");
    assert!(metres["tables"][0]["downloads"].get("geojson").is_none());
    let report = s.json("/api/v1/datasets/stations/tables/main/versions/1/report", 200).await;
    assert!(
        report["report"]["decisions"]["geography"].as_str().is_some_and(|g| g.contains("longitude `urtrag`")),
        "{report}"
    );

    // The points, every one, where the CSV put them.
    let res = s.get("/api/v1/datasets/stations/tables/main/data.geojson").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/geo+json");
    let fc: Value = res.json().await.unwrap();
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), 500);
    for (f, (name, lon, lat, _)) in features.iter().zip(&rows) {
        assert_eq!(f["properties"]["stants"], name.as_str());
        assert_eq!(f["geometry"]["coordinates"], json!([lon, lat]));
    }
    let sample = s.json("/api/v1/datasets/stations/tables/main/data.geojson?limit=10&utga__gte=100", 200).await;
    assert_eq!(sample["features"].as_array().unwrap().len(), 10, "a map's sample, filtered");
    assert_eq!(sample["features"][0]["properties"]["utga"], 100);

    // Shapes keep their geometry; a feature without one stays, without a place.
    let shapes = s.json("/api/v1/datasets/aimags/tables/main/data.geojson", 200).await;
    let features = shapes["features"].as_array().unwrap();
    assert_eq!(features.len(), 5);
    assert_eq!(features[2]["geometry"], boundaries()["features"][2]["geometry"]);
    assert_eq!(features[4]["geometry"], Value::Null);
    assert!(features[0]["properties"].get("bbox_min_lon").is_none(), "place columns are not properties");

    // A real client reads both.
    for (id, expected) in [("stations", 500), ("aimags", 4)] {
        let body = s.get(&format!("/api/v1/datasets/{id}/tables/main/data.geojson")).await.text().await.unwrap();
        let file = s.data.path().join(format!("{id}.geojson"));
        std::fs::write(&file, body).unwrap();
        let out = Command::new("python3")
            .args(["-c", SHAPELY, file.to_str().unwrap()])
            .output()
            .expect("python3 with shapely (.ci/run installs it)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{expected} valid"));
    }

    // No place, no GeoJSON and no bbox: the API's problems.
    let res = s.get("/api/v1/datasets/metres/tables/main/data.geojson").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(s.get("/api/v1/datasets/metres/tables/main/rows?bbox=0,0,1,1").await.status(), 400);
}

/// Reads a GeoJSON file with shapely and prints how many geometries are valid shapes.
const SHAPELY: &str = r#"
import json, sys
from shapely.geometry import shape
doc = json.load(open(sys.argv[1]))
assert doc["type"] == "FeatureCollection"
shapes = [shape(f["geometry"]) for f in doc["features"] if f["geometry"] is not None]
assert all(s.is_valid for s in shapes)
print(len(shapes), "valid")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bbox_keeps_what_a_brute_force_filter_keeps() {
    let rows = stations(500);
    let s = server(&rows).await;
    let boxes = [
        [87.0, 41.0, 120.0, 53.0],
        [100.0, 45.0, 108.0, 49.0],
        [90.5, 42.25, 91.75, 50.0],
        [110.0, 50.0, 111.0, 51.0],
        [0.0, 0.0, 1.0, 1.0],
        [106.0, 47.0, 106.0, 52.0],
    ];
    for b in boxes {
        let bbox = b.map(|v| v.to_string()).join(",");
        let expected: BTreeSet<String> = rows
            .iter()
            .filter(|(_, lon, lat, _)| *lon >= b[0] && *lon <= b[2] && *lat >= b[1] && *lat <= b[3])
            .map(|r| r.0.clone())
            .collect();
        let page = s.json(&format!("/api/v1/datasets/stations/tables/main/rows?bbox={bbox}&limit=10000"), 200).await;
        let got: BTreeSet<String> =
            page["rows"].as_array().unwrap().iter().map(|r| r["stants"].as_str().unwrap().to_owned()).collect();
        assert_eq!(got, expected, "rows, bbox {bbox}");
        assert_eq!(page["total"], expected.len(), "bbox {bbox}");
        let fc = s.json(&format!("/api/v1/datasets/stations/tables/main/data.geojson?bbox={bbox}"), 200).await;
        let got: BTreeSet<String> = fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["stants"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, expected, "data.geojson, bbox {bbox}");
        let csv =
            s.get(&format!("/api/v1/datasets/stations/tables/main/data.csv?bbox={bbox}")).await.text().await.unwrap();
        assert_eq!(csv.lines().count(), expected.len() + 1, "data.csv, bbox {bbox}");
    }
    // Shapes: those whose bounding box meets the box (Төв, and Улаанбаатар's point in it).
    let fc = s.json("/api/v1/datasets/aimags/tables/main/data.geojson?bbox=105,47,107,48", 200).await;
    let names: Vec<&str> =
        fc["features"].as_array().unwrap().iter().map(|f| f["properties"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Төв", "Улаанбаатар"]);
    let fc = s.json("/api/v1/datasets/aimags/tables/main/data.geojson?bbox=112.2,44.6,112.3,44.7", 200).await;
    assert_eq!(fc["features"][0]["properties"]["name"], "Дорнод", "by its small part's box too");

    for bad in ["1,2,3", "a,b,c,d", "-181,0,0,1", "0,-91,1,0", "10,0,5,1", "0,10,1,5", "1,2,3,4,5"] {
        let res = s.get(&format!("/api/v1/datasets/stations/tables/main/rows?bbox={bad}")).await;
        assert_eq!(res.status(), 400, "{bad}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_parameter", "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_a_map_from_its_own_assets() {
    let s = server(&stations(50)).await;
    let page = s.get("/datasets/stations?lang=en&utga__lt=20").await.text().await.unwrap();
    let at = page.find("<div class=\"map\"").expect("a map");
    let div = &page[at..page[at..].find('>').unwrap() + at];
    assert!(
        div.contains("data-src=\"/api/v1/datasets/stations/tables/main/data.geojson?utga__lt=20&amp;limit=10000\""),
        "{div}"
    );
    assert!(page.contains("<noscript>"), "without JavaScript it says where the rows are");
    assert!(page.contains("<table"), "and the rows are there as a table");
    // Every script and style it loads is the portal's own.
    for attr in ["src=\"/assets/", "href=\"/assets/"] {
        for (i, _) in page.match_indices(attr) {
            let path = &page[i + attr.len() - "/assets/".len()..];
            let path = &path[..path.find('"').unwrap()];
            let res = s.get(path).await;
            assert_eq!(res.status(), 200, "{path}");
            assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        }
    }
    assert!(page.contains("leaflet-") && page.contains("map-"), "Leaflet and the map script");
    assert!(!s.get("/datasets/metres?lang=en").await.text().await.unwrap().contains("<div class=\"map\""));
    let embed = s.get("/datasets/stations/embed?map=true").await.text().await.unwrap();
    assert!(embed.contains("<div class=\"map\"") && embed.contains("/data.geojson?limit=10000"), "{embed}");
}
