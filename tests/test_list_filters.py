"""The filters every list command shares, the same way on hosts, apps, findings and candidates:
--opd/--owner, --host, --since, --verdict, --kind, --stale, --sort and --limit; bad values get
one clear error. The fleet is the demo's (three OPDs, three servers, hidden and idle apps)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from ronda.collector.cli import cli
from ronda.collector.listing import FilterError, parse_since, sort_rows

NOW = datetime(2026, 12, 7, 2, 7, tzinfo=UTC)

pytestmark = pytest.mark.servers  # the demo fleet's agents report over gRPC


def rows(db, *args: str) -> list[dict]:
    result = CliRunner().invoke(cli, [*args, "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-01", "2026-11-01T00:00:00Z"),
        ("2026-11-01T08:00:00+08:00", "2026-11-01T00:00:00Z"),
        ("30d", "2026-11-07T02:07:00Z"),
        ("2w", "2026-11-23T02:07:00Z"),
        ("12h", "2026-12-06T14:07:00Z"),
        ("7 hari", "2026-11-30T02:07:00Z"),  # as an Indonesian operator types it
        (None, None),
    ],
)
def test_since_takes_dates_and_spans(text, expected):
    assert parse_since(text, NOW) == expected


def test_since_refuses_what_it_cannot_read():
    with pytest.raises(FilterError, match="30d, 2w, 12h"):
        parse_since("last tuesday", NOW)


@pytest.mark.parametrize("command", ["apps", "findings", "candidates"])
def test_opd_and_owner_are_one_filter_case_blind(fleet_db, command):
    by_opd = (
        rows(fleet_db, command, "--opd", "dinas kesehatan", "--verdict", "safe-to-take-down")
        if command == "candidates"
        else rows(fleet_db, command, "--opd", "dinas kesehatan")
    )
    assert by_opd and {r["owner"] for r in by_opd} == {"Dinas Kesehatan"}
    by_owner = rows(fleet_db, command, "--owner", "Dinas Kesehatan", "--owner", "Bappeda")
    assert {r["owner"] for r in by_owner} <= {"Dinas Kesehatan", "Bappeda"}


@pytest.mark.parametrize(
    "command, column",
    [("hosts", "hostname"), ("apps", "hostname"), ("findings", "hostname"), ("candidates", "hosts")],
)
def test_host_by_name_or_agent_id(fleet_db, command, column):
    named = rows(fleet_db, command, "--host", "web-bappeda")
    assert named and {r[column] for r in named} == {"web-bappeda"}
    agent = named[0].get("agent_id") or rows(fleet_db, "hosts", "--host", "web-bappeda")[0]["agent_id"]
    if command != "candidates":
        assert rows(fleet_db, command, "--host", agent) == named


def test_since_on_each_list(fleet_db):
    for command in ("hosts", "apps", "findings", "candidates"):
        assert rows(fleet_db, command, "--since", "1d") == rows(fleet_db, command)  # all new today
        assert rows(fleet_db, command, "--since", "2099-01-01") == []


def test_verdict_and_kind(fleet_db):
    keep = rows(fleet_db, "apps", "--verdict", "keep")
    assert keep and {a["verdict"] for a in keep} == {"keep"}
    apache = rows(fleet_db, "apps", "--kind", "apache")
    assert apache and {a["kind"] for a in apache} == {"apache"}
    idle = rows(fleet_db, "findings", "--kind", "idle", "--kind", "missing")
    assert {f["kind"] for f in idle} == {"idle", "missing"}


def test_sort_and_limit(fleet_db):
    newest = rows(fleet_db, "apps", "--sort", "-last_human_request", "--limit", "3")
    every = [a["last_human_request"] for a in rows(fleet_db, "apps") if a["last_human_request"]]
    assert [a["last_human_request"] for a in newest] == sorted(every, reverse=True)[:3]
    by_two = rows(fleet_db, "apps", "--sort", "hostname,-app_key")
    assert [(a["hostname"], a["app_key"]) for a in by_two] == sorted(
        sorted(((a["hostname"], a["app_key"]) for a in by_two), key=lambda x: x[1], reverse=True),
        key=lambda x: x[0],
    )


def test_empty_values_sort_last_either_way():
    data = [{"n": None}, {"n": 2}, {"n": 10}, {"n": ""}]
    assert [r["n"] for r in sort_rows(data, ["n"])][:2] == [2, 10]
    assert [r["n"] for r in sort_rows(data, ["-n"])][:2] == [10, 2]


def test_an_unknown_sort_column_names_the_columns(fleet_db):
    result = CliRunner().invoke(cli, ["hosts", "--db", str(fleet_db), "--sort", "colour"])
    assert result.exit_code == 2 and "no such column" in result.output and "hostname" in result.output


def test_stale_hosts(fleet_copy):
    """A server that stopped reporting three days ago is stale; --stale lists it alone."""
    old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with sqlite3.connect(fleet_copy) as db:
        db.execute(
            "UPDATE agents SET last_seen = ? "
            "WHERE agent_id = (SELECT agent_id FROM hosts WHERE hostname = 'web-bappeda')",
            (old,),
        )
    every = rows(fleet_copy, "hosts")
    assert {h["hostname"]: h["stale"] for h in every} == {
        "app-diskominfo": False,
        "web-bappeda": True,
        "web-dinkes": False,
    }
    assert [h["hostname"] for h in rows(fleet_copy, "hosts", "--stale")] == ["web-bappeda"]
    table = CliRunner().invoke(cli, ["hosts", "--db", str(fleet_copy), "--lang", "id"]).output
    assert "TERLAMBAT" in table.splitlines()[0] and "terlambat" in table
