"""Parse a Caddyfile (Caddy v2) through the host seam: global options, snippets, imports, site blocks.

Used when the `caddy` binary is absent (SSH, `--root`) to build the same JSON
shape `caddy adapt` prints, and with the binary for the line numbers that JSON
lacks. Tokens follow Caddy's lexer: white space separates, "double quotes"
and `backticks` group, `#` at a token start comments out the rest of the line,
a trailing backslash joins lines; `{` ends a line to open a block, `}` closes it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from ronda.agent.host import Host, HostError

_MAX_DEPTH = 16
_MAX_FILE_BYTES = 4 * 1024 * 1024
_ENV = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")
_ARG = re.compile(r"\{args(?:\.(\d+)|\[(\d+)\])\}")


@dataclass
class Node:
    name: str
    args: list[str]
    file: str
    line: int
    children: list[Node] = field(default_factory=list)


@dataclass
class Site:
    addresses: list[str]
    file: str
    line: int
    directives: list[Node] = field(default_factory=list)


@dataclass
class Caddyfile:
    main_file: str
    options: list[Node] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def option(self, name: str) -> list[str] | None:
        return next((o.args for o in self.options if o.name == name), None)


_Line = tuple[int, list[str]]  # (line number, tokens)


def tokenize(text: str) -> list[_Line]:
    lines: list[_Line] = []
    tokens: list[str] = []
    start = 0
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            if tokens and tokens[-1] == "\\":
                tokens.pop()
            elif tokens:
                lines.append((start, tokens))
                tokens = []
            line += 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if not tokens:
            start = line
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c in '"`':
            j, out = i + 1, []
            while j < n and text[j] != c:
                if c == '"' and text[j] == "\\" and j + 1 < n and text[j + 1] in '"\\':
                    j += 1
                if text[j] == "\n":
                    line += 1
                out.append(text[j])
                j += 1
            tokens.append("".join(out))
            i = j + 1
            continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        tokens.append(text[i:j])
        i = j
    if tokens:
        lines.append((start, tokens))
    return lines


class _Parser:
    def __init__(self, host: Host, env: dict[str, str], result: Caddyfile) -> None:
        self.host = host
        self.env = env
        self.result = result
        self.snippets: dict[str, list[Node]] = {}

    def error(self, file: str, line: int, message: str) -> None:
        self.result.errors.append((file, line, message))

    def read(self, path: str, stack: tuple[str, ...]) -> list[_Line] | None:
        if path in stack:
            self.error(stack[-1] if stack else path, 0, f"import loop: {path} is already being read")
            return None
        if len(stack) >= _MAX_DEPTH:
            self.error(path, 0, f"imports nested deeper than {_MAX_DEPTH}")
            return None
        try:
            if self.host.stat(path).size > _MAX_FILE_BYTES:
                raise HostError(f"{path}: larger than {_MAX_FILE_BYTES} bytes, not a Caddyfile")
            text = self.host.read_text(path)
        except HostError as e:
            self.error(path, 0, f"cannot read: {e}")
            return None
        self.result.files.append(path)
        text = _ENV.sub(lambda m: self.env.get(m.group(1), m.group(2) or ""), text)
        return tokenize(text)

    def top(self, path: str, stack: tuple[str, ...] = ()) -> None:
        lines = self.read(path, stack)
        if lines is None:
            return
        stack = stack + (path,)
        i = 0
        if lines and lines[0][1] == ["{"] and not stack[:-1]:
            self.result.options, i = self.block(lines, 1, path, stack)
        first = i
        while i < len(lines):
            number, tokens = lines[i]
            if tokens[0] == "}":
                self.error(path, number, "unexpected '}'")
                i += 1
            elif re.fullmatch(r"\(.+\)", tokens[0]) and tokens[-1] == "{":
                body, i = self.block(lines, i + 1, path, stack)
                self.snippets[tokens[0][1:-1]] = body
            elif tokens[0] == "import" and len(tokens) > 1:
                if tokens[1] in self.snippets:
                    self.error(path, number, f"import of snippet {tokens[1]} outside a site is not followed")
                else:
                    for name in self.import_files(tokens[1], path, number):
                        self.top(name, stack)
                i += 1
            else:
                addresses = [a for t in tokens if t != "{" for a in t.split(",") if a]
                while tokens[-1] != "{" and tokens[-1].endswith(",") and i + 1 < len(lines):
                    i += 1
                    tokens = lines[i][1]
                    addresses += [a for t in tokens if t != "{" for a in t.split(",") if a]
                site = Site(addresses, path, number)
                if tokens[-1] == "{":
                    site.directives, i = self.block(lines, i + 1, path, stack)
                elif not self.result.sites and i == first:  # a single site may leave out the braces
                    site.directives, _ = self.block(lines + [(0, ["}"])], i + 1, path, stack)
                    i = len(lines)
                else:
                    self.error(
                        path, number, "site address without a block"
                    )  # no tokens: they may hold secrets
                    i += 1
                    continue
                self.result.sites.append(site)

    def block(self, lines: list[_Line], i: int, path: str, stack: tuple[str, ...]) -> tuple[list[Node], int]:
        """Nodes up to the matching "}"; returns them and the index after it."""
        nodes: list[Node] = []
        opened = lines[i - 1][0] if i else 0
        while i < len(lines):
            number, tokens = lines[i]
            if tokens == ["}"]:
                return nodes, i + 1
            if tokens[0] == "import" and len(tokens) > 1:
                nodes.extend(self.imported(tokens, path, number, stack))
                i += 1
                continue
            node = Node(tokens[0], [t for t in tokens[1:]], path, number)
            i += 1
            if node.args and node.args[-1] == "{":
                node.args.pop()
                node.children, i = self.block(lines, i, path, stack)
            nodes.append(node)
        self.error(path, opened, "block is never closed")
        return nodes, i

    def imported(self, tokens: list[str], path: str, number: int, stack: tuple[str, ...]) -> list[Node]:
        name, args = tokens[1], tokens[2:]
        if name in self.snippets:
            return [_with_args(n, args) for n in self.snippets[name]]
        nodes: list[Node] = []
        for file in self.import_files(name, path, number):
            lines = self.read(file, stack)
            if lines is not None:
                body, _ = self.block(lines + [(0, ["}"])], 0, file, stack + (file,))
                nodes.extend(_with_args(n, args) for n in body)
        return nodes

    def import_files(self, pattern: str, path: str, number: int) -> list[str]:
        full = pattern if pattern.startswith("/") else posixpath.join(posixpath.dirname(path), pattern)
        if any(c in full for c in "*?["):
            try:
                return self.host.glob(full)
            except HostError as e:
                self.error(path, number, f"import {pattern}: {e}")
                return []
        if not self.host.exists(full):
            self.error(path, number, f"import {pattern}: no such snippet or file")
            return []
        return [full]


def _with_args(node: Node, args: list[str]) -> Node:
    def sub(text: str) -> str:
        return _ARG.sub(
            lambda m: (
                args[int(m.group(1) or m.group(2))] if int(m.group(1) or m.group(2)) < len(args) else ""
            ),
            text,
        )

    return Node(
        sub(node.name),
        [sub(a) for a in node.args],
        node.file,
        node.line,
        [_with_args(c, args) for c in node.children],
    )


def parse(host: Host, path: str, env: dict[str, str] | None = None) -> Caddyfile:
    result = Caddyfile(main_file=path)
    _Parser(host, env or {}, result).top(path)
    return result
