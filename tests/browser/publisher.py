"""A publisher's journey in real Chromium (Playwright driving Debian's /usr/bin/chromium),
at desktop and at phone width: sign in, create a dataset, upload a messy workbook, read the
draft's quality report, read it again from another sheet and header row, publish, and add a
PDF; then the organization's page its admin manages members on. Then a reader finds the dataset by search and downloads the original file, which must
be the bytes that were uploaded. Every page on the way is checked with axe-core.

    publisher.py BASE_URL OUTPUT_DIR WORKBOOK AXE_JS USER PASSWORD

Screenshots land in OUTPUT_DIR, and axe's findings in OUTPUT_DIR/axe.json. Exits non-zero
with the failed check on stderr.
"""
import json
import pathlib
import re
import sys

from playwright.sync_api import sync_playwright

base, out, workbook, axe_js, user, password = sys.argv[1:7]
out = pathlib.Path(out)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
AXE = pathlib.Path(axe_js).read_text()
# Serious and critical findings fail the journey; the others are reported.
RUN_AXE = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                  nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
}"""
findings = {}


def check_accessibility(page, name):
    page.add_script_tag(content=AXE)
    violations = page.evaluate(RUN_AXE)
    findings[name] = violations
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {json.dumps(bad, ensure_ascii=False, indent=1)}"


def wait_for_draft(page, has_text):
    """The manage page reloads itself every 2 s while the ingest runs."""
    page.locator("section.draft", has_text=has_text).wait_for(timeout=180_000)


pdf_path = out / "methodology.pdf"
pdf_path.write_bytes(PDF)
sent = pathlib.Path(workbook).read_bytes()

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
    outside = []
    for width, height, tag in [(1280, 900, "desktop"), (360, 740, "phone")]:
        dataset = f"budget-{tag}"
        title = f"Төсвийн гүйцэтгэл {tag}"
        context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        page = context.new_page()
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)

        # Sign in.
        page.goto(base + "/publish")
        page.wait_for_url("**/login?next=*")
        check_accessibility(page, f"login-{tag}")
        page.fill("#user", user)
        page.fill("#password", password)
        page.locator("form[action='/login'] button[type=submit]").click()
        page.wait_for_url("**/publish")
        check_accessibility(page, f"dashboard-{tag}")
        page.screenshot(path=str(out / f"publisher-dashboard-{tag}.png"), full_page=True)

        # Create a dataset.
        page.locator("a[href='/publish/new']").click()
        page.wait_for_url("**/publish/new")
        check_accessibility(page, f"new-dataset-{tag}")
        page.select_option("#organization", "nso")
        page.fill("#id", dataset)
        page.fill("#title", title)
        page.fill("#title_en", f"Budget execution {tag}")
        page.fill("#description", "Улсын төсвийн орлого, зарлага аймгаар")
        page.fill("#tags", "төсөв, budget")
        page.select_option("#frequency", "annual")
        page.fill("#temporal", "2023")
        page.fill("#spatial", "Монгол Улс, аймгаар")
        page.locator("form[action='/publish/new'] button[type=submit]").click()
        page.wait_for_url(f"**/publish/datasets/{dataset}")

        # Upload the messy workbook (the progress bar's form, sent by script): each data
        # sheet becomes a table, each one's first version a draft.
        page.fill("#table", "budget")
        page.set_input_files("#file", workbook)
        page.locator("#upload button[type=submit]").click()
        wait_for_draft(page, "orlogo-2023 v1")
        wait_for_draft(page, "zarlaga-2023 v1")
        income = page.locator("section.draft", has_text="orlogo-2023 v1")
        check_accessibility(page, f"draft-{tag}")
        page.screenshot(path=str(out / f"publisher-draft-{tag}.png"), full_page=True)

        # The report shows what the ingest made of the title row and the two-row header;
        # the publisher wants the second header row alone, and reads the sheet again.
        report = income.locator("p").first.inner_text()
        assert "4" in report, report
        before = income.locator("table.dictionary tbody td:first-child").all_inner_texts()
        assert income.locator("table.rows tbody tr").count() == 4, "the draft's rows are shown"
        assert "Архангай" in income.locator("table.rows").inner_text()
        assert "c_2023_on_guitsetgel" in before, before
        income.locator("details").first.evaluate("d => d.open = true")
        page.fill("#header_row-orlogo-2023", "4")
        income.locator("form[action$='/reread'] button[type=submit]").click()
        page.wait_for_url("**job=*")
        page.locator("section.draft table.dictionary td", has_text=re.compile("^guitsetgel$")).wait_for(timeout=180_000)
        after = page.locator("section.draft", has_text="orlogo-2023").locator("table.dictionary tbody td:first-child").all_inner_texts()
        assert "guitsetgel" in after and "c_2023_on_guitsetgel" not in after, (before, after)
        spending = page.locator("section.draft", has_text="zarlaga-2023").locator("table.dictionary tbody td:first-child")
        assert spending.all_inner_texts() == ["aimag", "kod", "zarlaga"], "the other sheet's draft is left alone"
        page.screenshot(path=str(out / f"publisher-reread-{tag}.png"), full_page=True)

        # Publish both now.
        for table in ["orlogo-2023", "zarlaga-2023"]:
            draft = page.locator("section.draft", has_text=f"{table} v1")
            draft.locator("form[action$='/publish'] button[type=submit]").first.click()
            page.wait_for_url(f"**/publish/datasets/{dataset}")
        assert page.locator("section.draft").count() == 0, "published: no draft is left"
        assert "v1" in page.locator("h3").first.inner_text()

        # Add a PDF.
        page.locator("details", has=page.locator("summary", has_text="Баримт бичиг нэмэх")).evaluate("d => d.open = true")
        page.fill("#document-title", "Аргачлал")
        page.set_input_files("#document-file", str(pdf_path))
        page.locator("form[action$='/documents'] button[type=submit]").click()
        page.wait_for_url(f"**/publish/datasets/{dataset}#documents")
        assert page.locator("ul.documents li", has_text="Аргачлал").count() == 1
        check_accessibility(page, f"manage-{tag}")
        page.screenshot(path=str(out / f"publisher-published-{tag}.png"), full_page=True)

        # The organization's page, where its admin manages members.
        page.goto(base + "/publish/organizations/nso")
        assert page.locator("td", has_text=user).count() >= 1, "the admin is listed among the members"
        check_accessibility(page, f"organization-{tag}")
        page.screenshot(path=str(out / f"publisher-organization-{tag}.png"), full_page=True)
        context.close()

        # A reader, not signed in, finds it and downloads what the agency sent.
        reader = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        page = reader.new_page()
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None)
        page.goto(base + "/")
        check_accessibility(page, f"home-{tag}")
        page.fill("#q", "төсвийн гүйцэтгэл " + tag)
        page.press("#q", "Enter")
        page.wait_for_url("**/datasets?q=*")
        check_accessibility(page, f"search-{tag}")
        page.locator("ol.hits li h2 a", has_text=title).first.click()
        page.wait_for_url(f"**/datasets/{dataset}*")
        assert page.locator("section.documents li", has_text="Аргачлал").count() == 1
        check_accessibility(page, f"dataset-{tag}")
        page.screenshot(path=str(out / f"reader-dataset-{tag}.png"), full_page=True)
        page.locator("details.versions").first.evaluate("d => d.open = true")
        with page.expect_download() as d:
            page.locator("details.versions a[download]").first.click()
        got = pathlib.Path(d.value.path()).read_bytes()
        assert got == sent, f"the original came back as {len(got)} bytes, not the {len(sent)} sent"
        reader.close()
    assert not outside, f"requests off the portal: {outside}"
    browser.close()

(out / "axe.json").write_text(json.dumps(findings, ensure_ascii=False, indent=1))
minor = sum(len(v) for v in findings.values())
print(f"axe: {len(findings)} pages, 0 serious or critical violations, {minor} minor or moderate")
print("publisher journey ok")
