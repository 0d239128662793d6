"""The declared inventory in the store: import (in one transaction), read back, pins.

A re-import updates records in place; every change is appended to
inventory_history. Records the new file no longer lists are withdrawn (kept,
flagged), not deleted. Pins live in their own table and survive both.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.inventory.parse import Columns
from ronda.collector.store import Store
from ronda.collector.store.store import inserted_id, iso

_LIST_FIELDS = ("urls", "depends_on")
_COLUMNS = [f.name for f in fields(DeclaredApp) if f.name not in ("line", "contact_column")]


@dataclass(frozen=True)
class ImportResult:
    import_id: int
    records: int
    added: list[str]
    updated: list[str]
    unchanged: int
    withdrawn: list[str]
    restored: list[str]


def _row(app: DeclaredApp) -> dict[str, Any]:
    data = app.record()
    for name in _LIST_FIELDS:
        data[name] = json.dumps(data[name], ensure_ascii=False)
    data["extra"] = json.dumps(data["extra"], ensure_ascii=False, sort_keys=True)
    return data


def app_from_row(row: dict[str, Any]) -> DeclaredApp:
    values = {name: row[name] for name in _COLUMNS}
    for name in _LIST_FIELDS:
        values[name] = json.loads(values[name] or "[]")
    values["extra"] = json.loads(values["extra"] or "{}")
    for name in ("year_built", "build_cost", "annual_cost"):
        values[name] = values[name] if values[name] is not None else None
    return DeclaredApp(line=row.get("source_line") or 0, **values)


def import_apps(
    store: Store,
    apps: list[DeclaredApp],
    file: str,
    fmt: str,
    content: bytes,
    now: datetime | None = None,
    dry_run: bool = False,
    columns: Columns | None = None,
) -> ImportResult:
    """Apply a validated inventory; all of it or (on any error, or with dry_run) nothing. `columns`:
    which of the file's columns went to which field, kept with the import."""
    stamp = iso(now or datetime.now(UTC))
    with store.writing() as c:
        existing = {r["app_id"]: r for r in _rows(c, "SELECT * FROM inventory")}
        cur = c.execute(
            "INSERT INTO inventory_imports (imported_at, file, sha256, format, records, added, "
            "updated, unchanged, withdrawn, columns) VALUES (?,?,?,?,?,0,0,0,0,?)",
            (stamp, file, hashlib.sha256(content).hexdigest(), fmt, len(apps), columns and columns.as_json()),
        )
        import_id = inserted_id(cur)
        added, updated, restored, history = [], [], [], []
        unchanged = 0
        listed = set()
        for app in apps:
            row = _row(app)
            listed.add(app.app_id)
            old = existing.get(app.app_id)
            if old is None:
                added.append(app.app_id)
                c.execute(
                    f"INSERT INTO inventory ({', '.join(_COLUMNS)}, source_line, first_imported, "
                    f"last_imported, import_id) VALUES ({', '.join('?' * len(_COLUMNS))}, ?, ?, ?, ?)",
                    [row[k] for k in _COLUMNS] + [app.line, stamp, stamp, import_id],
                )
                history.append(
                    (
                        app.app_id,
                        "added",
                        {
                            k: [None, _plain(k, row[k])]
                            for k in _COLUMNS
                            if row[k] not in ("", None, "[]", "{}")
                        },
                        row,
                    )
                )
                continue
            changes = {k: [_plain(k, old[k]), _plain(k, row[k])] for k in _COLUMNS if old[k] != row[k]}
            was_withdrawn = old["withdrawn_at"] is not None
            c.execute(
                f"UPDATE inventory SET {', '.join(f'{k}=?' for k in _COLUMNS)}, source_line=?, "
                "last_imported=?, import_id=?, withdrawn_at=NULL WHERE app_id=?",
                [row[k] for k in _COLUMNS] + [app.line, stamp, import_id, app.app_id],
            )
            if was_withdrawn:
                restored.append(app.app_id)
                history.append((app.app_id, "restored", changes, row))
            elif changes:
                updated.append(app.app_id)
                history.append((app.app_id, "updated", changes, row))
            else:
                unchanged += 1
        withdrawn = sorted(a for a, r in existing.items() if a not in listed and r["withdrawn_at"] is None)
        for app_id in withdrawn:
            c.execute("UPDATE inventory SET withdrawn_at=? WHERE app_id=?", (stamp, app_id))
            history.append((app_id, "withdrawn", {}, existing[app_id]))
        c.executemany(
            "INSERT INTO inventory_history VALUES (?,?,?,?,?,?)",
            [
                (
                    app_id,
                    import_id,
                    stamp,
                    change,
                    json.dumps(changes, ensure_ascii=False, sort_keys=True),
                    json.dumps({k: _plain(k, row[k]) for k in _COLUMNS}, ensure_ascii=False, sort_keys=True),
                )
                for app_id, change, changes, row in history
            ],
        )
        c.execute(
            "UPDATE inventory_imports SET added=?, updated=?, unchanged=?, withdrawn=? WHERE import_id=?",
            (len(added), len(updated) + len(restored), unchanged, len(withdrawn), import_id),
        )
        result = ImportResult(import_id, len(apps), added, updated, unchanged, withdrawn, restored)
        if dry_run:
            raise _DryRun(result)
    return result


class _DryRun(Exception):
    def __init__(self, result: ImportResult) -> None:
        self.result = result


def preview_import(
    store: Store, apps: list[DeclaredApp], file: str, fmt: str, content: bytes, columns: Columns | None = None
) -> ImportResult:
    """What an import would change, computed inside a transaction that is rolled back."""
    try:
        import_apps(store, apps, file, fmt, content, dry_run=True, columns=columns)
    except _DryRun as done:
        return done.result
    raise AssertionError("unreachable")


def _plain(name: str, value: Any) -> Any:
    if name in (*_LIST_FIELDS, "extra") and isinstance(value, str):
        return json.loads(value or ("{}" if name == "extra" else "[]"))
    return value


def _rows(c: sqlite3.Connection, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    cur = c.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _json(text: str | None, empty: type) -> Any:
    return empty() if not text or text in ("[]", "{}") else json.loads(text)


def declared_apps(store: Store, include_withdrawn: bool = False) -> list[DeclaredApp]:
    where = "" if include_withdrawn else "WHERE withdrawn_at IS NULL"
    with store.reading() as conn:
        cursor = conn.execute(
            f"SELECT {', '.join(_COLUMNS)}, source_line, (SELECT m.columns FROM inventory_imports m "
            "WHERE m.import_id = inventory.import_id) AS import_columns "
            f"FROM inventory {where} ORDER BY app_id"
        )
        names = [d[0] for d in cursor.description]
        out = []
        for row in cursor:
            values = dict(zip(names, row, strict=True))
            for name in _LIST_FIELDS:
                values[name] = _json(values[name], list)
            values["extra"] = _json(values["extra"], dict)
            values["line"] = values.pop("source_line") or 0
            values["contact_column"] = had_contact_column(values.pop("import_columns"))
            out.append(DeclaredApp(**values))
    return out


def had_contact_column(columns: str | None) -> bool:
    """Whether an import's file had a contact column (imports from before ronda kept this: yes)."""
    return columns is None or "contact" in json.loads(columns)["fields"]


def history(store: Store, app_id: str) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT h.changed_at, h.change, h.changes, i.file FROM inventory_history h "
        "JOIN inventory_imports i USING (import_id) WHERE h.app_id=? ORDER BY h.rowid",
        (app_id,),
    )
    for row in rows:
        row["changes"] = json.loads(row["changes"])
    return rows


# -- pins ------------------------------------------------------------------------------
def set_pin(
    store: Store,
    app_id: str,
    agent_id: str,
    app_key: str,
    action: str,
    reason: str,
    by: str,
    now: datetime | None = None,
) -> None:
    """action: link (always match), forbid (never match) or clear (back to the rules)."""
    stamp = iso(now or datetime.now(UTC))
    with store.writing() as c:
        if action == "clear":
            c.execute(
                "DELETE FROM inventory_links WHERE app_id=? AND agent_id=? AND app_key=?",
                (app_id, agent_id, app_key),
            )
        else:
            c.execute(
                "INSERT OR REPLACE INTO inventory_links VALUES (?,?,?,?,?,?,?)",
                (app_id, agent_id, app_key, action, reason, by, stamp),
            )
        c.execute(
            "INSERT INTO inventory_link_history VALUES (?,?,?,?,?,?,?)",
            (app_id, agent_id, app_key, action, reason, by, stamp),
        )


def pins(store: Store) -> list[dict[str, Any]]:
    return store.query(
        "SELECT l.*, h.hostname FROM inventory_links l LEFT JOIN hosts h USING (agent_id) "
        "ORDER BY l.app_id, l.agent_id, l.app_key"
    )
