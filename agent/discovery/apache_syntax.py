"""Apache httpd configuration syntax: one file's text to a tree of directives.

Follows httpd's own reader: a trailing backslash continues a line, `#` starts
a comment only at the beginning of a line, arguments are split on white space
with "double" or 'single' quotes, and inside quotes only a backslash before
the quote character is an escape (other backslashes stay, as mod_log_config
expects them). Sections are `<Name args>` ... `</Name>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Directive:
    name: str
    args: list[str]
    file: str
    line: int
    # None for a plain directive, a list (maybe empty) for a <Section>
    children: list[Directive] | None = None

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def is_section(self) -> bool:
        return self.children is not None

    def arg(self, i: int = 0, default: str = "") -> str:
        return self.args[i] if len(self.args) > i else default


@dataclass
class ParsedFile:
    directives: list[Directive] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def split_args(text: str) -> list[str]:
    """Split a directive's argument text the way httpd's ap_getword_conf does."""
    args: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        quote = text[i] if text[i] in "\"'" else ""
        if quote:
            i += 1
            out = []
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n and text[i + 1] == quote:
                    i += 1
                out.append(text[i])
                i += 1
            i += 1  # closing quote (or end of text: httpd accepts an unterminated quote)
            args.append("".join(out))
        else:
            start = i
            while i < n and not text[i].isspace():
                i += 1
            args.append(text[start:i])
    return args


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first physical line number, joined text) for each logical line."""
    buffered: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buffered:
            start = number
        if line.endswith("\\") and not line.endswith("\\\\"):
            buffered.append(line[:-1])
            continue
        buffered.append(line)
        yield start, " ".join(part.strip() for part in buffered).strip()
        buffered = []
    if buffered:
        yield start, " ".join(part.strip() for part in buffered).strip()


def _head(text: str) -> tuple[str, str]:
    parts = text.split(None, 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (text, "")


def _body(stack: list[Directive], top: list[Directive]) -> list[Directive]:
    """Where the next directive goes: the innermost open section's children, else the top level."""
    if not stack:
        return top
    children = stack[-1].children
    assert children is not None  # only sections are pushed
    return children


def parse(text: str, file: str) -> ParsedFile:
    result = ParsedFile()
    stack: list[Directive] = []
    current = result.directives
    for number, line in _logical_lines(text):
        if not line or line.startswith("#"):
            continue
        if line.startswith("</"):
            name = line[2:].rstrip(">").strip()
            if not stack:
                result.errors.append((number, f"</{name}> without matching <{name}> section"))
                continue
            if stack[-1].key != name.lower():
                result.errors.append(
                    (number, f"</{name}> closes <{stack[-1].name}> opened at line {stack[-1].line}")
                )
                # Close up to a matching opener if there is one, else treat as a typo for the innermost.
                if not any(s.key == name.lower() for s in stack):
                    stack.pop()
                    current = _body(stack, result.directives)
                    continue
                while stack[-1].key != name.lower():
                    stack.pop()
            stack.pop()
            current = _body(stack, result.directives)
            continue
        if line.startswith("<"):
            if not line.endswith(">"):
                result.errors.append(
                    (number, "section opener without '>'")
                )  # no config text: it may hold secrets
                continue
            name, rest = _head(line[1:-1].strip())
            if not name:
                result.errors.append((number, "empty section name"))
                continue
            section = Directive(name, split_args(rest), file, number, [])
            current.append(section)
            stack.append(section)
            current = _body(stack, result.directives)
            continue
        name, rest = _head(line)
        current.append(Directive(name, split_args(rest), file, number))
    for section in reversed(stack):
        result.errors.append((section.line, f"<{section.name}> is never closed"))
    return result
