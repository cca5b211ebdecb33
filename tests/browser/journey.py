"""A reader's journey through the portal in real Chromium (Playwright driving Debian's
/usr/bin/chromium): search in Cyrillic and in Latin, open a dataset, filter the preview,
download the filtered CSV and check its rows, switch language, build a chart, and the same at
phone width; maps of a table of points and of a GeoJSON file's shapes, and the same pages
without JavaScript; then a page on another origin that reads the API, frames an embed, and is
refused the dataset page and a write.

    journey.py BASE_URL OUTPUT_DIR

Screenshots of the home, search and dataset pages land in OUTPUT_DIR. Exits non-zero with
the failed check on stderr.
"""
import csv
import http.server
import io
import sys
import threading

from playwright.sync_api import sync_playwright

base, out = sys.argv[1], sys.argv[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
    outside = []
    for width, height, tag in [(1280, 900, "desktop"), (360, 740, "phone")]:
        page = browser.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
        page.goto(base + "/")
        assert "Нээлттэй өгөгдөл" in page.title(), page.title()
        page.screenshot(path=f"{out}/home-{tag}.png", full_page=True)

        # Search in Cyrillic with the search box, then in Latin letters.
        page.fill("#q", "агаарын чанар")
        page.press("#q", "Enter")
        page.wait_for_url("**/datasets?q=*")
        assert page.locator("ol.hits li").count() >= 1
        page.screenshot(path=f"{out}/search-{tag}.png", full_page=True)
        page.goto(base + "/datasets?q=agaaryn%20chanar")
        first = page.locator("ol.hits li h2 a").first
        assert "Агаарын" in first.inner_text(), first.inner_text()

        # Open the dataset and filter its preview.
        first.click()
        page.wait_for_url("**/datasets/air-quality-ub*")
        page.locator("details", has=page.locator("summary", has_text="Шүүлтүүр")).first.evaluate("d => d.open = true")
        page.fill("input[name=station_code]", "UB01")
        page.select_option("select[name=order]", "-value")
        page.locator("section.preview form button[type=submit]").click()
        page.wait_for_url("**station_code=UB01*")
        cells = page.locator("table.rows tbody tr td:nth-child(2)").all_inner_texts()
        assert cells and all(c == "UB01" for c in cells), cells
        page.screenshot(path=f"{out}/dataset-{tag}.png", full_page=True)

        # The CSV download is the filtered view.
        with page.expect_download() as d:
            page.locator("p.downloads a", has_text="CSV").click()
        text = open(d.value.path(), encoding="utf-8").read()
        rows = list(csv.DictReader(io.StringIO(text)))
        total = int(page.locator("section.preview p.total").inner_text().split()[0])
        assert len(rows) == total and all(r["station_code"] == "UB01" for r in rows), (len(rows), total)

        # Switch language: the page and the metadata follow.
        page.locator("header a.lang").click()
        page.wait_for_url("**lang=en*")
        assert page.locator("html").get_attribute("lang") == "en"
        assert "Hourly air quality readings" in page.locator("h1").inner_text()

        # Build a chart of the filtered rows: the mean value a day, a line per indicator.
        builder = page.locator("section.chart-builder")
        builder.locator("select[name='chart.x']").select_option("observed_at")
        builder.locator("select[name='chart.y']").select_option("value")
        builder.locator("select[name='chart.agg']").select_option("mean")
        builder.locator("select[name='chart.group']").select_option("indicator")
        builder.locator("button[type=submit]").click()
        page.wait_for_url("**chart.x=observed_at*")
        chart = page.locator("figure svg.chart")
        assert chart.is_visible()
        series = chart.locator("g.series")
        assert series.count() == 4, series.count()
        assert all(series.nth(i).locator("polyline").count() >= 1 for i in range(4))
        assert "station_code=UB01" in page.url, "the chart keeps the preview's filter"
        chart.scroll_into_view_if_needed()
        page.screenshot(path=f"{out}/chart-{tag}.png", full_page=True)
        page.close()

    # Maps: points from longitude and latitude columns, shapes from a GeoJSON file, each
    # drawn from the portal's own Leaflet and outlines.
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
    for path, features in [("/datasets/aimag-centres", 22), ("/datasets/aimags", 4)]:
        page.goto(base + path)
        page.wait_for_selector("div.map.ready", timeout=20000)
        drawn = page.locator("div.map")
        assert drawn.get_attribute("data-features") == str(features), (path, drawn.get_attribute("data-features"))
        assert page.locator("div.map .leaflet-overlay-pane canvas").count() >= 1, "drawn on the map's canvas"
        drawn.scroll_into_view_if_needed()
        page.screenshot(path=f"{out}/map{path.replace('/', '-')}.png")
    # A filter narrows the map as it narrows the table.
    page.goto(base + "/datasets/aimag-centres?urtrag__gte=105")
    page.wait_for_selector("div.map.ready", timeout=20000)
    east = page.locator("div.map").get_attribute("data-features")
    assert east == str(page.locator("section.preview table.rows tbody tr").count()) and int(east) < 22, east
    page.close()
    # Without JavaScript: no map, the same rows as a table, and a word about it.
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "/datasets/aimag-centres")
    assert page.locator("section.preview table.rows tbody tr").count() == 20
    assert page.locator("div.map noscript").count() == 1
    assert page.locator("div.map .leaflet-container, div.map canvas").count() == 0
    context.close()
    assert not outside, f"requests off the portal: {outside}"

    # A newsroom's page on another origin: its script reads the API (CORS), it frames an
    # embed, and the framed dataset page itself is refused; a write from it is refused.
    embed = base + "/datasets/air-quality-ub/embed?station_code=UB01"
    article = f"""<!doctype html><html><body><h1>Article</h1>
      <iframe id="embed" src="{embed}" width="600" height="400"></iframe>
      <iframe id="framed" src="{base}/datasets/air-quality-ub" width="600" height="400"></iframe>
      </body></html>""".encode()

    class Newsroom(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(article)

        def log_message(self, *args):
            pass

    newsroom = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Newsroom)
    threading.Thread(target=newsroom.serve_forever, daemon=True).start()
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{newsroom.server_address[1]}/story")
    rows = page.evaluate("""async (url) => {
        const r = await fetch(url);
        return (await r.json()).rows.length;
    }""", base + "/api/v1/datasets/air-quality-ub/tables/readings/rows?station_code=UB01&limit=5")
    assert rows == 5, rows
    write = page.evaluate("""async (url) => {
        try {
            await fetch(url, {method: 'PATCH', headers: {'content-type': 'application/json'}, body: '{}'});
            return 'sent';
        } catch (e) { return 'refused'; }
    }""", base + "/api/v1/datasets/air-quality-ub")
    assert write == "refused", write
    page.wait_for_timeout(500)
    framed = {f.url: f for f in page.frames}
    assert framed[embed].locator("table tbody tr").count() == 20, "the embed shows its rows"
    assert "UB01" in framed[embed].locator("table").inner_text()
    # Chromium shows its own error page in place of a page that refuses to be framed.
    refused = page.frame_locator("#framed").locator("body").inner_text()
    assert "агаар" not in refused.lower() and "UB01" not in refused, f"the dataset page refuses to be framed: {refused}"
    page.screenshot(path=f"{out}/embed.png", full_page=True)
    page.close()
    newsroom.shutdown()
    browser.close()
print("journey ok")
