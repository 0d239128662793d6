"""Read an inventory file (CSV, YAML or JSON) into raw records with their line numbers.

Nothing is interpreted here beyond the file's own syntax; every problem is
collected (with its line) instead of stopping at the first.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ronda.collector.inventory.model import InventoryError, Problem

FORMATS = ("csv", "yaml", "json")
_LIST_KEYS = ("apps", "applications", "aplikasi", "inventory", "inventaris", "data", "records")
MAX_BYTES = 64 * 1024 * 1024


@dataclass
class RawTable:
    file: str
    format: str
    columns: list[str]  # as the file spells them, in order
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (line, column -> value)
    problems: list[Problem] = field(default_factory=list)
    delimiter: str = ""


def detect_format(path: str, explicit: str = "") -> str:
    if explicit:
        return explicit
    suffix = Path(path).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    return "csv"


def decode(data: bytes, file: str, encoding: str = "") -> str:
    """Text of the file; a clear error naming the line of the first undecodable byte."""
    if data.startswith(b"PK\x03\x04"):
        raise InventoryError(
            file,
            [
                Problem(
                    None,
                    "",
                    "this is a spreadsheet (.xlsx/.ods), not a text file: "
                    "save it as CSV UTF-8 and import that",
                )
            ],
        )
    if encoding:
        codec = encoding
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16"
    else:
        codec = "utf-8-sig"
    try:
        text = data.decode(codec)
    except LookupError:
        raise InventoryError(file, [Problem(None, "", f"unknown encoding {encoding!r}")]) from None
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        hint = (
            "; the file looks like Windows-1252/Latin-1: save it as UTF-8, or import with --encoding cp1252"
            if codec.startswith("utf-8")
            else ""
        )
        raise InventoryError(
            file,
            [
                Problem(
                    line,
                    "",
                    f"byte 0x{data[e.start]:02X} at character {column} is not "
                    f"valid {codec.replace('-sig', '')}{hint}",
                )
            ],
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InventoryError(
            file,
            [
                Problem(
                    line,
                    "",
                    "the file contains NUL bytes: it is not a text file "
                    "(or its encoding is wrong; try --encoding utf-16)",
                )
            ],
        )
    return text


def read_table(path: str, fmt: str = "", encoding: str = "") -> RawTable:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise InventoryError(path, [Problem(None, "", f"cannot read: {e.strerror}")]) from None
    if len(data) > MAX_BYTES:
        raise InventoryError(path, [Problem(None, "", f"larger than {MAX_BYTES // 1024 // 1024} MiB")])
    return parse_text(decode(data, path, encoding), path, detect_format(path, fmt))


def parse_text(text: str, file: str, fmt: str) -> RawTable:
    if fmt == "csv":
        return _read_csv(text, file)
    if fmt == "yaml":
        return _read_yaml(text, file)
    if fmt == "json":
        return _read_json(text, file)
    raise InventoryError(
        file, [Problem(None, "", f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")]
    )


def _sniff_delimiter(header: str) -> str:
    """The separator of the header line: spreadsheets in Indonesian locales write `;`."""
    counts = {d: 0 for d in ",;\t|"}
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(text: str, file: str) -> RawTable:
    lines = text.splitlines(keepends=True)
    first = 0
    delimiter = ""
    if lines and (m := re.fullmatch(r"sep=(.)\s*", lines[0])):  # Excel's separator hint
        delimiter, first = m.group(1), 1
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first >= len(lines):
        raise InventoryError(
            file, [Problem(None, "", "the file is empty: expected a header line and records")]
        )
    delimiter = delimiter or _sniff_delimiter(lines[first])
    reader = csv.reader(io.StringIO("".join(lines[first:])), delimiter=delimiter, strict=True)
    table = RawTable(file, "csv", [], delimiter=delimiter)
    try:
        header = next(reader)
        table.columns = [h.strip() for h in header]
        start = reader.line_num + 1
        for row in reader:
            line = start + first
            start = reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                table.problems.append(
                    Problem(
                        line,
                        "",
                        f"has {len(row)} fields but the header has {len(header)} "
                        f"(separator {delimiter!r}; a value with the separator "
                        "in it must be quoted)",
                    )
                )
                continue
            table.records.append((line, dict(zip(table.columns, row, strict=True))))
    except csv.Error as e:
        table.problems.append(Problem(reader.line_num + first, "", f"CSV syntax: {e}"))
    return table


def _read_yaml(text: str, file: str) -> RawTable:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        message = f"YAML syntax: {getattr(e, 'problem', None) or e}"
        raise InventoryError(file, [Problem(mark.line + 1 if mark else None, "", message)]) from None
    items, nodes = data, root
    if isinstance(data, dict) and root is not None:  # a mapping composes to a node
        key = next((k for k in _LIST_KEYS if isinstance(data.get(k), list)), None)
        if key is None:
            raise InventoryError(
                file,
                [
                    Problem(
                        1,
                        "",
                        "expected a list of apps, or a mapping with a list under "
                        f"one of: {', '.join(_LIST_KEYS)}",
                    )
                ],
            )
        items = data[key]
        nodes = next(v for k, v in root.value if k.value == key)
    if not isinstance(items, list):
        raise InventoryError(file, [Problem(1, "", "expected a list of apps")])
    lines = [n.start_mark.line + 1 for n in nodes.value] if nodes is not None else []
    return _from_items(items, lines, file, "yaml")


def _read_json(text: str, file: str) -> RawTable:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InventoryError(
            file, [Problem(e.lineno, "", f"JSON syntax: {e.msg} (character {e.colno})")]
        ) from None
    items, start = data, text.find("[")
    if isinstance(data, dict):
        key = next((k for k in _LIST_KEYS if isinstance(data.get(k), list)), None)
        if key is None:
            raise InventoryError(
                file,
                [
                    Problem(
                        1,
                        "",
                        "expected a list of apps, or an object with a list under "
                        f"one of: {', '.join(_LIST_KEYS)}",
                    )
                ],
            )
        items = data[key]
        m = re.search(rf'"{re.escape(key)}"\s*:\s*\[', text)
        start = m.end() - 1 if m else -1
    if not isinstance(items, list):
        raise InventoryError(file, [Problem(1, "", "expected a list of apps")])
    return _from_items(items, _element_lines(text, start, len(items)), file, "json")


def _element_lines(text: str, start: int, count: int) -> list[int]:
    """The line each element of the array at `start` begins on."""
    if start < 0:
        return []
    decoder = json.JSONDecoder()
    lines: list[int] = []
    pos = start + 1
    try:
        while len(lines) < count:
            while text[pos] in " \t\r\n,":
                pos += 1
            lines.append(text.count("\n", 0, pos) + 1)
            _, pos = decoder.raw_decode(text, pos)
    except (IndexError, json.JSONDecodeError):
        return []
    return lines


def _from_items(items: list, lines: list[int], file: str, fmt: str) -> RawTable:
    table = RawTable(file, fmt, [])
    seen: dict[str, None] = {}
    for i, item in enumerate(items):
        line = lines[i] if i < len(lines) else None
        if not isinstance(item, dict):
            table.problems.append(Problem(line, "", f"record {i + 1} is not a mapping of column to value"))
            continue
        record = {}
        for key, value in item.items():
            name = str(key).strip()
            seen.setdefault(name, None)
            record[name] = value
        table.records.append((line or 0, record))
    table.columns = list(seen)
    return table
