"""Which app a request in a shared log belongs to: by virtual host, then by longest path prefix."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from ronda.model import App


def normalise_host(value: bytes) -> str:
    host = value.decode("ascii", "replace").strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host.rstrip(".")


def name_match(pattern: str, host: str) -> int:
    """0 no match, 2 exact, 1 wildcard or regex (nginx's and Apache's name syntaxes)."""
    p = pattern.strip().lower().rstrip(".")
    if not p or p == "_":
        return 0
    if p.startswith("~"):
        try:
            return 1 if re.search(p[1:], host, re.IGNORECASE) else 0
        except re.error:
            return 0
    if ":" in p and not p.startswith("["):
        p = p.rsplit(":", 1)[0]
    if p == host:
        return 2
    if p.startswith(".") and (host == p[1:] or host.endswith(p)):
        return 1
    if ("*" in p or "?" in p) and fnmatch.fnmatchcase(host, p):
        return 1
    return 0


@dataclass
class _Site:
    """Apps of one server block / virtual host, with their path prefixes."""

    names: tuple[str, ...]
    default: bool
    apps: list[tuple[str, int]]  # (prefix, index of the app in the log group)

    def app_for(self, prefix: str) -> int | None:
        best: tuple[int, int] | None = None
        for app_prefix, index in self.apps:
            p = app_prefix.rstrip("/")
            under = p == "" or prefix == p or prefix.startswith(p + "/")
            if under and (best is None or len(p) > best[0]):
                best = (len(p), index)
        return best[1] if best else None


def _site_root(app: App, by_key: dict[str, App]) -> App:
    """The vhost an app is served under (a prefix app's parent, or an Alias from another file's):
    apps of one site share its log and are told apart by path prefix, not by virtual host."""
    seen = {app.key}
    while app.parent_key in by_key and app.parent_key not in seen:
        app = by_key[app.parent_key]
        seen.add(app.key)
    return app


class Router:
    """Maps (vhost, prefix) from a log line to the indices of the apps it counts for.

    Without a vhost field every site sharing the log gets the request: a log
    that cannot be split must not make a used app look unused.
    """

    def __init__(self, apps: list[App], has_vhost: bool) -> None:
        self.has_vhost = has_vhost
        sites: dict[tuple, _Site] = {}
        for index, app in enumerate(apps):
            top = _site_root(app, {a.key: a for a in apps if a.key})
            ident = (top.kind, top.config.file, tuple(top.server_names))
            site = sites.get(ident)
            if site is None:
                default = any(listen.default_server for listen in app.listen)
                # a server that writes its own name for a site in a shared log (OpenLiteSpeed's ["VHOST"])
                names = tuple(app.server_names) + tuple(filter(None, [app.labels.get("log_vhost", "")]))
                site = sites[ident] = _Site(names, default, [])
            site.apps.append((app.path_prefix or "/", index))
        self.sites = list(sites.values())
        self.split = has_vhost or len(self.sites) == 1
        self._cache: dict[tuple[bytes, bytes], tuple[int, ...]] = {}

    @property
    def prefixes(self) -> list[str]:
        return sorted({p.rstrip("/") for s in self.sites for p, _ in s.apps if p.rstrip("/")})

    def route(self, vhost: bytes, prefix: bytes) -> tuple[int, ...]:
        key = (vhost, prefix)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 50_000:
                self._cache.clear()
            found = self._cache[key] = self._route(vhost, prefix.decode("utf-8", "replace"))
        return found

    def _route(self, vhost: bytes, prefix: str) -> tuple[int, ...]:
        sites = self._sites_for(normalise_host(vhost)) if self.has_vhost else self.sites
        chosen = (site.app_for(prefix) for site in sites)
        return tuple(sorted({i for i in chosen if i is not None}))

    def _sites_for(self, host: str) -> list[_Site]:
        if host and host != "-":
            scored = [(max((name_match(n, host) for n in s.names), default=0), s) for s in self.sites]
            best = max((score for score, _ in scored), default=0)
            if best:
                return [s for score, s in scored if score == best]
        defaults = [s for s in self.sites if s.default]
        return defaults or self.sites[:1]
