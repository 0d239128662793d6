"""Discovery: which web apps a host serves.

Each source module has ``discover(host, options) -> SourceResult`` and reads
the host only through the `Host` seam. `discover` runs them all; a source that
fails records an error and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable

from ronda.agent.discovery import apache, caddy, docker, lighttpd, litespeed, nginx, node, systemd, tomcat
from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.discovery.keys import app_key, assign_unique_keys
from ronda.agent.host import Host

Source = Callable[[Host, DiscoveryOptions], SourceResult]

SOURCES: dict[str, Source] = {
    "nginx": nginx.discover,
    "apache": apache.discover,
    "caddy": caddy.discover,
    "lighttpd": lighttpd.discover,
    "litespeed": litespeed.discover,
    "tomcat": tomcat.discover,
    "node": node.discover,
    "docker": docker.discover,
    "systemd": systemd.discover,
}


def discover(host: Host, options: DiscoveryOptions | None = None) -> SourceResult:
    options = options or DiscoveryOptions()
    result = SourceResult()
    for name, source in SOURCES.items():
        if options.sources and name not in options.sources:
            continue
        try:
            result.extend(source(host, options))
        except Exception as e:  # a broken source must not take the others down
            result.error(name, f"{type(e).__name__}: {e}")
    assign_unique_keys(result.apps)
    _link_parents(result)
    return result


def _link_parents(result: SourceResult) -> None:
    """A sub-app (path prefix) points at the whole-vhost app of the same server block.

    Sources that know better (an Apache Alias from conf-enabled/ lives in another
    file than the vhosts it serves under) set parent_key themselves.
    """
    vhosts = {
        (a.kind, a.config.file, tuple(a.server_names)): a.key for a in result.apps if a.path_prefix == "/"
    }
    for app in result.apps:
        if app.path_prefix != "/" and not app.parent_key:
            app.parent_key = vhosts.get((app.kind, app.config.file, tuple(app.server_names)), "")


__all__ = ["DiscoveryOptions", "SourceResult", "discover", "app_key", "SOURCES"]
