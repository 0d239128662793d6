"""Findings: discrepancies between the declared inventory and what runs.

Each function looks at plain data and returns Finding objects; their
history (first seen, last seen, resolved) is kept by the store.
"""

from __future__ import annotations

import re
from typing import Any

from ronda.collector.reconcile import texts as T
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.hops import has_own_name, hops_to
from ronda.collector.reconcile.index import Index
from ronda.collector.reconcile.model import Clock, DiscoveredApp, Finding, HostInfo, ListenerInfo, Subject

# Declared "frameworks" that are languages or generic: nothing to compare a fingerprint with.
_GENERIC = {
    "",
    "redirect",
    "php",
    "native",
    "phpnative",
    "java",
    "python",
    "node",
    "nodejs",
    "javascript",
    "js",
    "net",
    "aspnet",
    "asp",
    "ruby",
    "go",
    "golang",
    "html",
    "static",
    "proxy",
    "web",
    "lainnya",
    "other",
}
_ALIASES = {
    "ci": "codeigniter",
    "ci3": "codeigniter",
    "ci4": "codeigniter",
    "wp": "wordpress",
    "express": "expressjs",
    "yii2": "yii",
    "laravelframework": "laravel",
    "symfonyframework": "symfony",
}


def label(app: DiscoveredApp) -> str:
    name = app.server_names[0] if app.server_names else "_"
    ports = sorted(app.ports)
    port = f":{ports[0]}" if ports and ports[0] not in (80, 443) else ""
    return f"{name}{port}{'' if app.prefix == '/' else app.prefix}"


def _host(app: DiscoveredApp, hosts: dict[str, HostInfo]) -> str:
    info = hosts.get(app.agent_id)
    return info.hostname if info and info.hostname else app.agent_id


def _on(app: DiscoveredApp, finding: Finding) -> Finding:
    finding.agent_id, finding.app_key = app.agent_id, app.app_key
    return finding


def app_is_idle(a: DiscoveredApp, clock: Clock) -> bool:
    """No human use inside the window, and logs that cover the whole window."""
    start = clock.window_start
    return (
        a.coverage in ("full", "partial")
        and a.coverage_start is not None
        and a.coverage_start <= start
        and not (a.last_human_request and a.last_human_request >= start)
    )


def serving(subject: Subject) -> list[DiscoveredApp]:
    """The apps a subject's evidence comes from. A redirect record (http -> https) only points to the
    app that serves; whoever it redirects is counted there. All of them when nothing else is matched."""
    if len(subject.apps) == 1:  # most subjects: whether it redirects or not, it is the one
        return subject.apps
    apps = [a for a in subject.apps if not a.redirect]
    return apps or subject.apps


def is_idle(subject: Subject, clock: Clock) -> bool:
    return bool(subject.apps) and all(app_is_idle(a, clock) for a in serving(subject))


def hidden(
    subject: Subject, hosts: dict[str, HostInfo], index: Index, parents: dict[str, str]
) -> list[Finding]:
    if subject.declared is not None or not subject.apps:
        return []
    app = subject.apps[0]
    fronts = hops_to(index).get(app.handle, [])
    behind = sorted({parents[h.front.handle] for h in fronts if h.front.handle in parents})
    if behind and not has_own_name(app):
        return []  # reached only through a declared app's front: a dependency of that app (deps.py)
    host = _host(app, hosts)
    detail: dict[str, Any] = {"host": host}  # the rest is in the apps table (see the hidden_apps view)
    owner = parents.get(f"{app.agent_id}/{app.parent_key}") if app.parent_key else None
    summary = T.HIDDEN(app=label(app), host=host)
    if owner:
        detail["inside"] = owner
        summary = T.HIDDEN_INSIDE(app=label(app), host=host, owner=owner)
    if fronts:  # the vhost of its own name could be reached directly too: hidden, said where it sits
        detail["behind"] = behind or sorted({h.front.handle for h in fronts})
        if behind:
            summary = T.HIDDEN_BEHIND(app=label(app), host=host, fronts=", ".join(behind))
        else:
            names = sorted({f"{label(h.front)} on {_host(h.front, hosts)}" for h in fronts})
            summary = T.HIDDEN_BEHIND_UNDECLARED(app=label(app), host=host, fronts=", ".join(names))
    return [_on(app, Finding("hidden", subject.handle, summary, detail))]


def missing(subject: Subject, index: Index) -> list[Finding]:
    declared = subject.declared
    if declared is None or subject.apps or declared.status != "active":
        return []
    where = ", ".join(declared.urls) or declared.root or T.NOTHING_TO_MATCH()
    detail: dict = {"urls": declared.urls, "host": declared.host, "root": declared.root}
    summary = T.MISSING(app_id=declared.app_id, name=declared.name, where=where)
    if declared.host and not index.agents_called(declared.host):
        detail["host_covered"] = False
        summary = T.MISSING_HOST(app_id=declared.app_id, name=declared.name, where=where, host=declared.host)
    return [Finding("missing", subject.handle, summary, detail, app_id=declared.app_id)]


def idle(subject: Subject, config: ReconcileConfig, clock: Clock, known: bool | None = None) -> list[Finding]:
    """`known`: is_idle already computed by the caller."""
    if not (is_idle(subject, clock) if known is None else known):
        return []
    apps = serving(subject)
    humans = [a.last_human_request for a in apps if a.last_human_request]
    start = max(a.coverage_start for a in apps if a.coverage_start)
    last = max(humans) if humans else None
    name = subject.declared.name if subject.declared else label(subject.apps[0])
    summary = (
        T.IDLE(name=name, days=config.idle_days, date=last[:10], start=start[:10])
        if last
        else T.IDLE_NEVER(name=name, days=config.idle_days, start=start[:10])
    )
    detail = {"last_human_request": last, "coverage_start": start, "idle_days": config.idle_days}
    finding = Finding(
        "idle", subject.handle, summary, detail, app_id=subject.declared.app_id if subject.declared else None
    )
    return [_on(subject.apps[0], finding) if subject.declared is None else finding]


def status_mismatch(
    subject: Subject,
    config: ReconcileConfig,
    clock: Clock,
    hosts: dict[str, HostInfo],
    known_idle: bool | None = None,
) -> list[Finding]:
    declared = subject.declared
    if declared is None or not subject.apps:
        return []
    on = ", ".join(sorted({_host(a, hosts) for a in subject.apps}))
    if declared.status in ("inactive", "retired"):
        last = max((a.last_request for a in subject.apps if a.last_request), default=None)
        summary = (
            T.STILL_SERVED_LAST(app_id=declared.app_id, status=declared.status, hosts=on, date=last[:10])
            if last
            else T.STILL_SERVED(app_id=declared.app_id, status=declared.status, hosts=on)
        )
        return [
            Finding(
                "status-mismatch",
                subject.handle,
                summary,
                {"declared_status": declared.status, "served_on": on, "last_request": last},
                app_id=declared.app_id,
            )
        ]
    if declared.status == "active" and (is_idle(subject, clock) if known_idle is None else known_idle):
        return [
            Finding(
                "status-mismatch",
                subject.handle,
                T.ACTIVE_UNUSED(app_id=declared.app_id, days=config.idle_days),
                {"declared_status": declared.status, "idle_days": config.idle_days},
                app_id=declared.app_id,
            )
        ]
    return []


def unowned(subject: Subject, config: ReconcileConfig) -> list[Finding]:
    declared = subject.declared
    if declared is None:
        return []
    unknown = {v.casefold() for v in config.unknown_owner_values}
    problems = []
    owner = declared.owner.strip()
    if not owner or owner.casefold() in unknown:
        problems.append(T.NO_OWNER_AGENCY())
    elif config.known_owners and owner.casefold() not in {o.casefold() for o in config.known_owners}:
        problems.append(T.UNKNOWN_OWNER(owner=owner))
    contact = declared.contact.strip()
    if declared.contact_column and (not contact or contact.casefold() in unknown):
        problems.append(T.NO_CONTACT())  # a file without a contact column says nothing of contacts
    if not problems:
        return []
    return [
        Finding(
            "unowned",
            subject.handle,
            T.UNOWNED(app_id=declared.app_id, name=declared.name, problems=" and ".join(problems)),
            {"owner": declared.owner, "contact": declared.contact, "unit": declared.unit},
            app_id=declared.app_id,
        )
    ]


def _framework(text: str) -> tuple[str, str]:
    m = re.match(r"^(.*?)[\s\-_]*v?(\d+(?:\.\d+)*)?$", text.strip().lower())
    name = re.sub(r"[^a-z0-9]", "", m.group(1) if m else text.lower())
    return _ALIASES.get(name, name), (m.group(2) or "") if m else ""


def framework_differs(declared: str, found: str, found_version: str) -> str | None:
    """Why a declared framework disagrees with the fingerprint.

    None when they agree or cannot be compared."""
    want, want_version = _framework(declared)
    have, _ = _framework(found)
    if want in _GENERIC or have in _GENERIC:
        return None
    if want != have:
        return T.RUNS(declared=declared, found=f"{found}{' ' + found_version if found_version else ''}")
    if (
        want_version
        and found_version
        and not (found_version == want_version or found_version.startswith(want_version + "."))
    ):
        return T.RUNS(declared=declared, found=f"{found} {found_version}")
    return None


def drift(subject: Subject, index: Index, hosts: dict[str, HostInfo]) -> list[Finding]:
    declared = subject.declared
    if declared is None or not subject.apps:
        return []
    out = []
    if declared.host:
        expected = index.agents_called(declared.host)
        elsewhere = sorted({_host(a, hosts) for a in subject.apps if a.agent_id not in expected})
        if elsewhere:
            out.append(
                Finding(
                    "drift",
                    subject.handle,
                    T.DRIFT_HOST(app_id=declared.app_id, host=declared.host, hosts=", ".join(elsewhere)),
                    {"declared_host": declared.host, "runs_on": elsewhere, "aspect": "location"},
                    app_id=declared.app_id,
                )
            )
    known = [a for a in subject.apps if a.framework and _framework(a.framework)[0] not in _GENERIC]
    if declared.framework and known:
        why = [framework_differs(declared.framework, a.framework, a.framework_version) for a in known]
        if all(why):  # drift only when no app of the subject runs what is declared
            app = known[0]
            out.append(
                Finding(
                    "drift",
                    f"{subject.handle}#framework",
                    T.DRIFT_FRAMEWORK(app_id=declared.app_id, host=_host(app, hosts), runs=why[0]),
                    {
                        "declared_framework": declared.framework,
                        "framework": app.framework,
                        "framework_version": app.framework_version,
                        "aspect": "framework",
                    },
                    app_id=declared.app_id,
                )
            )
    return out


def exposed_listeners(
    listeners: list[ListenerInfo], index: Index, hosts: dict[str, HostInfo], config: ReconcileConfig
) -> list[Finding]:
    out = []
    ignore_ports = set(config.exposed_ignore_ports)
    ignore_processes = {p.casefold() for p in config.exposed_ignore_processes}
    for sock in listeners:
        if not sock.public or sock.app_keys or sock.port in ignore_ports:
            continue
        if sock.process and sock.process.casefold() in ignore_processes:
            continue
        if any(sock.port in app.ports for app in index.by_agent.get(sock.agent_id, [])):
            continue
        host = hosts.get(sock.agent_id)
        name = host.hostname if host and host.hostname else sock.agent_id
        where = dict(host=name, address=f"{sock.address}:{sock.port}", protocol=sock.protocol)
        out.append(
            Finding(
                "exposed-listener",
                f"{sock.agent_id}/listener:{sock.protocol}:{sock.address}:{sock.port}",
                T.EXPOSED_BY(process=sock.process, **where) if sock.process else T.EXPOSED(**where),
                {
                    "host": name,
                    "address": sock.address,
                    "port": sock.port,
                    "protocol": sock.protocol,
                    "process": sock.process,
                },
                agent_id=sock.agent_id,
            )
        )
    return out


def unsupported(subject: Subject, clock: Clock, hosts: dict[str, HostInfo]) -> list[Finding]:
    """An app people still use runs a release past its end of support."""
    out = []
    for a in subject.apps:
        in_use = a.last_human_request is not None and a.last_human_request >= clock.window_start
        if not (in_use and a.end_of_support and a.end_of_support < clock.text[:10]):
            continue
        what = f"{a.framework} {a.framework_version}".strip()
        name = subject.declared.app_id if subject.declared else label(a)
        out.append(
            _on(
                a,
                Finding(
                    "unsupported-version",
                    f"{a.agent_id}/{a.app_key}#unsupported",
                    T.UNSUPPORTED_IN_USE(
                        app=name, host=_host(a, hosts), software=what, date=a.end_of_support
                    ),
                    {
                        "framework": a.framework,
                        "framework_version": a.framework_version,
                        "end_of_support": a.end_of_support,
                        "last_human_request": a.last_human_request,
                    },
                    app_id=subject.declared.app_id if subject.declared else None,
                ),
            )
        )
    return out
