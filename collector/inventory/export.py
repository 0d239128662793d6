"""Write the declared inventory back out (CSV, YAML or JSON), in English or
Indonesian column names, with the columns ronda did not know kept as they were."""

from __future__ import annotations

import json

import yaml

from ronda.collector.inventory.fields import FIELDS
from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.output import to_csv

_JOINED = ("urls", "depends_on")
# Values as an Indonesian catalogue writes them, for `--columns id`.
_INDONESIAN_VALUES = {
    "status": {
        "active": "aktif",
        "inactive": "tidak aktif",
        "in-development": "dalam pengembangan",
        "retired": "dihentikan",
    },
    "app_class": {"common": "umum", "specific": "khusus"},
    "audience": {"public": "publik", "internal": "internal"},
}


def column_names(language: str) -> dict[str, str]:
    if language not in ("en", "id"):
        raise ValueError("columns must be en or id")
    return {f.name: (f.indonesian or f.name) if language == "id" else f.name for f in FIELDS}


def _records(apps: list[DeclaredApp], language: str, join_lists: bool) -> tuple[list[str], list[dict]]:
    names = column_names(language)
    extra_columns = list(dict.fromkeys(k for app in apps for k in app.extra))
    columns = list(names.values()) + [c for c in extra_columns if c not in names.values()]
    records = []
    for app in apps:
        data = app.record()
        record = {}
        for name, column in names.items():
            value = data[name]
            if language == "id" and name in _INDONESIAN_VALUES:
                value = _INDONESIAN_VALUES[name].get(value, value)
            if name in _JOINED and join_lists:
                value = " ".join(value)
            record[column] = "" if value is None and join_lists else value
        for column in extra_columns:
            if column not in record:
                record[column] = app.extra.get(column, "")
        records.append(record)
    return columns, records


def export_text(apps: list[DeclaredApp], fmt: str, language: str = "en") -> str:
    if fmt == "csv":
        columns, records = _records(apps, language, join_lists=True)
        return to_csv(records, columns, bom=False)  # every cell neutralised, as every CSV ronda writes
    columns, records = _records(apps, language, join_lists=False)
    if fmt == "json":
        return json.dumps({"apps": records}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump({"apps": records}, allow_unicode=True, sort_keys=False)
    raise ValueError(f"unknown format {fmt!r}")
