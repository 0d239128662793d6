"""A mistyped `--db` (or RONDA_DB) is refused by every command but those that fill a store: read
commands used to create an empty store there and answer "No host has reported yet" with exit 0."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from ronda.collector.cli import cli
from ronda.collector.store import Store

CREATING = {("serve",), ("inventory", "import")}


def commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command under `group` that takes --db, by its path (a group that lists something itself,
    such as `ronda scans`, included)."""
    found = []
    for name, command in sorted(group.commands.items()):
        here = (*path, name)
        if any(p.name == "db" for p in command.params):
            found.append(here)
        if isinstance(command, click.Group):
            found += commands(command, here)
    return found


READING = [c for c in commands(cli) if c not in CREATING]


def test_every_store_command_is_listed():
    assert {("hosts",), ("explain",), ("decide",), ("inventory", "list"), ("scan", "ssh")} <= set(READING)
    assert set(commands(cli)) >= CREATING


@pytest.mark.parametrize("path", READING, ids=[" ".join(p) for p in READING])
def test_commands_refuse_a_store_that_does_not_exist(tmp_path, path):
    missing = tmp_path / "ronda-typo.db"
    result = CliRunner().invoke(cli, [*path, "--db", str(missing)])
    assert result.exit_code == 2, result.output
    assert f"ronda: no ronda database at {missing} (given with --db): check the path" in result.output
    assert not missing.exists()


def test_the_path_from_ronda_db_is_named_as_such(tmp_path, monkeypatch):
    monkeypatch.setenv("RONDA_DB", str(tmp_path / "salah.db"))
    result = CliRunner().invoke(cli, ["findings"])
    assert (
        result.exit_code == 2
        and f"no ronda database at {tmp_path / 'salah.db'} (from RONDA_DB)" in result.output
    )


def test_an_existing_store_is_used(tmp_path):
    Store(tmp_path / "ronda.db").close()
    result = CliRunner().invoke(cli, ["findings", "--db", str(tmp_path / "ronda.db")])
    assert result.exit_code == 0 and "no findings" in result.output


def test_inventory_import_creates_the_store(tmp_path):
    sheet = tmp_path / "aplikasi.csv"
    sheet.write_text("id;nama;opd;kontak;url;status\nAPP-1;SIMPUS;Dinkes;b;s.example;aktif\n")
    result = CliRunner().invoke(cli, ["inventory", "import", "--db", str(tmp_path / "new.db"), str(sheet)])
    assert result.exit_code == 0 and (tmp_path / "new.db").exists()


def test_serve_takes_a_new_store(tmp_path):
    # Refused later for its TLS files, not for the database it is about to create.
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "new.db"), "--listen", "127.0.0.1:0"])
    assert (
        result.exit_code != 0
        and "--cert and --key" in result.output
        and "no ronda database" not in result.output
    )
