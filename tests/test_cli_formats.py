"""Every collector list command takes --db and --format table|csv|json on the command itself.

The store behind them is what an operator has after a day of use: a host that
reported, an SPBE-style inventory imported and reconciled, a decision, a pin,
an enrolment secret, a network sweep and an SSH scan.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network

import pytest
from click.testing import CliRunner
from reconcile_fleet import FLEET, INVENTORY, cli_run, snapshot

from ronda.collector.cli import cli
from ronda.collector.scan_config import SshTarget
from ronda.collector.scans.nmap_sweep import PortObservation, SweepResult
from ronda.collector.scans.records import record_ssh, record_sweep
from ronda.collector.scans.scope import PortList
from ronda.collector.store import Store
from ronda.collector.trust.registry import Registry

LISTS = [
    ["hosts"],
    ["apps"],
    ["apps", "--all"],
    ["findings"],
    ["findings", "--all", "--kind", "hidden"],
    ["candidates", "--verdict", "review", "--verdict", "keep"],
    ["scans"],
    ["scans", "hosts"],
    ["scans", "ports"],
    ["scans", "ssh"],
    ["agents", "list"],
    ["agents", "clones"],
    ["agents", "events"],
    ["agents", "secrets"],
    ["inventory", "list"],
    ["inventory", "pins"],
]


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("formats")
    path = tmp / "ronda.db"
    store = Store(path)
    store.ingest(snapshot(1, FLEET))
    now = datetime.now(UTC)
    sweep = SweepResult(
        [ip_network("127.0.0.0/29")],
        PortList.parse("80,443"),
        now - timedelta(seconds=5),
        now,
        open_ports=[PortObservation("127.0.0.2", 80, service="http", product="nginx", http_title="Portal")],
    )
    record_sweep(store, sweep, "network sweep: 1 open port")
    record_ssh(store, SshTarget("web-dinkes", "127.0.0.3", port=22), now, False, "", "refused", {})
    Registry(store).create_secret(timedelta(hours=1), 3, "batch 1")
    store.close()
    (tmp / "inventory.csv").write_text(INVENTORY)
    cli_run(path, "inventory", "import", str(tmp / "inventory.csv"))
    cli_run(path, "reconcile")
    cli_run(path, "inventory", "link", "APP-3", "web1/nginx:forgotten.prov.example:80/", "--by", "Diskominfo")
    cli_run(path, "decide", "APP-2", "take-down", "--reason", "replaced by e-office", "--by", "Kadis")
    return str(path)


def run(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", LISTS, ids=" ".join)
def test_every_list_takes_db_and_format_on_the_command_itself(db, command):
    rows = json.loads(run(*command, "--db", db, "--format", "json"))
    assert isinstance(rows, list)
    text = run(*command, "--format", "csv", "--db", db)
    assert text.startswith("\ufeff")  # a byte-order mark: spreadsheets read the file as UTF-8
    table = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    if rows:  # CSV and JSON hold the same columns and rows
        assert table[0] == list(rows[0]) and len(table) == len(rows) + 1
    assert run(*command, "--db", db, "--format", "table").strip()


@pytest.mark.parametrize(
    "command, expected",
    [
        (["hosts"], "web1"),
        (["apps"], "nginx:portal.prov.example:80/"),
        (["findings"], "hidden"),
        (["scans", "ports"], "127.0.0.2"),
        (["scans", "ssh"], "web-dinkes"),
        (["agents", "secrets"], "batch 1"),
        (["inventory", "pins"], "APP-3"),
    ],
)
def test_the_lists_hold_what_the_store_holds(db, command, expected):
    assert expected in run(*command, "--db", db)


def test_a_group_option_still_reaches_its_commands_and_the_command_wins(db, tmp_path):
    """`ronda scans --db X --format json ports`, as scripts written before wrote it."""
    ports = json.loads(run("scans", "--db", db, "--format", "json", "ports"))
    assert [(p["address"], p["port"], p["http_title"]) for p in ports] == [("127.0.0.2", 80, "Portal")]
    csv_wins = run("scans", "--db", db, "--format", "json", "ports", "--format", "csv")
    assert csv_wins.startswith("\ufeffaddress,port,")
    other = str(tmp_path / "other.db")
    Store(other).close()
    assert json.loads(run("scans", "--db", db, "--format", "json", "ssh", "--db", other)) == []


def test_db_comes_from_ronda_db_on_every_command(db, monkeypatch):
    monkeypatch.setenv("RONDA_DB", db)
    assert json.loads(run("scans", "hosts", "--format", "json"))
    assert json.loads(run("agents", "secrets", "--format", "json"))


def test_explain_reconcile_and_candidates_in_every_format(db):
    story = json.loads(run("explain", "APP-2", "--db", db, "--format", "json"))
    assert story["declared"]["app_id"] == "APP-2"
    sections = {
        row["section"]
        for row in csv.DictReader(
            io.StringIO(run("explain", "APP-2", "--db", db, "--format", "csv").removeprefix("\ufeff"))
        )
    }
    assert {"verdict", "declared", "runs_on"} <= sections
    [summary] = json.loads(run("reconcile", "--db", db, "--format", "json"))
    assert summary["declared"] == 3 and summary["discovered"] == 3
    candidates = {c["app_id"]: c for c in json.loads(run("candidates", "--db", db, "--format", "json"))}
    assert candidates["APP-2"]["decision"] == "take-down" and candidates["APP-3"]["decision"] is None
