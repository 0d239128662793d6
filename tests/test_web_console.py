"""The console in-process (Datasette's ASGI app over a real SQLite store, no server process): what
is shown and hidden, the canned queries' answers, who may read and who may decide."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from web_visitor import BUDI, PASSWORD, Visitor, console, small_store

from ronda.collector.reconcile.decisions import decision_rows
from ronda.collector.store import Store
from ronda.collector.web import catalog
from ronda.collector.web.config import Account
from ronda.i18n import get


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return small_store(tmp_path)


@pytest.fixture
def visitor(db: Path):
    v = Visitor(console(db))
    yield v
    v.close()


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.text[:500]
    return response.json()["rows"]


def test_the_operators_views_are_shown_and_internal_tables_hidden(visitor: Visitor) -> None:
    tables = {t["name"]: t for t in visitor.get("/ronda.json").json()["tables"]}
    views = {v["name"] for v in visitor.get("/ronda.json").json()["views"]}
    assert {"takedown_candidates", "idle_apps", "hidden_apps", "findings_open"} <= views
    assert not tables["verdicts"]["hidden"] and not tables["inventory"]["hidden"]
    for internal in ("app_usage_days", "app_daily_wire", "schema_migrations", "snapshots"):
        assert tables[internal]["hidden"], internal


@pytest.mark.parametrize("table", ["agent_tokens", "enrolment_secrets", "revoked_credentials"])
def test_credentials_tables_cannot_be_opened(visitor: Visitor, table: str) -> None:
    assert visitor.get(f"/ronda/{table}").status_code == 403
    assert visitor.get(f"/ronda/{table}.json").status_code == 403


def test_sql_reads_credentials_hashes_as_null_and_cannot_attach_or_write(db: Path, visitor: Visitor) -> None:
    # An agent enrolled with a token: the shape `ronda agents` leaves behind.
    store = Store(db)
    with store.writing() as c:
        c.execute("INSERT INTO agent_tokens VALUES ('9f86d081884c7d659a2feaa0c55ad015', 'agent-web1', 'x')")
        c.execute(
            "INSERT INTO agent_identities (agent_id, status, method, credential, first_seen, last_seen) "
            "VALUES ('agent-web2', 'approved', 'token', 'a3f1c2', 'x', 'x')"
        )
    store.close()
    sql = (
        "select token_hash, agent_id from agent_tokens "
        "union all select credential, agent_id from agent_identities"
    )
    answer = rows(visitor.get("/ronda.json", params={"sql": sql, "_shape": "objects"}))
    assert {r["agent_id"] for r in answer} >= {"agent-web1", "agent-web2"}
    assert all(r["token_hash"] is None for r in answer)
    refused = visitor.get(
        "/ronda.json", params={"sql": "select * from pragma_database_list where 1 = (select 1)"}
    )
    assert refused.status_code == 200  # reading is fine ...
    for sql in (
        "attach database '/etc/passwd' as x",
        "delete from decisions",
        "update verdicts set verdict='keep'",
    ):
        assert visitor.get("/ronda.json", params={"sql": sql}).status_code == 400, sql  # ... nothing else


def test_candidates_are_sorted_by_cost_with_facets_by_opd(visitor: Visitor) -> None:
    answer = visitor.get("/ronda/verdicts.json", params={"_shape": "objects", "_extra": "facet_results"})
    costs = [r["annual_cost"] for r in rows(answer) if r["annual_cost"] is not None]
    assert costs == sorted(costs, reverse=True)
    facets = answer.json()["facet_results"]
    assert {"verdict", "owner", "hosts"} <= set(facets)
    owners = {f["value"] for f in facets["owner"]["results"]}
    assert "Dinas Kesehatan" in owners


def test_candidates_of_one_opd(visitor: Visitor) -> None:
    everyone = rows(visitor.get("/ronda/takedown_candidates.json", params={"_shape": "objects"}))
    assert everyone, "the small fleet has candidates"
    mine = rows(
        visitor.get("/ronda/candidates_of_opd.json", params={"opd": "kesehatan", "_shape": "objects"})
    )
    assert mine and all("Kesehatan" in r["owner"] for r in mine)
    assert (
        rows(visitor.get("/ronda/candidates_of_opd.json", params={"opd": "BAPPEDA", "_shape": "objects"}))
        == []
    )


@pytest.mark.parametrize(("days", "expected"), [("", {"APP-2"}), ("100", {"APP-2"}), ("400", set())])
def test_apps_idle_for_n_days(visitor: Visitor, days: str, expected: set[str]) -> None:
    # oldmail (APP-2) was last used 150 days ago; forgotten (undeclared) never, with 200 days of logs.
    answer = rows(visitor.get("/ronda/idle_for_days.json", params={"days": days, "_shape": "objects"}))
    declared = {r["subject"] for r in answer if r["subject"].startswith("APP-")}
    assert declared == expected
    assert all(r["days_idle"] >= int(days or 90) for r in answer)


def test_hosts_not_reporting(db: Path, visitor: Visitor) -> None:
    assert rows(visitor.get("/ronda/hosts_not_reporting.json", params={"hours": ""})) == []
    store = Store(db)
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with store.writing() as c:
        c.execute("UPDATE agents SET last_seen = ?", (three_days_ago,))
    store.close()
    silent = rows(visitor.get("/ronda/hosts_not_reporting.json", params={"hours": "", "_shape": "objects"}))
    assert [(r["hostname"], r["apps"]) for r in silent] == [("web1", 3)]
    assert silent[0]["hours_silent"] >= 71
    assert rows(visitor.get("/ronda/hosts_not_reporting.json", params={"hours": "100"})) == []


def test_apps_running_unsupported_versions(db: Path, visitor: Visitor) -> None:
    store = Store(db)
    with store.writing() as c:  # what the agent reports of a WordPress release past its support
        detail = json.dumps(
            {"framework": {"name": "wordpress", "version": "6.4.3", "end_of_support": "2024-04-02"}}
        )
        c.execute(
            "UPDATE apps SET framework='wordpress', framework_version='6.4.3', detail=? WHERE app_key LIKE ?",
            (detail, "nginx:portal.%"),
        )
    store.close()
    answer = rows(visitor.get("/ronda/unsupported_versions.json", params={"_shape": "objects"}))
    assert [(r["subject"], r["framework_version"], r["end_of_support"]) for r in answer] == [
        ("APP-1", "6.4.3", "2024-04-02")
    ]


def test_what_changed_since_a_date(visitor: Visitor) -> None:
    today = datetime.now(UTC).date()
    recent = rows(visitor.get("/ronda/changes_since.json", params={"since": "", "_shape": "objects"}))
    whats = {r["what"] for r in recent}
    assert {"app found", "inventory: added"} <= whats
    assert any(w.startswith("finding opened: ") for w in whats)
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert rows(visitor.get("/ronda/changes_since.json", params={"since": tomorrow})) == []


def test_an_anonymous_visitor_reads_on_loopback_but_cannot_decide(db: Path, visitor: Visitor) -> None:
    page = visitor.get("/-/ronda/app", params={"subject": "APP-2"})
    assert page.status_code == 200
    assert "Sign in to record a decision" in page.text and 'action="/-/ronda/decide"' not in page.text
    token = visitor.form_token("/-/ronda/login")
    answer = visitor.post(
        "/-/ronda/decide",
        {"subject": "APP-2", "decision": "take-down", "reason": "nobody uses it", "csrftoken": token},
    )
    assert answer.status_code in (302, 403)
    assert answer.status_code == 403 or "/-/ronda/login" in answer.headers["location"]
    assert decision_rows(Store(db)) == []


def test_a_signed_in_person_decides_in_their_own_name(db: Path, visitor: Visitor) -> None:
    signed = visitor.sign_in()
    assert signed.status_code == 302
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=28800" in cookie
    token = visitor.form_token("/-/ronda/app?subject=APP-2")
    answer = visitor.post(
        "/-/ronda/decide",
        {"subject": "APP-2", "decision": "take-down", "reason": "replaced by e-Office", "csrftoken": token},
    )
    assert answer.status_code == 302 and "APP-2" in answer.headers["location"]
    [row] = decision_rows(Store(db))
    assert (row["subject"], row["decision"], row["decided_by"]) == (
        "APP-2",
        "take-down",
        "Budi Santoso (budi)",
    )
    assert (
        row["verdict_then"] == "safe-to-take-down"
    )  # ronda's verdict at the time, as `ronda decide` keeps it
    page = visitor.get("/-/ronda/app", params={"subject": "APP-2"})
    assert "replaced by e-Office" in page.text and "Recorded" in page.text


def test_a_decision_without_a_csrf_token_is_refused(db: Path, visitor: Visitor) -> None:
    visitor.sign_in()
    answer = visitor.post(
        "/-/ronda/decide", {"subject": "APP-2", "decision": "keep", "reason": "still needed"}
    )
    assert answer.status_code == 403
    assert decision_rows(Store(db)) == []


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"decision": "take-down", "reason": "  "}, "a decision needs a reason"),
        ({"decision": "consolidate", "reason": "merged"}, "consolidate needs the app that takes over"),
        ({"decision": "burn", "reason": "why not"}, "decision must be one of"),
    ],
)
def test_a_decision_the_guard_rails_refuse_records_nothing(db: Path, visitor: Visitor, form, message) -> None:
    visitor.sign_in()
    token = visitor.form_token("/-/ronda/app?subject=APP-2")
    answer = visitor.post("/-/ronda/decide", {"subject": "APP-2", "csrftoken": token, **form})
    assert answer.status_code == 400 and message in answer.text
    # The form comes back as it was sent: nothing typed is lost.
    assert f">{form['reason']}</textarea>" in answer.text
    if form["decision"] in ("keep", "take-down", "consolidate"):
        assert f'value="{form["decision"]}" required checked' in answer.text
    assert decision_rows(Store(db)) == []


def test_a_take_down_against_the_evidence_is_offered_to_force_then_recorded(
    db: Path, visitor: Visitor
) -> None:
    # APP-1 was used by people yesterday: the guard rails refuse taking it down, as `ronda decide` does.
    visitor.sign_in()
    token = visitor.form_token("/-/ronda/app?subject=APP-1")
    form = {"subject": "APP-1", "decision": "take-down", "reason": "Perda 2026: layanan dipindah ke provinsi"}
    refused = visitor.post("/-/ronda/decide", {**form, "csrftoken": token})
    assert refused.status_code == 400
    assert "Refused: ronda&#39;s verdict on APP-1 is keep" in refused.text and "--force" not in refused.text
    assert 'name="force" value="yes"' in refused.text
    assert decision_rows(Store(db)) == []
    forced = visitor.post("/-/ronda/decide", {**form, "force": "yes", "csrftoken": token})
    assert forced.status_code == 302
    [row] = decision_rows(Store(db))
    assert (row["decision"], row["verdict_then"], row["decided_by"]) == (
        "take-down",
        "keep",
        BUDI.name + " (budi)",
    )
    page = visitor.get("/-/ronda/app", params={"subject": "APP-1"})
    assert "Recorded against ronda&#39;s evidence: ronda&#39;s verdict on APP-1 is keep" in page.text


def test_an_incomplete_decision_is_not_offered_to_force(visitor: Visitor) -> None:
    visitor.sign_in()
    token = visitor.form_token("/-/ronda/app?subject=APP-1")
    answer = visitor.post(
        "/-/ronda/decide", {"subject": "APP-1", "decision": "take-down", "reason": " ", "csrftoken": token}
    )
    assert answer.status_code == 400 and 'name="force"' not in answer.text


def test_wrong_passwords_are_refused_then_throttled(visitor: Visitor) -> None:
    for _ in range(5):
        assert visitor.sign_in(password="not-the-password").status_code == 403
    blocked = visitor.sign_in(password=PASSWORD)  # the right one, too late
    assert blocked.status_code == 403 and "Too many failed attempts" in blocked.text


def test_sign_in_goes_back_only_to_this_site(visitor: Visitor) -> None:
    token = visitor.form_token("/-/ronda/login")
    for target, expected in [
        ("/-/ronda/app?subject=APP-1", "/-/ronda/app?subject=APP-1"),
        ("//evil.example/", "/"),
    ]:
        visitor.client.cookies.clear()
        token = visitor.form_token("/-/ronda/login")
        answer = visitor.post(
            "/-/ronda/login", {"username": "budi", "password": PASSWORD, "csrftoken": token, "next": target}
        )
        assert answer.headers["location"] == expected


def test_login_required_sends_anonymous_visitors_to_sign_in(db: Path) -> None:
    v = Visitor(console(db, login_required=True))
    try:
        answer = v.get("/ronda/takedown_candidates")
        assert answer.status_code == 302 and answer.headers["location"].startswith("/-/ronda/login?next=")
        assert v.get("/-/ronda/report").status_code == 302
        for page in (
            "/-/metadata.json",
            "/-/plugins.json",
            "/-/versions.json",
            "/-/databases.json",
            "/ronda.json",
        ):
            assert v.get(page).status_code in (302, 403), page
        v.sign_in()
        assert v.get("/ronda/takedown_candidates").status_code == 200
    finally:
        v.close()


@pytest.mark.parametrize(("peer", "signed_in"), [("127.0.0.1", True), ("10.20.1.7", False)])
def test_a_proxy_header_counts_only_from_the_trusted_proxy(db: Path, peer: str, signed_in: bool) -> None:
    # Apache's mod_auth_openidc or nginx's auth_request in front sets X-Remote-User; anyone else
    # reaching the console directly could set it too, so only the proxy's address is believed.
    v = Visitor(
        console(db, listen="127.0.0.1:8470", behind_proxy=True, proxy_user_header="X-Remote-User"), peer
    )
    try:
        answer = v.get("/-/actor.json", headers={"X-Remote-User": "siti@provinsi.example"})
        if signed_in:
            assert answer.json()["actor"]["id"] == "siti@provinsi.example"
        else:  # nobody signed in, and behind a proxy nobody reads anonymously: sent to sign in
            assert answer.status_code == 302 and "/-/ronda/login" in answer.headers["location"]
    finally:
        v.close()


def test_column_labels_and_titles_follow_the_language(db: Path) -> None:
    v = Visitor(console(db, lang="id"))
    try:
        page = v.get("/ronda/takedown_candidates").text
        assert "window.rondaLabels" in page and '"owner": "Pemilik (OPD)"' in page
        assert "Aman dinonaktifkan" in page
    finally:
        v.close()


def test_the_report_is_served_live(db: Path, visitor: Visitor) -> None:
    answer = visitor.get("/-/ronda/report")
    assert answer.status_code == 200
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert "forgotten.prov.example" in answer.text


def test_an_account_named_root_gets_none_of_datasettes_debugging_powers(db: Path) -> None:
    v = Visitor(console(db, accounts={"root": Account("root", "Root", BUDI.password_hash)}))
    try:
        assert v.sign_in("root").status_code == 302
        assert v.get("/-/actor.json").json()["actor"]["id"] == "root"
        for page in ("/-/permissions", "/_internal", "/_internal/tables"):
            assert v.get(page).status_code == 403, page
    finally:
        v.close()


def test_every_message_of_the_templates_is_in_the_catalog() -> None:
    """The catalog tooling reads Python: a template's `ronda._("...")` must be named in
    TEMPLATE_MESSAGES, or Indonesian readers would get it in English."""
    templates = Path(catalog.__file__).parent / "templates"
    asked = {m for t in templates.glob("*.html") for m in re.findall(r'ronda\._\("([^"]+)"\)', t.read_text())}
    assert asked == set(catalog.TEMPLATE_MESSAGES)
    lang = get("id", "UTC")
    assert all(lang._(m) != m for m in asked)


def test_the_session_key_is_kept_beside_the_store_for_the_next_start(db: Path) -> None:
    first = console(db)
    key = Path(f"{db}-web-secret")
    assert key.stat().st_mode & 0o777 == 0o600
    assert console(db)._secret == first._secret  # a restart signs nobody out


@pytest.mark.parametrize("table", sorted(catalog.SHOWN))
def test_every_shown_table_opens_with_its_facets_and_sort(visitor: Visitor, table: str) -> None:
    answer = visitor.get(f"/ronda/{table}.json", params={"_extra": "facet_results"})
    assert answer.status_code == 200, answer.text[:300]
    assert set(answer.json()["facet_results"]) == set(catalog.SHOWN[table].facets)
    page = visitor.get(f"/ronda/{table}")
    assert page.status_code == 200 and "window.rondaLabels" in page.text
