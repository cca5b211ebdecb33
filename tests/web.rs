//! The web pages over HTTP: both languages, search with highlights and facets, the dataset
//! page with its schema.org JSON-LD and downloads, and no request to another host.

use serde_json::Value;

use crate::common::TestServer;

async fn page(s: &TestServer, path: &str) -> String {
    let res = s.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
    res.text().await.unwrap()
}

/// Every `href` and `src` of a page that the portal itself serves: none may name another
/// host. A link to the publisher's own site (`rel="nofollow"`) is the one way off it, and
/// only when the reader follows it.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for part in html.split(attr).skip(1) {
            let (link, rest) = part.split_once('"').unwrap_or_default();
            if !rest.starts_with(" rel=\"nofollow\"") {
                out.push(link.to_owned());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_both_languages_with_no_outside_requests() {
    let s = TestServer::demo().await;

    let home = page(&s, "/").await;
    assert!(home.contains("<html lang=\"mn\">"));
    assert!(home.contains("Сүүлд шинэчлэгдсэн") && home.contains("<strong>7</strong>"));
    let home_en = page(&s, "/?lang=en").await;
    assert!(home_en.contains("<html lang=\"en\">") && home_en.contains("Recently updated"));
    assert!(home_en.contains("Population by aimag and the capital"), "English titles in English");

    // Search in Latin letters finds Cyrillic titles, with the match marked and facets.
    let search = page(&s, "/datasets?q=hun%20am").await;
    assert!(search.contains("<mark>Хүн</mark>"), "{search}");
    assert!(search.contains("href=\"/datasets/population-by-aimag\""));
    assert!(search.contains("class=\"facet\""));
    let filtered = page(&s, "/datasets?organization=agaar&lang=en").await;
    assert!(filtered.contains("1 results") && filtered.contains("aria-current=\"true\""), "{filtered}");

    // The dataset page: metadata, column dictionary, downloads, citation, JSON-LD.
    let dataset = page(&s, "/datasets/population-by-aimag?lang=en").await;
    assert!(dataset.contains("<h1>Population by aimag and the capital</h1>"));
    assert!(dataset.contains("data.parquet?version=1") && dataset.contains("Cite this dataset"));
    let ld = dataset.split("<script type=\"application/ld+json\">").nth(1).unwrap().split("</script>").next().unwrap();
    let ld: Value = serde_json::from_str(ld).unwrap();
    assert_eq!(ld["@type"], "Dataset");
    assert_eq!(ld["identifier"], "population-by-aimag");
    assert!(dataset.contains("@misc{population_by_aimag_"), "BibTeX");
    assert!(dataset.contains("Versions (1)") && dataset.contains("/versions/1/report"), "versions and quality reports");
    let years = page(&s, "/datasets?q=агаар").await;
    assert!(years.contains("name=\"year_from\""), "a years filter when the results cover years");

    // The preview filters and orders with the rows API's parameters and pages by cursor;
    // downloads carry the filter.
    let filtered = page(&s, "/datasets/air-quality-ub?station_code=UB01&order=-value").await;
    assert!(filtered.contains("data.csv?version=1&amp;station_code=UB01&amp;order=-value"), "filtered download");
    let rows = |html: &str| html.matches("<tr>").count();
    let next = filtered.split("rel=\"next\" href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert!(next.contains("cursor="), "{next}");
    let second = page(&s, &next).await;
    assert_eq!(rows(&second), rows(&filtered), "a full second page");
    assert_ne!(second.split("<tbody>").nth(2), filtered.split("<tbody>").nth(2), "other rows");
    let bad = page(&s, "/datasets/air-quality-ub?nope=1").await;
    assert!(bad.contains("role=\"alert\">unknown column `nope`"), "a bad filter explains itself");
    let org = page(&s, "/organizations/agaar").await;
    assert!(org.contains("href=\"/datasets/air-quality-ub\""));
    assert_eq!(s.get("/datasets/nope").await.status(), 404);

    for html in [&home, &home_en, &search, &dataset, &org] {
        for link in links(html) {
            assert!(link.starts_with('/') || link.starts_with('#'), "a link off the portal: {link}");
        }
    }
    // The stylesheet is named by its content and cached for good.
    let css = links(&home).into_iter().find(|l| l.ends_with(".css")).unwrap();
    let res = s.get(&css).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(s.get("/assets/portal-000000000000.css").await.status(), 404);
}

/// Each column's distribution, the quality summary, and charts drawn from the filtered rows,
/// their values checked against means computed here from the downloaded CSV.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_page_draws_distributions_and_charts() {
    let s = TestServer::demo().await;
    let plain = page(&s, "/datasets/air-quality-ub?lang=en").await;
    // Every column but the boolean has a distribution: 5 stations (twice), 4 indicators,
    // one unit, and 20-bin histograms of the time and the value.
    assert_eq!(plain.matches("<svg class=\"spark\"").count(), 6, "{plain}");
    assert!(
        plain.contains("aria-label=\"Most common: NO2 (10800)\""),
        "text values with their rows, ties in alphabetical order"
    );
    assert!(plain.contains("Data quality: 43200 / 43200 rows kept"), "the quality summary");
    assert!(plain.contains("<a href=\"https://agaar.mn\" rel=\"nofollow\">Source</a>"), "the publisher's source");
    let size =
        s.json("/api/v1/datasets/air-quality-ub", 200).await["tables"][0]["versions"][0]["byte_size"].as_u64().unwrap();
    assert!(size < 1 << 20, "the demo's readings are under a megabyte: {size}");
    let sized = format!("PARQUET ({} KB)", size.div_ceil(1024));
    assert!(plain.contains("Download (43200 rows): ") && plain.contains(&sized), "what a download holds: {sized}");
    let one = page(&s, "/datasets/air-quality-ub?lang=en&station_code=UB01").await;
    assert!(one.contains("Download (8640 rows): "), "the filtered view's rows");
    assert!(plain.contains("name=\"chart.x\"") && !plain.contains("<figure>"), "a chart only when asked for");

    // Mean PM2.5 per station, as bars, against the same rows downloaded and averaged here.
    let csv =
        s.get("/api/v1/datasets/air-quality-ub/tables/readings/data.csv?indicator=PM2.5").await.text().await.unwrap();
    let mut sums: std::collections::BTreeMap<String, (f64, u32)> = Default::default();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if let Ok(v) = f[4].parse::<f64>() {
            let e = sums.entry(f[1].to_owned()).or_default();
            *e = (e.0 + v, e.1 + 1);
        }
    }
    let query = "chart.x=station_code&chart.y=value&chart.agg=mean&chart.kind=bar&indicator=PM2.5";
    let html = page(&s, &format!("/datasets/air-quality-ub?lang=en&{query}")).await;
    let figure = html.split("<figure>").nth(1).expect("a chart").split("</figure>").next().unwrap();
    assert!(figure.contains("Mean of value · station_code"), "{figure}");
    for (station, (sum, n)) in &sums {
        let mean = format!("{:.2}", sum / f64::from(*n));
        let mean = mean.trim_end_matches('0').trim_end_matches('.');
        assert!(figure.contains(&format!("<title>{station}: {mean}</title>")), "{station} {mean}: {figure}");
    }
    assert_eq!(figure.matches("<rect").count(), sums.len(), "one bar per station");
    assert!(html.contains("name=\"indicator\" value=\"PM2.5\""), "the chart keeps the filter");

    // Readings per day and station: one line each, over days bucketed from hourly
    // readings, 24 a day; the same chart as a file.
    let lines = "chart.x=observed_at&chart.group=station_code&indicator=PM2.5";
    let res = s.get(&format!("/datasets/air-quality-ub/chart.svg?{lines}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    let svg = res.text().await.unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    assert_eq!(svg.matches("data-series=").count(), 5, "a series per station");
    let days = svg.split("<polyline").nth(1).unwrap().split("points=\"").nth(1).unwrap().split('"').next().unwrap();
    let points: Vec<(f64, &str)> =
        days.split(' ').map(|p| p.split_once(',').map(|(x, y)| (x.parse().unwrap(), y)).unwrap()).collect();
    assert_eq!(points.len(), 90, "a point for each day with readings");
    assert_eq!(points.iter().map(|p| p.1).collect::<std::collections::BTreeSet<_>>().len(), 1, "24 readings a day");
    // The demo has no 29 February: the time axis leaves a gap twice as wide as a day.
    let gaps: Vec<f64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let day = gaps[0];
    assert_eq!(gaps.iter().filter(|g| (**g - 2.0 * day).abs() < 0.3).count(), 1, "{gaps:?}");
    assert_eq!(gaps.iter().filter(|g| (**g - day).abs() < 0.3).count(), 88, "{gaps:?}");
    assert_eq!(svg.matches("<polyline").count(), 5);

    // Bad requests say what is allowed.
    for (query, code, needle) in [
        ("chart.x=value", "invalid_parameter", "can be one of: observed_at"),
        ("chart.x=nope", "unknown_column", "unknown column `nope`"),
        ("chart.x=station_code&chart.agg=sum", "invalid_parameter", "needs a `chart.y`"),
        ("chart.x=station_code&chart.kind=pie", "invalid_parameter", "line or bar"),
        ("station_code=UB01", "invalid_parameter", "chart.x"),
    ] {
        let res = s.get(&format!("/datasets/air-quality-ub/chart.svg?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], code, "{query}");
        assert!(body["detail"].as_str().unwrap().contains(needle), "{query}: {body}");
    }
    let page_error = page(&s, "/datasets/air-quality-ub?chart.x=value").await;
    assert!(page_error.contains("role=\"alert\">column `value` cannot be the chart"), "the page explains a bad chart");
}

/// The reader's journey in real Chromium (`tests/browser/journey.py`, Playwright driving
/// Debian's chromium; `.ci/run` installs both). Screenshots go to `target/browser/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_finds_filters_downloads_and_switches_language_in_chromium() {
    // The demo, and a GeoJSON file of shapes to map beside its table of points.
    let s = TestServer::start(|data| {
        let store = crate::common::store(data);
        let index = opendata_server::publish::open_index(&store, &store.index_dir()).unwrap();
        opendata_server::demo::install(&store, &index).unwrap();
        let geo = data.join("aimags.geojson");
        std::fs::write(&geo, crate::geography::boundaries().to_string()).unwrap();
        crate::common::ingest(data, &geo, &crate::common::dataset("aimags", "nso", "Аймгийн хил"), "main").unwrap();
    })
    .await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.parent().unwrap().join("target").join("browser");
    std::fs::create_dir_all(&out).unwrap();
    let (base, script) = (s.url(""), root.join("browser/journey.py"));
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3").arg(script).arg(base).arg(&out).output().expect("python3 runs")
    })
    .await
    .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("journey ok"), "{text}");
}

/// The publisher's journey in real Chromium (`tests/browser/publisher.py`), at desktop and
/// phone width, with axe-core (from the npm registry: `npm ci --prefix tests/browser`, which
/// `.ci/run` does) checking every page on the way for serious and critical violations.
/// Screenshots and axe's findings go to `target/browser/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_uploads_reviews_rereads_publishes_and_a_reader_gets_the_original_in_chromium() {
    let s = TestServer::demo().await;
    let catalog = s.state.store.catalog();
    let user = opendata_datasets::User {
        id: "bat".into(),
        name: "Бат".into(),
        site_admin: false,
        created_at: chrono::Utc::now(),
        memberships: vec![],
        disabled: false,
    };
    catalog.create_user(&user).unwrap();
    catalog.set_membership("bat", "nso", opendata_datasets::Role::Admin).unwrap();
    let password = "төсөв бол нээлттэй";
    catalog.set_password("bat", &opendata_server::accounts::hash_password(password).unwrap()).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.parent().unwrap().join("target").join("browser");
    std::fs::create_dir_all(&out).unwrap();
    let axe = root.join("browser/node_modules/axe-core/axe.min.js");
    assert!(axe.exists(), "axe-core is not installed: npm ci --prefix tests/browser (.ci/run does it)");
    let script = root.join("browser/publisher.py");
    let workbook = crate::common::fixture("budget.xlsx");
    let base = s.url("");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .args([base.as_str(), out.to_str().unwrap(), workbook.to_str().unwrap(), axe.to_str().unwrap()])
            .args(["bat", password])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("publisher journey ok"), "{text}");
}
