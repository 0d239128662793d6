"""Read an inventory file (CSV, YAML or JSON) into raw records with their line numbers.

Nothing is interpreted here beyond the file's own syntax; every problem is
collected (with its line) instead of stopping at the first.

The parsers are bounded whatever the file holds: YAML whose aliases would
multiply it (a 400-byte "billion laughs" file expands to gigabytes) and YAML
or JSON nested deeper than any inventory are refused with a clear error,
before anything is built from them.
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
from ronda.errors import RondaError

FORMATS = ("csv", "yaml", "json")
_LIST_KEYS = ("apps", "applications", "aplikasi", "inventory", "inventaris", "data", "records")
MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32  # nesting of lists and mappings: an inventory is a list of flat records
# YAML aliases may repeat a block (`<<: *owner` in each record), not multiply the document: expanded, it
# may hold at most this many times the nodes the file writes (plus a little)
MAX_EXPANSION = 4


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


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting beyond MAX_DEPTH while it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _Limit(event.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases would multiply it (a "billion laughs"), before it is built.

    An alias is the very node its anchor named, so the expanded size is counted once per node."""
    expanded: dict[int, int] = {}
    distinct = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in expanded:
            continue
        children = _children(node)
        if not done:
            distinct += 1
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in expanded)
            continue
        expanded[id(node)] = 1 + sum(expanded.get(id(child), 1) for child in children)
    limit = MAX_EXPANSION * distinct + 10_000
    if expanded[id(root)] > limit:
        raise _Limit(None, f"YAML aliases expand it to more than {limit} values")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


class _Limit(RondaError):
    def __init__(self, line: int | None, what: str) -> None:
        super().__init__(what)
        self.line = line
        self.what = what


def _refuse(file: str, limit: _Limit) -> InventoryError:
    return InventoryError(
        file, [Problem(limit.line, "", f"{limit.what}: not an inventory ronda reads (refused whole)")]
    )


def _read_yaml(text: str, file: str) -> RawTable:
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_expansion(root)
        data = loader.construct_document(root) if root is not None else None
    except _Limit as e:
        raise _refuse(file, e) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        message = f"YAML syntax: {getattr(e, 'problem', None) or e}"
        raise InventoryError(file, [Problem(mark.line + 1 if mark else None, "", message)]) from None
    finally:
        loader.dispose()
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


def _json_depth_check(text: str) -> None:
    """Refuse nesting beyond MAX_DEPTH before json.loads would recurse into it."""
    depth = 0
    for m in _JSON_TOKENS.finditer(text):
        token = m.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _Limit(text.count("\n", 0, m.start()) + 1, f"nested deeper than {MAX_DEPTH} levels")
        elif token in "]}":
            depth -= 1


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _read_json(text: str, file: str) -> RawTable:
    try:
        _json_depth_check(text)
    except _Limit as e:
        raise _refuse(file, e) from None
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
