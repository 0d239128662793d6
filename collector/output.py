"""What commands write: rows of dicts as a table, CSV or JSON (the `--format` of every list
command), and files (a report, an export) written whole or not at all.

Every table cell passes ronda.safetext.terminal_text and every CSV cell spreadsheet_cell (JSON escapes
control characters itself): rows hold what hosts and inventories wrote.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator, Sequence
from typing import IO, Any

from ronda.errors import OutputError
from ronda.safetext import spreadsheet_cell, terminal_text

FORMATS = ("table", "csv", "json")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def render(
    rows: Sequence[dict[str, Any]],
    fmt: str,
    columns: Sequence[str] | None = None,
    empty: str = "nothing to show",
) -> str:
    columns = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=2, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([spreadsheet_cell(c) for c in columns])
        writer.writerows([[spreadsheet_cell(_cell(r.get(c))) for c in columns] for r in rows])
        return out.getvalue().rstrip("\n")
    if not rows:
        return empty
    cells = [[terminal_text(_cell(r.get(c))) for c in columns] for r in rows]
    headers = [terminal_text(c.upper()) for c in columns]
    widths = [max(len(x) for x in col) for col in zip(headers, *cells, strict=True)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(c) for c in cells)])


@contextlib.contextmanager
def output_file(path: str, newline: str | None = None) -> Iterator[IO[str]]:
    """A text file to write `path` through: it replaces `path` only once complete, so a reader (a web
    server serving the report) never sees half of it. Unwritable paths fail before any work is done."""
    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    try:
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
