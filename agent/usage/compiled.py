"""A log format compiled for one log file's apps: what the parser reads lines with.

Two compilers make one: `formats` (a regex per line, from an nginx, Apache or
Tomcat format definition) and `jsonlog` (Caddy's JSON lines, behind the same
findall/match interface). `formats` chooses between them; neither needs the
other's insides, so both import this module and not each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol


class LineMatch(Protocol):
    def groups(self) -> tuple[Any, ...]: ...


class LinePattern(Protocol):
    """The calls the parser makes on a compiled format: `re.Pattern[bytes]` has them, so has
    jsonlog's reader of JSON lines."""

    def findall(self, string: bytes, pos: int = ..., endpos: int = ...) -> list[Any]: ...

    def match(self, string: bytes, pos: int = ..., endpos: int = ...) -> LineMatch | None: ...


@dataclass(frozen=True)
class CompiledFormat:
    fast: LinePattern  # groups: formats.KEY_FIELDS present in the format, in line order
    safe: LinePattern  # same groups, never runs past a line end
    detail: LinePattern  # as safe, plus the clock
    fields: tuple[str, ...]  # KEY_FIELDS present, in the order of fast's groups
    detail_fields: tuple[str, ...]
    time_kind: str
    # fast's lines, each read with less work: possessive repeats, and the status as its class
    # (groups "reject": the 3 or 4 of a 403/404, "error": the first digit of another status >= 400)
    lean: re.Pattern[bytes] | None = None
    lean_fields: tuple[str, ...] = ()
