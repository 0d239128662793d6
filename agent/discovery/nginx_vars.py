"""nginx variables the configuration itself defines, expanded where ronda reads paths and backends.

`set $app_root /var/www/shop;` (unconditional, in a server or location) and
the `default` value of a `map ... $var { ... }` give a variable a value the
config spells out; `root $app_root/pub;` is then `/var/www/shop/pub`. Values
that only exist per request (`$host`, `$uri`, `$1`, a `set` inside an `if`)
stay as they are written.
"""

from __future__ import annotations

import re
from typing import Any

Statement = dict[str, Any]

_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_MAX_DEPTH = 8  # a variable defined through others, at most this deep (and never through itself)


class Variables:
    """The variables in effect in one block: those of the blocks around it, then its own `set`s."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})

    @classmethod
    def of_http(cls, http_block: list[Statement]) -> Variables:
        """`map` defaults of an http block (a map without a default gives "" at run time: left alone)."""
        values: dict[str, str] = {}
        for stmt in http_block:
            args = stmt.get("args") or []
            if stmt["directive"] != "map" or "block" not in stmt or len(args) != 2:
                continue
            default = next((s for s in stmt["block"] if s["directive"] == "default" and s.get("args")), None)
            if default is not None:
                values[_name(args[1])] = default["args"][0]
        return cls(values)

    def within(self, block: list[Statement]) -> Variables:
        """The variables inside `block`: its unconditional `set`s, in order, over the inherited ones."""
        sets = [s["args"] for s in block if s["directive"] == "set" and len(s.get("args") or []) == 2]
        if not sets:
            return self
        values = dict(self.values)
        for name, value in sets:
            values[_name(name)] = value
        return Variables(values)

    def expand(self, text: str) -> str:
        """`text` with every variable the config defines replaced by its value; others left as written."""
        for _ in range(_MAX_DEPTH):
            if "$" not in text:
                return text
            expanded = _VAR.sub(self._value, text)
            if expanded == text:
                return text
            text = expanded
        return text

    def _value(self, m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        value = self.values.get(name)
        if value is None or name in _names_in(value):
            return m.group(0)  # not defined here, or defined through itself: known only per request
        return value


def _names_in(text: str) -> set[str]:
    return {braced or bare for braced, bare in _VAR.findall(text)}


def _name(variable: str) -> str:
    return variable.removeprefix("$").strip("{}")


def concrete_path(path: str) -> str:
    """The fixed directory a path with per-request variables starts with: /srv/wp/$1 -> /srv/wp;
    "" when it starts with one. A path without variables is returned unchanged."""
    if "$" not in path:
        return path
    head = path.split("$", 1)[0]
    directory = head if head.endswith("/") else head.rsplit("/", 1)[0]
    directory = directory.rstrip("/")
    return directory if directory.startswith("/") else ""
