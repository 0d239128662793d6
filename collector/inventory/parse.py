"""Raw inventory records to declared apps: every value checked, every problem kept.

`load_inventory` either returns every record of the file, valid, or raises
InventoryError listing each problem by line and column (warnings ride along).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from ronda.collector.inventory.fields import ALIASES, BY_NAME, FIELDS, accepted, header_key, lookup
from ronda.collector.inventory.model import DeclaredApp, InventoryError, Problem
from ronda.collector.inventory.read import RawTable, read_table
from ronda.collector.reconcile.urls import parse_endpoint, split_urls

MAX_TEXT = 2_000
_ID_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%Y")
_MONEY_GROUPED = re.compile(r"^\d{1,3}([.,]\d{3})+([.,]\d{1,2})?$")
_MONEY_PLAIN = re.compile(r"^\d+([.,]\d{1,2})?$")
Complain = Callable[[str, str], None]  # (column, message): records a problem with the current record


def load_inventory(
    path: str, fmt: str = "", encoding: str = "", today: date | None = None
) -> tuple[list[DeclaredApp], list[Problem]]:
    """The file's declared apps and its warnings; InventoryError when anything is wrong."""
    table = read_table(path, fmt, encoding)
    return check_table(table, today)


def check_table(table: RawTable, today: date | None = None) -> tuple[list[DeclaredApp], list[Problem]]:
    today = today or datetime.now(UTC).date()
    problems = list(table.problems)
    mapping = _map_columns(table.columns, problems)
    apps: list[DeclaredApp] = []
    if not any(not p.warning for p in problems):
        for index, (line, raw) in enumerate(table.records, start=1):
            app = _record(line or None, index, raw, mapping, problems, today)
            if app is not None:
                apps.append(app)
        _check_references(apps, problems, mapping)
        if not table.records and not problems:
            problems.append(Problem(None, "", "no records: the file has a header but no apps"))
    if any(not p.warning for p in problems):
        raise InventoryError(table.file, problems)
    return apps, problems


def _map_columns(columns: list[str], problems: list[Problem]) -> dict[str, str]:
    """field name -> the file's column for it."""
    mapping: dict[str, str] = {}
    for column in columns:
        name = ALIASES.get(header_key(column))
        if name is None:
            if column.strip():
                problems.append(
                    Problem(
                        None, column, "not a column ronda knows; kept as is and exported back", warning=True
                    )
                )
            continue
        if name in mapping:
            problems.append(
                Problem(
                    None, column, f"means the same as column {mapping[name]!r} ({name}); keep one of them"
                )
            )
            continue
        mapping[name] = column
    missing = [f for f in FIELDS if f.required and f.name not in mapping]
    for f in missing:
        names = ", ".join(dict.fromkeys([f.indonesian or f.name, f.name, *f.aliases[:2]]))
        problems.append(Problem(1, f.name, f"required column is missing (any of: {names})"))
    return mapping


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _record(
    line: int | None,
    index: int,
    raw: dict[str, Any],
    mapping: dict[str, str],
    problems: list[Problem],
    today: date,
) -> DeclaredApp | None:
    before = len([p for p in problems if not p.warning])
    where = line if line else None
    values: dict[str, Any] = {}

    def bad(column: str, message: str) -> None:
        problems.append(Problem(where, column, message if line else f"record {index}: {message}"))

    for name, column in mapping.items():
        field = BY_NAME[name]
        value = raw.get(column)
        if isinstance(value, (dict,)) or (isinstance(value, list) and field.kind not in ("urls", "ids")):
            bad(column, "expected a single value, not a list or mapping")
            continue
        if isinstance(value, list):
            items = [_text(v) for v in value if _text(v)]
            text = " ".join(items)
        else:
            text = _text(value)
            items = split_urls(text) if field.kind in ("urls", "ids") else []
        if len(text) > MAX_TEXT:
            bad(column, f"longer than {MAX_TEXT} characters")
            continue
        if not text:
            if field.value_required:
                bad(column, "must not be empty")
            continue
        values[name] = _convert(field.kind, text, items, value, column, bad, today)
    if len([p for p in problems if not p.warning]) > before:
        return None
    extra = {k: _text(v) for k, v in raw.items() if k not in mapping.values() and k.strip()}
    return DeclaredApp(line=line or index, extra=extra, **{k: v for k, v in values.items() if v is not None})


def _convert(
    kind: str, text: str, items: list[str], value: Any, column: str, bad: Complain, today: date
) -> Any:
    if kind == "id":
        if not _ID_RE.match(text):
            bad(column, "an app id is 1-128 characters without control characters")
        return text
    if kind == "text":
        if any(ord(c) < 32 and c not in "\t\n" for c in text):
            bad(column, "contains control characters")
        return text
    if kind == "urls":
        for item in items:
            try:
                parse_endpoint(item)
            except ValueError as e:
                bad(column, str(e))
        return items
    if kind == "ids":
        return list(dict.fromkeys(items))
    if kind == "id_ref":
        return text
    if kind in ("status", "class", "audience"):
        found = lookup(kind, text)
        if found is None:
            bad(column, f"{text!r} is not a known {kind}; accepted: {accepted(kind)}")
        return found
    if kind == "year":
        year = text.removesuffix(".0")
        if not year.isdigit() or not 1950 <= int(year) <= today.year + 1:
            bad(column, f"{text!r} is not a year between 1950 and {today.year + 1}")
            return None
        return int(year)
    if kind == "money":
        return _money(text, column, bad)
    if kind == "date":
        return _date(value, text, column, bad, today)
    raise AssertionError(kind)


def _money(text: str, column: str, bad: Complain) -> int | None:
    """Rupiah amounts as spreadsheets write them: `85000000`, `85.000.000`, `Rp 85.000.000,00`."""
    cleaned = re.sub(r"^(rp\.?|idr)\s*", "", text.strip().lower()).replace(" ", "")
    if _MONEY_GROUPED.match(cleaned):
        head = re.sub(r"[.,]\d{1,2}$", "", cleaned) if re.search(r"[.,]\d{1,2}$", cleaned) else cleaned
        return int(re.sub(r"[.,]", "", head))
    if _MONEY_PLAIN.match(cleaned):
        return int(re.split(r"[.,]", cleaned)[0])
    bad(column, f"{text!r} is not an amount (write e.g. 85000000 or Rp 85.000.000)")
    return None


def _date(value: Any, text: str, column: str, bad: Complain, today: date) -> str | None:
    parsed: date | None
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        parsed = None
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        if parsed is None:
            bad(column, f"{text!r} is not a date (write YYYY-MM-DD or DD/MM/YYYY)")
            return None
    if parsed > today:
        bad(column, f"{parsed.isoformat()} is in the future")
        return None
    return parsed.isoformat()


def _check_references(apps: list[DeclaredApp], problems: list[Problem], mapping: dict[str, str]) -> None:
    first: dict[str, DeclaredApp] = {}
    id_column = mapping.get("app_id", "app_id")
    successor, depends = (
        mapping.get("superseded_by", "superseded_by"),
        mapping.get("depends_on", "depends_on"),
    )
    for app in apps:
        key = app.app_id.casefold()
        if key in first:
            problems.append(
                Problem(
                    app.line,
                    id_column,
                    f"app id {app.app_id!r} is also on line {first[key].line}; app ids must be unique",
                )
            )
        else:
            first[key] = app
    for app in apps:
        if app.superseded_by and app.superseded_by.casefold() == app.app_id.casefold():
            problems.append(Problem(app.line, successor, "an app cannot be superseded by itself"))
        elif app.superseded_by and app.superseded_by.casefold() not in first:
            problems.append(
                Problem(
                    app.line, successor, f"{app.superseded_by!r} is not an app id in this file", warning=True
                )
            )
        for dep in app.depends_on:
            if dep.casefold() == app.app_id.casefold():
                problems.append(Problem(app.line, depends, "an app cannot depend on itself"))
            elif dep.casefold() not in first:
                problems.append(
                    Problem(app.line, depends, f"{dep!r} is not an app id in this file", warning=True)
                )
