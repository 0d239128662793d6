"""ronda's TOML config files, read one way: errors name the file and line, unknown settings are refused.

Every config (the agent's agent.toml, the collector's collector.toml, the
reconcile thresholds) is read through `TomlFile`:

    file = TomlFile.read(path, "reconcile config", ReconcileConfigError)
    values = file.settings(file.data, fields_of(ReconcileConfig))   # names and types checked
    if values.get("idle_days") == 0:
        file.problem("idle_days must be at least 1", "idle_days")
    file.check()                                                     # raises with every problem

A problem is noted, not raised at once, so that one run names every mistake
in the file ("reconcile.toml:3: idle_days must be a whole number, not a
string; reconcile.toml:5: unknown setting(s) idel_days; known: ...").
Unknown settings are refused rather than ignored: a misspelt threshold
silently left at its default could call a live app safe to take down.
"""

from __future__ import annotations

import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from ronda.errors import ConfigError

Key = str | int  # a table name, a setting name, or the index in an array of tables

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")
_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


class TomlFile:
    """One config file, parsed; knows on which line each setting stands."""

    def __init__(self, path: str, text: str, data: dict[str, Any], error: type[ConfigError]) -> None:
        self.path = path
        self.data = data
        self.error = error
        self._problems: list[tuple[int, str]] = []  # (line, problem), told in the file's order
        self._lines = text.splitlines()

    @classmethod
    def read(cls, path: str, what: str, error: type[ConfigError]) -> TomlFile:
        """Read and parse `path` ("cannot read agent config FILE: ..." or "FILE:LINE:COLUMN: ...")."""
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise error(f"cannot read {what} {path}: {e.strerror or e}") from None
        try:
            text = raw.decode("utf-8-sig")  # Notepad on Windows starts UTF-8 files with a BOM
        except UnicodeDecodeError as e:
            bad_line = raw[: e.start].count(b"\n") + 1
            raise error(f"{path}:{bad_line}: not valid TOML: not UTF-8 text") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            message = str(e)
            found = _POSITION.search(message)
            line: str | None = found.group(1) if found else None
            column: str | None = found.group(2) if found else None
            if found and line is None:
                line = str(max(len(text.splitlines()), 1))
            where = f"{path}:{line}" + (f":{column}" if column else "") if line else path
            reason = message[: found.start()] if found else message
            raise error(f"{where}: not valid TOML: {reason[:1].lower()}{reason[1:]}") from None
        return cls(path, text, data, error)

    # -- where ------------------------------------------------------------------
    @staticmethod
    def _split(key: tuple[Key, ...]) -> tuple[list[Key], str]:
        """("ssh", "hosts", 1, "port") -> (["ssh", "hosts", 1], "port"): the table, and the setting in it."""
        *table, last = key or ("",)
        return ([*table, last], "") if isinstance(last, int) else (table, last)

    def _line_of(self, key: tuple[Key, ...]) -> int | None:
        table, name = self._split(key)
        found = self._find(table, name)
        if found is None and name:
            found = self._find([*table, name], "")  # not a setting: a table
        return found

    def _find(self, table: list[Key], name: str) -> int | None:
        wanted = [str(k) for k in table if not isinstance(k, int)]
        index = next((k for k in table if isinstance(k, int)), None)
        seen = -1  # entries of the array of tables passed so far
        inside = not wanted
        for number, text in enumerate(self._lines, 1):
            header = _HEADER.match(text)
            if header:
                inside = [part.strip().strip("\"'") for part in header.group(2).split(".")] == wanted
                if inside:
                    seen += header.group(1) == "[["
                    inside = index is None or seen == index
                    if inside and not name:
                        return number
                continue
            assignment = _ASSIGNMENT.match(text)
            if inside and name and assignment and name in assignment.groups():
                return number
        return None

    @classmethod
    def _label(cls, key: tuple[Key, ...]) -> str:
        """`[network] `, `[[ssh.hosts]] #2 `: the table a problem is in, before its message."""
        table, _ = cls._split(key)
        names = ".".join(str(k) for k in table if not isinstance(k, int))
        index = next((k for k in table if isinstance(k, int)), None)
        if index is not None:
            return f"[[{names}]] #{index + 1} "
        return f"[{names}] " if names else ""

    # -- problems ---------------------------------------------------------------
    @property
    def problems(self) -> list[str]:
        return [text for _, text in sorted(self._problems, key=lambda p: p[0])]

    def problem(self, message: str, *key: Key) -> None:
        """Note a problem with the setting at `key`; `check` raises them all."""
        line = self._line_of(key) or 0
        where = f"{self.path}:{line}" if line else self.path
        self._problems.append((line, f"{where}: {self._label(key)}{message}"))

    def check(self) -> None:
        """Raise if any problem was noted."""
        if self._problems:
            raise self.error("; ".join(self.problems))

    # -- settings ---------------------------------------------------------------
    def table(self, *key: Key) -> dict[str, Any]:
        """The table at `key` ({} when absent; a problem when it is not a table)."""
        value: Any = self.data
        for k in key:
            value = value[k] if isinstance(value, list) and isinstance(k, int) else value.get(k, {})
        if not isinstance(value, dict):
            self.problem(f"{'.'.join(map(str, key))} must be a table, not {describe_value(value)}", *key)
            return {}
        return value

    def settings(self, table: Mapping[str, Any], expected: Mapping[str, Any], *key: Key) -> dict[str, Any]:
        """The settings of `table` whose name is in `expected` and whose value has its type.

        `expected` maps a name to a type (`int`, `float`, `str`, `bool`, `list[str]`, `str | list[str]`,
        `list[dict]`...). Each unknown name and each wrong type is a problem, and left out.
        """
        unknown = [name for name in table if name not in expected]
        if unknown:
            self.problem(
                f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(expected))}",
                *key,
                unknown[0],
            )
        values = {}
        for name, value in table.items():
            if name not in expected:
                continue
            if matches(value, expected[name]):
                values[name] = value
            else:
                self.problem(
                    f"{name} must be {describe(expected[name])}, not {describe_value(value)}", *key, name
                )
        return values


def fields_of(cls: type) -> dict[str, Any]:
    """A dataclass's settings and their types, as `TomlFile.settings` expects them."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def matches(value: Any, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, option) for option in typing.get_args(expected))
    if origin is list:
        (item,) = typing.get_args(expected) or (Any,)
        return isinstance(value, list) and all(matches(v, item) for v in value)
    if expected is Any:
        return True
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or expected)


_NAMES = {
    int: ("a whole number", "whole numbers"),
    float: ("a number", "numbers"),
    str: ("a string", "strings"),
    bool: ("true or false", "true or false values"),
    dict: ("a table", "tables"),
}


def describe(expected: Any, plural: bool = False) -> str:
    """`list[str]` -> "a list of strings": a type as a config's reader says it."""
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(option, plural) for option in typing.get_args(expected))
    if origin is list or expected is list:
        args = typing.get_args(expected)
        return ("lists" if plural else "a list") + (f" of {describe(args[0], True)}" if args else "")
    names = _NAMES.get(origin or expected, ("a value", "values"))
    return names[plural]


def describe_value(value: Any) -> str:
    for kind in (bool, int, float, str, list, dict):  # bool before int: true is not a number here
        if isinstance(value, kind):
            return describe(kind)
    return describe(type(value))


def find_config(path: str | None, variable: str | None, default: str) -> str | None:
    """The config to read: `path`, else $variable, else `default` when it exists, else None (defaults)."""
    if path:
        return path
    if variable and os.environ.get(variable):
        return os.environ[variable]
    return default if os.path.exists(default) else None
