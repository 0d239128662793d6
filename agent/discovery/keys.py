"""Stable, readable app keys: history survives config reordering and file moves."""

from __future__ import annotations

from ronda.model import App


def app_key(app: App) -> str:
    """kind:primary-name:lowest-port/prefix, e.g. ``nginx:sipd.example.go.id:443/sipd``.

    Built only from what a user reaches (not file names or line numbers), so
    moving a vhost to another file or reordering blocks keeps its key.
    """
    name = app.primary_name or "_"
    ports = sorted(a.port for a in app.listen if a.port)
    port = str(ports[0]) if ports else "-"
    prefix = app.path_prefix or "/"
    if not prefix.startswith("/"):
        prefix = "/" + prefix
    return f"{app.kind}:{name}:{port}{prefix}"


def assign_unique_keys(apps: list[App]) -> None:
    """Give every app its key; identical keys on one host get a #2, #3 suffix in config order."""
    seen: dict[str, int] = {}
    for app in apps:
        base = app_key(app)
        seen[base] = seen.get(base, 0) + 1
        app.key = base if seen[base] == 1 else f"{base}#{seen[base]}"
