"""Reconcile thresholds from a TOML file: defaults, overrides, and refusals that name the setting."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from reconcile_fleet import FLEET, INVENTORY, cli_run, snapshot

from ronda.collector.cli import cli
from ronda.collector.reconcile.config import ReconcileConfig, ReconcileConfigError, load_config
from ronda.collector.store import Store


def test_defaults_and_a_file_that_sets_some(tmp_path, monkeypatch):
    assert (ReconcileConfig().idle_days, ReconcileConfig().stale_after_hours) == (90, 48)
    path = tmp_path / "reconcile.toml"
    path.write_text("idle_days = 60\nknown_owners = ['Bappeda']\n")
    monkeypatch.setenv("RONDA_RECONCILE_CONFIG", str(path))
    config = load_config(None)
    assert (config.idle_days, config.known_owners, config.low_use_requests) == (60, ["Bappeda"], 10)


@pytest.mark.parametrize(
    "text, message",
    [
        ("idle_days = 'ninety'", "idle_days must be a whole number"),
        ("idle_days = 0", "idle_days must be at least 1"),
        ("stale_after_hours = -1", "stale_after_hours must be at least 0"),
        ("idel_days = 30", "reconcile.toml:1: unknown setting(s) idel_days"),
        ("known_owners = 'Bappeda'", "known_owners must be a list"),
        ("idle_days = ", "reconcile.toml:1:13: not valid TOML: invalid value"),
    ],
)
def test_bad_settings_are_named(tmp_path, text, message):
    path = tmp_path / "reconcile.toml"
    path.write_text(text + "\n")
    with pytest.raises(ReconcileConfigError, match=re.escape(message)):
        load_config(str(path))


def test_a_shorter_window_changes_the_verdicts(tmp_path):
    db = tmp_path / "ronda.db"
    Store(db).ingest(snapshot(1, FLEET))
    (tmp_path / "inv.csv").write_text(INVENTORY)
    cli_run(db, "inventory", "import", str(tmp_path / "inv.csv"))
    assert "2 safe-to-take-down" in cli_run(db, "reconcile")
    (tmp_path / "short.toml").write_text("idle_days = 400\nexposed_ignore_ports = [22, 2024]\n")
    out = cli_run(db, "reconcile", "--config", str(tmp_path / "short.toml"))
    assert "0 safe-to-take-down" in out and "2 resolved" in out  # 200 days of logs cannot cover 400
    bad = CliRunner().invoke(cli, ["reconcile", "--db", str(db), "--config", str(tmp_path / "missing.toml")])
    assert bad.exit_code == 2 and "cannot read reconcile config" in bad.output
