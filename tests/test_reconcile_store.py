"""Reconciliation against a real SQLite store: idempotent runs, findings that
resolve and recur, re-imports with history, pins that survive, decisions that
are never overwritten, and the SQL views operators query."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from reconcile_fleet import FLEET, INVENTORY, NOW, cli_run, snapshot, web_app

from ronda.collector.cli import cli
from ronda.collector.inventory.db import declared_apps, history
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.db import run_reconcile
from ronda.collector.store import Store
from ronda.model import App, ListenAddress


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "ronda.db"
    store = Store(path)
    store.ingest(snapshot(1, FLEET))
    (tmp_path / "inv.csv").write_text(INVENTORY)
    cli_run(path, "inventory", "import", str(tmp_path / "inv.csv"))
    return path


def open_findings(store: Store) -> set[tuple[str, str]]:
    return {(r["kind"], r["subject"]) for r in store.query("SELECT kind, subject FROM findings_open")}


def test_reconcile_findings_and_verdicts(db):
    store = Store(db)
    summary = run_reconcile(store, ReconcileConfig())
    assert open_findings(store) == {
        ("hidden", "agent-web1/nginx:forgotten.prov.example:80/"),
        ("idle", "agent-web1/nginx:forgotten.prov.example:80/"),
        ("idle", "APP-2"),
        ("status-mismatch", "APP-2"),
        ("unowned", "APP-2"),
        ("missing", "APP-3"),
    }
    verdicts = {r["subject"]: r["verdict"] for r in store.query("SELECT subject, verdict FROM verdicts")}
    assert verdicts == {
        "APP-1": "keep",
        "APP-2": "safe-to-take-down",
        "APP-3": "review",
        "agent-web1/nginx:forgotten.prov.example:80/": "safe-to-take-down",
    }
    assert summary.opened == 6 and summary.matched == 2


def test_reconcile_is_idempotent(db):
    store = Store(db)
    run_reconcile(store, ReconcileConfig(), NOW)
    tables = {t: store.query(f"SELECT * FROM {t} ORDER BY 1") for t in ("findings", "verdicts", "matches")}
    summary = run_reconcile(store, ReconcileConfig(), NOW + timedelta(minutes=5))
    assert (summary.opened, summary.resolved) == (0, 0)
    assert {t: store.query(f"SELECT * FROM {t} ORDER BY 1") for t in tables} == tables
    assert {r["last_seen"] for r in store.query("SELECT last_seen FROM findings_open")} == {
        (NOW + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    }


def test_unchanged_apps_are_skipped_and_changed_ones_worked_out_again(db):
    store = Store(db)
    first = run_reconcile(store, ReconcileConfig())
    assert first.unchanged == 0
    again = run_reconcile(store, ReconcileConfig())
    assert again.unchanged == 4  # every subject with a verdict
    revived = [
        web_app("oldmail.prov.example", 2) if a.server_names == ["oldmail.prov.example"] else a for a in FLEET
    ]
    store.ingest(snapshot(2, revived))  # a human came back to the old mail app
    third = run_reconcile(store, ReconcileConfig())
    assert third.unchanged == 3 and third.resolved == 1  # its idle finding resolved; the rest held
    verdicts = {r["subject"]: r["verdict"] for r in store.query("SELECT subject, verdict FROM verdicts")}
    assert verdicts["APP-2"] == "review"  # declared inactive, but used again
    assert ("idle", "agent-web1/nginx:forgotten.prov.example:80/") in open_findings(store)
    tomorrow = run_reconcile(store, ReconcileConfig(), NOW + timedelta(days=1))
    assert tomorrow.unchanged < 4  # texts that count days move on


def test_findings_resolve_and_recur_as_new_rows(db, tmp_path):
    store = Store(db)
    run_reconcile(store, ReconcileConfig())
    hidden = ("hidden", "agent-web1/nginx:forgotten.prov.example:80/")
    (tmp_path / "v2.csv").write_text(
        INVENTORY + "APP-4,Forgotten,Diskominfo,x@y,forgotten.prov.example,retired,,\n"
    )
    cli_run(db, "inventory", "import", str(tmp_path / "v2.csv"))
    summary = run_reconcile(store, ReconcileConfig())
    assert hidden not in open_findings(store) and summary.resolved >= 1
    cli_run(db, "inventory", "import", str(tmp_path / "inv.csv"))  # APP-4 withdrawn again
    run_reconcile(store, ReconcileConfig())
    rows = store.query(
        "SELECT first_seen, resolved_at FROM findings WHERE kind=? AND subject=? ORDER BY finding_id", hidden
    )
    assert len(rows) == 2 and rows[0]["resolved_at"] and rows[1]["resolved_at"] is None


def test_reimport_updates_in_place_and_keeps_history(db, tmp_path):
    store = Store(db)
    (tmp_path / "v2.csv").write_text(
        INVENTORY.replace("Old mail,Dinas Kesehatan,,", "Old mail,Dinas Kesehatan,it@x,").splitlines(
            keepends=True
        )[0]
        + "".join(
            INVENTORY.replace("Old mail,Dinas Kesehatan,,", "Old mail,Dinas Kesehatan,it@x,").splitlines(
                keepends=True
            )[1:3]
        )
    )
    out = cli_run(db, "inventory", "import", str(tmp_path / "v2.csv"))
    assert "1 updated" in out and "1 withdrawn" in out
    assert [a.app_id for a in declared_apps(store)] == ["APP-1", "APP-2"]
    assert [a.app_id for a in declared_apps(store, include_withdrawn=True)] == ["APP-1", "APP-2", "APP-3"]
    changes = [(h["change"], h["changes"]) for h in history(store, "APP-2")]
    assert changes[0][0] == "added" and changes[1] == ("updated", {"contact": ["", "it@x"]})
    assert [h["change"] for h in history(store, "APP-3")] == ["added", "withdrawn"]
    with pytest.raises(sqlite3.DatabaseError, match="history"):
        store.conn.execute("UPDATE inventory_history SET change='x'")


@pytest.mark.parametrize("fmt, columns", [("csv", "en"), ("csv", "id"), ("yaml", "en"), ("json", "id")])
def test_export_round_trips(db, tmp_path, fmt, columns):
    out = tmp_path / f"export.{fmt}"
    cli_run(db, "inventory", "export", str(out), "--columns", columns)
    result = cli_run(db, "inventory", "import", str(out))
    assert "0 new, 0 updated, 0 back in the inventory, 3 unchanged, 0 withdrawn" in result


def test_pins_survive_reimport_and_rescan(db, tmp_path):
    store = Store(db)
    cli_run(
        db,
        "inventory",
        "link",
        "APP-3",
        "web1/nginx:forgotten.prov.example:80/",
        "--reason",
        "renamed",
        "--by",
        "ops",
    )
    cli_run(
        db, "inventory", "unlink", "APP-1", "http://portal.prov.example/", "--reason", "wrong", "--by", "ops"
    )
    run_reconcile(store, ReconcileConfig())
    matches = {(r["app_id"], r["rule"]) for r in store.query("SELECT app_id, rule FROM matches")}
    assert ("APP-3", "pin") in matches and not any(a == "APP-1" for a, _ in matches)
    (tmp_path / "v2.csv").write_text(INVENTORY.replace("Portal,", "Portal baru,"))
    cli_run(db, "inventory", "import", str(tmp_path / "v2.csv"))
    store.ingest(snapshot(2, FLEET))
    run_reconcile(store, ReconcileConfig())
    assert {(r["app_id"], r["rule"]) for r in store.query("SELECT app_id, rule FROM matches")} == matches
    cli_run(db, "inventory", "unlink", "APP-1", "web1/nginx:portal.prov.example:80/", "--clear")
    run_reconcile(store, ReconcileConfig())
    assert ("APP-1", "url") in {
        (r["app_id"], r["rule"]) for r in store.query("SELECT app_id, rule FROM matches")
    }
    assert [r["action"] for r in store.query("SELECT action FROM inventory_link_history")] == [
        "link",
        "forbid",
        "clear",
    ]


def test_decisions_are_appended_never_overwritten(db):
    store = Store(db)
    run_reconcile(store, ReconcileConfig())
    cli_run(db, "decide", "APP-2", "take-down", "--reason", "replaced by e-office", "--by", "Kadis")
    cli_run(db, "decide", "APP-2", "keep", "--reason", "archive still needed until 2027", "--by", "Sekda")
    rows = store.query("SELECT decision, decided_by, verdict FROM decisions ORDER BY decision_id")
    assert rows == [
        {"decision": "take-down", "decided_by": "Kadis", "verdict": "safe-to-take-down"},
        {"decision": "keep", "decided_by": "Sekda", "verdict": "safe-to-take-down"},
    ]
    with pytest.raises(sqlite3.DatabaseError, match="decisions is history"):
        store.conn.execute("DELETE FROM decisions")
    run_reconcile(store, ReconcileConfig())
    [candidate] = [r for r in store.query("SELECT * FROM takedown_candidates") if r["subject"] == "APP-2"]
    assert candidate["decision"] == "keep" and candidate["decided_by"] == "Sekda"
    result = CliRunner().invoke(
        cli, ["decide", "APP-2", "keep", "--reason", " ", "--by", "x", "--db", str(db)]
    )
    assert result.exit_code == 2 and "needs --reason" in result.output


def test_views_answer_the_operators_questions(db):
    store = Store(db)
    run_reconcile(store, ReconcileConfig())
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT hostname, app_key FROM hidden_apps").fetchall() == [
        ("web1", "nginx:forgotten.prov.example:80/")
    ]
    assert sorted(r[0] for r in conn.execute("SELECT subject FROM idle_apps")) == [
        "APP-2",
        "agent-web1/nginx:forgotten.prov.example:80/",
    ]
    assert sorted(r[0] for r in conn.execute("SELECT subject FROM takedown_candidates")) == [
        "APP-2",
        "agent-web1/nginx:forgotten.prov.example:80/",
    ]
    assert conn.execute("SELECT count(*) FROM findings_open").fetchone()[0] == 6


def test_operator_commands(db):
    cli_run(db, "reconcile")
    assert "APP-2" in cli_run(db, "candidates") and "forgotten" in cli_run(db, "candidates")
    assert "missing" in cli_run(db, "findings", "--kind", "missing")
    assert '"kind": "hidden"' in cli_run(db, "findings", "--format", "json")
    story = cli_run(db, "explain", "APP-2")
    for text in (
        "SAFE-TO-TAKE-DOWN",
        "Old mail",
        "declared inactive",
        "human  ",
        "Reasons",
        "status-mismatch",
        "matched by url: oldmail.prov.example -> server name oldmail.prov.example",
    ):
        assert text in story, story
    assert "verdict,verdict,safe-to-take-down" in cli_run(
        db, "explain", "oldmail.prov.example", "--format", "csv"
    )
    assert "keep" in cli_run(db, "explain", "https://portal.prov.example/", "--format", "json")


def test_a_declared_address_reaches_the_default_server_of_that_port(tmp_path):
    """The default_server flag is read from the app's stored JSON for hosts a declared address names."""
    db = tmp_path / "ronda.db"
    vhosts = [
        App(
            key=f"nginx:{name}:8081/",
            kind="nginx",
            server_names=[name],
            listen=[ListenAddress("*", 8081, default_server=default)],
            root=f"/var/www/{name}",
        )
        for name, default in (("intranet.local", True), ("other.local", False))
    ]
    Store(db).ingest(snapshot(1, vhosts))
    (tmp_path / "inv.csv").write_text(
        "app_id,name,owner,urls,status\nAPP-9,Intranet,BKD,http://10.0.0.5:8081/,active\n"
    )
    cli_run(db, "inventory", "import", str(tmp_path / "inv.csv"))
    run_reconcile(Store(db), ReconcileConfig())
    assert Store(db).query("SELECT app_id, app_key, rule FROM matches") == [
        {"app_id": "APP-9", "app_key": "nginx:intranet.local:8081/", "rule": "address"}
    ]


def test_default_servers_and_ends_of_support_are_read_from_every_app(tmp_path):
    """A Debian host whose packaged WordPress (dpkg, a release past its end of support) is one vhost, and
    whose catch-all `listen 80 default_server` answers what no other name does, on a host no declared URL
    names. Both facts are read through the indexes of migration 46, which follow the app's detail as
    later snapshots change it."""
    from ronda.collector.reconcile.inputs import load_inputs
    from ronda.model import Framework

    db = tmp_path / "ronda.db"
    blog = App(
        key="nginx:blog.prov.example:80/",
        kind="nginx",
        server_names=["blog.prov.example"],
        listen=[ListenAddress("*", 80)],
        root="/usr/share/wordpress",
        framework=Framework("wordpress", "5.7.2", package="dpkg:wordpress", end_of_support="2022-10-17"),
    )
    catch_all = App(
        key="nginx:_:80/",
        kind="nginx",
        server_names=["_"],
        listen=[ListenAddress("*", 80, default_server=True), ListenAddress("[::]", 80, default_server=True)],
        root="/var/www/html",
    )

    def read() -> dict[str, tuple]:
        inputs = load_inputs(Store(db), ReconcileConfig(), NOW)
        return {
            a.app_key: (a.end_of_support, [x.default_server for x in a.listen]) for a in inputs.discovered
        }

    Store(db).ingest(snapshot(1, [blog, catch_all]))
    assert read() == {blog.key: ("2022-10-17", [False]), catch_all.key: ("", [True, True])}
    upgraded = replace(blog, framework=Framework("wordpress", "6.1.1", package="dpkg:wordpress"))
    no_default = replace(catch_all, listen=[ListenAddress("*", 80)])
    Store(db).ingest(snapshot(2, [upgraded, no_default]))
    assert read() == {blog.key: ("", [False]), catch_all.key: ("", [False])}
