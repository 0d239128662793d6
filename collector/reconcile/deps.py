"""Inbound dependencies: who would break if an app were taken down.

An app depends on another when it proxies to it (the backend vhost that
answers the Host it sends: collector.reconcile.hops), when it lives inside
the other's vhost (a sub-app under a path prefix), or when the inventory
declares it does. A backend reached through a declared app's front is a
dependency of that app, not the app itself: only a pin makes it part of it.
"""

from __future__ import annotations

from collections import defaultdict

from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile import texts as T
from ronda.collector.reconcile.hops import hops_to, label
from ronda.collector.reconcile.index import Index
from ronda.collector.reconcile.model import DiscoveredApp

INACTIVE = ("retired", "inactive")


def inbound(
    discovered: list[DiscoveredApp], declared: list[DeclaredApp], index: Index
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, list[tuple[str, str]]]]:
    """(per app handle, per declared app id): the list of (depending app handle or app id, why)."""
    by_app: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for app in discovered:
        if not app.present:
            continue
        if app.parent_key:
            parent = index.by_handle.get(f"{app.agent_id}/{app.parent_key}")
            if parent is not None:
                by_app[parent.handle].append((app.handle, T.SERVED_INSIDE(app=label(app))))
    for backend, hops in hops_to(index).items():
        by_app[backend] += [(hop.front.handle, hop.why()) for hop in hops]
    by_declared: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for d in declared:
        if d.status in INACTIVE:
            continue
        for dep in d.depends_on:
            by_declared[dep].append((d.app_id, T.DECLARED_DEPENDENCY(app_id=d.app_id, name=d.name)))
    return by_app, by_declared
