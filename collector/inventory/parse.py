"""Raw inventory records to declared apps: every value checked, every problem kept.

Columns are recognised by the synonym table (fields.py) or placed by the
operator (`--map 'kolom saya=contact'`); `check_table` says which went where.
It either returns every record of the file, valid, or raises InventoryError
listing each problem by line and column (warnings ride along).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from ronda.collector.inventory.fields import BY_NAME, FIELDS, accepted, field_named, header_key, lookup
from ronda.collector.inventory.model import DeclaredApp, InventoryError, Problem
from ronda.collector.inventory.read import RawTable, read_table
from ronda.collector.reconcile.urls import parse_endpoint, split_urls
from ronda.errors import ConfigError

MAX_TEXT = 2_000
_ID_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%Y")
_MONEY_GROUPED = re.compile(r"^\d{1,3}([.,]\d{3})+([.,]\d{1,2})?$")
_MONEY_PLAIN = re.compile(r"^\d+([.,]\d{1,2})?$")
Complain = Callable[[str, str], None]  # (column, message): records a problem with the current record


@dataclass(frozen=True)
class Columns:
    """Which of a file's columns went to which field (several may fill one that combines, such as
    contact), which an operator placed with --map, and those kept as they are."""

    fields: dict[str, list[str]]
    mapped: frozenset[str] = frozenset()
    unmapped: tuple[str, ...] = ()

    def column(self, name: str) -> str:
        """The file's column for field `name`, to name it in a message (the field when there is none)."""
        return (self.fields.get(name) or [name])[0]

    def summary(self) -> list[str]:
        """The import summary: every column and the field it went to."""
        went = [
            f"{column} -> {name}" + (" (--map)" if column in self.mapped else "")
            for name, columns in self.fields.items()
            for column in columns
        ]
        lines = ["columns: " + ", ".join(went)]
        if self.unmapped:
            lines.append("kept as they are (exported back): " + ", ".join(self.unmapped))
        return lines

    def as_json(self) -> str:
        return json.dumps({"fields": self.fields, "unmapped": list(self.unmapped)}, ensure_ascii=False)


@dataclass
class Checked:
    apps: list[DeclaredApp]
    warnings: list[Problem]
    columns: Columns


def parse_map(texts: Sequence[str]) -> dict[str, str]:
    """`--map 'kolom saya=contact'` (repeatable) as {column: field}; the field by any of its names."""
    found: dict[str, str] = {}
    for text in texts:
        column, sep, target = text.rpartition("=")
        field = field_named(target) if sep else None
        if not column.strip() or field is None:
            raise ConfigError(
                f"--map {text!r}: write COLUMN=FIELD, FIELD one of {', '.join(BY_NAME)} "
                "(or its Indonesian name)"
            )
        found[column.strip()] = field.name
    return found


def load_inventory(
    path: str, fmt: str = "", encoding: str = "", today: date | None = None, mapping: Mapping[str, str] = {}
) -> tuple[list[DeclaredApp], list[Problem]]:
    """The file's declared apps and its warnings; InventoryError when anything is wrong."""
    checked = check_table(read_table(path, fmt, encoding), today, mapping)
    return checked.apps, checked.warnings


def check_table(table: RawTable, today: date | None = None, mapping: Mapping[str, str] = {}) -> Checked:
    """Every record of `table` as a declared app; `mapping` ({column: field}, from --map) places
    columns the synonym table does not know, or overrides it."""
    today = today or datetime.now(UTC).date()
    problems = list(table.problems)
    columns = _map_columns(table.columns, problems, mapping)
    apps: list[DeclaredApp] = []
    if not any(not p.warning for p in problems):
        for index, (line, raw) in enumerate(table.records, start=1):
            app = _record(line or None, index, raw, columns, problems, today)
            if app is not None:
                apps.append(app)
        _check_references(apps, problems, columns)
        if not table.records and not problems:
            problems.append(Problem(None, "", "no records: the file has a header but no apps"))
    if any(not p.warning for p in problems):
        raise InventoryError(table.file, problems)
    return Checked(apps, problems, columns)


def _map_columns(columns: list[str], problems: list[Problem], mapping: Mapping[str, str]) -> Columns:
    keys = {header_key(c) for c in columns}
    overrides = {header_key(c): name for c, name in mapping.items()}
    for column in mapping:
        if header_key(column) not in keys:
            problems.append(
                Problem(
                    None, column, f"--map names a column the file does not have; it has: {', '.join(columns)}"
                )
            )
    fields: dict[str, list[str]] = {}
    mapped: set[str] = set()
    unmapped: list[str] = []
    for column in columns:
        if not column.strip():
            continue
        name = overrides.get(header_key(column))
        if name is not None:
            mapped.add(column)
        else:
            field = field_named(column)
            name = field.name if field else None
        if name is None:
            unmapped.append(column)
            problems.append(
                Problem(
                    None,
                    column,
                    "not a column ronda knows; kept as is and exported back "
                    f"(--map '{column}=FIELD' if it is one)",
                    warning=True,
                )
            )
            continue
        taken = fields.get(name)
        if not taken or BY_NAME[name].combine:
            fields.setdefault(name, []).append(column)
        elif (column in mapped) != (taken[0] in mapped):  # --map chose one: the other is kept as it is
            chosen, other = (column, taken[0]) if column in mapped else (taken[0], column)
            fields[name] = [chosen]
            unmapped.append(other)
            problems.append(
                Problem(
                    None, other, f"also means {name}, but --map gives {name} to {chosen!r}: kept as is", True
                )
            )
        else:
            problems.append(
                Problem(None, column, f"means the same as column {taken[0]!r} ({name}); keep one of them")
            )
    for f in FIELDS:
        if f.required and f.name not in fields:
            names = ", ".join(dict.fromkeys([f.indonesian or f.name, f.name, *f.aliases[:2]]))
            problems.append(Problem(1, f.name, f"required column is missing (any of: {names})"))
    if "contact" not in fields:
        names = ", ".join(BY_NAME["contact"].aliases[8:16])
        problems.append(
            Problem(
                None,
                "",
                f"no contact column (such as {names}): contacts are not checked, so no app is reported "
                "unowned for lacking one; name yours with --map 'COLUMN=contact'",
                warning=True,
            )
        )
    return Columns(fields, frozenset(mapped), tuple(unmapped))


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
    columns: Columns,
    problems: list[Problem],
    today: date,
) -> DeclaredApp | None:
    before = len([p for p in problems if not p.warning])
    where = line if line else None
    values: dict[str, Any] = {}

    def bad(column: str, message: str) -> None:
        problems.append(Problem(where, column, message if line else f"record {index}: {message}"))

    for name, names in columns.fields.items():
        field = BY_NAME[name]
        texts: list[str] = []
        items: list[str] = []
        for column in names:
            value = raw.get(column)
            if isinstance(value, dict) or (isinstance(value, list) and field.kind not in ("urls", "ids")):
                bad(column, "expected a single value, not a list or mapping")
                continue
            if isinstance(value, list):
                listed = [_text(v) for v in value if _text(v)]
                texts.append(" ".join(listed))
                items += listed
            else:
                texts.append(_text(value))
                items += split_urls(texts[-1]) if field.kind in ("urls", "ids") else []
            if len(texts[-1]) > MAX_TEXT:
                bad(column, f"longer than {MAX_TEXT} characters")
        text = ", ".join(t for t in texts if t)
        if not text:
            if field.value_required:
                bad(names[0], "must not be empty")
            continue
        value = raw.get(names[0]) if len(names) == 1 else text
        values[name] = _convert(field.kind, text, items, value, names[0], bad, today)
    if len([p for p in problems if not p.warning]) > before:
        return None
    used = {c for names in columns.fields.values() for c in names}
    extra = {k: _text(v) for k, v in raw.items() if k not in used and k.strip()}
    values = {k: v for k, v in values.items() if v is not None}
    return DeclaredApp(line=line or index, extra=extra, contact_column="contact" in columns.fields, **values)


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


def _check_references(apps: list[DeclaredApp], problems: list[Problem], columns: Columns) -> None:
    first: dict[str, DeclaredApp] = {}
    id_column = columns.column("app_id")
    successor, depends = columns.column("superseded_by"), columns.column("depends_on")
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
