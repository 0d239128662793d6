"""Caddy's JSON access logs, behind the same interface as the compiled regex formats.

Each line is one JSON object (`request.remote_ip`, `request.client_ip`,
`request.host`, `request.uri`, `request.headers["User-Agent"]`, `status`,
`ts` as epoch seconds or a formatted time). Parsing JSON costs more per line
than a regex, so Caddy logs are read at a few hundred thousand lines/s.
"""

from __future__ import annotations

import json
from datetime import datetime

from ronda.agent.usage.compiled import CompiledFormat

FIELDS = ("vhost", "addr", "day", "prefix", "probe", "status", "ua")


class _Match:
    __slots__ = ("_groups",)

    def __init__(self, groups: tuple) -> None:
        self._groups = groups

    def groups(self) -> tuple:
        return self._groups


class JsonPattern:
    """Duck-types the parts of `re.Pattern` the parser uses: findall(buf, pos, endpos) and match."""

    def __init__(self, prefixes: list[str], probes: list[str]) -> None:
        self.prefixes = sorted({p.rstrip("/") for p in prefixes if p.rstrip("/")}, key=len, reverse=True)
        self.probes = set(probes)

    def findall(self, buf: bytes, pos: int = 0, endpos: int | None = None) -> list[tuple]:
        rows = []
        for line in buf[pos:endpos].split(b"\n"):
            row = self.row(line)
            if row is not None:
                rows.append(row)
        return rows

    def match(self, buf: bytes, pos: int = 0, endpos: int | None = None) -> _Match | None:
        row = self.row(buf[pos:endpos])
        return _Match(row) if row is not None else None

    def row(self, line: bytes) -> tuple | None:
        if not line.strip():
            return None
        try:
            entry = json.loads(line)
            request = entry["request"]
            when = _epoch(entry["ts"])
            status = int(entry["status"])
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(request, dict) or when is None or not 100 <= status <= 999:
            return None
        headers = request.get("headers") or {}
        agents = headers.get("User-Agent") or headers.get("user-agent") or [""]
        ua = agents[0] if isinstance(agents, list) and agents else str(agents)
        addr = request.get("client_ip") or request.get("remote_ip") or ""
        path = str(request.get("uri") or "/").split("?")[0].split("#")[0]
        prefix = next((p for p in self.prefixes if path == p or path.startswith(p + "/")), "")
        rest = path[len(prefix) :] or "/"
        probe = rest if rest in self.probes else ""
        return (
            str(request.get("host") or "").encode(),
            str(addr).encode(),
            str(when).encode(),
            prefix.encode(),
            probe.encode(),
            str(status).encode(),
            str(ua).encode(),
        )


def _epoch(ts: object) -> int | None:
    if isinstance(ts, (int, float)):
        return int(ts)
    if isinstance(ts, str):
        try:
            return int(datetime.fromisoformat(ts).timestamp())
        except ValueError:
            try:
                return int(float(ts))
            except ValueError:
                return None
    return None


def compile_json(prefixes: list[str], probes: list[str]) -> CompiledFormat:
    pattern = JsonPattern(prefixes, probes)
    return CompiledFormat(
        fast=pattern, safe=pattern, detail=pattern, fields=FIELDS, detail_fields=FIELDS, time_kind="epoch"
    )
