"""One way to name an app in every command (explain, decide, inventory link...).

What an operator types is tried as, in this order:

1. a declared app id (`APP-003`, any case);
2. a subject as ronda stores it (`web-dinkes/nginx:simpus.example:80/`);
3. `HOST/APP_KEY`, HOST an agent id or a host name;
4. the bare `APP_KEY`, when one host has it (else the hosts to choose from);
5. a URL or domain: every app that serves it, front and back, each with its role;
6. a fragment of a declared or served name (`simpus`), when it names one app (else the matches).

A discovered app answers as the declared app it matched, when exactly one did; else as its own
subject, AGENT/APP_KEY. Every list ronda prints shows a name this accepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ronda.collector.reconcile.queries import like
from ronda.collector.reconcile.served import serving
from ronda.collector.store import Store
from ronda.errors import InputError

SHOWN_CHOICES = 15


class NotFound(InputError):
    """Nothing, or more than one thing, answers to the name."""


@dataclass(frozen=True)
class Found:
    subject: str  # declared app id, or AGENT/APP_KEY
    app_id: str | None = None
    agent_id: str | None = None
    app_key: str | None = None
    role: str = ""  # for a URL: what the app does for it (front, backend behind X, serves it)
    name: str = ""  # what to show beside it in a list of choices
    app: str = ""  # the discovered app as an operator types it: HOST/APP_KEY

    @property
    def typed(self) -> str:
        """The shortest name that names the subject: its declared id, else HOST/APP_KEY."""
        return self.app_id or self.app or self.subject


@dataclass(frozen=True)
class Named:
    """What a text names: the rule that found it (id, subject, host-key, key, url, name) and the apps."""

    rule: str
    found: list[Found]

    def subjects(self) -> list[Found]:
        """One Found per subject, in order (a declared app serving a URL as front and back is one)."""
        return list({f.subject: f for f in reversed(self.found)}.values())[::-1]


def _discovered(store: Store, where: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    return store.query(
        "SELECT p.agent_id, p.app_key, p.present, h.hostname, p.server_names, "
        "(SELECT json_group_array(m.app_id) FROM matches m WHERE m.agent_id = p.agent_id "
        " AND m.app_key = p.app_key) AS declared, "
        "(SELECT i.name FROM matches m JOIN inventory i USING (app_id) WHERE m.agent_id = p.agent_id "
        " AND m.app_key = p.app_key) AS declared_name "
        f"FROM apps p LEFT JOIN hosts h USING (agent_id) WHERE {where} "
        "ORDER BY p.present DESC, h.hostname, p.agent_id, p.app_key",
        params,
    )


def _as_found(row: dict[str, Any], role: str = "") -> Found:
    """A discovered app as the subject it belongs to."""
    declared = json.loads(row["declared"] or "[]")
    handle = f"{row['agent_id']}/{row['app_key']}"
    app = f"{row['hostname'] or row['agent_id']}/{row['app_key']}"
    if len(declared) == 1:
        return Found(
            declared[0], declared[0], row["agent_id"], row["app_key"], role, row["declared_name"], app
        )
    names = json.loads(row["server_names"] or "[]")
    label = f"undeclared: {names[0] if names else '_'}" + ("" if row["present"] else " (gone)")
    return Found(handle, None, row["agent_id"], row["app_key"], role, label, app)


def _present_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    present = [r for r in rows if r["present"]]
    return present or rows


def name_app(store: Store, text: str) -> Named:
    """Every app `text` names, by the first rule that finds any (see the module docstring)."""
    text = text.strip()
    rows = store.query("SELECT app_id, name FROM inventory WHERE lower(app_id) = lower(?)", (text,))
    if rows:
        return Named("id", [Found(rows[0]["app_id"], rows[0]["app_id"], name=rows[0]["name"])])
    rows = store.query(
        "SELECT subject, app_id, agent_id, app_key, name FROM verdicts WHERE subject = ?", (text,)
    )
    if rows:
        r = rows[0]
        return Named(
            "subject", [Found(r["subject"], r["app_id"], r["agent_id"], r["app_key"], name=r["name"])]
        )
    host, _, key = text.partition("/")
    if key:
        found = _discovered(
            store,
            "(p.agent_id = ? OR lower(h.hostname) = lower(?) OR lower(h.fqdn) = lower(?)) AND p.app_key = ?",
            (host, host, host, key),
        )
        if found:
            return Named("host-key", [_as_found(r) for r in _present_first(found)])
    found = _discovered(store, "p.app_key = ?", (text,))
    if found:
        return Named("key", [_as_found(r) for r in _present_first(found)])
    by_url = [_served(store, s.app.agent_id, s.app.app_key, s.role) for s in serving(store, text)]
    declared = store.query(
        "SELECT app_id, name FROM inventory WHERE withdrawn_at IS NULL AND urls LIKE ? ESCAPE '\\'",
        (like(f'"{text}"'),),
    )
    running = {f.app_id for f in by_url}
    by_url += [
        Found(r["app_id"], r["app_id"], role="declared here, runs on no host ronda covers", name=r["name"])
        for r in declared
        if r["app_id"] not in running
    ]
    if by_url:
        return Named("url", by_url)
    return Named("name", _by_fragment(store, text))


def _served(store: Store, agent_id: str, app_key: str, role: str) -> Found:
    return _as_found(_discovered(store, "p.agent_id = ? AND p.app_key = ?", (agent_id, app_key))[0], role)


def _by_fragment(store: Store, text: str) -> list[Found]:
    """Declared apps whose name or id holds `text`, and present apps whose names or key do, by subject."""
    fragment = like(text.lower())
    declared = [
        Found(r["app_id"], r["app_id"], name=r["name"])
        for r in store.query(
            "SELECT app_id, name FROM inventory WHERE withdrawn_at IS NULL "
            "AND (lower(name) LIKE ? ESCAPE '\\' OR lower(app_id) LIKE ? ESCAPE '\\') ORDER BY app_id",
            (fragment, fragment),
        )
    ]
    served = [
        _as_found(r)
        for r in _discovered(
            store,
            "p.present AND (lower(p.server_names) LIKE ? ESCAPE '\\' OR lower(p.app_key) LIKE ? ESCAPE '\\')",
            (fragment, fragment),
        )
    ]
    return Named("name", declared + served).subjects() if text else []


def _choices(found: list[Found]) -> str:
    width = max(len(f.typed) for f in found[:SHOWN_CHOICES])
    lines = [
        f"  {f.typed.ljust(width)}  " + "; ".join(x for x in (f.role, f.name) if x)
        for f in found[:SHOWN_CHOICES]
    ]
    if len(found) > SHOWN_CHOICES:
        lines.append(f"  ... and {len(found) - SHOWN_CHOICES} more")
    return "\n".join(lines)


def find_subjects(store: Store, text: str) -> Named:
    """The subjects `text` names; NotFound when none. A URL may name several (front and back)."""
    named = name_app(store, text)
    if not named.found:
        raise NotFound(
            f"no app {text!r}: give a declared app id, HOST/APP_KEY or APP_KEY (see `ronda apps`), "
            "a URL, or part of a name"
        )
    return named


def find_subject(store: Store, text: str) -> Found:
    """The one subject `text` names; NotFound (listing the choices) when it names none or several."""
    named = find_subjects(store, text)
    subjects = named.subjects()
    if len(subjects) == 1:
        return subjects[0]
    what = {
        "url": f"{text!r} is served by {len(subjects)} apps",
        "key": f"{text!r} is an app key on {len(subjects)} hosts",
        "host-key": f"{text!r} names apps on {len(subjects)} hosts",
        "name": f"{text!r} is part of the names of {len(subjects)} apps",
    }[named.rule]
    raise NotFound(f"{what}; name one of them:\n{_choices(subjects)}")


def find_discovered(store: Store, text: str) -> Found:
    """One discovered app (what a pin ties a declared app to): HOST/APP_KEY, APP_KEY, a URL, a name."""
    named = find_subjects(store, text)
    apps = [f for f in named.found if f.agent_id is not None]
    apps = list({(f.agent_id, f.app_key): f for f in apps}.values())
    if len(apps) == 1:
        return apps[0]
    if not apps:
        raise NotFound(
            f"{text!r} is a declared app, not a discovered one: give HOST/APP_KEY (see `ronda apps`)"
        )
    choices = [Found(f.app, role=f.role, name=f.name) for f in apps]
    raise NotFound(f"{text!r} names {len(apps)} discovered apps; name one of them:\n{_choices(choices)}")
