"""Apps of their own inside a docroot: a subdirectory holding a framework of its own."""

from __future__ import annotations

import posixpath
from dataclasses import replace

from ronda.agent.discovery.keys import app_key
from ronda.agent.host import Host
from ronda.agent.inspect.files import Files
from ronda.agent.inspect.fingerprints import fingerprint
from ronda.model import App, ConfigLocation, LogRef

MAX_SUBDIRS = 200


def find_subapps(host: Host, apps: list[App], problems: list[Files]) -> list[App]:
    """New apps (path_prefix "/sub", parent_key the containing app's key), one directory level deep."""
    keys = {a.key for a in apps}
    roots = {a.root.rstrip("/") for a in apps if a.root}
    found: list[App] = []
    for parent in list(apps):
        if not parent.root or parent.root.endswith((".war", ".jar")):
            continue
        f = Files(host, parent.root)
        problems.append(f)
        if not f.is_dir(""):
            continue
        subdirs = [n for n in f.listdir("", limit=5000) if not n.startswith(".")][:MAX_SUBDIRS]
        for name in subdirs:
            root = posixpath.join(parent.root.rstrip("/"), name)
            prefix = posixpath.join(parent.path_prefix or "/", name)
            if root in roots or _covered(apps + found, parent, prefix) or not f.is_dir(name):
                continue
            framework = fingerprint(host, root, specific_only=True, files=problems)
            if framework is None:
                continue
            sub = _child(parent, prefix, root)
            sub.framework = framework
            sub.key = _unique(app_key(sub), keys)
            keys.add(sub.key)
            roots.add(root)
            found.append(sub)
    return found


def _covered(apps: list[App], parent: App, prefix: str) -> bool:
    """The web server config already has an app at this prefix of the same vhost."""
    return any(
        a.path_prefix.rstrip("/") == prefix
        and a.server_names == parent.server_names
        and a.kind == parent.kind
        and a.config.file == parent.config.file
        for a in apps
    )


def _child(parent: App, prefix: str, root: str) -> App:
    return App(
        kind=parent.kind,
        server_names=list(parent.server_names),
        listen=[replace(a) for a in parent.listen],
        path_prefix=prefix,
        root=root,
        config=ConfigLocation(parent.config.file, parent.config.line),
        access_logs=[LogRef(lg.path, lg.format) for lg in parent.access_logs],
        tls=replace(parent.tls) if parent.tls else None,
        parent_key=parent.key,
        labels={"found_by": "subdirectory"},
    )


def _unique(base: str, keys: set[str]) -> str:
    if base not in keys:
        return base
    n = 2
    while f"{base}#{n}" in keys:
        n += 1
    return f"{base}#{n}"
