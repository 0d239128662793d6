"""Reading reconciliation's inputs from the store: the declared inventory, the
present apps with their usage windows, hosts, listeners, pins, decisions and
the network findings."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from ronda.collector.inventory.db import declared_apps
from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.model import (
    Decision,
    DiscoveredApp,
    HostInfo,
    Inputs,
    Listen,
    ListenerInfo,
    Pin,
)
from ronda.collector.reconcile.schema import HAS_END_OF_SUPPORT, IS_DEFAULT_SERVER
from ronda.collector.reconcile.urls import host_key, parse_endpoint
from ronda.collector.scans.reconcile_hook import network_findings_for
from ronda.collector.store import Store

Windows = dict[tuple[str, str], tuple[int, int, int]]


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


def _humans(since: str, before: str = "") -> str:
    """SQL: the human requests of app `p` on the days from :since (to before :before), from its earlier
    days (one range of its key) and its newest day `l`."""
    upto = f" AND d.date < :{before}" if before else ""
    newest = f"l.date >= :{since}" + (f" AND l.date < :{before}" if before else "")
    return (
        f"ifnull((SELECT sum(d.human) FROM app_usage_days d WHERE d.agent_id = p.agent_id "
        f"AND d.app_key = p.app_key AND d.date >= :{since}{upto}), 0) + iif({newest}, l.human, 0)"
    )


# One JSON document, not a row per app: SQLite makes it in one step, without the GIL, so on a thread of
# its own it sums while the rest is read (fetching 60,000 rows would take the GIL back for each one).
_WINDOWS = f"""
    SELECT json_group_array(json_array(
        p.agent_id, p.app_key, {_humans("window")}, {_humans("recent")}, {_humans("previous", "recent")}))
    FROM apps p LEFT JOIN app_usage_latest l ON l.agent_id = p.agent_id AND l.app_key = p.app_key
    WHERE p.present AND p.last_human_request >= :earliest"""


def usage_windows(conn: sqlite3.Connection, config: ReconcileConfig, now: datetime) -> Windows:
    """(agent, app) -> (human requests in the idle window, in the last trend_days, in the trend_days before).

    Only apps with a human request inside the longest window are summed: for the others every count is
    zero by definition. Each sum reads one range of the app's earlier days and adds its newest day (the
    view app_usage_daily would be scanned whole: SQLite does not push a join term into a UNION ALL).
    """
    window = (now - timedelta(days=config.idle_days - 1)).strftime("%Y-%m-%d")
    recent = (now - timedelta(days=config.trend_days - 1)).strftime("%Y-%m-%d")
    previous = (now - timedelta(days=2 * config.trend_days - 1)).strftime("%Y-%m-%d")
    (document,) = conn.execute(
        _WINDOWS,
        {"window": window, "recent": recent, "previous": previous, "earliest": min(window, previous)},
    ).fetchone()
    return {(agent, app): (w, r, p) for agent, app, w, r, p in json.loads(document)}


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


_APPS = """
    SELECT agent_id, app_key, kind, server_names, listen, path_prefix, root, upstream,
           CASE WHEN upstream != '' THEN json_extract(detail, '$.labels.upstream_servers') END,
           parent_key, framework, framework_version,
           CASE WHEN framework = 'redirect' THEN json_extract(detail, '$.labels.redirect') END,
           coverage, coverage_start, last_request, last_human_request,
           CASE WHEN upstream != '' THEN json_extract(detail, '$.labels.host_header') END
    FROM apps WHERE present"""
# Each read through its index of migration 46 (the term must stay verbatim) or the apps' key.
_DEFAULT_SERVERS = f"""SELECT agent_id, app_key, json_extract(detail, '$.listen') FROM apps
    WHERE present AND {IS_DEFAULT_SERVER}"""
_ADDRESSED = """SELECT agent_id, app_key, json_extract(detail, '$.listen') FROM apps
    WHERE present AND agent_id IN (SELECT value FROM json_each(?))"""
_END_OF_SUPPORT = f"""SELECT agent_id, app_key, json_extract(detail, '$.framework.end_of_support') FROM apps
    WHERE present AND {HAS_END_OF_SUPPORT}"""


def _present_apps(store: Store, full_listen: set[str]) -> list[DiscoveredApp]:
    """Present apps from their columns. The app's whole JSON (its `detail`, ~1 KiB each) is read only
    where a rule needs it: upstream block servers and Host headers of proxies, redirect targets, ends of
    support, and listen flags (default_server) of default servers and on the hosts that declared addresses
    point at. Of every other app's listens, all flags but `ssl` are false: its `listen` column says all."""
    out = []
    with store.reading() as conn:
        listens = dict(_keyed(conn.execute(_DEFAULT_SERVERS)))
        if full_listen:
            listens.update(_keyed(conn.execute(_ADDRESSED, (json.dumps(sorted(full_listen)),))))
        ends = dict(_keyed(conn.execute(_END_OF_SUPPORT)))
        for row in conn.execute(_APPS):
            (
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
                host_header,
            ) = row
            # Everything read about the app, as one text: its subject's input checksum starts from it.
            fingerprint = "\x1e".join(map(str, row))
            key = (agent_id, app_key)
            listen_full, end_of_support = listens.get(key), ends.get(key, "")
            if listen_full or end_of_support:
                fingerprint += f"\x1e{listen_full}\x1e{end_of_support}"
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
                    end_of_support=end_of_support,
                    host_header=host_header or "",
                    fingerprint=fingerprint,
                )
            )
    return out


def _keyed(rows: Iterable[tuple[str, str, str | None]]) -> Iterator[tuple[tuple[str, str], str]]:
    """(agent, app, value) rows as ((agent, app), value), leaving out empty values."""
    return (((agent_id, app_key), value) for agent_id, app_key, value in rows if value)


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


def _windows_apart(path: str, config: ReconcileConfig, now: datetime) -> Windows:
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA query_only = ON")
        return usage_windows(conn, config, now)
    finally:
        conn.close()


def load_inputs(store: Store, config: ReconcileConfig, now: datetime) -> Inputs:
    """Everything a run reads; the apps' usage windows are those of `now` and the config's windows.

    The windows are summed on a connection of their own, in a thread, while the rest is read: SQLite sums
    without holding the GIL (see _WINDOWS), so on two cores this takes the time of the longer of the two,
    not of both."""
    with ThreadPoolExecutor(1, thread_name_prefix="ronda-usage-windows") as pool:
        apart = pool.submit(_windows_apart, store.path, config, now) if store.path != ":memory:" else None
        inputs = _read(store, config)
        if apart is None:
            with store.reading() as conn:
                windows = usage_windows(conn, config, now)
        else:
            windows = apart.result()
    for app in inputs.discovered:
        if app.coverage_start:  # with logs read, no daily row on a day means no request that day
            app.human_window, app.human_recent, app.human_previous = windows.get(
                (app.agent_id, app.app_key), (0, 0, 0)
            )
    return inputs


def _read(store: Store, config: ReconcileConfig) -> Inputs:
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
    return Inputs(
        declared=declared,
        discovered=_present_apps(store, _addressed_agents(declared, hosts)),
        hosts=hosts,
        listeners=listeners,
        pins=pins,
        decisions=decisions,
        network_findings=network_findings_for(store, config),
    )
