"""Reconciliation's I/O: read its inputs from the store, run the engine, write
the outcome back (collector.reconcile.save). Running twice on the same data
writes nothing but the run record."""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from ronda.collector.inventory.db import declared_apps
from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.engine import Plan, plan
from ronda.collector.reconcile.model import (
    Decision,
    DiscoveredApp,
    HostInfo,
    Inputs,
    Listen,
    ListenerInfo,
    Pin,
    iso,
)
from ronda.collector.reconcile.save import Prefetch, RunSummary, StaleSkip, save_outcome
from ronda.collector.reconcile.split import Split
from ronda.collector.reconcile.urls import host_key, parse_endpoint
from ronda.collector.store import Store


def _listen(text: str | None) -> tuple[Listen, ...]:
    return tuple(
        Listen(
            str(x.get("address", "*")),
            int(x.get("port", 0)),
            bool(x.get("tls", False)),
            bool(x.get("default_server", False)),
        )
        for x in json.loads(text or "[]")
    )


def usage_windows(
    conn: sqlite3.Connection, config: ReconcileConfig, now: datetime
) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(agent, app) -> (human requests in the idle window, in the last trend_days, in the trend_days before).

    Only apps with a human request inside the longest window are summed: for the others every count is
    zero by definition. Each sum is one seek into the app's earlier days, plus its newest day, joined (the
    view app_usage_daily would be scanned whole: SQLite does not push a correlated term into a UNION ALL).
    The answer comes back as one JSON text that SQLite builds without the GIL: a thread running this does
    not take turns, row by row, with the one reading the apps.
    """
    window = (now - timedelta(days=config.idle_days - 1)).strftime("%Y-%m-%d")
    recent = (now - timedelta(days=config.trend_days - 1)).strftime("%Y-%m-%d")
    previous = (now - timedelta(days=2 * config.trend_days - 1)).strftime("%Y-%m-%d")
    earliest = min(window, previous)
    found = conn.execute(
        """
        SELECT json_group_array(json_array(p.agent_id, p.app_key, (
            SELECT printf('%d %d %d',
                          total(CASE WHEN d.date >= :window THEN d.human END) + iif(l.date >= :window, l.human, 0),
                          total(CASE WHEN d.date >= :recent THEN d.human END) + iif(l.date >= :recent, l.human, 0),
                          total(CASE WHEN d.date >= :previous THEN d.human END) + iif(l.date >= :previous, l.human, 0))
            FROM app_usage_days d
            WHERE d.agent_id = p.agent_id AND d.app_key = p.app_key AND d.date >= :earliest)))
        FROM apps p LEFT JOIN app_usage_latest l ON l.agent_id = p.agent_id AND l.app_key = p.app_key
        WHERE p.present AND p.last_human_request >= :earliest""",
        {"window": window, "recent": recent, "previous": previous, "earliest": earliest},
    ).fetchone()
    out = {}
    for agent_id, app_key, sums in json.loads(found[0]):
        a, b, c = sums.split()
        out[(agent_id, app_key)] = (int(a), int(b), int(c) - int(b))  # the trend window before the recent one
    return out


Windows = dict[tuple[str, str], tuple[int, int, int]]


def _windows(store: Store, config: ReconcileConfig, now: datetime) -> Callable[[], Windows]:
    """usage_windows, begun at once on a second connection in a thread; call the result for the answer."""
    if store.path == ":memory:":
        with store.reading() as conn:
            found = usage_windows(conn, config, now)
        return lambda: found
    answer: list = []

    def sums() -> None:
        try:
            conn = sqlite3.connect(store.path, timeout=30)
            try:
                answer.append(usage_windows(conn, config, now))
            finally:
                conn.close()
        except BaseException as e:  # noqa: BLE001 (raised by the caller)
            answer.append(e)

    thread = threading.Thread(target=sums, name="ronda-usage-windows")
    thread.start()

    def wait() -> Windows:
        thread.join()
        if isinstance(answer[0], BaseException):
            raise answer[0]
        return answer[0]

    return wait


def load_discovered(
    store: Store,
    config: ReconcileConfig,
    now: datetime,
    full_listen: set[str] = frozenset(),  # type: ignore[assignment]
    windows: Callable[[], Windows] | None = None,
) -> list[DiscoveredApp]:
    """Present apps with their usage windows (`windows`: begun by the caller with _windows). The sums
    run on a second connection in a thread while this one reads the apps: both cores are busy."""
    windows = windows or _windows(store, config, now)
    apps = _present_apps(store, set(full_listen))
    found = windows()
    for app in apps:
        if app.coverage_start:  # with logs read, no daily row on a day means no request that day
            app.human_window, app.human_recent, app.human_previous = found.get(
                (app.agent_id, app.app_key), (0, 0, 0)
            )
    return apps


_LISTEN_CACHE: dict[str, tuple[Listen, ...]] = {}


def _names(text: str) -> tuple[str, ...]:
    """apps.server_names (a JSON list); one plain name, the usual case, without the JSON parser."""
    if text.startswith('["') and text.endswith('"]') and '"' not in text[2:-2] and "\\" not in text:
        return (text[2:-2],)
    return tuple(json.loads(text))


def _listen_texts(text: str | None) -> tuple[Listen, ...]:
    """The apps.listen column (`10.0.0.5:443 ssl`, `[::]:80`): everything but the default_server flag.
    A fleet repeats a few dozen distinct values, so each is parsed once."""
    text = text or "[]"
    found = _LISTEN_CACHE.get(text)
    if found is None:
        found = _LISTEN_CACHE[text] = _parse_listen_texts(text)
    return found


def _parse_listen_texts(text: str) -> tuple[Listen, ...]:
    out = []
    for item in json.loads(text):
        spec, _, flag = item.partition(" ")
        if spec.startswith("["):
            address, _, port = spec[1:].partition("]")
            port = port.lstrip(":")
        else:
            address, sep, port = spec.rpartition(":")
            if not sep:
                address, port = spec, ""
        out.append(Listen(address, int(port) if port.isdigit() else 0, flag == "ssl", False))
    return tuple(out)


# The app's stored state as one text, built by SQLite (the input checksum of reconcile starts from it).
_FINGERPRINT = " || char(30) || ".join(
    f"ifnull({c}, '')"
    for c in (
        "agent_id",
        "app_key",
        "kind",
        "server_names",
        "listen",
        "path_prefix",
        "root",
        "upstream",
        "parent_key",
        "framework",
        "framework_version",
        "coverage",
        "coverage_start",
        "last_request",
        "last_human_request",
    )
)


def _present_apps(store: Store, full_listen: set[str]) -> list[DiscoveredApp]:
    """Present apps from their columns. The app's whole JSON (its `detail`, ~1 KiB each) is read only
    where a rule needs it: upstream block servers and Host headers of proxies, redirect targets, and
    listen flags (default_server) of default servers and on the hosts that declared addresses point at."""
    out = []
    with store.reading() as conn:
        cursor = conn.execute(
            """
            SELECT agent_id, app_key, kind, server_names, listen, path_prefix, root, upstream,
                   CASE WHEN upstream != '' THEN json_extract(detail, '$.labels.upstream_servers') END,
                   parent_key, framework, framework_version,
                   CASE WHEN framework = 'redirect' THEN json_extract(detail, '$.labels.redirect') END,
                   coverage, coverage_start, last_request, last_human_request,
                   CASE WHEN agent_id IN (SELECT value FROM json_each(:agents))
                             OR instr(detail, '"default_server"')
                        THEN json_extract(detail, '$.listen') END,
                   json_extract(detail, '$.framework.end_of_support'),
                   CASE WHEN upstream != '' THEN json_extract(detail, '$.labels.host_header') END,
                   """
            + _FINGERPRINT
            + """
            FROM apps WHERE present""",
            {"agents": json.dumps(sorted(full_listen))},
        )
        for (
            agent_id,
            app_key,
            kind,
            names,
            listen,
            prefix,
            root,
            upstream,
            servers,
            parent,
            fw,
            fw_version,
            redirect,
            coverage,
            coverage_start,
            last_request,
            last_human,
            listen_full,
            end_of_support,
            host_header,
            stored,
        ) in cursor:
            out.append(
                DiscoveredApp(
                    agent_id,
                    app_key,
                    kind,
                    _names(names),
                    _listen(listen_full) if listen_full else _listen_texts(listen),
                    prefix or "/",
                    root or "",
                    upstream or "",
                    tuple(servers.split(",")) if servers else (),
                    parent or "",
                    fw or "",
                    fw_version or "",
                    redirect or "",
                    coverage or "",
                    coverage_start,
                    last_request,
                    last_human,
                    end_of_support=end_of_support or "",
                    host_header=host_header or "",
                    fingerprint=f"{stored}\x1e{servers}\x1e{redirect}\x1e{listen_full}\x1e{end_of_support}"
                    f"\x1e{host_header}",
                )
            )
    return out


def _addressed_agents(declared: list[DeclaredApp], hosts: dict[str, HostInfo]) -> set[str]:
    """Hosts that a declared URL names by address or host name: their default servers may be matched."""
    names: dict[str, set[str]] = {}
    for agent_id, host in hosts.items():
        for name in (agent_id, host.hostname, host.fqdn, *host.addresses):
            if name:
                names.setdefault(host_key(name.split("/")[0]), set()).add(agent_id)
    found: set[str] = set()
    for app in declared:
        for url in app.urls:
            try:
                found |= names.get(parse_endpoint(url).key, set())
            except ValueError:
                continue
    return found


def load_inputs(store: Store, config: ReconcileConfig, now: datetime) -> Inputs:
    windows = _windows(store, config, now)  # in the background while the rest is read
    hosts = {}
    for r in store.query(
        "SELECT h.agent_id, h.hostname, h.fqdn, h.addresses, h.interval_seconds, a.last_seen "
        "FROM hosts h JOIN agents a USING (agent_id)"
    ):
        hosts[r["agent_id"]] = HostInfo(
            r["agent_id"],
            r["hostname"] or "",
            r["fqdn"] or "",
            tuple(json.loads(r["addresses"] or "[]")),
            r["last_seen"],
            r["interval_seconds"] or 0,
        )
    listeners = [
        ListenerInfo(
            r["agent_id"],
            r["protocol"],
            r["address"],
            r["port"],
            r["process"] or "",
            tuple(json.loads(r["app_keys"] or "[]")),
            bool(r["public"]),
        )
        for r in store.query("SELECT * FROM listeners")
    ]
    pins = [
        Pin(r["app_id"], r["agent_id"], r["app_key"], r["action"], r["reason"], r["decided_by"])
        for r in store.query("SELECT * FROM inventory_links")
    ]
    decisions = {
        r["subject"]: Decision(
            r["decision"], r["reason"], r["decided_by"], r["decided_at"], r["into_subject"] or ""
        )
        for r in store.query("SELECT * FROM latest_decisions")
    }
    declared = declared_apps(store)
    discovered = load_discovered(store, config, now, _addressed_agents(declared, hosts), windows)
    from ronda.collector.scans.reconcile_hook import network_findings_for

    return Inputs(
        declared=declared,
        discovered=discovered,
        hosts=hosts,
        listeners=listeners,
        pins=pins,
        decisions=decisions,
        network_findings=network_findings_for(store, config),
    )


CACHE_KIB = 262_144  # SQLite page cache during a run: a fleet's findings and verdicts are written in one go


@contextmanager
def _big_cache(store: Store) -> Iterator[None]:
    """A run writes hundreds of thousands of rows in one transaction; with SQLite's default 2 MiB
    cache its B-trees would spill and re-read pages all along."""
    with store.reading() as conn:
        before = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    try:
        yield
    finally:
        with store.reading() as conn:
            conn.execute(f"PRAGMA cache_size = {int(before)}")


class _Checkpoint:
    """While it lives, the store's connection leaves the WAL to grow at commit; `start` copies it into the
    database on a connection of its own, in a thread, while the run's objects are freed (SQLite would
    do it at commit, first: 77,000 pages after a fleet's first run)."""

    def __init__(self, store: Store) -> None:
        self.store, self.thread = store, None
        with store.reading() as conn:
            self.every = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            conn.execute("PRAGMA wal_autocheckpoint = 0")

    def start(self) -> None:
        def copy() -> None:
            conn = sqlite3.connect(self.store.path, timeout=30)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # what is left, SQLite copies later
            finally:
                conn.close()

        if self.store.path != ":memory:":
            self.thread = threading.Thread(target=copy, name="ronda-reconcile-checkpoint")
            self.thread.start()

    def finish(self) -> None:
        if self.thread is not None:
            self.thread.join()
        with self.store.reading() as conn:
            conn.execute(f"PRAGMA wal_autocheckpoint = {int(self.every)}")


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A run allocates millions of small objects and frees nothing until the end: the cyclic collector
    would walk them all again and again (seconds at fleet scale) to find no garbage. Free them before
    leaving: the first allocation after gc.enable() would otherwise walk them all once more."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


SPLIT_SUBJECTS = 20_000  # from this many subjects on, a run works them out in two processes
SHARE = 0.46  # of the subjects, the part the parent works out (it also writes the whole run)


def _split_at(work: Plan, processes: int | None) -> int:
    """Where the second process's subjects start, or 0 for a run in one process. A process forks
    only with no other thread running, and where a second core can take the other part."""
    if processes is None:
        processes = 2 if len(work.subjects) >= SPLIT_SUBJECTS and (os.cpu_count() or 1) > 1 else 1
    if processes < 2 or len(work.subjects) < 2 or not hasattr(os, "fork") or threading.active_count() > 1:
        return 0
    return max(1, round(len(work.subjects) * SHARE))


def run_reconcile(
    store: Store, config: ReconcileConfig, now: datetime | None = None, processes: int | None = None
) -> RunSummary:
    """Read, reconcile, write: what `ronda reconcile` and a schedule run. Idempotent.

    What the previous run left is read alongside the inputs; subjects whose inputs have not changed
    since are not worked out again. Should another run finish in between, this one starts over.
    `processes`: 1 or 2 (default: 2 for a large fleet on a machine with two cores or more)."""
    now = now or datetime.now(UTC)
    for attempt in range(2):
        checkpoint = _Checkpoint(store)
        try:
            with (
                _no_cycle_collection()
            ):  # _attempt's objects are freed on its return, before collection resumes
                summary = _attempt(store, config, now, processes, attempt == 0, checkpoint)
        finally:
            checkpoint.finish()
        if summary is not None:
            return summary
    raise AssertionError("a run without skipped subjects does not raise StaleSkip")


def _attempt(
    store: Store,
    config: ReconcileConfig,
    now: datetime,
    processes: int | None,
    prefetch: bool,
    checkpoint: _Checkpoint,
) -> RunSummary | None:
    """One try at a run; None when another run finished meanwhile (StaleSkip)."""
    reader = Prefetch(store.path) if store.path != ":memory:" and prefetch else None
    if reader is not None:
        reader.start()
    inputs = load_inputs(store, config, now)
    previous = reader.get() if reader is not None else None
    work = plan(inputs, config, now, previous.known() if previous else None)
    start = _split_at(work, processes) if previous is not None else 0
    split = Split(store, work, start, previous, iso(now) or "") if start else None  # type: ignore[arg-type]
    try:
        outcome = split.outcome() if split else work.outcome()
        with _big_cache(store):
            summary = save_outcome(
                store,
                outcome,
                config,
                now,
                len(inputs.declared),
                len(inputs.discovered),
                split.mine(previous) if split else previous,
                split,
            )  # type: ignore[union-attr]
        checkpoint.start()
        return summary
    except StaleSkip:
        return None
    finally:
        if split is not None:
            split.close()


__all__ = ["RunSummary", "load_inputs", "run_reconcile", "save_outcome"]
