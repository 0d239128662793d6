"""The approval sheet goes out with `ronda report --approval` and comes back signed into `ronda decide
--from`: the two stay in step, in XLSX and in an Indonesian spreadsheet's CSV.

The demo's sample fleet is the store (decide_fleet.py): real agents over real gRPC, the SPBE
inventory imported and reconciled.
"""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ronda.collector.cli import cli
from ronda.collector.output import BOM
from ronda.collector.store import Store

pytestmark = pytest.mark.servers  # the demo fleet runs ronda-agent processes

SIGNED_BY = "Kepala Dinas Kesehatan, NIP 197001011990031001"


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def latest(db) -> dict[str, tuple[str, str]]:
    return {
        r["subject"]: (r["decision"], r["decided_by"])
        for r in Store(db).query("SELECT subject, decision, decided_by FROM latest_decisions")
    }


def test_the_xlsx_sheet_comes_back_signed_and_is_recorded(fleet_copy, tmp_path):
    path = tmp_path / "keputusan.xlsx"
    run("report", "--db", str(fleet_copy), "--approval", str(path), "--lang", "id", "--tz", "WITA")
    book = load_workbook(path)
    sheet = book.active
    header = [c.value for c in sheet[1]]
    ids = [row[0].value for row in sheet.iter_rows(min_row=2)]
    assert "APP-003" in ids and len(ids) >= 2
    for row in sheet.iter_rows(min_row=2):  # the OPD fills in two rows, leaves the rest for later
        if row[0].value == "APP-003":
            row[header.index("decision")].value = "take-down"
            row[header.index("by")].value = SIGNED_BY
            row[header.index("reason")].value = "rapat 12 Desember 2026: diganti SIMPUS Cloud"
        elif row[0].value == ids[-1]:
            row[header.index("decision")].value = "keep"
            row[header.index("by")].value = SIGNED_BY
            row[header.index("reason")].value = "masih dibutuhkan untuk arsip"
    book.save(path)
    told = run("decide", "--db", str(fleet_copy), "--from", str(path))
    assert f"2 decisions recorded from {path}; {len(ids) - 2} rows without a decision left for later" in told
    assert latest(fleet_copy)["APP-003"] == ("take-down", SIGNED_BY)
    assert latest(fleet_copy)[ids[-1]] == ("keep", SIGNED_BY)


def test_the_csv_sheet_of_an_indonesian_spreadsheet(fleet_copy, tmp_path):
    path = tmp_path / "keputusan.csv"
    run(
        "report", "--db", str(fleet_copy), "--approval", str(path), "--lang", "id", "--opd", "Dinas Kesehatan"
    )
    text = path.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix(BOM)), delimiter=";"))
    for row in rows:
        row.update(decision="Nonaktifkan", by=SIGNED_BY, reason="tidak dipakai lagi")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(BOM + out.getvalue(), encoding="utf-8")  # as the spreadsheet saves it again
    run("decide", "--db", str(fleet_copy), "--from", str(path))
    assert {s: d for s, (d, _) in latest(fleet_copy).items() if s in {r["id"] for r in rows}} == {
        r["id"]: "take-down" for r in rows
    }
