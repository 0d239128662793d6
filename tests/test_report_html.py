"""The report and the approval sheet as decision makers see them, in a real headless Chromium:
clean (no errors, no requests beyond the file), every candidate listed with its evidence, no
table wider than its container and no cell clipped at a phone's width (390 px), a laptop's
(1280) and a wide screen's (1920), and printed on A4 in portrait and landscape with every
candidate in the PDF's text.

The fleet is the demo's: three servers laid out as a provincial government's (nginx and Apache
vhosts, apps under path prefixes, a default server `_`, a Node app), their agents reporting over
gRPC, the SPBE inventory imported and reconciled. Screenshots and PDFs go to build/screenshots/.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from browser import Browser
from click.testing import CliRunner
from decide_fleet import screenshots

from ronda.collector.cli import cli
from ronda.collector.store import Store

ROWS = "[...document.querySelectorAll('#%s tbody tr[data-subject]')].map(r => r.dataset.subject)"
# Everything in the page that is wider than its box: the page itself, a table past its container,
# a cell (or card, or chart) whose content does not fit. A visually hidden table head is skipped.
OVERFLOWS = """(() => {
  const bad = [], root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) bad.push(`page ${root.scrollWidth} > ${root.clientWidth}`);
  for (const t of document.querySelectorAll('table')) {
    const box = t.parentElement.getBoundingClientRect(), r = t.getBoundingClientRect();
    if (r.right > box.right + 1 || t.scrollWidth > t.clientWidth + 1)
      bad.push(`table ${t.id}: ${Math.round(r.width)} wide in ${Math.round(box.width)}`);
  }
  for (const c of document.querySelectorAll('td, th, .card, .usage, .sheet, dd')) {
    const head = c.closest('thead');
    if (head && head.getBoundingClientRect().width <= 1) continue;
    if (c.scrollWidth > c.clientWidth + 1)
      bad.push(`clipped ${c.tagName} '${c.textContent.trim().slice(0, 50)}': `
               + `${c.scrollWidth} > ${c.clientWidth}`);
  }
  return bad;
})()"""
# The print rules, as the browser applies them in print: table headers repeated on every page, rows
# never split across pages, nothing printed on grey (a grey background prints muddy and hides text).
PRINT_RULES = """(() => {
  const bad = [], style = e => getComputedStyle(e);
  for (const h of document.querySelectorAll('thead'))
    if (style(h).display !== 'table-header-group')
      bad.push(`thead of ${h.closest('table').id}: ${style(h).display}`);
  for (const r of document.querySelectorAll('tbody tr'))
    if (style(r).breakInside !== 'avoid')
      bad.push(`row ${r.dataset.subject || r.rowIndex}: ${style(r).breakInside}`);
  const boxes = 'body, header, section, article, th, td, .card, .sheet, dt, dd, .tag';
  for (const e of document.querySelectorAll(boxes)) {
    const m = style(e).backgroundColor.match(/rgba?\\((\\d+), (\\d+), (\\d+)(?:, ([\\d.]+))?/);
    const [r, g, b, a] = m.slice(1).map(Number), alpha = isNaN(a) ? 1 : a;
    const grey = alpha > 0 && Math.max(r, g, b) - Math.min(r, g, b) < 24 && Math.min(r, g, b) < 250;
    if (grey) bad.push(`${e.tagName}.${e.className} on ${style(e).backgroundColor}`);
  }
  return bad;
})()"""
WIDTHS = (390, 1280, 1920)
# A4 less the margins of the stylesheet's @page (10 mm each side), in CSS pixels (96 per inch).
PRINT_WIDTHS = {"portrait": round(190 / 25.4 * 96), "landscape": round(277 / 25.4 * 96)}

pytestmark = pytest.mark.servers  # headless Chromium loads the report; the demo fleet's agents report


@pytest.fixture(scope="module")
def pages(fleet_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pages")
    runner = CliRunner()
    written = {}
    for lang in ("id", "en"):
        report, sheet = out / f"report-{lang}.html", out / f"approval-{lang}.html"
        result = runner.invoke(
            cli,
            ["report", "--db", str(fleet_db), "--html", str(report), "--approval", str(sheet)]
            + ["--lang", lang, "--tz", "WITA"],
        )
        assert result.exit_code == 0, result.output
        written[f"report-{lang}"], written[f"approval-{lang}"] = report, sheet
    return written


def candidates(db: Path) -> list[dict]:
    return Store(db).query(
        "SELECT subject, app_id, app_key, name FROM verdicts "
        "WHERE verdict = 'safe-to-take-down' ORDER BY subject"
    )


def test_the_report_loads_clean_and_lists_every_candidate_with_its_evidence(pages, fleet_db, tmp_path):
    html = pages["report-id"].read_text()
    assert "<script" not in html and not re.search(r'<(img|link|iframe)[^>]+(src|href)="https?:', html)
    want = sorted(c["subject"] for c in candidates(fleet_db))
    with Browser(tmp_path) as browser:
        page = browser.load(pages["report-id"].as_uri(), width=1280)
        assert page.errors == [] and page.requests == [pages["report-id"].as_uri()]
        assert browser.evaluate(page, "document.documentElement.lang") == "id"
        assert sorted(browser.evaluate(page, ROWS % "candidates-table")) == want
        # A page of evidence for each, after the tables.
        assert (
            sorted(
                browser.evaluate(
                    page, "[...document.querySelectorAll('article.app')].map(a => a.dataset.subject)"
                )
            )
            == want
        )
        cards = browser.evaluate(
            page,
            "Object.fromEntries([...document.querySelectorAll('.card')]"
            ".map(c => [c.dataset.count, c.querySelector('b').textContent]))",
        )
        assert cards["safe-to-take-down"] == str(len(want)) and cards["candidate-cost"] == "Rp 50.000.000"
        assert cards["hosts"] == "3" and cards["stale"] == "0"
        # The decision already taken shows in its row, with who and why, escaped.
        decision = browser.evaluate(
            page, "document.querySelector('#candidates-table tr[data-subject=\"APP-004\"]').textContent"
        )
        assert "nonaktifkan" in decision and "Kadis Kominfo" in decision and "<2021>" in decision
        # Human names first: the declared name, then the id in small type.
        first = browser.evaluate(
            page,
            "document.querySelector('#candidates-table tr[data-subject=\"APP-003\"] td .name').textContent",
        )
        assert first == "SIMPUS Puskesmas"


def test_a_bot_only_app_shows_no_human_use(pages, fleet_db, tmp_path):
    """The default Apache site of web-bappeda gets only crawler traffic: its people lane has no bar,
    its bots-and-monitors lane has bars, and each lane is named beside its chart with its total."""
    subject = next(c["subject"] for c in candidates(fleet_db) if c["app_key"] == "apache:_:80/")
    with Browser(tmp_path) as browser:
        page = browser.load(pages["report-en"].as_uri(), width=1280)
        cell = f"document.querySelector('#candidates-table tr[data-subject=\"{subject}\"] .usage')"
        assert browser.evaluate(page, f"{cell}.querySelectorAll('rect.human').length") == 0
        assert browser.evaluate(page, f"{cell}.querySelectorAll('rect.automated').length") > 10
        lanes = browser.evaluate(page, f"[...{cell}.querySelectorAll('.who')].map(w => w.textContent)")
        assert (
            lanes[0] == "people 0"
            and re.fullmatch(r"bots & monitors [\d,]+", lanes[1])
            and lanes[1] != "bots & monitors 0"
        )


@pytest.mark.parametrize("name", ["report-id", "approval-id", "report-en"])
@pytest.mark.parametrize("width", WIDTHS)
def test_no_table_overflows_and_no_cell_is_clipped(pages, name, width, tmp_path):
    with Browser(tmp_path) as browser:
        page = browser.load(pages[name].as_uri(), width=width)
        assert browser.evaluate(page, OVERFLOWS) == []
        browser.screenshot(page, screenshots() / f"{name}-{width}.png")


@pytest.mark.parametrize("name", ["report-id", "approval-id"])
@pytest.mark.parametrize("orientation", ["portrait", "landscape"])
def test_printed_on_a4_every_candidate_is_in_the_pdf(pages, fleet_db, name, orientation, tmp_path):
    pdf = screenshots() / f"{name}-a4-{orientation}.pdf"
    with Browser(tmp_path) as browser:
        page = browser.load(pages[name].as_uri(), width=PRINT_WIDTHS[orientation])
        browser.send("Emulation.setEmulatedMedia", {"media": "print"}, session=page.session)
        assert browser.evaluate(page, OVERFLOWS) == []
        assert browser.evaluate(page, PRINT_RULES) == []
        browser.print_pdf(page, pdf, landscape=orientation == "landscape")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert size, info
    short, long = sorted(float(x) for x in size.groups())
    assert abs(short - 595) < 2 and abs(long - 842) < 2  # A4
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    for row in candidates(fleet_db):
        # pdftotext joins a word broken after a hyphen at the end of a line without the hyphen.
        key = "".join(re.escape(c) + ("?" if c == "-" else "") for c in row["app_id"] or row["app_key"])
        assert re.search(key, flat), row
    if name.startswith("approval"):
        for label in ("NIP", "Jabatan", "Tanda tangan", "nonaktifkan", "pertahankan", "tinjau ulang"):
            assert label in text
        pages_count = int(re.search(r"Pages:\s+(\d+)", info).group(1))
        opds = len(
            {
                r["owner"]
                for r in Store(fleet_db).query(
                    "SELECT owner FROM verdicts WHERE verdict = 'safe-to-take-down'"
                )
            }
        )
        assert pages_count >= opds  # one sheet per OPD, each starting a page


def test_a_table_longer_than_a_page_repeats_its_header_on_every_page(pages, tmp_path):
    """A province's candidate list runs over many pages: each printed page of it starts with the
    column headers. The demo's rows are repeated in the loaded page to make the table that long."""
    pdf = tmp_path / "long.pdf"
    with Browser(tmp_path) as browser:
        page = browser.load(pages["report-id"].as_uri(), width=PRINT_WIDTHS["portrait"])
        browser.send("Emulation.setEmulatedMedia", {"media": "print"}, session=page.session)
        header = browser.evaluate(
            page,
            """(() => {
              const body = document.querySelector('#candidates-table tbody'), rows = [...body.rows];
              for (let i = 0; i < 12; i++) rows.forEach(r => {
                const copy = body.appendChild(r.cloneNode(true));
                copy.cells[0].append(' SALINAN');  // marks the pages the table runs over
              });
              return [...document.querySelectorAll('#candidates-table thead th')].map(th => th.textContent);
            })()""",
        )
        browser.print_pdf(page, pdf)
    count = int(
        re.search(
            r"Pages:\s+(\d+)",
            subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout,
        ).group(1)
    )
    texts = [
        subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), "-layout", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in range(1, count + 1)
    ]
    table_pages = [text for text in texts if "SALINAN" in text]
    assert len(table_pages) >= 3, [len(t) for t in texts]
    for text in table_pages[1:]:  # each page it continues on opens with the header row
        top = text.lstrip().splitlines()[0].split()
        assert top[:2] == [header[0], header[1].split()[0]], text[:400]


def test_report_for_one_opd(fleet_db, tmp_path):
    out = tmp_path / "dinkes.html"
    result = CliRunner().invoke(
        cli, ["report", "--db", str(fleet_db), "--html", str(out), "--opd", "dinas kesehatan", "--lang", "id"]
    )
    assert result.exit_code == 0, result.output
    with Browser(tmp_path) as browser:
        page = browser.load(out.as_uri(), width=1280)
        assert sorted(browser.evaluate(page, ROWS % "candidates-table")) == ["APP-003", "APP-004"]
        owners = browser.evaluate(
            page,
            "[...document.querySelectorAll('#owners-table tbody td:first-child')].map(c => c.textContent)",
        )
        assert owners == ["Dinas Kesehatan"]


def test_the_harness_catches_overflow_external_requests_and_errors(tmp_path):
    """A page that reaches out (to a closed loopback port), throws and overflows is caught: the clean
    results above mean something."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><head><meta name="viewport" content="width=device-width"></head><body>'
        '<img src="http://127.0.0.1:9/x.png"><script>throw new Error("x")</script>'
        '<div style="width:300px"><table id="t" style="width:900px"><tr><td>wide</td></tr></table></div>'
        '<table id="u" style="table-layout:fixed;width:200px"><tr><td style="width:50px;overflow:hidden;'
        'white-space:nowrap">a long clipped value</td><td>x</td></tr></table></body></html>'
    )
    with Browser(tmp_path) as browser:
        page = browser.load(bad.as_uri(), width=390)
        found = browser.evaluate(page, OVERFLOWS)
    assert "http://127.0.0.1:9/x.png" in page.requests
    assert any("exception" in e for e in page.errors)
    assert any(f.startswith("page") for f in found) and any(f.startswith("table t") for f in found)
    assert any(f.startswith("clipped TD") for f in found)
