"""Decisions with guard rails: a take-down the evidence argues against is refused unless forced, with
the reason; `ronda decisions` lists them; `ronda decide --from` records a signed approval sheet whole
or not at all, every problem named.

The sheets are in the shape `ronda report --approval` writes and an agency returns: the decision
columns first (id, decision, by, reason, into), ronda's evidence after; CSV from a spreadsheet in
an Indonesian locale (`;`, a byte-order mark, Windows line ends), or XLSX with a README sheet.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from naming_fleet import column, invoke
from openpyxl import Workbook

from ronda.collector.store import Store

SIMPEG = "agent-web2/nginx:simpeg.prov.example:80/"
KEEP_ARGS = ("--reason", "rapat 12 Desember", "--by", "Kepala Dinas Kominfo")


def recorded(db: Path) -> list[tuple[str, str]]:
    return [
        (r["subject"], r["decision"]) for r in Store(db).query("SELECT * FROM decisions ORDER BY decision_id")
    ]


def test_a_take_down_against_the_evidence_is_refused_and_says_why(fleet):
    # LAPOR: 65 human requests in the last 90 days, verdict keep.
    result = invoke(fleet, "decide", "APP-2", "take-down", *KEEP_ARGS)
    assert result.exit_code == 2
    assert result.output.startswith("ronda: refused: ronda's verdict on APP-2 is keep: humans used it today")
    assert "--force" in result.output and recorded(fleet) == []


@pytest.mark.parametrize(
    "app, subject",
    [
        ("APP-3", "APP-3"),  # safe to take down
        # review (the front still passes its name on) with no human visit in 120 days: a call to make
        ("web1/apache:adminer.prov.example:8080/", "agent-web1/apache:adminer.prov.example:8080/"),
    ],
)
def test_a_take_down_the_evidence_allows_is_recorded(fleet, app, subject):
    result = invoke(fleet, "decide", app, "take-down", *KEEP_ARGS)
    assert result.exit_code == 0 and "forced" not in result.output, result.output
    assert recorded(fleet) == [(subject, "take-down")]


def test_force_records_it_with_what_the_evidence_said(fleet):
    result = invoke(fleet, "decide", "APP-2", "take-down", "--force", *KEEP_ARGS)
    assert result.exit_code == 0, result.output
    assert "recorded: APP-2 take-down by Kepala Dinas Kominfo" in result.output
    assert (
        "(ronda's verdict: keep); forced: ronda's verdict on APP-2 is keep: humans used it today"
        in result.output
    )
    row = Store(fleet).query("SELECT verdict, reason FROM decisions")[0]
    assert row == {"verdict": "keep", "reason": "rapat 12 Desember"}


def test_an_app_without_a_verdict_is_not_taken_down_blind(fleet, tmp_path):
    sheet = tmp_path / "tambahan.csv"
    sheet.write_text(
        "id_aplikasi;nama_aplikasi;opd_pemilik;kontak;alamat_domain;status_aplikasi\n"
        "APP-9;Aplikasi Baru;Bappeda;x@prov.example;baru.prov.example;aktif\n"
    )
    assert invoke(fleet, "inventory", "import", str(sheet)).exit_code == 0  # not reconciled since
    result = invoke(fleet, "decide", "APP-9", "take-down", *KEEP_ARGS)
    assert (
        result.exit_code == 2 and "ronda has no verdict on APP-9 yet (run `ronda reconcile`)" in result.output
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("APP-3", "take-down", "--by", "Kadis"), "a decision needs --reason (why) and --by (who decided)"),
        (("APP-3", "consolidate", *KEEP_ARGS), "consolidate needs the app that takes over (--into APP)"),
        (("APP-3", "keep", "--into", "APP-1", *KEEP_ARGS), "an app to consolidate into only goes with"),
        (("APP-3",), "give APP and DECISION"),
    ],
)
def test_incomplete_decisions_are_refused(fleet, args, message):
    result = invoke(fleet, "decide", *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert recorded(fleet) == []


def test_decisions_lists_and_filters(fleet):
    for args in (
        ("APP-3", "take-down", "--reason", "tidak dipakai sejak Juli", "--by", "Kadis Dinkes"),
        ("APP-2", "keep", "--reason", "layanan publik", "--by", "Kadis Kominfo"),
        ("simpeg", "take-down", "--reason", "server lama BKD", "--by", "Kepala BKD"),
        ("APP-3", "keep", "--reason", "dipakai lagi untuk vaksinasi", "--by", "Sekretaris Dinkes"),
    ):
        assert invoke(fleet, "decide", *args).exit_code == 0
    table = invoke(fleet, "decisions").output
    assert table.splitlines()[0].split()[:4] == ["DECIDED_AT", "APP", "NAME", "DECISION"]
    assert column(table, "APP") == ["APP-3", SIMPEG.replace("agent-web2", "web2"), "APP-2", "APP-3"]
    rows = json.loads(invoke(fleet, "decisions", "--format", "json").output)
    assert rows[0]["verdict_then"] == "safe-to-take-down" and rows[0]["subject"] == "APP-3"
    pick = {
        ("--decision", "take-down"): [SIMPEG, "APP-3"],
        ("--by", "dinkes"): ["APP-3", "APP-3"],
        ("--app", "puskesmas"): ["APP-3", "APP-3"],
        ("--latest",): ["APP-3", SIMPEG, "APP-2"],
        ("--latest", "--decision", "take-down"): [SIMPEG],
        ("--since", "2999-01-01"): [],
        ("--opd", "Dinas Kesehatan"): ["APP-3", "APP-3"],
        ("--host", "web2"): [SIMPEG],  # by host name
        ("--host", "agent-web2"): [SIMPEG],  # or agent id
        ("--host", "WEB1"): ["APP-3", "APP-2", "APP-3"],  # a declared app on that host, in any case
        ("--verdict", "keep"): ["APP-2"],  # ronda's verdict now
        ("--verdict", "safe-to-take-down", "--decision", "keep"): ["APP-3"],  # kept against the verdict
    }
    for args, subjects in pick.items():
        listed = json.loads(invoke(fleet, "decisions", *args, "--format", "json").output)
        assert [r["subject"] for r in listed] == subjects, args
    csv = invoke(fleet, "decisions", "--format", "csv", "--lang", "en").output.splitlines()
    assert csv[0] == (
        "\ufeffdecision_id,decided_at,subject,app,name,owner,decision,into,decided_by,reason,verdict_then,verdict_now,"
        "hosts,agent_id"
    )
    indonesian = invoke(fleet, "decisions", "--lang", "id").output.splitlines()[0]
    assert indonesian.split()[:2] == ["DIPUTUSKAN", "APLIKASI"]
    assert invoke(fleet, "decisions", "--since", "kemarin").exit_code == 2


HEADER = ["id", "decision", "by", "reason", "into", "name", "opd", "verdict", "evidence", "batch"]


def csv_sheet(path: Path, rows: list[list[str]]) -> Path:
    lines = [";".join(HEADER), *(";".join([*row, *[""] * (len(HEADER) - len(row))]) for row in rows)]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


def test_a_signed_csv_sheet_is_recorded_whole(fleet, tmp_path):
    sheet = csv_sheet(
        tmp_path / "keputusan.csv",
        [
            [
                "APP-3",
                "take-down",
                "Kepala Dinas Kesehatan, NIP 197001011990031001",
                "rapat 12 Desember 2026",
            ],
            [SIMPEG, "Nonaktifkan", "Kepala BKD", "diganti SIMPEG nasional"],  # the sheet's Indonesian word
            ["web1/nginx:_:80/", "", "", ""],  # not decided yet: left for the next batch
            ["APP-4", "tinjau ulang", "", ""],  # "review again": no decision either
            ["APP-2", "keep", "Kepala Diskominfo", "layanan publik"],
        ],
    )
    result = invoke(fleet, "decide", "--from", str(sheet))
    assert result.exit_code == 0, result.output
    assert (
        result.output.splitlines()[-1]
        == f"3 decisions recorded from {sheet}; 2 rows without a decision left for later"
    )
    assert recorded(fleet) == [("APP-3", "take-down"), (SIMPEG, "take-down"), ("APP-2", "keep")]


def test_a_sheet_with_problems_records_nothing_and_names_every_one(fleet, tmp_path):
    sheet = csv_sheet(
        tmp_path / "keputusan.csv",
        [
            ["APP-3", "take-down", "Kadis Dinkes", "tidak dipakai"],  # fine on its own
            ["APP-2", "take-down", "Kadis Kominfo", "hemat biaya"],  # people use it
            ["APP-77", "keep", "Kadis", "x"],  # no such app
            ["APP-1", "hapus", "Kadis", "x"],  # not a decision
            ["nginx:_:80/", "take-down", "Kadis", "x"],  # two hosts have that key
            ["APP-4", "keep", "", "tetap"],  # no one named
            ["APP-3", "keep", "Kadis Dinkes", "berubah pikiran"],  # APP-3 twice, differently
        ],
    )
    result = invoke(fleet, "decide", "--from", str(sheet))
    assert result.exit_code == 2
    problems = [line for line in result.output.splitlines() if line.startswith(str(sheet))]
    assert [p.split(":", 2)[1].strip() for p in problems] == [
        "line 3, column id",
        "line 4, column id",
        "line 5, column decision",
        "line 6, column id",
        "line 7, column id",
        "line 8, column id",
    ]
    text = "\n".join(problems)
    assert "refused: ronda's verdict on APP-2 is keep" in text and "no app 'APP-77'" in text
    assert "'hapus' is not a decision" in text and "is an app key on 2 hosts" in text
    assert "needs the name of who decided" in text and "APP-3 has another decision on line 2" in text
    assert result.output.splitlines()[-1] == f"ronda: 6 problem(s) in {sheet}; no decision was recorded"
    assert recorded(fleet) == []


def test_a_signed_xlsx_sheet_with_a_forced_row(fleet, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.title = "Persetujuan"
    sheet.append(HEADER)
    sheet.append(["APP-3", "take-down", "Kepala Dinas Kesehatan", "rapat 12 Desember 2026", None, "SIMPUS"])
    sheet.append(
        ["APP-2", "take-down", "Gubernur", "digabung ke aplikasi nasional SP4N-LAPOR", None, "LAPOR"]
    )
    sheet.append([None] * len(HEADER))  # a blank row the spreadsheet kept
    book.create_sheet("README").append(["id", "The app, as ronda names it. Leave it as it is."])
    path = tmp_path / "keputusan.xlsx"
    book.save(path)
    refused = invoke(fleet, "decide", "--from", str(path))
    assert (
        refused.exit_code == 2
        and "line 3, column id: refused: ronda's verdict on APP-2 is keep" in refused.output
    )
    forced = invoke(fleet, "decide", "--from", str(path), "--force")
    assert forced.exit_code == 0, forced.output
    assert "forced: ronda's verdict on APP-2 is keep" in forced.output
    assert recorded(fleet) == [("APP-3", "take-down"), ("APP-2", "take-down")]


@pytest.mark.parametrize(
    "content, message",
    [
        ("app;keputusan\nAPP-3;keep\n", "line 1: no by, reason column; the sheet has: app, keputusan"),
        (";".join(HEADER) + "\nAPP-3" + ";" * (len(HEADER) - 1) + "\n", "no row of"),
        (b"PK\x03\x04broken", "not a readable XLSX workbook"),
    ],
    ids=["columns missing", "nothing decided", "a damaged workbook"],
)
def test_sheets_that_cannot_be_read_say_so(fleet, tmp_path, content, message):
    path = tmp_path / "keputusan.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = invoke(fleet, "decide", "--from", str(path))
    assert result.exit_code == 2 and message in result.output, result.output
    assert recorded(fleet) == []
