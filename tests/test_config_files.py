"""The three config files (agent.toml, collector.toml, reconcile.toml) are read one way.

Each mistake is refused the same way in all three, naming the file and line:
a misspelt setting, a value of the wrong type, a file that is not TOML, one
that cannot be read. The files are written as operators and tools write them:
comments and blank lines, Windows line ends and a BOM from Notepad, quoted
keys, and the sorted `key = "json"` lines of the Ansible role's template.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ronda.agent.config import AgentConfigError
from ronda.agent.config import load_config as load_agent
from ronda.collector.reconcile.config import ReconcileConfigError
from ronda.collector.reconcile.config import load_config as load_reconcile
from ronda.collector.scan_config import ScanConfigError, load_scan_config
from ronda.errors import ConfigError

# name: (loader, its error, a good file with a setting on line 3 whose name and value the cases vary)
LOADERS: dict[str, tuple[Callable, type[ConfigError], str]] = {
    "agent": (
        load_agent,
        AgentConfigError,
        '# /etc/ronda/agent.toml\ncollector = "collector.prov.example:7470"\n{setting} = {value}\n',
    ),
    "collector": (
        load_scan_config,
        ScanConfigError,
        '# written by ansible\n[network]\n{setting} = {value}\nscopes = ["10.20.0.0/16"]\n',
    ),
    "reconcile": (
        load_reconcile,
        ReconcileConfigError,
        "# thresholds agreed with the SPBE team\n\n{setting} = {value}\nknown_owners = ['Diskominfo']\n",
    ),
}
GOOD = {"agent": ("interval_seconds", "600"), "collector": ("timing", "4"), "reconcile": ("idle_days", "120")}


def write(tmp_path: Path, text: str, name: str = "config.toml", encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.mark.parametrize("kind", LOADERS)
@pytest.mark.parametrize("shape", ["plain", "crlf-bom", "quoted-key"])
def test_good_files_in_the_shapes_people_write_them(tmp_path, kind, shape):
    loader, _, template = LOADERS[kind]
    setting, value = GOOD[kind]
    text = template.format(setting=f'"{setting}"' if shape == "quoted-key" else setting, value=value)
    if shape == "crlf-bom":
        text = "\ufeff" + text.replace("\n", "\r\n")
    config = loader(write(tmp_path, text))
    section = config.network if kind == "collector" else config
    assert getattr(section, setting) == int(value)


MISTAKES = [
    ("misspelt", "{setting}s", "{value}", ":3: {table}unknown setting(s) {setting}s; known: "),
    ("wrong type", "{setting}", '"{value}"', ":3: {table}{setting} must be a whole number, not a string"),
    ("not TOML", "{setting}", "", ":3:{column}: not valid TOML: invalid value"),
]


@pytest.mark.parametrize("kind", LOADERS)
@pytest.mark.parametrize("case, name, value, message", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistakes_are_refused_alike_with_file_and_line(tmp_path, kind, case, name, value, message):
    loader, error, template = LOADERS[kind]
    setting, good = GOOD[kind]
    name, value = name.format(setting=setting), value.format(value=good)
    path = write(tmp_path, template.format(setting=name, value=value))
    expected = message.format(
        setting=setting,
        table="[network] " if kind == "collector" else "",
        column=len(f"{name} = ") + 1,
    )
    with pytest.raises(error, match="^" + re.escape(path + expected)) as refused:
        loader(path)
    assert isinstance(refused.value, ConfigError) and refused.value.exit_code == 2


@pytest.mark.parametrize("kind", LOADERS)
def test_every_problem_is_named_in_the_order_of_the_file(tmp_path, kind):
    loader, error, template = LOADERS[kind]
    setting, _ = GOOD[kind]
    text = template.format(setting=setting, value="'soon'") + "colour = 'blue'\n"
    path = write(tmp_path, text)
    with pytest.raises(error) as refused:
        loader(path)
    problems = str(refused.value).split("; known: ")[0].split("; ")
    assert [p.split(": ")[0] for p in problems] == [f"{path}:3", f"{path}:{text.count(chr(10))}"]


@pytest.mark.parametrize("kind", LOADERS)
@pytest.mark.parametrize(
    "case, content, message",
    [
        (
            "latin-1 text",
            "# dikelola oleh Dinas Komunikasi dan Informatika — bagian persandian\n",
            ":1: not valid TOML: not UTF-8",
        ),
        ("missing", None, "cannot read "),
    ],
)
def test_unreadable_files_are_refused_alike(tmp_path, kind, case, content, message):
    loader, error, _ = LOADERS[kind]
    path = str(tmp_path / "absent.toml") if content is None else write(tmp_path, content, encoding="cp1252")
    with pytest.raises(error, match=re.escape(message)):
        loader(path)
