"""The hot loop: a buffer of log lines in, per-app daily tallies out.

Per buffer the per-line work stays in C: one `findall` of the compiled
format (no time of day captured, so rows repeat: same client, agent, status
and day) and one `Counter` of the row tuples. Python then runs once per
*distinct* row: an itemgetter picks the row's group key (all but the client
address), a dict maps it to a cached `GroupInfo` (apps, day, class), and the
counts go to that group; people's and 403/404 clients go to sets. Exact
times are read only for the lines that can matter: the last few of each
kind of request (last request, last human request...) and the first lines of
a file.

Two paths give the same tallies. The lean path (`CompiledFormat.lean`) reads
a buffer with possessive repeats and captures a status only as its class, so
rows of one client and class collapse further; it is taken when it matches
every line of the buffer. Otherwise the general path reads the buffer with
the fast regex, or the safe one when a line is malformed.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from ronda.agent.usage.classify import BOT, ERROR, HUMAN, MONITOR, REJECT, Classifier
from ronda.agent.usage.compiled import CompiledFormat
from ronda.agent.usage.routing import Router
from ronda.agent.usage.tally import INVALID, LAST_ANY, LAST_HUMAN, LAST_SUCCESS, GroupInfo, Tally, client_id
from ronda.agent.usage.times import day_of as _day
from ronda.agent.usage.times import epoch_of as _epoch

# Lines read past the last needed one, so slightly out-of-order timestamps still give the true maximum.
_SLACK = 32
_HEAD = 32
# Lines read one by one from the end of a buffer before switching to a scan of the whole buffer.
_WALK = 96
_COLUMN = {HUMAN: 0, BOT: 1, MONITOR: 2, ERROR: 3}
# A row's class code: agent class (2 bits) | status kind | probe path | monitor address.
_STATUS_REJECT, _STATUS_ERROR, _STATUS_MASK = 4, 8, 12
_PROBE, _MONITOR_ADDR = 16, 32


def _status_code(raw: bytes) -> int:
    status = int(raw)
    return 0 if status < 400 else _STATUS_REJECT if status in (403, 404) else _STATUS_ERROR


def _code_class(code: int) -> int:
    if code & (_PROBE | _MONITOR_ADDR):
        return MONITOR
    if code & 3 != HUMAN:
        return code & 3
    if code & _STATUS_REJECT:
        return REJECT
    if code & _STATUS_ERROR:
        return ERROR
    return HUMAN


_CODE_CLASS = [_code_class(c) for c in range(256)]
_CACHE_LIMIT = 10_000
# Smaller bounds for the caches the lean path adds, so that memory stays near what it was without them.
_LEAN_CACHE_LIMIT = _ID_CACHE_LIMIT = 10_000


def _getter(positions: list[int]) -> Callable[[tuple], Any]:
    """A C-level field picker: a tuple for several fields, the value for one, b"" for none."""
    if not positions:
        return lambda row: b""
    return itemgetter(*positions)


class ChunkParser:
    def __init__(
        self, fmt: CompiledFormat, router: Router, classifier: Classifier, lean: bool = True
    ) -> None:
        self.fmt = fmt
        self.router = router
        self.classifier = classifier
        pos = {name: i for i, name in enumerate(fmt.fields)}
        # the fields that decide a row's class; the address only when monitor networks are configured
        self._code_fields: list[str] = [f for f in ("ua", "status", "probe") if f in pos]
        if classifier.networks and "addr" in pos:
            self._code_fields.append("addr")
        self._route_fields = [f for f in ("vhost", "prefix") if f in pos]
        self._code_key = _getter([pos[f] for f in self._code_fields])
        self._route_key = _getter([pos[f] for f in self._route_fields])
        # everything but the client address (unless addresses decide monitors): rows with
        # the same group key mean the same thing
        keep_addr = "addr" in self._code_fields
        self._group_key = itemgetter(*[i for i, f in enumerate(fmt.fields) if f != "addr" or keep_addr])
        self._day_of = itemgetter(pos["day"])
        self._addr_of = itemgetter(pos["addr"]) if "addr" in pos else (lambda row: b"")
        detail = list(fmt.detail_fields)
        self._clock = detail.index("clock") if "clock" in detail else None
        # a detail row without its clock is a fast row
        self._fast_of_detail = itemgetter(*[i for i, f in enumerate(detail) if f != "clock"])
        self._codes: dict = {}
        self._ua_codes: dict[bytes, int] = {}
        self._days: dict[bytes, str | None] = {}
        self._routes: dict = {}
        self._groups: dict[tuple, GroupInfo] = {}
        self._ids: dict[bytes, int] = {}
        self._lean = fmt.lean if lean else None
        if self._lean is not None:
            lean_pos = {name: i for i, name in enumerate(fmt.lean_fields)}
            self._lean_key = itemgetter(
                *[i for i, f in enumerate(fmt.lean_fields) if f != "addr" or keep_addr]
            )
            self._lean_addr_of = itemgetter(lean_pos["addr"]) if "addr" in lean_pos else (lambda row: b"")
            # the general row of a lean row: every field but the status is captured as is
            self._lean_parts = [(f, lean_pos.get(f, -1)) for f in fmt.fields]
            self._reject_at, self._error_at = lean_pos.get("reject", -1), lean_pos.get("error", -1)
            self._lean_day_of = itemgetter(lean_pos["day"])
            # what a row means but its day: rows of one kind on other days make their GroupInfo from it
            self._lean_kind_key = _getter(
                [i for i, f in enumerate(fmt.lean_fields) if f != "day" and (f != "addr" or keep_addr)]
            )
            self._lean_groups: dict[tuple, GroupInfo] = {}
            self._lean_kinds: dict = {}

    # -- per distinct value ---------------------------------------------------------
    def day(self, raw: bytes) -> str | None:
        try:
            return self._days[raw]
        except KeyError:
            if len(self._days) >= _CACHE_LIMIT:
                self._days.clear()
            day = self._days[raw] = _day(self.fmt.time_kind, raw)
            return day

    def route(self, route_key: Any) -> tuple[int, ...]:  # bytes, or a tuple of them
        apps = self._routes.get(route_key)
        if apps is None:
            parts = route_key if len(self._route_fields) > 1 else (route_key,)
            # no field at all: the getter gives b"" and nothing pairs with it
            values = dict(zip(self._route_fields, parts, strict=False))
            if len(self._routes) >= _CACHE_LIMIT:
                self._routes.clear()
            apps = self._routes[route_key] = self.router.route(
                values.get("vhost", b""), values.get("prefix", b"")
            )
        return apps

    def _code(self, key: Any) -> int:  # bytes, or a tuple of them
        parts = key if len(self._code_fields) > 1 else (key,)
        values = dict(zip(self._code_fields, parts, strict=False))  # as in route()
        code = 0
        if "ua" in values:
            ua = values["ua"]
            known = self._ua_codes.get(ua)
            if known is None:
                if len(self._ua_codes) >= _CACHE_LIMIT:
                    self._ua_codes.clear()
                known = self._ua_codes[ua] = self.classifier.agent_class(ua)
            code = known
        if values.get("status"):
            code |= _status_code(values["status"])
        if values.get("probe"):
            code |= _PROBE
        if "addr" in values and self.classifier.monitor_address(values["addr"]):
            code |= _MONITOR_ADDR
        return code

    def info(self, row: tuple) -> GroupInfo:
        """What a parsed row means: apps, day, class; INVALID if its date is no date."""
        info = self._groups.get(self._group_key(row))
        return info if info is not None else self._new_info(row)

    def _kind(self, row: tuple) -> GroupInfo:
        """What a row means but its day: apps, class and kinds of last time (a GroupInfo without a day)."""
        code_key = self._code_key(row)
        code = self._codes.get(code_key)
        if code is None:
            if len(self._codes) >= _CACHE_LIMIT:
                self._codes.clear()
            code = self._codes[code_key] = self._code(code_key)
        cls = _CODE_CLASS[code]
        return GroupInfo(self.route(self._route_key(row)), "", cls, _lasts(cls, code & _STATUS_MASK))

    def _new_info(self, row: tuple) -> GroupInfo:
        day = self.day(self._day_of(row))
        info = INVALID if day is None else self._kind(row).on(day)
        if len(self._groups) >= _CACHE_LIMIT:
            self._groups.clear()
        self._groups[self._group_key(row)] = info
        return info

    def _new_lean_info(self, row: tuple) -> GroupInfo:
        """A lean row's GroupInfo: from the general row it stands for (any status of its class), made once
        per kind of row and then dated."""
        kind_key = self._lean_kind_key(row)
        kind = self._lean_kinds.get(kind_key)
        if kind is None:
            general = []
            for name, at in self._lean_parts:
                if name == "status":
                    reject = row[self._reject_at] if self._reject_at >= 0 else b""
                    error = row[self._error_at] if self._error_at >= 0 else b""
                    general.append(b"40" + reject if reject else error + b"00" if error else b"200")
                else:
                    general.append(row[at])
            if len(self._lean_kinds) >= _LEAN_CACHE_LIMIT:
                self._lean_kinds.clear()
            kind = self._lean_kinds[kind_key] = self._kind(tuple(general))
        day = self.day(self._lean_day_of(row))
        info = INVALID if day is None else kind.on(day)
        if len(self._lean_groups) >= _LEAN_CACHE_LIMIT:
            self._lean_groups.clear()
        self._lean_groups[self._lean_key(row)] = info
        return info

    # -- the buffer -------------------------------------------------------------
    def feed(
        self, buf: bytes, tally: Tally, first: bool = False, start: int = 0, end: int | None = None
    ) -> None:
        """Tally every line of `buf[start:end]`, which starts a line and ends at a line end or the file's end.

        Offsets instead of slices: the buffers are large and copying them costs more than parsing.
        """
        # A buffer's rows are tuples of bytes (no cycles): reference counting frees them, and the
        # cycle collector, triggered by their number, would only scan them again and again.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._feed(buf, tally, first, start, end)
        finally:
            if enabled:
                gc.enable()

    def _feed(self, buf: bytes, tally: Tally, first: bool, start: int, end: int | None) -> None:
        end = len(buf) if end is None else end
        if end <= start:
            return
        lines = buf.count(b"\n", start, end) + (0 if buf[end - 1] == 10 else 1)
        tally.lines += lines
        rows = self._lean.findall(buf, start, end) if self._lean is not None else None
        if rows is not None and len(rows) == lines:
            tally.lean_lines += lines
            per_info = self._per_info(
                Counter(rows),
                tally,
                self._lean_groups.get,
                self._lean_key,
                self._lean_addr_of,
                self._new_lean_info,
            )
        else:
            if rows is None:
                rows = self.fmt.fast.findall(buf, start, end)
            # a malformed line, which the fast regex (and the lean one, which accepts the same) may have
            # read across: the safe regex never does
            if len(rows) != lines:
                rows = self.fmt.safe.findall(buf, start, end)
            tally.unparsed += lines - len(rows)
            if not rows:
                return
            per_info = self._per_info(
                Counter(rows), tally, self._groups.get, self._group_key, self._addr_of, self._new_info
            )
        del rows
        needed: set[tuple[int, int]] = set()
        daily, app_lines = tally.daily, tally.app_lines
        for info, n in per_info.items():
            if info is INVALID:
                tally.unparsed += n
                continue
            needed.update(info.needs)
            for app in info.apps:
                app_lines[app] += n
                if info.cls != REJECT:
                    counts = daily.get((app, info.day))
                    if counts is None:
                        counts = daily[(app, info.day)] = [0, 0, 0, 0]
                    counts[_COLUMN[info.cls]] += n
        self._walk_back(buf, start, end, tally, needed)
        if needed:
            self._find_rest(buf, start, end, tally, needed)
        if first:
            self._walk_head(buf, start, end, tally)

    @staticmethod
    def _per_info(
        counted: Counter,
        tally: Tally,
        groups_get: Callable[[Any], GroupInfo | None],
        group_key: Callable[[tuple], Any],
        addr_of: Callable[[tuple], bytes],
        new_info: Callable[[tuple], GroupInfo],
    ) -> dict[GroupInfo, int]:
        """Lines per group; clients only for people and 403/404s.

        Per distinct row: two C calls and a dict update."""
        per_info: dict[GroupInfo, int] = {}
        clients, rejects = tally.clients, tally.rejects
        for row, n in counted.items():
            info = groups_get(group_key(row)) or new_info(row)
            per_info[info] = per_info.get(info, 0) + n
            if info.cls == HUMAN:
                clients.add((info, addr_of(row)))
            elif info.cls == REJECT:
                rejects[(info, addr_of(row))] += n
        return per_info

    def _ids_of(self, addrs: set[bytes]) -> dict[bytes, int]:
        """Client ids of these addresses (and maybe others): hashed once per address, not once per entry."""
        ids = self._ids
        new = addrs - ids.keys()
        if len(ids) + len(new) > _ID_CACHE_LIMIT:
            ids.clear()
            new = addrs
        for addr in new:
            ids[addr] = client_id(addr)
        return ids

    def client_days(
        self, entries: set[tuple[GroupInfo, bytes]]
    ) -> dict[tuple[tuple[int, ...], str], set[int]]:
        """Tally.clients as (apps, day) -> client ids."""
        ids = self._ids_of({addr for _, addr in entries})
        out: dict[tuple[tuple[int, ...], str], set[int]] = {}
        for info, addr in entries:
            key = (info.apps, info.day)
            day = out.get(key)
            if day is None:
                day = out[key] = set()
            day.add(ids[addr])
        return out

    def rejects(self, counts: Counter) -> Counter:
        """Tally.rejects as (apps, day, client id) -> count."""
        ids = self._ids_of({addr for _, addr in counts})
        out: Counter = Counter()
        for (info, addr), n in counts.items():
            out[(info.apps, info.day, ids[addr])] += n
        return out

    def _split(self, detail_row: tuple) -> tuple[tuple, int | None]:
        """A detail row as (the fast row, epoch seconds)."""
        row = self._fast_of_detail(detail_row)
        clock = detail_row[self._clock] if self._clock is not None else None
        return row, _epoch(self.fmt.time_kind, self._day_of(row), clock)

    def _line(self, buf: bytes, start: int, end: int) -> tuple[GroupInfo, int] | None:
        m = self.fmt.detail.match(buf, start, end)
        if m is None:
            return None
        row, when = self._split(m.groups())
        info = self.info(row)
        return (info, when) if info is not INVALID and when is not None else None

    @staticmethod
    def _note(tally: Tally, info: GroupInfo, when: int, needed: set[tuple[int, int]]) -> None:
        tally.see_time(when)
        for app in info.apps:
            for kind in info.lasts:
                needed.discard((app, kind))
                if tally.last.get((app, kind), -1) < when:
                    tally.last[(app, kind)] = when

    def _walk_back(
        self, buf: bytes, first: int, end: int, tally: Tally, needed: set[tuple[int, int]]
    ) -> None:
        """The last lines of the buffer, one by one: they hold the latest time of most kinds."""
        end = end - 1 if buf[end - 1] == 10 else end
        slack, budget = _SLACK, _WALK
        while end > first and slack > 0 and budget > 0:
            start = buf.rfind(b"\n", first, end) + 1 or first
            parsed = self._line(buf, start, end)
            end = start - 1
            budget -= 1
            if not needed:
                slack -= 1
            if parsed is not None:
                self._note(tally, parsed[0], parsed[1], needed)

    def _find_rest(
        self, buf: bytes, start: int, end: int, tally: Tally, needed: set[tuple[int, int]]
    ) -> None:
        """Kinds of request whose last line lies deeper in the buffer: found with C-level scans."""
        detail = self.fmt.detail.findall(buf, start, end)
        rows = list(map(self._fast_of_detail, detail))
        wants: dict[tuple, set[tuple[int, int]]] = {}
        for row in set(rows):
            info = self.info(row)
            if info is not INVALID:
                wants[row] = set(info.needs)
        limit = len(rows)
        while needed and limit > 0:
            wanted = {r for r, w in wants.items() if w & needed}
            i = bytes(map(wanted.__contains__, rows[:limit])).rfind(1)
            if i < 0:
                break
            found = wants[rows[i]] & needed
            for j in range(i, max(i - _SLACK, -1), -1):  # a few earlier lines may carry a later time
                if wants.get(rows[j], set()) & found:
                    row, when = self._split(detail[j])
                    info = self.info(row)
                    if when is not None and info is not INVALID:
                        self._note(tally, info, when, needed)
            needed -= found
            limit = i

    def _walk_head(self, buf: bytes, start: int, stop: int, tally: Tally) -> None:
        for _ in range(_HEAD):
            end = buf.find(b"\n", start, stop)
            end = stop if end < 0 else end
            parsed = self._line(buf, start, end)
            if parsed is not None:
                tally.see_time(parsed[1])
            start = end + 1
            if start >= stop:
                break


def _lasts(cls: int, status: int) -> tuple[int, ...]:
    if cls == HUMAN:
        return (LAST_ANY, LAST_HUMAN, LAST_SUCCESS) if status < 400 else (LAST_ANY, LAST_HUMAN)
    if cls == ERROR:
        return (LAST_ANY, LAST_HUMAN)
    return (LAST_ANY,)
