"""`ronda web` as a person uses it: a real `ronda web` process over the demo's store (`ronda demo
--keep`: real agents over real gRPC, the sample SPBE inventory, reconciled), driven in headless
Chromium. Screenshots are kept in build/screenshots/ for a person to look at."""

from __future__ import annotations

import http.client
import json
import re
import ssl
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from browser import Browser
from certs import self_signed
from decide_fleet import screenshots
from web_console import BIN, awaited, fill, ronda_web, run_web, text, wait_for_load
from web_visitor import BUDI, PASSWORD

pytestmark = pytest.mark.servers

OPD = "Dinas Kesehatan"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's store, made the way a user makes it."""
    work = tmp_path_factory.mktemp("web-demo")
    done = subprocess.run(
        [str(BIN / "ronda"), "demo", "--keep", str(work)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return work / "ronda.db"


@pytest.fixture(scope="module")
def web_toml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web-config") / "web.toml"
    path.write_text(f'[accounts.budi]\nname = "{BUDI.name}"\npassword_hash = "{BUDI.password_hash}"\n')
    return path


@pytest.fixture(scope="module")
def console(demo: Path, web_toml: Path):
    with ronda_web(demo, config=web_toml) as url:
        yield url


@pytest.fixture
def browser(tmp_path: Path):
    with Browser(tmp_path) as b:
        yield b


def ronda(*args: str) -> str:
    done = subprocess.run([str(BIN / "ronda"), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_candidates_filtered_by_an_opd(console: str, browser: Browser) -> None:
    page = browser.load(console + "/", width=1600)
    # From the start page, as a person comes: the view shows first what a person reads.
    wait_for_load(browser, page, "document.querySelector('ul.ronda-entry a').click()")
    assert page.errors == []
    everyone = browser.evaluate(page, "document.querySelectorAll('table.rows-and-columns tbody tr').length")
    # The OPD facet, as a person clicks it.
    url = wait_for_load(
        browser,
        page,
        "[...document.querySelectorAll('.facet-info a')].find(a => a.textContent.trim() === "
        + json.dumps(OPD)
        + ").click()",
    )
    assert "owner=" in url
    owners = browser.evaluate(
        page, "[...document.querySelectorAll('td.col-owner')].map(td => td.textContent.trim())"
    )
    assert owners and set(owners) == {OPD} and len(owners) < everyone
    headers = browser.evaluate(
        page, "[...document.querySelectorAll('th .ronda-label')].map(s => s.textContent)"
    )
    assert "Owner (OPD)" in headers and "Annual cost" in headers
    costs = browser.evaluate(
        page, "[...document.querySelectorAll('td.col-annual_cost')].map(td => td.textContent)"
    )
    assert costs[0].startswith("IDR ")
    browser.screenshot(page, screenshots() / "web-candidates.png")


def test_an_app_page_shows_its_usage_chart(console: str, browser: Browser) -> None:
    page = browser.load(console + "/ronda/takedown_candidates", width=1280)
    url = wait_for_load(browser, page, "document.querySelector('a.ronda-app').click()")
    assert "/-/ronda/app?subject=" in url
    assert page.errors == []
    bars = browser.evaluate(page, "document.querySelectorAll('.ronda-evidence .usage svg rect').length")
    assert bars > 10, "a bar a week, or a mark where the logs do not reach"
    body = text(browser, page)
    assert "Where it runs" in body and "Reasons" in body and "Findings" in body
    assert "Sign in to record a decision" in body
    assert browser.evaluate(page, "document.querySelector('form[action$=\"/-/ronda/decide\"]')") is None
    browser.screenshot(page, screenshots() / "web-app-anonymous.png")


def test_an_anonymous_visitor_cannot_write(console: str, browser: Browser, demo: Path) -> None:
    page = browser.load(console + "/-/ronda/login")
    token = browser.evaluate(page, "document.querySelector('input[name=csrftoken]').value")
    status = awaited(
        browser,
        page,
        "fetch('/-/ronda/decide', {method: 'POST', redirect: 'manual', body: new URLSearchParams("
        + json.dumps({"subject": "APP-003", "decision": "take-down", "reason": "x", "csrftoken": token})
        + ")}).then(r => r.status)",
    )
    assert status in (0, 403), status  # 0: an opaque redirect to the sign-in page
    sql = "select count(*) from decisions"
    answer = browser.load(console + "/ronda.json?sql=" + sql.replace(" ", "+") + "&_shape=array")
    assert '"count(*)": 0' in text(browser, answer)
    for sql in ("delete from verdicts", "insert into decisions (subject) values ('x')"):
        refused = browser.load(console + "/ronda?sql=" + sql.replace(" ", "+"))
        assert "Statement must be a SELECT" in text(browser, refused)


def test_a_signed_in_person_records_a_decision(console: str, browser: Browser, demo: Path) -> None:
    page = browser.load(console + "/-/ronda/app?subject=APP-003", width=1280)
    url = wait_for_load(browser, page, "document.querySelector('#decide a').click()")
    assert "/-/ronda/login" in url
    fill(browser, page, {"#username": "budi", "#password": PASSWORD})
    url = wait_for_load(browser, page, "document.querySelector('form.ronda-form button').click()")
    assert url.endswith("/-/ronda/app?subject=APP-003"), "back to the page the person came from"
    assert BUDI.name in text(browser, page)
    browser.evaluate(page, "document.querySelector('input[value=\"take-down\"]').click()")
    fill(browser, page, {"#reason": "Digantikan SIMPUS baru di e-Puskesmas; rapat 3 Desember"})
    browser.evaluate(page, "document.activeElement.blur()")
    browser.screenshot(page, screenshots() / "web-app-decide.png")
    url = wait_for_load(browser, page, "document.querySelector('#decide button').click()")
    assert "APP-003" in url
    assert "Recorded: take down by Budi Santoso (budi)" in text(browser, page)
    [decision] = json.loads(ronda("decisions", "--app", "APP-003", "--db", str(demo), "--format", "json"))
    assert decision["decided_by"] == "Budi Santoso (budi)"
    assert decision["reason"] == "Digantikan SIMPUS baru di e-Puskesmas; rapat 3 Desember"
    assert decision["verdict_then"] == "safe-to-take-down"


def test_a_take_down_against_the_evidence_is_refused_then_forced(
    console: str, browser: Browser, demo: Path
) -> None:
    # e-Planning Bappeda: people used it this week, so ronda says keep; the province moved its
    # planning to the national SIPD RI all the same, a decision taken above the evidence.
    reason = "Perencanaan pindah ke SIPD RI (Kemendagri) mulai Januari; surat Sekda 2 Desember"
    page = browser.load(console + "/-/ronda/login?next=/-/ronda/app%3Fsubject%3DAPP-005", width=1280)
    fill(browser, page, {"#username": "budi", "#password": PASSWORD})
    url = wait_for_load(browser, page, "document.querySelector('form.ronda-form button').click()")
    assert url.endswith("/-/ronda/app?subject=APP-005")
    assert browser.evaluate(page, "document.querySelector('input[name=force]')") is None
    browser.evaluate(page, "document.querySelector('input[value=\"take-down\"]').click()")
    fill(browser, page, {"#reason": reason})
    wait_for_load(browser, page, "document.querySelector('#decide button').click()")
    assert "Refused: ronda's verdict on APP-005 is keep" in text(browser, page, "#decide [role=alert]")
    # Nothing typed is lost, and nothing is recorded yet.
    assert browser.evaluate(page, "document.querySelector('#reason').value") == reason
    assert browser.evaluate(page, "document.querySelector('input[value=\"take-down\"]').checked")
    assert json.loads(ronda("decisions", "--app", "APP-005", "--db", str(demo), "--format", "json")) == []
    browser.evaluate(page, "document.querySelector('input[name=force]').click()")
    browser.evaluate(page, "document.querySelector('#decide').scrollIntoView()")
    browser.screenshot(page, screenshots() / "web-app-force.png")
    url = wait_for_load(browser, page, "document.querySelector('#decide button').click()")
    assert url.endswith("/-/ronda/app?subject=APP-005")
    assert "Recorded against ronda's evidence: ronda's verdict on APP-005 is keep" in text(browser, page)
    [decision] = json.loads(ronda("decisions", "--app", "APP-005", "--db", str(demo), "--format", "json"))
    assert (decision["decision"], decision["decided_by"], decision["reason"]) == (
        "take-down",
        "Budi Santoso (budi)",
        reason,
    )
    assert decision["verdict_then"] == "keep"


def test_the_report_is_served_live(console: str, browser: Browser) -> None:
    page = browser.load(console + "/-/ronda/report")
    assert page.errors == []
    assert all(r.startswith(console) or r.startswith("data:") for r in page.requests)
    assert "SIMPUS Puskesmas" in text(browser, page)


def test_the_start_page_leads_to_the_views_and_questions(console: str, browser: Browser) -> None:
    page = browser.load(console + "/", width=1280)
    links = browser.evaluate(
        page, "[...document.querySelectorAll('ul.ronda-entry a')].map(a => a.textContent)"
    )
    assert links[:4] == ["Safe to take down", "Idle apps", "Hidden apps", "Open findings"]
    assert "Candidates of one OPD" in links and "Servers not reporting" in links
    browser.screenshot(page, screenshots() / "web-home.png")


def test_indonesian(demo: Path, web_toml: Path, browser: Browser) -> None:
    with ronda_web(demo, config=web_toml, env={"RONDA_LANG": "id"}) as url:
        page = browser.load(url + "/ronda/takedown_candidates", width=1280)
        assert "Aman dinonaktifkan" in text(browser, page, "h1")
        headers = browser.evaluate(
            page, "[...document.querySelectorAll('th .ronda-label')].map(s => s.textContent)"
        )
        assert "Pemilik (OPD)" in headers and "Biaya tahunan" in headers
        browser.screenshot(page, screenshots() / "web-candidates-id.png")


@pytest.mark.parametrize("listen", ["0.0.0.0:8470", "[::]:8470", "192.0.2.10:8470"])
def test_a_non_loopback_listen_without_login_is_refused(demo: Path, listen: str) -> None:
    done = run_web(demo, "--listen", listen)
    assert done.returncode == 2
    assert f"refusing to serve the console on {listen} without a login" in done.stderr


def test_served_over_https_with_secure_sessions(demo: Path, tmp_path: Path) -> None:
    # The certificate a province's CA (or `ronda ca`) issues for the console's name.
    cert, key, _ = self_signed(tmp_path, "ronda.diskominfo.example", ["ronda.diskominfo.example"])
    config = tmp_path / "web.toml"
    config.write_text(f'[accounts.budi]\npassword_hash = "{BUDI.password_hash}"\n')
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False  # the certificate names the console's DNS name; the test dials 127.0.0.1
    with ronda_web(demo, "--cert", str(cert), "--key", str(key), config=config, scheme="https") as url:
        port = int(url.rsplit(":", 1)[1])
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        connection.request("GET", "/-/ronda/login")
        answer = connection.getresponse()
        page, csrf_cookie = answer.read().decode(), answer.headers["set-cookie"].split(";")[0]
        token = re.search(r'name="csrftoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        form = urllib.parse.urlencode({"username": "budi", "password": PASSWORD, "csrftoken": token})
        headers = {"Cookie": csrf_cookie, "Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", "/-/ronda/login", form, headers)
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 302
        session = answer.headers["set-cookie"]
        assert "ds_actor=" in session and "Secure" in session and "HttpOnly" in session
