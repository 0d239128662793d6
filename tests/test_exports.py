"""Spreadsheet-grade exports: CSV with a BOM and the reader's delimiter, JSON for nested values
(never a Python repr), XLSX with typed cells and links, and the approval list written as XLSX
and CSV, filled in as an OPD fills it in, and read back into decisions.

The inputs are the demo fleet's: apps with several server names and listeners (nested values),
an SPBE inventory with costs in rupiah."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ronda.collector.cli import cli
from ronda.collector.output import BOM, csv_cell, render, to_xlsx
from ronda.collector.reconcile.decisions import record_decision
from ronda.collector.reconcile.lookup import find_subject
from ronda.collector.report.approval import COLUMNS
from ronda.collector.store import Store

pytestmark = pytest.mark.servers  # the demo fleet's agents report over gRPC


def run(*args: str, env: dict | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), env=env or {"RONDA_LANG": "", "LANG": "C.UTF-8"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    "value, cell",
    [
        (["a.go.id", "www.a.go.id"], '["a.go.id", "www.a.go.id"]'),
        ({"host": "web-dinkes", "port": 80}, '{"host": "web-dinkes", "port": 80}'),
        (None, ""),
        (True, "true"),
        ("Dinas Kesehatan; Bidang P2P", "Dinas Kesehatan; Bidang P2P"),
    ],
)
def test_a_csv_cell_holds_json_never_a_python_repr(value, cell):
    assert csv_cell(value) == cell


def test_csv_has_a_bom_and_indonesian_spreadsheets_get_semicolons(fleet_db):
    text = run("apps", "--db", str(fleet_db), "--format", "csv", env={"LANG": "id_ID.UTF-8"})
    assert text.startswith(BOM + "hostname;agent_id;app_key")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter=";"))
    as_json = json.loads(run("apps", "--db", str(fleet_db), "--format", "json"))
    assert len(rows) == len(as_json)
    # Nested values come back whole through JSON.
    assert [json.loads(r["server_names"]) for r in rows] == [a["server_names"] for a in as_json]
    assert all("'" not in r["listen"] for r in rows)


@pytest.mark.parametrize(
    "args, env, delimiter",
    [
        ([], {"LANG": "C.UTF-8"}, ","),
        (["--lang", "id"], {"LANG": "C.UTF-8"}, ";"),
        (["--delimiter", "\\t"], {"LANG": "id_ID.UTF-8"}, "\t"),
        (["--lang", "id", "--delimiter", ","], {}, ","),
    ],
)
def test_csv_delimiter_follows_the_language_unless_chosen(fleet_db, args, env, delimiter):
    text = run("findings", "--db", str(fleet_db), "--format", "csv", *args, env=env)
    assert text.splitlines()[0] == BOM + delimiter.join(
        ["finding_id", "kind", "subject", "app_id", "hostname", "agent_id", "app_key", "summary", "detail"]
        + ["first_seen", "last_seen", "resolved_at", "owner", "verdict"]
    )


def test_no_bom_for_pipes(fleet_db):
    assert run("hosts", "--db", str(fleet_db), "--format", "csv", "--no-bom").startswith("agent_id,")


def test_xlsx_cells_are_typed_and_addresses_are_links(fleet_db, tmp_path):
    out = tmp_path / "apps.xlsx"
    run("apps", "--db", str(fleet_db), "--format", "xlsx", "--output", str(out), "--tz", "WITA")
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c for c in row], strict=True)) for row in sheet.iter_rows(min_row=2)]
    assert len(rows) == len(json.loads(run("apps", "--db", str(fleet_db), "--format", "json")))
    first = rows[0]
    assert isinstance(first["first_seen"].value, datetime)  # a time, in WITA, not text
    assert isinstance(first["config_line"].value, int)
    assert isinstance(json.loads(first["server_names"].value), list)  # nested: JSON text
    linked = [r["url"] for r in rows if r["url"].value]
    assert linked and all(c.hyperlink.target == c.value for c in linked)
    assert sheet.freeze_panes == "B2" and sheet.auto_filter.ref


def test_xlsx_to_a_pipe_is_written_whole(fleet_db):
    result = CliRunner().invoke(cli, ["hosts", "--db", str(fleet_db), "--format", "xlsx"])
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"PK")  # a zip: CliRunner is no tty


def test_to_xlsx_days_and_money():
    data = to_xlsx(
        [{"day": "2026-12-07", "annual_cost": 50_000_000, "note": None}],
        ["day", "annual_cost", "note"],
        money=["annual_cost"],
    )
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet["A2"].value == datetime(2026, 12, 7) and sheet["A2"].number_format == "yyyy-mm-dd"
    assert sheet["B2"].value == 50_000_000 and "Rp" in sheet["B2"].number_format
    assert sheet["C2"].value is None


def test_render_json_keeps_structures(fleet_db):
    rows = json.loads(run("findings", "--db", str(fleet_db), "--format", "json"))
    assert all(isinstance(r["detail"], dict) for r in rows)
    assert render([], "json") == "[]"


def _fill(rows: list[dict], decided: dict[str, str]) -> None:
    for row in rows:
        if row["id"] in decided:
            row["decision"], row["by"] = decided[row["id"]], "Kepala Dinas Kesehatan, NIP 197001011990031001"
            row["reason"] = "rapat 12 Desember 2026: tidak dipakai, diganti SIMPUS Cloud"


def _record(db: Path, rows: list[dict]) -> list[str]:
    """What `ronda decide --from` does with a returned sheet: each row with a decision, recorded."""
    store = Store(db)
    done = []
    for row in rows:
        if row["decision"]:
            record_decision(
                store,
                find_subject(store, row["id"]),
                row["decision"],
                row["reason"],
                row["by"],
                row["into"] or "",
            )
            done.append(row["id"])
    return done


def test_the_approval_list_goes_out_as_xlsx_and_comes_back_as_decisions(fleet_copy, tmp_path):
    sheet_file = tmp_path / "keputusan.xlsx"
    run("report", "--db", str(fleet_copy), "--approval", str(sheet_file), "--lang", "id", "--tz", "WITA")
    book = load_workbook(sheet_file)
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["id", "decision", "by", "reason", "into"] and header == COLUMNS
    assert "README" in book.sheetnames  # what to fill in, in the reader's language
    checks = sheet.data_validations.dataValidation
    assert checks and checks[0].formula1 == '"take-down,keep,consolidate"'
    rows = [dict(zip(header, [c.value for c in row], strict=True)) for row in sheet.iter_rows(min_row=2)]
    candidates = Store(fleet_copy).query("SELECT subject FROM verdicts WHERE verdict = 'safe-to-take-down'")
    assert sorted(r["id"] for r in rows) == sorted(c["subject"] for c in candidates)
    simpus = next(r for r in rows if r["id"] == "APP-003")
    assert simpus["annual_cost"] == 45_000_000 and simpus["opd"] == "Dinas Kesehatan"
    assert isinstance(simpus["last_human_request"], datetime) and simpus["url"].startswith("http")
    assert "Kunjungan manusia terakhir" in simpus["evidence"]
    # Filled in as the OPD returns it, saved by the spreadsheet, read back, recorded.
    for row_cells in sheet.iter_rows(min_row=2):
        if row_cells[0].value == "APP-003":
            row_cells[1].value, row_cells[2].value = "take-down", "Kepala Dinas Kesehatan"
            row_cells[3].value = "rapat 12 Desember 2026"
    book.save(sheet_file)
    back = load_workbook(sheet_file).active
    returned = [
        dict(zip(header, [c.value or "" for c in row], strict=True)) for row in back.iter_rows(min_row=2)
    ]
    assert _record(fleet_copy, returned) == ["APP-003"]
    latest = Store(fleet_copy).query(
        "SELECT decision, decided_by FROM latest_decisions WHERE subject = 'APP-003'"
    )
    assert latest == [{"decision": "take-down", "decided_by": "Kepala Dinas Kesehatan"}]


def test_the_approval_list_as_csv_for_an_indonesian_spreadsheet(fleet_copy, tmp_path):
    out = tmp_path / "keputusan.csv"
    run("report", "--db", str(fleet_copy), "--approval", str(out), "--lang", "id", "--opd", "Dinas Kesehatan")
    text = out.read_text(encoding="utf-8")
    assert text.startswith(BOM + "id;decision;by;reason;into;name;opd")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter=";"))
    assert {r["id"] for r in rows} <= {"APP-003", "APP-004"} and {r["opd"] for r in rows} == {
        "Dinas Kesehatan"
    }
    _fill(rows, {"APP-004": "keep"})
    assert _record(fleet_copy, rows) == ["APP-004"]
    assert date.fromisoformat(rows[0]["logs_since"][:10])
