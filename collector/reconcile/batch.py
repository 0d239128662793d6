"""`ronda decide --from FILE`: the decisions of an approval sheet that came back signed.

The sheet is what `ronda report --approval` writes (XLSX or CSV, a spreadsheet's `;` or `,`, with
or without a byte-order mark), filled in by the agency: `id`, `decision`, `by`, `reason`, `into`
first, ronda's evidence after (ignored here). A row without a decision (or "review again") is left
for the next batch. Every row is checked before any is recorded: all of them are, or none, and
every problem is named by its line and column.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ronda.collector.inventory.fields import header_key
from ronda.collector.inventory.model import Problem
from ronda.collector.inventory.read import decode, parse_text
from ronda.collector.reconcile.decisions import DecisionError, Pending, check_decision, record
from ronda.collector.reconcile.lookup import NotFound, find_subject
from ronda.collector.reconcile.model import iso
from ronda.collector.store import Store
from ronda.errors import InputError

# The sheet's columns (as ronda writes them, or in Indonesian), and the words a filled-in decision may be.
COLUMNS = {
    "id": ("id", "app", "subject", "id_aplikasi"),
    "decision": ("decision", "keputusan"),
    "by": ("by", "decided_by", "oleh", "diputuskan_oleh"),
    "reason": ("reason", "alasan"),
    "into": ("into", "consolidate_into", "digabung_ke"),
}
WORDS = {
    "take-down": ("take-down", "take down", "nonaktifkan", "tutup"),
    "keep": ("keep", "pertahankan"),
    "consolidate": ("consolidate", "konsolidasi", "gabungkan"),
}
UNDECIDED = ("", "review", "review again", "tinjau ulang")
MAX_BYTES = 16 * 1024 * 1024


class BatchError(InputError):
    """The sheet cannot be recorded; `problems` names every one, by line and column."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file, self.problems = file, problems
        super().__init__(f"{len(problems)} problem(s) in {file}; no decision was recorded")


@dataclass
class Batch:
    recorded: list[dict[str, Any]] = field(default_factory=list)
    undecided: int = 0  # rows left for a later batch


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    """The rows of the workbook's first sheet with an `id` column (the approval sheet, not its README)."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            rows = [list(r) for r in sheet.iter_rows(values_only=True)]
            if rows and any(header_key(str(c or "")) in COLUMNS["id"] for c in rows[0]):
                return rows
    finally:
        book.close()
    return []


def read_sheet(path: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """(column names, [(line, {column: value})]) of a CSV or XLSX sheet."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{path}: larger than {MAX_BYTES // 2**20} MiB; an approval sheet is far smaller")
    if data.startswith(b"PK\x03\x04"):
        try:
            rows = _xlsx_rows(data)
        except Exception as e:  # noqa: BLE001 (openpyxl raises many kinds on a damaged file)
            raise InputError(f"{path}: not a readable XLSX workbook ({e})") from None
        if not rows:
            raise InputError(f"{path}: no sheet with an `id` column")
        header = [str(c or "").strip() for c in rows[0]]
        records = [
            (number, dict(zip(header, row, strict=False)))
            for number, row in enumerate(rows[1:], start=2)
            if any(c not in (None, "") for c in row)
        ]
        return header, records
    table = parse_text(decode(data, path), path, "csv")
    if table.problems:
        raise BatchError(path, table.problems)
    return table.columns, table.records


def _columns(header: list[str], file: str) -> dict[str, str]:
    """field -> the sheet's column for it."""
    found: dict[str, str] = {}
    for column in header:
        for name, names in COLUMNS.items():
            if header_key(column) in {header_key(n) for n in names}:
                found.setdefault(name, column)
    missing = [name for name in ("id", "decision", "by", "reason") if name not in found]
    if missing:
        raise BatchError(
            file,
            [Problem(1, "", f"no {', '.join(missing)} column; the sheet has: {', '.join(header)}")],
        )
    return found


def _word(text: str) -> str | None:
    key = " ".join(text.lower().replace("_", " ").split())
    return next((d for d, words in WORDS.items() if key in words), None)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def record_sheet(store: Store, path: str, force: bool = False, now: datetime | None = None) -> Batch:
    """Check every decision of the sheet at `path`, then record them all in one transaction."""
    header, records = read_sheet(path)
    columns = _columns(header, path)
    problems: list[Problem] = []
    batch = Batch()
    stamp = iso(now or datetime.now(UTC)) or ""
    with store.writing() as conn:
        pending: dict[str, tuple[int, Pending]] = {}
        for line, raw in records:
            cells = {name: _text(raw.get(column)) for name, column in columns.items()}
            if cells["decision"].lower() in UNDECIDED:
                batch.undecided += 1
                continue
            decision = _word(cells["decision"])
            if decision is None:
                problems.append(
                    Problem(
                        line,
                        columns["decision"],
                        f"{cells['decision']!r} is not a decision: take-down, keep or consolidate "
                        "(empty: none yet)",
                    )
                )
                continue
            try:
                found = find_subject(store, cells["id"]) if cells["id"] else None
                if found is None:
                    raise NotFound("no app named: the id column is empty")
                into = find_subject(store, cells.get("into", "")).subject if cells.get("into") else ""
                checked = check_decision(conn, found, decision, cells["reason"], cells["by"], into, force)
            except (NotFound, DecisionError) as e:
                problems.append(Problem(line, columns["id"], str(e).replace("\n", " ")))
                continue
            if checked.subject in pending and pending[checked.subject][1] != checked:
                first = pending[checked.subject][0]
                problems.append(
                    Problem(line, columns["id"], f"{checked.subject} has another decision on line {first}")
                )
                continue
            pending[checked.subject] = (line, checked)
        if problems:
            raise BatchError(path, problems)
        if not pending:
            raise InputError(f"no row of {path} has a decision yet: fill in the decision column")
        batch.recorded = [record(conn, p, stamp) for _, p in pending.values()]
    return batch
