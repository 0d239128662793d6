"""Usage collection: read what is new in every app's access log and fill `app.usage`."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ronda.agent.host import Host
from ronda.agent.host.base import HostError
from ronda.agent.usage import files
from ronda.agent.usage.classify import Classifier
from ronda.agent.usage.delta import UsageMark, applies
from ronda.agent.usage.formats import FormatError, LogFormat, parse_definition
from ronda.agent.usage.options import UsageOptions
from ronda.agent.usage.parse import ChunkParser
from ronda.agent.usage.report import LogStatus, build_usage
from ronda.agent.usage.routing import Router
from ronda.agent.usage.state import Batch, FileEntry, UsageState
from ronda.agent.usage.tally import Tally
from ronda.model import App, SourceError

SOURCE = "usage"
STATE_FILE = "usage.sqlite"
_FLUSH_ENTRIES = 30_000  # tally size (distinct days, clients...) that forces a write to the state
_FORGET_FILES_AFTER = 30 * 86400
_MAX_LINE = 1 << 20  # longer "lines" are not log lines: counted as one unparsed line each

Progress = Callable[[int, int], None]


@dataclass
class ScanStats:
    bytes_read: int = 0  # log content parsed in this scan
    head_bytes: int = 0  # bytes read only to fingerprint files
    lines: int = 0
    lean_lines: int = 0  # lines read by the lean path (the rest by the general one)
    files_read: int = 0
    files_skipped: int = 0  # rotated or unchanged files with nothing new


@dataclass
class LogGroup:
    """One log file (and its rotations) with the apps counted from it."""

    path: str
    kind: str
    format_name: str
    apps: list[App] = field(default_factory=list)
    fmt: LogFormat | None = None
    status: LogStatus = field(default_factory=LogStatus)
    candidates: list[files.Candidate] = field(default_factory=list)


class UsageCollector:
    def __init__(
        self,
        host: Host,
        apps: list[App],
        log_formats: dict[str, str],
        state_dir: Path,
        options: UsageOptions | None = None,
        progress: Progress | None = None,
        since: UsageMark | None = None,
    ) -> None:
        """`since`: fill each app's daily usage with only the days changed after that mark, where it
        applies to this state (ronda.agent.usage.delta); otherwise with every day."""
        self.host = host
        self.apps = apps
        self.log_formats = log_formats
        self.state_dir = Path(state_dir)
        self.options = options or UsageOptions()
        self.progress = progress
        self.since = since
        self.mark: UsageMark | None = None  # where the state stood when the days were read (after run)
        self.errors: list[SourceError] = []
        self.stats = ScanStats()
        self._done = 0
        self._total = 0

    @property
    def changed_only(self) -> bool:
        """After run: whether the apps' daily usage holds only the days changed since `since`."""
        return applies(self.since, self.mark)

    def error(self, message: str, path: str = "") -> None:
        self.errors.append(SourceError(source=SOURCE, path=path, message=message))

    def run(self) -> list[SourceError]:
        state = self._open_state()
        try:
            groups, counted_from = self._plan()
            classifier = Classifier(self.options)
            for group in groups.values():
                self._find_files(group, state)
            if self.progress:
                self.progress(0, self._total)
            for group in groups.values():
                if group.fmt is not None and group.candidates:
                    self._read_group(group, state, classifier)
            if self.options.retention_days:
                cutoff = time.gmtime(time.time() - self.options.retention_days * 86400)
                state.prune(time.strftime("%Y-%m-%d", cutoff))
            statuses = {path: g.status for path, g in groups.items()}
            self.mark = UsageMark(f"{state.id}/{self.options.scanner_threshold}", state.seal())
            since = self.since.generation if self.changed_only and self.since else None
            for app in self.apps:
                app.usage = build_usage(state, app, counted_from.get(id(app)), statuses, self.options, since)
        finally:
            state.close()
        return self.errors

    # -- planning -----------------------------------------------------------------
    def _open_state(self) -> UsageState:
        try:
            return UsageState(self.state_dir / STATE_FILE)
        except (sqlite3.Error, OSError) as e:  # keep going, without memory of earlier scans
            self.error(
                f"cannot use the usage state ({type(e).__name__}: {e}); counting this scan only",
                str(self.state_dir / STATE_FILE),
            )
            return UsageState(":memory:")

    def _format(self, kind: str, name: str) -> LogFormat:
        name = name or ("json" if kind == "caddy" else "combined")
        return parse_definition(kind, name, self.log_formats.get(f"{kind}:{name}"))

    def _plan(self) -> tuple[dict[str, LogGroup], dict[int, tuple[str, int]]]:
        """Each app is counted from one of its logs (a server writes every request to all of them)."""
        groups: dict[str, LogGroup] = {}
        counted_from: dict[int, tuple[str, int]] = {}
        for app in self.apps:
            best: tuple[int, int, str, str] | None = None
            for order, ref in enumerate(app.access_logs):
                if not ref.path:
                    continue
                path = self._real(ref.path)
                score = 0
                if self.host.exists(path):
                    score += 4
                try:
                    fmt = self._format(app.kind, ref.format)
                    score += 2 + ("ua" in fmt.roles) + ("status" in fmt.roles)
                except FormatError:
                    pass
                if best is None or score > best[0]:
                    best = (score, order, path, ref.format)
            if best is None:
                continue
            _, ref_index, path, format_name = best
            group = groups.get(path)
            if group is None:
                group = groups[path] = LogGroup(path, app.kind, format_name or "combined")
                try:
                    group.fmt = self._format(app.kind, format_name)
                except FormatError as e:
                    group.status.set("unknown-format", str(e))
                    self.error(str(e), path)
            group.apps.append(app)
            counted_from[id(app)] = (path, ref_index)
        return groups, counted_from

    def _real(self, path: str) -> str:
        try:
            return self.host.realpath(path) if self.host.exists(path) else path
        except HostError:
            return path

    def _find_files(self, group: LogGroup, state: UsageState) -> None:
        try:
            group.candidates = files.candidates(self.host, group.path)
        except HostError as e:
            group.status.set("unreadable", str(e))
            self.error(f"cannot list the log's directory: {e}", group.path)
            return
        if not group.candidates:
            group.status.set("missing", "the log file does not exist")
            return
        if group.fmt is None:
            return
        entries = state.files(group.path)
        for cand in group.candidates:
            entry = next(
                (e for e in entries if e.done and (e.dev, e.ino, e.size, e.mtime) == cand.identity), None
            )
            if entry is None:
                known = next((e for e in entries if (e.dev, e.ino) == cand.identity[:2]), None)
                start = (
                    known.offset if known and not cand.compression and known.offset <= cand.stat.size else 0
                )
                self._total += max(cand.stat.size - start, 0)

    # -- reading --------------------------------------------------------------------
    def _read_group(self, group: LogGroup, state: UsageState, classifier: Classifier) -> None:
        assert group.fmt is not None
        router = Router(group.apps, group.fmt.has_vhost)
        if not router.split:
            group.status.shared = True
        compiled = group.fmt.compile(router.prefixes, list(self.options.monitor_paths))
        parser = ChunkParser(compiled, router, classifier, lean=self.options.lean_regex)
        now = int(time.time())
        entries = state.files(group.path)
        readable = 0
        for cand in group.candidates:
            try:
                self._read_file(group, cand, entries, state, parser, now)
                readable += 1
            except HostError as e:
                group.status.unreadable.append(cand.path)
                self.error(f"cannot read log: {e}", cand.path)
        if readable:
            group.status.read = True
            state.mark_read(group.path, now)
        elif group.status.unreadable:
            group.status.set("unreadable", f"{len(group.status.unreadable)} file(s) could not be read")
        state.forget_files(group.path, now - _FORGET_FILES_AFTER)

    def _match(self, cand: files.Candidate, head: bytes, entries: list[FileEntry]) -> FileEntry | None:
        """The state entry for this content: same first bytes, preferring the same inode."""
        matches = [
            e for e in entries if 0 < e.fp_len <= len(head) and files.fingerprint(head[: e.fp_len]) == e.fp
        ]
        matches.sort(key=lambda e: ((e.dev, e.ino) == cand.identity[:2], e.offset), reverse=True)
        return matches[0] if matches else None

    def _read_file(
        self,
        group: LogGroup,
        cand: files.Candidate,
        entries: list[FileEntry],
        state: UsageState,
        parser: ChunkParser,
        now: int,
    ) -> None:
        host = self.host
        unchanged = next(
            (e for e in entries if e.done and (e.dev, e.ino, e.size, e.mtime) == cand.identity), None
        )
        if unchanged is not None:
            unchanged.seen, unchanged.path = now, cand.path
            state.touch(unchanged)
            self.stats.files_skipped += 1
            return
        head = files.read_head(host, cand)
        self.stats.head_bytes += len(head)
        if not head:
            return
        entry = self._match(cand, head, entries)
        if entry is None:
            entry = FileEntry(0, group.path, cand.path, 0, 0, 0, 0.0, 0, "", 0, False, now)
            entries.append(entry)
        size = files.content_size(host, cand)
        entry.dev, entry.ino, entry.size, entry.mtime = cand.identity
        entry.path, entry.seen = cand.path, now
        entry.fp_len, entry.fp = len(head), files.fingerprint(head)
        if size is not None and entry.offset >= size:
            entry.done = True
            self._flush(group, parser, Tally(), entry, state)
            self.stats.files_skipped += 1
            return
        self.stats.files_read += 1
        self._stream(group, cand, entry, state, parser)

    def _stream(
        self, group: LogGroup, cand: files.Candidate, entry: FileEntry, state: UsageState, parser: ChunkParser
    ) -> None:
        tally = Tally()
        chunk = self.options.chunk_bytes
        rest = b""
        first = entry.offset == 0
        since_flush = 0
        position = entry.offset if not cand.compression else 0
        with files.open_content(self.host, cand) as stream:
            for block, raw_position in files.chunks(stream, entry.offset, chunk):
                self._advance(raw_position - position)
                position = raw_position
                start = 0
                if rest:  # complete the line the previous block ended in
                    nl = block.find(b"\n")
                    if nl < 0 and len(rest) + len(block) < max(8 * chunk, _MAX_LINE):
                        rest += block
                        continue
                    # (a "line" longer than that is no log line: it is counted as one unparsed line)
                    start = len(block) if nl < 0 else nl + 1
                    line = rest + block[:start]
                    parser.feed(line, tally, first)
                    first, rest = False, b""
                    entry.offset += len(line)
                    since_flush += len(line)
                cut = block.rfind(b"\n", start) + 1
                if cut > start:
                    parser.feed(block, tally, first, start, cut)
                    first = False
                    entry.offset += cut - start
                    since_flush += cut - start
                rest = block[max(cut, start) :]
                if since_flush >= self.options.flush_bytes or tally.size() >= _FLUSH_ENTRIES:
                    self.stats.bytes_read += since_flush
                    self._flush(group, parser, tally, entry, state)
                    tally, since_flush = Tally(), 0
        if rest and not cand.live:
            # the last line of a rotated file will never be completed
            parser.feed(rest, tally, first)
            entry.offset += len(rest)
            since_flush += len(rest)
            rest = b""
        self.stats.bytes_read += since_flush
        entry.done = not rest or not cand.live
        self._flush(group, parser, tally, entry, state)

    def _advance(self, delta: int) -> None:
        if delta > 0:
            self._done += delta
            if self.progress:
                self.progress(min(self._done, self._total), self._total)

    def _flush(
        self, group: LogGroup, parser: ChunkParser, tally: Tally, entry: FileEntry, state: UsageState
    ) -> None:
        keys = [app.key for app in group.apps]
        batch = Batch(
            log=group.path,
            daily=[],
            clients={},
            rejects=[],
            last=[],
            app_logs=[],
            oldest=tally.oldest,
            newest=tally.newest,
            lines=tally.lines,
            unparsed=tally.unparsed,
            file=entry,
        )
        for (app, day), (human, bot, monitor, error) in tally.daily.items():
            batch.daily.append((keys[app], day, human, bot, monitor, error))
        for (apps, day), ids in parser.client_days(tally.clients).items():
            for app in apps:
                key = (keys[app], day)
                batch.clients[key] = batch.clients[key] | ids if key in batch.clients else ids
        batch.rejects = [
            (keys[app], day, client, n)
            for (apps, day, client), n in parser.rejects(tally.rejects).items()
            for app in apps
        ]
        batch.last = [(keys[app], kind, at) for (app, kind), at in tally.last.items()]
        batch.app_logs = [
            (key, tally.oldest, tally.newest, tally.app_lines.get(i, 0)) for i, key in enumerate(keys)
        ]
        state.write(batch)
        self.stats.lines += tally.lines
        self.stats.lean_lines += tally.lean_lines
        group.status.unparsed += tally.unparsed


def collect_usage(
    host: Host,
    apps: list[App],
    log_formats: dict[str, str],
    state_dir: Path,
    options: UsageOptions | None = None,
    progress: Progress | None = None,
) -> list[SourceError]:
    """Fill `app.usage` for every app from its access logs; returns what could not be read."""
    return UsageCollector(host, apps, log_formats, state_dir, options, progress).run()
