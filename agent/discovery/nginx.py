"""nginx: every server block is an app, and so is every location that serves
something of its own (alias, a different root, proxy/fastcgi pass).

A pass to an `upstream` block carries that upstream's servers in the
`upstream_servers` label; a FastCGI pass in a regex location (the PHP one) is
the server's `handler` (its PHP-FPM pool), not an app.
"""

from __future__ import annotations

import posixpath

from ronda.agent.discovery import nginx_config
from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.discovery.nginx_config import Statement
from ronda.agent.discovery.nginx_names import server_names
from ronda.agent.discovery.shared import clean_prefix, key_and_link, literal_prefix
from ronda.agent.host import Host
from ronda.model import App, ConfigLocation, ListenAddress, LogRef, TlsCertificate

SOURCE = "nginx"
_PASS_DIRECTIVES = ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass")
_SUB_APP_MODIFIERS = ("", "^~", "=")  # regex locations are handlers, unless they start with a fixed path
_HANDLER_DIRECTIVES = ("fastcgi_pass", "uwsgi_pass", "scgi_pass")


def discover(host: Host, options: DiscoveryOptions) -> SourceResult:
    result = SourceResult()
    loaded = nginx_config.load(host, options.nginx_conf, options.use_binaries)
    if loaded is None:
        return result
    for file, line, message in loaded.errors:
        result.error(SOURCE, message, file, line)
    for http in _blocks(loaded.statements, "http"):
        http_ctx = _Context.root().child(http["block"])
        for stmt in http["block"]:
            if stmt["directive"] == "log_format" and stmt.get("args"):
                name, *parts = stmt["args"]
                fmt = "".join(p for p in parts if not p.startswith("escape="))
                result.log_formats[f"{SOURCE}:{name}"] = fmt
        upstreams = {
            u["args"][0]: [s["args"][0] for s in u["block"] if s["directive"] == "server" and s.get("args")]
            for u in _blocks(http["block"], "upstream")
            if u.get("args")
        }
        servers = [_server_apps(server, http_ctx, upstreams) for server in _blocks(http["block"], "server")]
        _mark_implicit_defaults(servers)
        for apps in servers:
            result.apps.extend(apps)
    key_and_link(result.apps)
    return result


def _mark_implicit_defaults(servers: list[list[App]]) -> None:
    """Without a default_server flag, the first server listening on an address:port is its default."""
    explicit = {(a.address, a.port) for apps in servers for a in apps[0].listen if a.default_server}
    taken = set(explicit)
    for apps in servers:
        for i, address in enumerate(apps[0].listen):
            socket = (address.address, address.port)
            if socket in taken:
                continue
            taken.add(socket)
            for app in apps:
                app.listen[i].default_server = True


class _Context:
    """Directives inherited down http -> server -> location."""

    def __init__(self, root: str, logs: list[LogRef] | None, logs_set: bool, cert: str = "") -> None:
        self.root = root
        self.logs = logs or []
        self.logs_set = logs_set
        self.cert = cert

    @classmethod
    def root(cls) -> _Context:
        return cls("", [], False)

    def child(self, block: list[Statement]) -> _Context:
        root = _arg(block, "root") or self.root
        cert = _arg(block, "ssl_certificate") or self.cert
        logs = [s for s in block if s["directive"] == "access_log"]
        if not logs:
            return _Context(root, self.logs, self.logs_set, cert)
        refs = []
        for s in logs:
            args = s.get("args") or []
            if args and args[0] != "off" and not args[0].startswith("syslog:"):
                fmt = args[1] if len(args) > 1 and "=" not in args[1] else "combined"
                refs.append(LogRef(path=args[0], format=fmt))
        return _Context(root, refs, True, cert)


def _blocks(statements: list[Statement], directive: str) -> list[Statement]:
    return [s for s in statements if s["directive"] == directive and "block" in s]


def _arg(block: list[Statement], directive: str) -> str:
    for s in block:
        if s["directive"] == directive and s.get("args"):
            return s["args"][0]
    return ""


def _server_apps(server: Statement, http_ctx: _Context, upstreams: dict[str, list[str]]) -> list[App]:
    block = server["block"]
    ctx = http_ctx.child(block)
    names, regexes = server_names(
        [n for s in block if s["directive"] == "server_name" for n in s.get("args", [])]
    )
    listen = [_listen(s["args"]) for s in block if s["directive"] == "listen" and s.get("args")]
    if not listen:
        listen = [ListenAddress("*", 80)]
    if _arg(block, "ssl") == "on":
        for address in listen:
            address.tls = True
    # An http-level certificate only matters to servers that speak TLS.
    cert = _arg(block, "ssl_certificate") or (ctx.cert if any(a.tls for a in listen) else "")

    def make(
        prefix: str,
        stmt: Statement,
        root: str,
        upstream: str,
        logs: list[LogRef],
        labels: dict[str, str] | None = None,
    ) -> App:
        labels = dict(labels or {})
        servers = upstreams.get(_upstream_name(upstream)) if upstream else None
        if servers:
            labels["upstream_servers"] = ",".join(servers)
        return App(
            kind=SOURCE,
            server_names=list(names),
            listen=[ListenAddress(**vars(a)) for a in listen],
            path_prefix=prefix,
            root=root,
            upstream=upstream,
            config=ConfigLocation(stmt["file"], stmt["line"]),
            access_logs=list(logs),
            tls=TlsCertificate(file=cert) if cert else None,
            labels=labels,
        )

    vhost = make(
        "/", server, ctx.root, "", ctx.logs, {"server_name_regex": " ".join(regexes)} if regexes else {}
    )
    redirect = next((s.get("args") for s in block if s["directive"] == "return"), None)
    if redirect:  # e.g. the port-80 block that only sends users to https
        vhost.labels["redirect"] = " ".join(redirect)
    apps = [vhost]
    for location, loc_ctx in _locations(block, ctx):
        path = location["args"][-1]
        modifier = location["args"][0] if len(location["args"]) > 1 else ""
        loc_block = location["block"]
        upstream = next(
            (s["args"][0] for s in loc_block if s["directive"] in _PASS_DIRECTIVES and s.get("args")), ""
        )
        alias = _arg(loc_block, "alias")
        if path == "/" and modifier in _SUB_APP_MODIFIERS:
            vhost.root = loc_ctx.root
            vhost.upstream = vhost.upstream or upstream
            if vhost.upstream and "upstream_servers" not in vhost.labels:
                servers = upstreams.get(_upstream_name(vhost.upstream))
                if servers:
                    vhost.labels["upstream_servers"] = ",".join(servers)
            if loc_ctx.logs_set:
                vhost.access_logs = list(loc_ctx.logs)
            continue
        labels: dict[str, str] = {}
        if modifier not in _SUB_APP_MODIFIERS:
            handler = next(
                (s["args"][0] for s in loc_block if s["directive"] in _HANDLER_DIRECTIVES and s.get("args")),
                "",
            )
            prefix = literal_prefix(path)
            if clean_prefix(prefix) == "/" or not (alias or upstream):
                if handler and "handler" not in vhost.labels:
                    vhost.labels["handler"] = handler
                continue
            labels, path = {"pattern": path}, prefix
        own_root = _arg(loc_block, "root")
        if not (alias or upstream or (own_root and own_root != ctx.root)):
            continue
        if alias:
            root = alias.rstrip("/") or "/"
        elif own_root:
            root = posixpath.join(own_root, path.strip("/"))
        else:
            root = ""
        apps.append(make(path.rstrip("/") or "/", location, root, upstream, loc_ctx.logs, labels))
    handler = vhost.labels.get("handler")
    for app in apps[1:]:
        if handler and not app.upstream:
            app.labels.setdefault("handler", handler)
    return apps


def _upstream_name(target: str) -> str:
    """http://backend/path -> backend; fastcgi_pass php_pool -> php_pool; unix:/run/x.sock -> ""."""
    if target.startswith("unix:") or "$" in target:
        return ""
    rest = target.split("://", 1)[1] if "://" in target else target
    return rest.split("/", 1)[0]


def _locations(block: list[Statement], ctx: _Context):
    """Top-level and nested locations, each with its inherited context."""
    for loc in _blocks(block, "location"):
        if not loc.get("args"):
            continue
        loc_ctx = ctx.child(loc["block"])
        yield loc, loc_ctx
        yield from _locations(loc["block"], loc_ctx)


def _listen(args: list[str]) -> ListenAddress:
    spec, flags = args[0], set(args[1:])
    tls = "ssl" in flags or "quic" in flags
    default = "default_server" in flags or "default" in flags
    if spec.startswith("unix:"):
        return ListenAddress(spec[5:], 0, tls, default)
    if spec.startswith("["):
        host, _, port = spec[1:].partition("]")
        port = port.lstrip(":")
        return ListenAddress(host, int(port) if port.isdigit() else 80, tls, default)
    if spec.isdigit():
        return ListenAddress("*", int(spec), tls, default)
    host, _, port = spec.rpartition(":")
    if not host:
        return ListenAddress(spec, 80, tls, default)
    return ListenAddress(host, int(port) if port.isdigit() else 80, tls, default)
