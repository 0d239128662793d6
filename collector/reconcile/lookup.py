"""Turn what an operator types (an app id, HOST/APP_KEY, a URL, a name) into a subject."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ronda.collector.reconcile.urls import host_key, normalize_path, parse_endpoint, path_within
from ronda.collector.store import Store
from ronda.errors import InputError


class NotFound(InputError):
    """Nothing, or more than one thing, answers to the name."""


@dataclass(frozen=True)
class Found:
    subject: str  # declared app id, or AGENT/APP_KEY
    app_id: str | None = None
    agent_id: str | None = None
    app_key: str | None = None


def _discovered(store: Store, where: str, params: tuple) -> list[Found]:
    return [
        Found(f"{r['agent_id']}/{r['app_key']}", None, r["agent_id"], r["app_key"])
        for r in store.query(
            f"SELECT p.agent_id, p.app_key FROM apps p LEFT JOIN hosts h USING (agent_id) "
            f"WHERE {where} ORDER BY p.present DESC, p.agent_id, p.app_key",
            params,
        )
    ]


def find_discovered(store: Store, text: str) -> Found:
    """A discovered app: AGENT/APP_KEY or HOSTNAME/APP_KEY, or a URL one app serves."""
    text = text.strip()
    agent, _, key = text.partition("/")
    if key:
        found = _discovered(
            store, "(p.agent_id = ? OR lower(h.hostname) = lower(?)) AND p.app_key = ?", (agent, agent, key)
        )
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise NotFound(
                f"{text!r} names apps on several hosts with that hostname; use the agent id: "
                + ", ".join(f.subject for f in found)
            )
    by_url = _by_url(store, text)
    if len(by_url) == 1:
        return by_url[0]
    if len(by_url) > 1:
        raise NotFound(
            f"{text!r} is served by several apps; name one as HOST/APP_KEY: "
            + ", ".join(f.subject for f in by_url[:10])
        )
    raise NotFound(f"no discovered app {text!r}; see `ronda apps` for HOST/APP_KEY names")


def _by_url(store: Store, text: str) -> list[Found]:
    try:
        endpoint = parse_endpoint(text)
    except ValueError:
        return []
    rows = store.query(
        "SELECT p.agent_id, p.app_key, p.server_names, p.path_prefix, p.listen FROM apps p "
        "WHERE p.present AND p.server_names LIKE ?",
        (f"%{endpoint.key}%",),
    )
    hits = []
    for r in rows:
        names = {host_key(n) for n in json.loads(r["server_names"])}
        prefix = normalize_path(r["path_prefix"] or "/")
        if endpoint.key in names and path_within(endpoint.path, prefix):
            hits.append((len(prefix), r))
    if not hits:
        return []
    longest = max(h[0] for h in hits)
    chosen = [r for n, r in hits if n == longest]
    if endpoint.explicit_port:
        chosen = [r for r in chosen if f":{endpoint.port}" in r["listen"]] or chosen
    return [Found(f"{r['agent_id']}/{r['app_key']}", None, r["agent_id"], r["app_key"]) for r in chosen]


def find_subject(store: Store, text: str) -> Found:
    """A declared app id, a discovered app, or a URL; the declared app wins when a URL matches both."""
    text = text.strip()
    rows = store.query("SELECT app_id FROM inventory WHERE lower(app_id) = lower(?)", (text,))
    if rows:
        return Found(rows[0]["app_id"], rows[0]["app_id"])
    rows = store.query("SELECT subject, app_id, agent_id, app_key FROM verdicts WHERE subject = ?", (text,))
    if rows:
        r = rows[0]
        return Found(r["subject"], r["app_id"], r["agent_id"], r["app_key"])
    try:
        found = find_discovered(store, text)
    except NotFound:
        found = None
    if found is not None:
        owner = store.query(
            "SELECT app_id FROM matches WHERE agent_id=? AND app_key=?", (found.agent_id, found.app_key)
        )
        if len(owner) == 1:
            return Found(owner[0]["app_id"], owner[0]["app_id"], found.agent_id, found.app_key)
        return found
    named = store.query(
        "SELECT app_id FROM inventory WHERE lower(name) = lower(?) OR urls LIKE ?", (text, f'%"{text}"%')
    )
    if len(named) == 1:
        return Found(named[0]["app_id"], named[0]["app_id"])
    raise NotFound(f"no app {text!r}: give a declared app id, HOST/APP_KEY (see `ronda apps`), or a URL")
