"""What ronda prints and exports is shown, never run: formulas from an inventory or a hostile server's
`server_name` are neutralised in every CSV, and escape sequences from a location prefix or
/etc/hostname are printed visibly by `ronda` and `ronda-agent`.

The inventory is a spreadsheet export in the SPBE catalogue's columns, as agencies send them; the
hostile names come from a real nginx config read by the real scan.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ronda.agent.host import LocalHost
from ronda.agent.snapshot import ScanOptions, scan
from ronda.collector.cli import cli
from ronda.collector.store import Store
from ronda.safetext import spreadsheet_cell, terminal_text

BIN = Path(sys.executable).parent
OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # writes the operator's clipboard
CLEAR = "\x1b[2J"


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ('=HYPERLINK("http://evil.example/x","Klik")', '\'=HYPERLINK("http://evil.example/x","Klik")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-5", "-5"),  # a number stays a number
        ("+62 812 3456 7890", "'+62 812 3456 7890"),  # a phone number written with + is text
        ("Dinas Kesehatan", "Dinas Kesehatan"),
        ("a\x1bb", "a\\x1bb"),
    ],
)
def test_a_spreadsheet_cell_never_runs(cell, shown):
    assert spreadsheet_cell(cell) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"web01{OSC52}", "web01\\x1b]52;c;ZWNobyBwd25lZA==\\x07"),
        (f"/app{CLEAR}", "/app\\x1b[2J"),
        ("admin\u202etxt.exe", "admin\\u202etxt.exe"),
        ("line\nbreak", "line\\x0abreak"),
        ("Sistem Informasi Kepegawaian — Dinas", "Sistem Informasi Kepegawaian — Dinas"),
    ],
)
def test_terminal_text_shows_control_characters(text, shown):
    assert terminal_text(text) == shown


INVENTORY = (
    "id_aplikasi;nama_aplikasi;opd_pemilik;alamat_domain;status_aplikasi\n"
    'APP-001;"=HYPERLINK(""http://evil.example"",""Klik"")";Dinas Kominfo;sipd.example.go.id;aktif\n'
    "APP-002;+cmd|' /C calc'!A0;@SUM(1+1);simpeg.example.go.id;aktif\n"
)


def store_scan(db: Path, root: Path) -> None:
    snapshot = scan(LocalHost(str(root)), ScanOptions(agent_id="web01"))
    snapshot.sequence = 1
    store = Store(db)
    store.ingest(snapshot)
    store.close()


def hostile_server(tmp_path: Path) -> Path:
    root = tmp_path / "server"
    (root / "etc/nginx").mkdir(parents=True)
    (root / "etc/hostname").write_text(f"web01{OSC52}\n")
    (root / "etc/nginx/nginx.conf").write_text(
        "events {}\nhttp {\n  server {\n    listen 80;\n    server_name =1+cmd|calc!A0;\n"
        f"    root /var/www/a;\n    location /app{CLEAR} {{ alias /var/www/b; }}\n  }}\n}}\n"
    )
    return root


def test_csv_exports_neutralise_formulas_from_the_inventory_and_from_hosts(tmp_path):
    db = tmp_path / "ronda.db"
    inventory = tmp_path / "katalog.csv"
    inventory.write_text(INVENTORY)
    runner = CliRunner()
    assert runner.invoke(cli, ["inventory", "import", "--db", str(db), str(inventory)]).exit_code == 0
    store_scan(db, hostile_server(tmp_path))
    exported = runner.invoke(cli, ["inventory", "export", "--db", str(db), "-", "--columns", "id"]).output
    apps = runner.invoke(cli, ["apps", "--db", str(db), "--format", "csv"]).output
    inventory_list = runner.invoke(cli, ["inventory", "list", "--db", str(db), "--format", "csv"]).output
    for text in (exported, apps, inventory_list):
        cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
        assert cells, text
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], text
    assert "'=HYPERLINK" in exported and "'+cmd" in exported and "'@SUM" in exported
    assert "=1+cmd|calc!A0" in apps  # the hostile server_name is there, never at the start of a cell


def test_xlsx_sheets_hold_no_formula_and_no_control_character(tmp_path):
    # to_xlsx is what every --format xlsx and the approval sheet write through
    from openpyxl import load_workbook

    from ronda.collector.output import to_xlsx

    rows = [
        {"id": "APP-001", "name": '=HYPERLINK("http://evil.example","Klik")', "opd": "@SUM(1+1)"},
        {"id": "APP-002", "name": f"web01{OSC52}", "opd": "-2+3+cmd|' /C calc'!A0"},
    ]
    sheet = tmp_path / "apps.xlsx"
    sheet.write_bytes(to_xlsx(rows, ["id", "name", "opd"]))
    cells = [c for row in load_workbook(sheet).active.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # openpyxl's formula cells
    values = [c.value for c in cells]
    assert '\'=HYPERLINK("http://evil.example","Klik")' in values and "'@SUM(1+1)" in values
    assert "web01\\x1b]52;c;ZWNobyBwd25lZA==\\x07" in values


@pytest.mark.servers
def test_escape_sequences_from_a_host_are_printed_visibly(tmp_path):
    root = hostile_server(tmp_path)
    done = subprocess.run(
        [str(BIN / "ronda-agent"), "scan", "--root", str(root)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "web01\\x1b]52;c;" in done.stdout and "/app\\x1b[2J" in done.stdout
    db = tmp_path / "ronda.db"
    store_scan(db, root)
    for command in (["hosts"], ["apps"]):
        shown = CliRunner().invoke(cli, [*command, "--db", str(db)]).output
        assert "\x1b" not in shown and "\\x1b" in shown, shown


def test_findings_from_a_hostile_host_are_printed_visibly(tmp_path):
    """The hostile server's apps are hidden (undeclared) and idle: their findings, candidacy and story
    carry its host name and location prefix, and every one is printed with the escapes visible."""
    db = tmp_path / "ronda.db"
    (tmp_path / "katalog.csv").write_text(INVENTORY)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["inventory", "import", "--db", str(db), str(tmp_path / "katalog.csv")]).exit_code
        == 0
    )
    store_scan(db, hostile_server(tmp_path))
    assert runner.invoke(cli, ["reconcile", "--db", str(db)]).exit_code == 0
    findings = runner.invoke(cli, ["findings", "--db", str(db)])
    assert findings.exit_code == 0, findings.output
    assert "hidden" in findings.output and "/app\\x1b[2J" in findings.output, findings.output
    assert "web01\\x1b]52;c;" in findings.output
    candidates = runner.invoke(cli, ["candidates", "--db", str(db), "--verdict=insufficient-evidence"]).output
    story = runner.invoke(cli, ["explain", "--db", str(db), "nginx:=1+cmd|calc!A0:80/app\x1b[2J"]).output
    for shown in (findings.output, candidates, story):
        assert "\x1b" not in shown and "\x07" not in shown, shown
    assert "/app\\x1b[2J" in candidates and "/app\\x1b[2J" in story
