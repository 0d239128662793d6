"""A run that skips the subjects whose inputs have not changed writes exactly what
a run working out every subject writes: the same findings (ids and history
included), verdicts, matches and run records, over the runs a nightly timer
makes of a fleet (its first run, the same again minutes later, and the next
day's after apps vanished, owners were cleared and some apps were used again).
A run that fails leaves the store as it was and says why in one line."""

from __future__ import annotations

import gc
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.reconcile import NOW, build
from ronda.collector.cli import cli
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.db import ReconcileError, run_reconcile
from ronda.collector.reconcile.model import Reason
from ronda.collector.reconcile.save import FindingRow, VerdictRow, _reasons_json
from ronda.collector.store import Store


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    """A small benchmark fleet: vhosts, sub-apps, proxies, idle and used apps, gaps in the inventory."""
    path = tmp_path_factory.mktemp("fleet") / "fleet.db"
    build(path, hosts=40, apps=800, declared=150)
    return path


def tables(db: Path) -> dict:
    conn = sqlite3.connect(db)
    try:
        out = {
            "findings": conn.execute("SELECT * FROM findings ORDER BY finding_id").fetchall(),
            "verdicts": conn.execute("SELECT * FROM verdicts ORDER BY subject").fetchall(),
            "matches": conn.execute("SELECT * FROM matches ORDER BY app_id, agent_id, app_key").fetchall(),
        }
        out["runs"] = conn.execute(
            "SELECT started_at, config, declared, discovered, matched, findings_open, opened, "
            "resolved, candidates FROM reconcile_runs ORDER BY run_id"
        ).fetchall()
        return out
    finally:
        conn.close()


def change(db: Path, now: datetime) -> None:
    """Between runs: some apps are gone, some owners cleared, some apps used again."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE apps SET present = 0 WHERE rowid % 37 = 0")
        conn.execute("UPDATE inventory SET owner = '' WHERE rowid % 11 = 0")
        conn.execute(
            "UPDATE apps SET last_human_request = ? WHERE rowid % 29 = 0",
            ((now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),),
        )
    conn.close()


def forget_inputs(db: Path) -> None:
    """Without the stored input checksums, a run works out every subject."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE verdicts SET input_digest = NULL")
    conn.close()


RUNS = (NOW, NOW + timedelta(minutes=5), NOW + timedelta(days=1))  # the third after `change`


def three_runs(db: Path, skip: bool) -> list:
    store = Store(db)
    summaries = []
    for when in RUNS:
        if when == RUNS[-1]:
            change(db, NOW)
        if not skip:
            forget_inputs(db)
        summaries.append(run_reconcile(store, ReconcileConfig(), when))
    store.close()
    return summaries


def verdicts(db: Path) -> dict[str, tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return {s: (v, since) for s, v, since in conn.execute("SELECT subject, verdict, since FROM verdicts")}
    finally:
        conn.close()


def test_skipping_unchanged_subjects_writes_what_working_out_every_one_writes(fleet, tmp_path):
    for name in ("skip", "all"):
        (tmp_path / f"{name}.db").write_bytes(fleet.read_bytes())
    first, again, later = three_runs(tmp_path / "skip.db", skip=True)
    everything = three_runs(tmp_path / "all.db", skip=False)
    assert first.opened > 0 and first.unchanged == 0
    assert again.opened == again.resolved == 0 and again.unchanged == sum(again.verdicts.values())
    assert later.opened and later.resolved and 0 < later.unchanged < sum(later.verdicts.values())
    assert [s.unchanged for s in everything] == [0, 0, 0]
    for skipped, worked in zip((first, again, later), everything, strict=True):
        assert (skipped.opened, skipped.resolved, skipped.counts, skipped.verdicts) == (
            worked.opened,
            worked.resolved,
            worked.counts,
            worked.verdicts,
        )
    skipping, working = tables(tmp_path / "skip.db"), tables(tmp_path / "all.db")
    assert skipping == working


def test_a_verdict_keeps_its_since_while_it_holds(fleet, tmp_path):
    """A decision maker reads `since` as how long an app has been, say, safe to take down."""
    db = tmp_path / "since.db"
    db.write_bytes(fleet.read_bytes())
    store = Store(db)
    run_reconcile(store, ReconcileConfig(), RUNS[0])
    before = verdicts(db)
    change(db, NOW)
    run_reconcile(store, ReconcileConfig(), RUNS[-1])
    after = verdicts(db)
    stamps = [when.strftime("%Y-%m-%dT%H:%M:%SZ") for when in RUNS]
    held = [s for s in after if s in before and after[s][0] == before[s][0]]
    turned = [s for s in after if s in before and after[s][0] != before[s][0]]
    assert held and turned and len(after) < len(before)  # some apps are gone, and their verdicts with them
    assert {after[s][1] for s in held} == {stamps[0]} and {after[s][1] for s in turned} == {stamps[-1]}


def test_a_run_leaves_no_staging_database_behind(fleet, tmp_path):
    db = tmp_path / "f.db"
    db.write_bytes(fleet.read_bytes())
    store = Store(db)
    run_reconcile(store, ReconcileConfig(), NOW)
    assert [name for _, name, _ in store.conn.execute("PRAGMA database_list")] == ["main"]


def test_rows_are_written_by_column_name():
    """Every column a run sets is a field of its row, named as in the table."""
    conn = Store(":memory:").conn
    findings = [r[1] for r in conn.execute("PRAGMA table_info(findings)")]
    verdicts = [r[1] for r in conn.execute("PRAGMA table_info(verdicts)")]
    assert set(FindingRow._fields) == set(findings) - {"finding_id", "first_seen", "last_seen", "resolved_at"}
    assert set(VerdictRow._fields) == set(verdicts) - {"since"}


def test_each_value_of_a_staged_row_is_in_its_named_column():
    """Rows are staged as plain tuples; each value sits where FindingRow and VerdictRow name it."""
    from ronda.collector.reconcile.model import Finding, Verdict
    from ronda.collector.reconcile.save import finding_row, verdict_row

    finding = Finding("idle", "web1/nginx:simpeg:80/", "idle for 120 days", {"days": 120}, None, "web1", "k")
    assert FindingRow(*finding_row(finding))._asdict() == {
        "kind": "idle",
        "subject": "web1/nginx:simpeg:80/",
        "app_id": None,
        "agent_id": "web1",
        "app_key": "k",
        "summary": "idle for 120 days",
        "detail": '{"days":120}',
        "digest": finding_row(finding)[-1],
    }
    figures = {name: f"<{name}>" for name in VerdictRow._fields}
    figures["inbound"] = [{"from": "APP-2", "why": "proxies to it"}]
    reasons = [Reason("no-human-use", "safe-to-take-down", "no human use")]
    verdict = Verdict(
        "APP-1", "safe-to-take-down", "idle", reasons, figures, "SIMPEG", "BKD", ["web1", "web2"]
    )
    verdict.app_id, verdict.agent_id, verdict.app_key = "APP-1", "web1", "k"
    row = VerdictRow(*verdict_row(verdict, 77))._asdict()
    plain = {"subject": "APP-1", "app_id": "APP-1", "agent_id": "web1", "app_key": "k", "name": "SIMPEG"}
    assert {k: row[k] for k in plain} == plain
    assert (row["owner"], row["hosts"], row["verdict"], row["summary"]) == (
        "BKD",
        "web1, web2",
        "safe-to-take-down",
        "idle",
    )
    for name in ("apps", "coverage", "coverage_start", "last_human_request", "last_request", "trend"):
        assert row[name] == f"<{name}>"
    for name in ("human_requests", "human_recent", "human_previous", "oldest_snapshot", "annual_cost"):
        assert row[name] == f"<{name}>"
    assert (row["rss_bytes"], row["disk_bytes"]) == ("<rss_bytes>", "<disk_bytes>")
    assert json.loads(row["inbound"]) == figures["inbound"]
    assert json.loads(row["reasons"]) == [["safe-to-take-down", "no-human-use", "no human use"]]
    assert row["digest"] == row["input_digest"] == 77


def test_a_full_disk_fails_the_run_in_one_line_and_writes_nothing(fleet, tmp_path):
    """The collector's disk fills up during a run (SQLite's page limit fails a write as a full disk does)."""
    db = tmp_path / "full.db"
    db.write_bytes(fleet.read_bytes())
    store = Store(db)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(ReconcileError) as failed:
        run_reconcile(store, ReconcileConfig(), NOW)
    message = str(failed.value)
    assert message.startswith(f"reconcile failed, nothing written: database {db}: database or disk is full")
    assert "\n" not in message
    assert store.query("SELECT count(*) AS n FROM reconcile_runs") == [{"n": 0}]
    assert store.query("SELECT count(*) AS n FROM findings") == [{"n": 0}]
    assert [name for _, name, _ in store.conn.execute("PRAGMA database_list")] == ["main"]
    store.conn.execute(f"PRAGMA max_page_count = {2**30}")  # room again: the next run goes through
    assert run_reconcile(store, ReconcileConfig(), NOW).opened > 0


def test_ronda_reconcile_on_a_damaged_store_says_so_without_a_traceback(fleet, tmp_path):
    """A disk fault damaged the pages of the apps table: `ronda reconcile` ends with one line, exit 1."""
    db = tmp_path / "damaged.db"
    db.write_bytes(fleet.read_bytes())
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'apps'").fetchone()[0]
    conn.close()
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * 64)  # no valid B-tree page starts so
    result = CliRunner().invoke(cli, ["reconcile", "--db", str(db)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output == (
        f"ronda: reconcile failed, nothing written: database {db}: database disk image is malformed\n"
    )


@pytest.mark.parametrize("collecting", [True, False], ids=["collector-on", "collector-off"])
@pytest.mark.parametrize("fails", [False, True], ids=["run-succeeds", "disk-full"])
def test_a_run_leaves_the_cyclic_garbage_collector_as_it_found_it(fleet, tmp_path, collecting, fails):
    """A run pauses Python's cyclic collector while it works; a process that goes on afterwards (a
    schedule inside a long-lived collector, a test suite) finds it as before, also after a failed run."""
    db = tmp_path / "gc.db"
    db.write_bytes(fleet.read_bytes())
    store = Store(db)
    if fails:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages}")
    was = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        if fails:
            with pytest.raises(ReconcileError):
                run_reconcile(store, ReconcileConfig(), NOW)
        else:
            assert run_reconcile(store, ReconcileConfig(), NOW).opened > 0
        assert gc.isenabled() is collecting
    finally:
        (gc.enable if was else gc.disable)()
        store.close()


@pytest.mark.parametrize(
    "texts",
    [
        ["humans used it 6 days ago (2026-12-01); 6324 human requests in 90 days"],  # the usual sentence
        ["owner: Dinas Komunikasi 'Kominfo' \"Bidang TIK\", contact -"],  # quotes from an inventory cell
        ["runs C:\\inetpub\\wwwroot\\simpeg (IIS)"],  # a Windows path's backslashes
        ["Badan Perencanaan — Bappeda · Kab. Sleman", "pemilik: Dinas Pendidikan dan Kebudayaan"],
        ["a cell pasted from a spreadsheet\u2028with its line separator", "a log line's \x1b[0m escape"],
        ["emoji in an app name 🚀", ""],
        [],
    ],
)
def test_a_verdicts_reasons_are_written_as_the_json_encoder_writes_them(texts):
    """Reasons are written without building lists first: the same text as json.dumps, for sentences in
    the shapes inventories and hosts give them (quotes, backslashes, Indonesian, control characters)."""
    reasons = [Reason(f"rule-{i}", "info", text) for i, text in enumerate(texts)]
    expected = json.dumps(
        [[r.effect, r.rule, r.text] for r in reasons], ensure_ascii=False, separators=(",", ":")
    )
    assert _reasons_json(reasons) == expected
    assert json.loads(_reasons_json(reasons)) == [[r.effect, r.rule, r.text] for r in reasons]


@pytest.mark.parametrize(
    "value",
    [
        {"host": "web00001"},
        {"last_human_request": None, "coverage_start": "2026-05-21T00:00:00Z", "idle_days": 90},
        {"urls": ["https://simpeg.bkd.prov.example/", "http://10.0.0.5:8080/"], "host_covered": False},
        [{"from": "APP-2", "why": "sipd.prov.example proxies to it (127.0.0.1:3001)"}],
        {
            "behind": ["APP-9"],
            "inside": "APP-3",
            "share": 0.25,
            "name": "Dinas Kesehatan – Ibu & Anak \u2603",
        },
        {"evil": 'quote " backslash \\ newline \n escape \x1b[31m nul \x00'},
        {},
        [],
    ],
    ids=["hidden", "idle", "missing", "inbound", "non-ascii", "control", "empty-object", "empty-list"],
)
def test_findings_and_inbound_are_written_as_json_writes_them(value):
    """The encoder made once writes byte for byte what json does, for each shape a run writes: a hidden
    app's host, an idle one's dates, a missing one's URLs, who depends on it, Indonesian agency names,
    and what a hostile host could put in a name."""
    from ronda.collector.reconcile.save import to_json

    assert to_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
