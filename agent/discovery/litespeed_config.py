"""OpenLiteSpeed's plain-text config (httpd_config.conf, vhconf.conf, templates) as a tree of nodes.

A line is `key value...`; a block is `key [args] {` up to its `}`; keys are
case-insensitive (the web console writes `docRoot`, older files `docroot`);
`# ...` lines are comments; `key <<<END_x` starts a value that runs to the
line `END_x` (rewrite rules). `include FILE` (globs allowed) reads another file in place.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from ronda.agent.host import Host, HostError

_MAX_BYTES = 4 * 1024 * 1024
_MAX_DEPTH = 8
_BLOCK = re.compile(r"^(\S+?)(?:\s+(.*?))?\s*\{\s*$")


@dataclass
class Node:
    key: str  # lower case
    value: str
    file: str
    line: int
    children: list[Node] | None = None  # None: a plain line

    def get(self, key: str, default: str = "") -> str:
        """The value of the last plain line `key` among the children."""
        found = [n.value for n in self.children or [] if n.key == key and n.children is None]
        return found[-1] if found else default

    def all(self, key: str) -> list[Node]:
        return [n for n in self.children or [] if n.key == key]


@dataclass
class Parsed:
    root: Node
    errors: list[tuple[str, int, str]] = field(default_factory=list)


def read(host: Host, path: str) -> Parsed:
    parsed = Parsed(Node("", "", path, 0, []))
    _read_into(host, path, parsed.root, parsed, [])
    return parsed


def _read_into(host: Host, path: str, into: Node, parsed: Parsed, stack: list[str]) -> None:
    if path in stack or len(stack) >= _MAX_DEPTH:
        parsed.errors.append((stack[-1] if stack else path, 0, f"include loop: {path} includes itself"))
        return
    try:
        if host.stat(path).size > _MAX_BYTES:
            raise HostError(f"larger than {_MAX_BYTES} bytes")
        text = host.read_text(path)
    except HostError as e:
        parsed.errors.append((path, 0, f"cannot read {path}: {e}"))
        return
    open_blocks = [into]
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        number, raw = i + 1, lines[i].strip()
        i += 1
        if not raw or raw.startswith("#"):
            continue
        if raw == "}":
            if len(open_blocks) == 1:
                parsed.errors.append((path, number, "'}' without a block to close"))
            else:
                open_blocks.pop()
            continue
        block = _BLOCK.match(raw)
        if block:
            node = Node(block.group(1).lower(), (block.group(2) or "").strip(), path, number, [])
            open_blocks[-1].children.append(node)  # type: ignore[union-attr]
            open_blocks.append(node)
            continue
        key, _, value = raw.partition(" ")
        value = value.strip()
        if value.startswith("<<<"):  # a here-document: the lines up to its end marker
            marker, body = value[3:].strip(), []
            while i < len(lines) and lines[i].strip() != marker:
                body.append(lines[i])
                i += 1
            i += 1
            value = "\n".join(body)
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if key.lower() == "include" and value:
            _include(host, path, value, open_blocks[-1], parsed, stack + [path])
            continue
        open_blocks[-1].children.append(Node(key.lower(), value, path, number))  # type: ignore[union-attr]
    if len(open_blocks) > 1:
        parsed.errors.append((path, open_blocks[-1].line, f"block {open_blocks[-1].key} is never closed"))


def _include(host: Host, at: str, pattern: str, into: Node, parsed: Parsed, stack: list[str]) -> None:
    path = pattern if pattern.startswith("/") else posixpath.join(posixpath.dirname(at), pattern)
    try:
        paths = host.glob(path) if any(c in path for c in "*?[") else [path]
    except HostError as e:
        parsed.errors.append((at, 0, f"include {pattern}: {e}"))
        return
    for p in paths:
        _read_into(host, p, into, parsed, stack)
