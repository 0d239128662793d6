"""The filters every list command shares: --opd/--owner, --host, --since, --verdict, --kind,
--stale, --sort and --limit, applied the same way to hosts, apps, findings and candidates.

Each command says which of its columns a filter reads (a `Fields`); rows are plain dicts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ronda.errors import ConfigError

_SPAN = re.compile(r"^(\d+)\s*([a-z]+)$", re.IGNORECASE)
_HOURS = {"h": 1, "hour": 1, "hours": 1, "jam": 1, "d": 24, "day": 24, "days": 24, "hari": 24}
_HOURS |= {"w": 168, "week": 168, "weeks": 168, "minggu": 168}


class FilterError(ConfigError):
    """A filter ronda cannot apply: an unknown column to sort by, a date it cannot read."""


@dataclass(frozen=True)
class Fields:
    """Which columns of a command's rows each filter reads ("" where a filter does not apply)."""

    owner: str = ""
    host: Sequence[str] = ()  # any of these columns may hold the host's name or agent id
    since: str = ""  # a UTC timestamp column: rows at or after --since
    verdict: str = ""
    kind: str = ""


@dataclass(frozen=True)
class Filters:
    owners: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    since: str | None = None  # UTC, as the store writes timestamps
    verdicts: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    stale: bool = False
    sort: tuple[str, ...] = ()  # column names; a leading - sorts that one descending
    limit: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def parse_since(text: str | None, now: datetime | None = None) -> str | None:
    """`2026-11-01`, `2026-11-01T08:00:00Z`, or a span back from now: `30d`, `2w`, `12h`."""
    if not text:
        return None
    now = now or datetime.now(UTC)
    text = text.strip()
    m = _SPAN.match(text)
    if m and m.group(2).lower() in _HOURS:
        hours = int(m.group(1)) * _HOURS[m.group(2).lower()]
        return (now - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat() + "T00:00:00Z"
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(
            f"--since {text!r}: give a date (2026-11-01), a time (2026-11-01T08:00:00Z) "
            "or a span back from now (30d, 2w, 12h)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _folded(values: Iterable[str]) -> set[str]:
    return {v.strip().casefold() for v in values if v and v.strip()}


def apply(rows: list[dict[str, Any]], filters: Filters, fields: Fields) -> list[dict[str, Any]]:
    """The rows that pass every filter given, sorted and cut to --limit."""
    owners, hosts = _folded(filters.owners), _folded(filters.hosts)
    verdicts, kinds = set(filters.verdicts), _folded(filters.kinds)
    out = []
    for row in rows:
        if owners and fields.owner and str(row.get(fields.owner) or "").strip().casefold() not in owners:
            continue
        if hosts and fields.host and not any(_holds(row.get(c), hosts) for c in fields.host):
            continue
        if filters.since and fields.since and (row.get(fields.since) or "") < filters.since:
            continue
        if verdicts and fields.verdict and row.get(fields.verdict) not in verdicts:
            continue
        if kinds and fields.kind and not _holds(row.get(fields.kind), kinds):
            continue
        if filters.stale and not row.get("stale"):
            continue
        out.append(row)
    if filters.sort:
        out = sort_rows(out, filters.sort)
    return out[: filters.limit] if filters.limit is not None else out


def _holds(value: Any, wanted: set[str]) -> bool:
    """Whether `value` (a value, a list, or a `, `-separated list) is one of `wanted` (casefolded)."""
    if isinstance(value, (list, tuple)):
        return any(str(v).casefold() in wanted for v in value)
    if isinstance(value, str) and ", " in value:
        return any(v.casefold() in wanted for v in value.split(", "))
    return value is not None and str(value).casefold() in wanted


def sort_rows(rows: list[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Sorted by each key in turn (`-key` descending); empty values last either way."""
    columns = set(rows[0]) if rows else set()
    for key in keys:
        name = key.lstrip("-+")
        if rows and name not in columns:
            raise FilterError(f"--sort {name!r}: no such column; columns are {', '.join(sorted(columns))}")
    for key in reversed(keys):
        name, descending = key.lstrip("-+"), key.startswith("-")
        present = [r for r in rows if r.get(name) not in (None, "")]
        absent = [r for r in rows if r.get(name) in (None, "")]
        present.sort(key=lambda r: _sort_key(r[name]), reverse=descending)
        rows = present + absent
    return rows


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value).casefold())


def app_url(server_names: Sequence[str], listen: Sequence[str], prefix: str = "/") -> str:
    """The address a person types to reach an app (`https://sipd.example.go.id/monev`), or "" when
    it answers to no name (a default server `_`, a wildcard)."""
    names = [
        n for n in server_names if n and n not in ("_", "*", "localhost") and "*" not in n and "~" not in n
    ]
    if not names:
        return ""
    tls = [entry for entry in listen if entry.endswith(" ssl")]
    chosen = (tls or list(listen) or ["*:80"])[0].split(" ")[0]
    port = chosen.rsplit(":", 1)[-1] if ":" in chosen else ""
    scheme = "https" if tls else "http"
    default = "443" if tls else "80"
    authority = names[0] + (f":{port}" if port.isdigit() and port != default else "")
    path = prefix if prefix and prefix != "/" else "/"
    return f"{scheme}://{authority}{path}"
