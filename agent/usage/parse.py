"""The hot loop: a buffer of log lines in, per-app daily tallies out.

Per buffer, the work per line stays in C: one `findall` of the compiled
format, a transpose into columns, a dict lookup mapping each user agent to its
class, a `Counter` over small "group" tuples (vhost, path bucket, probe, day,
status, agent class) and set/Counter updates of (group, client) pairs for the
requests whose clients matter. Python runs once per distinct group — a few
dozen per buffer — and once per distinct user agent ever seen. Exact times
are read only for the lines that can matter: the last few of each kind of
request (last request, last human request...) and the first lines of a file.
"""
from __future__ import annotations

import calendar
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import compress, repeat

from agent.usage.classify import BOT, ERROR, HUMAN, MONITOR, REJECT, Classifier
from agent.usage.formats import CompiledFormat, month_number
from agent.usage.routing import Router

# Kinds of "last time" tracked per app.
LAST_ANY, LAST_HUMAN, LAST_SUCCESS = range(3)
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
_HUMAN_ROWS = bytes(int(c == HUMAN) for c in _CODE_CLASS)
_REJECT_ROWS = bytes(int(c == REJECT) for c in _CODE_CLASS)
_CACHE_LIMIT = 200_000


@dataclass
class Tally:
    """Counts not yet written to the state. Clients are raw addresses here; the state stores ids."""

    daily: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # human, bot, monitor, error
    # (day, vhost?, prefix?, addr): 403/404 answers per client, and clients of human requests
    rejects: Counter = field(default_factory=Counter)
    clients: set[tuple[bytes, ...]] = field(default_factory=set)
    last: dict[tuple[int, int], int] = field(default_factory=dict)  # (app, LAST_*) -> epoch seconds
    app_lines: Counter = field(default_factory=Counter)
    lines: int = 0
    unparsed: int = 0
    oldest: int | None = None
    newest: int | None = None

    def see_time(self, when: int) -> None:
        if self.oldest is None or when < self.oldest:
            self.oldest = when
        if self.newest is None or when > self.newest:
            self.newest = when

    def size(self) -> int:
        return len(self.daily) + len(self.rejects) + len(self.clients)


def client_id(addr: bytes) -> int:
    """A stable, non-reversible id for a client address: the state never holds addresses."""
    digest = hashlib.blake2b(addr, digest_size=8, person=b"ronda-client").digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass(frozen=True)
class GroupInfo:
    apps: tuple[int, ...]
    day: str
    cls: int
    lasts: tuple[int, ...]


class ChunkParser:
    def __init__(self, fmt: CompiledFormat, router: Router, classifier: Classifier) -> None:
        self.fmt = fmt
        self.router = router
        self.classifier = classifier
        self._pos = {name: i for i, name in enumerate(fmt.fields)}
        self._detail_pos = {name: i for i, name in enumerate(fmt.detail_fields)}
        self._route_fields = tuple(f for f in ("vhost", "prefix") if f in self._pos)
        self._ua_codes: dict[bytes, int] = {}
        self._codes: dict = {}
        # the fields that decide a row's class; the address only when monitor networks are configured
        self._code_fields = ("ua", "status", "probe") + (("addr",) if classifier.networks else ())
        self._days: dict[bytes, str | None] = {}
        self._groups: dict[tuple, GroupInfo | None] = {}

    # -- per distinct value ---------------------------------------------------------
    def group_info(self, group: tuple) -> GroupInfo | None:
        """What a group (day, class code, vhost?, prefix?) means; None if the day is invalid."""
        info = self._groups.get(group, False)
        if info is not False:
            return info
        day = self.day(group[0])
        if day is None:
            info = None
        else:
            code = group[1]
            cls = _CODE_CLASS[code]
            route = dict(zip(self._route_fields, group[2:]))
            info = GroupInfo(self.router.route(route.get("vhost", b""), route.get("prefix", b"")), day, cls,
                             _lasts(cls, code & _STATUS_MASK))
        if len(self._groups) >= _CACHE_LIMIT:
            self._groups.clear()
        self._groups[group] = info
        return info

    def codes(self, columns: list[tuple], pos: dict[str, int]) -> bytes:
        """The class code of each row: agent class | status kind | probe | monitor address bits.

        One lookup per row in a table keyed by the (user agent, status, probe[, address]) tuple;
        the code is computed once per distinct tuple.
        """
        names = [f for f in self._code_fields if f in pos]
        if not names:
            return bytes(len(columns[0]))
        keys = list(zip(*(columns[pos[f]] for f in names))) if len(names) > 1 else columns[pos[names[0]]]
        known = self._codes
        if len(known) >= _CACHE_LIMIT:
            known.clear()
        for key in set(keys).difference(known):
            values = dict(zip(names, key)) if len(names) > 1 else {names[0]: key}
            known[key] = self._code_of(values)
        return bytes(map(known.__getitem__, keys))

    def _code_of(self, values: dict[str, bytes]) -> int:
        code = 0
        if "ua" in values:
            ua = values["ua"]
            code = self._ua_codes.get(ua)
            if code is None:
                if len(self._ua_codes) >= _CACHE_LIMIT:
                    self._ua_codes.clear()
                code = self._ua_codes[ua] = self.classifier.agent_class(ua)
        if values.get("status"):
            code |= _status_code(values["status"])
        if values.get("probe"):
            code |= _PROBE
        if "addr" in values and self.classifier.monitor_address(values["addr"]):
            code |= _MONITOR_ADDR
        return code

    def groups(self, columns: list[tuple], pos: dict[str, int], codes: bytes) -> list[tuple]:
        return list(zip(columns[pos["day"]], codes, *(columns[pos[f]] for f in self._route_fields)))

    def _client_rows(self, entry: tuple) -> tuple[tuple[int, ...], str] | None:
        day = self.day(entry[0])
        if day is None:
            return None
        route = dict(zip(self._route_fields, entry[1:-1]))
        return self.router.route(route.get("vhost", b""), route.get("prefix", b"")), day

    def clients(self, entries: set[tuple[bytes, ...]]) -> list[tuple[tuple[int, ...], str, int]]:
        """Tally.clients as (apps, day, client id)."""
        out = []
        for entry in entries:
            where = self._client_rows(entry)
            if where is not None:
                out.append((*where, client_id(entry[-1])))
        return out

    def rejects(self, counts: Counter) -> list[tuple[tuple[tuple[int, ...], str, int], int]]:
        """Tally.rejects as ((apps, day, client id), count)."""
        out = []
        for entry, n in counts.items():
            where = self._client_rows(entry)
            if where is not None:
                out.append(((*where, client_id(entry[-1])), n))
        return out

    def day(self, raw: bytes) -> str | None:
        day = self._days.get(raw, False)
        if day is False:
            if len(self._days) >= _CACHE_LIMIT:
                self._days.clear()
            day = self._days[raw] = _day(self.fmt.time_kind, raw)
        return day

    # -- the buffer -------------------------------------------------------------
    def feed(self, buf: bytes, tally: Tally, first: bool = False, start: int = 0, end: int | None = None) -> None:
        """Tally every line of `buf[start:end]`, which starts a line and ends at a line end or the file's end.

        Offsets instead of slices: the buffers are large and copying them costs more than parsing.
        """
        end = len(buf) if end is None else end
        if end <= start:
            return
        lines = buf.count(b"\n", start, end) + (0 if buf[end - 1] == 10 else 1)
        rows = self.fmt.fast.findall(buf, start, end)
        if len(rows) != lines:  # a malformed line: the fast regex may have read across it
            rows = self.fmt.safe.findall(buf, start, end)
        tally.lines += lines
        tally.unparsed += lines - len(rows)
        if not rows:
            return
        columns = list(zip(*rows))
        codes = self.codes(columns, self._pos)
        groups = self.groups(columns, self._pos, codes)
        needed: set[tuple[int, int]] = set()
        daily, app_lines = tally.daily, tally.app_lines
        for group, n in Counter(groups).items():
            info = self.group_info(group)
            if info is None:
                tally.unparsed += n
                continue
            for app in info.apps:
                app_lines[app] += n
                needed.update((app, last) for last in info.lasts)
                if info.cls != REJECT:
                    counts = daily.get((app, info.day))
                    if counts is None:
                        counts = daily[(app, info.day)] = [0, 0, 0, 0]
                    counts[_COLUMN[info.cls]] += n
        # Clients of human requests and of 403/404 answers, keyed by what routes and dates them.
        keep = [columns[self._pos["day"]], *(columns[self._pos[f]] for f in self._route_fields)]
        addrs = columns[self._pos["addr"]] if "addr" in self._pos else tuple(repeat(b"", len(rows)))
        keep.append(addrs)
        for table, target in ((_HUMAN_ROWS, tally.clients), (_REJECT_ROWS, tally.rejects)):
            flags = codes.translate(table)
            if 1 in flags:
                target.update(zip(*(compress(c, flags) for c in keep)))
        self._walk_back(buf, start, end, tally, needed)
        if needed:
            self._find_rest(buf, start, end, tally, needed)
        if first:
            self._walk_head(buf, start, end, tally)

    def _line(self, buf: bytes, start: int, end: int) -> tuple[GroupInfo, int] | None:
        m = self.fmt.detail.match(buf, start, end)
        if m is None:
            return None
        columns = [(g,) for g in m.groups()]
        when = self._when(columns, 0)
        info = self.group_info(self.groups(columns, self._detail_pos, self.codes(columns, self._detail_pos))[0])
        return (info, when) if info is not None and when is not None else None

    def _when(self, columns: list[tuple], row: int) -> int | None:
        clock = columns[self._detail_pos["clock"]][row] if "clock" in self._detail_pos else None
        return _epoch(self.fmt.time_kind, columns[self._detail_pos["day"]][row], clock)

    @staticmethod
    def _note(tally: Tally, info: GroupInfo, when: int, needed: set[tuple[int, int]]) -> None:
        tally.see_time(when)
        for app in info.apps:
            for kind in info.lasts:
                needed.discard((app, kind))
                if tally.last.get((app, kind), -1) < when:
                    tally.last[(app, kind)] = when

    def _walk_back(self, buf: bytes, first: int, end: int, tally: Tally, needed: set[tuple[int, int]]) -> None:
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

    def _find_rest(self, buf: bytes, start: int, end: int, tally: Tally, needed: set[tuple[int, int]]) -> None:
        """Kinds of request whose last line lies deeper in the buffer: found with C-level scans."""
        rows = self.fmt.detail.findall(buf, start, end)
        if not rows:
            return
        columns = list(zip(*rows))
        groups = self.groups(columns, self._detail_pos, self.codes(columns, self._detail_pos))
        wants: dict[tuple, set[tuple[int, int]]] = {}
        for group in set(groups):
            info = self.group_info(group)
            if info is not None:
                wants[group] = {(app, kind) for app in info.apps for kind in info.lasts}
        limit = len(groups)
        while needed and limit > 0:
            wanted = {g for g, w in wants.items() if w & needed}
            i = bytes(map(wanted.__contains__, groups[:limit])).rfind(1)
            if i < 0:
                break
            found = wants[groups[i]] & needed
            for j in range(i, max(i - _SLACK, -1), -1):  # a few earlier lines may carry a later time
                if wants.get(groups[j], set()) & found:
                    when = self._when(columns, j)
                    info = self.group_info(groups[j])
                    if when is not None and info is not None:
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


def _day(kind: str, raw: bytes) -> str | None:
    try:
        if kind == "clf":  # 10/Oct/2000
            d, mon, y = raw.decode("ascii").split("/")
            return datetime(int(y), month_number(mon), int(d)).strftime("%Y-%m-%d")
        if kind == "iso8601":
            return datetime.strptime(raw.decode("ascii"), "%Y-%m-%d").strftime("%Y-%m-%d")
        if kind == "epoch":
            return datetime.fromtimestamp(int(raw), timezone.utc).strftime("%Y-%m-%d")
    except (ValueError, KeyError, OverflowError, OSError):
        return None
    return None


def _epoch(kind: str, day_raw: bytes, clock: bytes | None) -> int | None:
    try:
        if kind == "epoch":
            return int(day_raw)
        day = _day(kind, day_raw)
        if day is None or clock is None:
            return None
        y, mo, d = (int(x) for x in day.split("-"))
        text = clock.decode("ascii")
        if kind == "clf":  # 13:55:36 -0700
            hms, zone = text.split(" ")
            offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * 60 * (-1 if zone[0] == "-" else 1)
        else:  # 13:55:36+07:00 or 13:55:36Z
            hms, zone = text[:8], text[8:]
            offset = 0 if zone in ("Z", "") else (int(zone[1:3]) * 60 + int(zone[4:6])) * 60 * (
                -1 if zone[0] == "-" else 1)
        h, mi, s = (int(x) for x in hms.split(":"))
        if h > 23 or mi > 59 or s > 60:
            return None
        return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - offset
    except (ValueError, IndexError):
        return None
