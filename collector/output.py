"""What commands write: rows of dicts as a table, CSV, JSON or XLSX (the `--format` of every
list command), and files (a report, an export) written whole or not at all.

One function per format. Nested values (lists, mappings) are JSON wherever a cell holds text,
never a Python repr. CSV starts with a byte-order mark, so that spreadsheets read it as UTF-8,
and uses the delimiter the reader's spreadsheet splits on (`;` where the decimal mark is a
comma, as in Indonesian). XLSX cells are typed: numbers, dates and times (in the reader's
time zone), links.

Every value written to a terminal passes through `terminal_cell`, every CSV cell through
`csv_cell` and every XLSX cell through `xlsx_cell`: the one place each format's cells are made safe
(ronda.safetext: control characters and escape sequences shown, never obeyed; a cell a spreadsheet
would run as a formula given a leading `'`). Rows hold what hosts and inventories wrote.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import IO, Any

from ronda.errors import OutputError
from ronda.i18n import Lang
from ronda.safetext import spreadsheet_cell, terminal_text

FORMATS = ("table", "csv", "json", "xlsx")
TEXT_FORMATS = ("table", "csv", "json")
BOM = "\ufeff"
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The widest column a spreadsheet opens with; longer text wraps.
_XLSX_WIDTH = 60


def _nested(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def terminal_cell(value: Any) -> str:
    """A value as a terminal table shows it."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(terminal_cell(v) for v in value)
    if isinstance(value, Mapping):
        return terminal_text(_nested(value))
    return terminal_text(str(value))


def csv_cell(value: Any) -> str:
    """A value as one CSV cell: nested values as JSON."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, Mapping)):
        return spreadsheet_cell(_nested(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return spreadsheet_cell(str(value))


def table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], headers: Sequence[str] | None = None
) -> str:
    cells = [[terminal_cell(r.get(c)) for c in columns] for r in rows]
    heads = [terminal_text(h) for h in headers] if headers else [terminal_text(c.upper()) for c in columns]
    widths = [max(len(x) for x in col) for col in zip(heads, *cells, strict=True)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def to_csv(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], delimiter: str = ",", bom: bool = True
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in columns])
    writer.writerows([[csv_cell(r.get(c)) for c in columns] for r in rows])
    return (BOM if bom else "") + out.getvalue()


def to_json(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    return json.dumps(
        [{c: r.get(c) for c in columns} for r in rows], indent=2, ensure_ascii=False, default=str
    )


def xlsx_cell(value: Any, lang: Lang | None = None) -> Any:
    """A value as a typed spreadsheet cell: timestamps as times in the reader's zone (spreadsheets
    keep no zone: the header names it), days as dates, nested values as JSON text; text that would
    be a formula is not."""
    if value is None:
        return None
    if isinstance(value, (bool, int, float, datetime, date)):
        return value
    if isinstance(value, (list, tuple, Mapping)):
        return spreadsheet_cell(_nested(value))
    text = str(value)
    if _TIMESTAMP.match(text):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if lang is not None:
            moment = moment.astimezone(lang.tz)
        return moment.replace(tzinfo=None)
    if _DAY.match(text):
        return date.fromisoformat(text)
    return spreadsheet_cell(text)  # openpyxl would store "=..." as a formula


def to_xlsx(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    lang: Lang | None = None,
    sheet: str = "ronda",
    money: Sequence[str] = (),
    links: Sequence[str] = ("url",),
    choices: Mapping[str, Sequence[str]] | None = None,
    notes: Sequence[tuple[str, str]] = (),
) -> bytes:
    """One sheet of rows (header frozen, filters on), typed cells; `money` columns in the reader's
    currency format, `links` columns as hyperlinks, `choices` columns limited to a list, `notes`
    as (title, text) lines on a second sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook(write_only=False)
    ws = book.create_sheet(sheet[:31], 0)
    book.remove(book.worksheets[1])  # the empty sheet every new workbook starts with
    ws.append(list(columns))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    widths = [len(c) for c in columns]
    money_format = '"Rp" #,##0' if lang is None or lang.code == "id" else '"IDR" #,##0'
    for r, row in enumerate(rows, start=2):
        for c, name in enumerate(columns, start=1):
            value = xlsx_cell(row.get(name), lang)
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            elif name in money and isinstance(value, (int, float)):
                cell.number_format = money_format
            elif name in links and isinstance(value, str) and value.startswith(("http://", "https://")):
                cell.hyperlink = value
                cell.style = "Hyperlink"
            if isinstance(value, str) and len(value) > _XLSX_WIDTH:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            widths[c - 1] = max(widths[c - 1], min(_XLSX_WIDTH, len(str(value)) if value is not None else 0))
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = max(8, width + 2)
    ws.freeze_panes = "B2"
    if rows:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
    for name, allowed in (choices or {}).items():
        if name in columns and rows:
            letter = get_column_letter(list(columns).index(name) + 1)
            check = DataValidation(type="list", formula1='"' + ",".join(allowed) + '"', allow_blank=True)
            check.error = "; ".join(allowed)
            ws.add_data_validation(check)
            check.add(f"{letter}2:{letter}{len(rows) + 1}")
    if notes:
        about = book.create_sheet("README")
        for title, text in notes:
            about.append([title, text])
            about.cell(row=about.max_row, column=1).font = Font(bold=True)
            about.cell(row=about.max_row, column=2).alignment = Alignment(wrap_text=True, vertical="top")
        about.column_dimensions["A"].width = 24
        about.column_dimensions["B"].width = 100
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(
    rows: Sequence[dict[str, Any]],
    fmt: str,
    columns: Sequence[str] | None = None,
    empty: str = "nothing to show",
    headers: Sequence[str] | None = None,
    delimiter: str = ",",
    bom: bool = True,
) -> str:
    """Rows as text: a table for a terminal (`headers` names its columns), CSV or JSON.
    XLSX is bytes: see `to_xlsx`."""
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        return to_json(rows, columns)
    if fmt == "csv":
        return to_csv(rows, columns, delimiter, bom).rstrip("\n")
    if not rows:
        return empty
    return table(rows, columns, headers)


@contextlib.contextmanager
def output_file(path: str, newline: str | None = None, binary: bool = False) -> Iterator[IO[Any]]:
    """A file to write `path` through (text, or bytes with `binary`): it replaces `path` only once
    complete, so a reader (a web server serving the report) never sees half of it. Unwritable paths
    fail before any work is done."""
    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    try:
        if binary:
            f: IO[Any] = open(temporary, "xb")  # noqa: SIM115 (closed below)
        else:
            f = open(temporary, "x", encoding="utf-8", newline=newline)  # noqa: SIM115 (closed below)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with f:
            yield f
        os.replace(temporary, path)
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
