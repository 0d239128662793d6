"""Datasette's metadata for the store, in one language: titles, descriptions, facets, sort order,
hidden tables and canned queries."""

from __future__ import annotations

from typing import Any

from ronda.collector.web.catalog import COLUMNS, SHOWN, TABLE_COLUMNS, label
from ronda.collector.web.queries import CANNED
from ronda.i18n import Lang

DATABASE = "ronda"  # the store's name in the console's URLs: /ronda/takedown_candidates


def table_metadata(name: str, lang: Lang) -> dict[str, Any]:
    shown = SHOWN.get(name)
    if shown is None:
        return {"hidden": True}
    entry: dict[str, Any] = {"title": lang._(shown.title), "description": lang._(shown.description)}
    if shown.facets:
        entry["facets"] = list(shown.facets)
    if shown.sort:
        entry["sort"] = shown.sort
    if shown.sort_desc:
        entry["sort_desc"] = shown.sort_desc
    if shown.label_column:
        entry["label_column"] = shown.label_column
    return entry


def build_metadata(tables: list[str], lang: Lang, title: str) -> dict[str, Any]:
    """Metadata for a store holding `tables` (its tables and views, by name)."""
    return {
        "title": title,
        "description": lang._(
            "What runs on the province's servers, who still uses it, and what is safe to take down."
        ),
        "databases": {
            DATABASE: {
                "title": title,
                "tables": {name: table_metadata(name, lang) for name in tables},
                "queries": {
                    name: {
                        "title": lang._(query.title),
                        "description": lang._(query.description),
                        "sql": query.sql,
                    }
                    for name, query in CANNED.items()
                },
            }
        },
    }


def column_labels(lang: Lang) -> dict[str, Any]:
    """Every column label, translated: {"*": {column: label}, table: {column: label}}."""
    labels: dict[str, dict[str, str]] = {"*": {column: lang._(text) for column, text in COLUMNS.items()}}
    for (table, column), text in TABLE_COLUMNS.items():
        labels.setdefault(table, {})[column] = lang._(text)
    return labels


__all__ = ["DATABASE", "build_metadata", "column_labels", "label"]
