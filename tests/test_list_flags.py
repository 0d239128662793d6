"""The list commands filter the same way: every filter a command's rows can answer is a flag of that
command, spelled the same everywhere (`ronda apps|findings|candidates|decisions|hosts --help`).

The fleet is naming_fleet's (two servers, nginx in front of Apache, an inventory of four apps), so
the rows each filter keeps are known: hidden default vhosts nobody uses, an idle declared app, a
declared app that runs nowhere.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from naming_fleet import invoke

from ronda.collector.cli import cli

SHARED = {"--host", "--since", "--sort", "--limit", "--format", "--output", "--lang", "--tz", "--delimiter"}
FLAGS = {
    "hosts": SHARED | {"--stale"},  # a host has no owner, verdict or kind
    "apps": SHARED | {"--opd", "--owner", "--verdict", "--kind"},  # kind: nginx, apache, caddy...
    "findings": SHARED | {"--opd", "--owner", "--verdict", "--kind"},  # kind: hidden, idle...
    "candidates": SHARED | {"--opd", "--owner", "--verdict", "--kind"},  # kind: of an open finding
    "decisions": SHARED | {"--opd", "--owner", "--verdict"},  # verdict: ronda's verdict now
}


def _flags(command: str) -> set[str]:
    help_text = CliRunner().invoke(cli, [command, "--help"], terminal_width=200).output
    return {word.rstrip(",") for word in help_text.split() if word.startswith("--")}


@pytest.mark.parametrize("command", sorted(FLAGS))
def test_each_list_has_the_filters_its_rows_can_answer(command):
    assert FLAGS[command] <= _flags(command), FLAGS[command] - _flags(command)


def subjects(db, *args: str) -> list[str]:
    result = invoke(db, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return sorted(row["subject"] for row in json.loads(result.output))


EVERY_VERDICT = [f"--verdict={v}" for v in ("safe-to-take-down", "review", "keep", "insufficient-evidence")]


def test_candidates_by_the_kind_of_their_findings(fleet):
    """Undeclared apps nobody uses (hidden), apart from idle declared ones."""
    assert subjects(fleet, "candidates", "--kind", "hidden") == [
        "agent-web1/nginx:_:80/",
        "agent-web2/nginx:_:80/",
        "agent-web2/nginx:simpeg.prov.example:80/",
    ]
    assert subjects(fleet, "candidates", "--kind", "status-mismatch") == ["APP-3"]
    assert subjects(fleet, "candidates", *EVERY_VERDICT, "--kind", "missing") == ["APP-4"]
    table = invoke(fleet, "candidates", "--kind", "hidden", "--host", "web2").output
    assert "simpeg" in table and "web1/" not in table
    refused = invoke(fleet, "candidates", "--kind", "nginx")
    assert refused.exit_code == 2 and "'hidden'" in refused.output  # the kinds it takes are named


def test_findings_by_the_verdict_of_their_app(fleet):
    """What a hidden app's finding should lead to: the hidden ones safe to take down."""
    assert subjects(fleet, "findings", "--kind", "hidden", "--verdict", "review") == [
        "agent-web1/apache:adminer.prov.example:8080/"
    ]
    safe = subjects(fleet, "findings", "--verdict", "safe-to-take-down", "--host", "web1")
    assert safe == ["agent-web1/nginx:_:80/", "agent-web1/nginx:_:80/"]  # hidden and idle
    declared = subjects(fleet, "findings", "--verdict", "safe-to-take-down", "--opd", "dinas kesehatan")
    assert declared == ["APP-3", "APP-3"]  # idle, and still declared active
