"""nginx: every server block is an app, and so is every location that serves
something of its own (alias, a different root, proxy/fastcgi pass)."""
from __future__ import annotations

import posixpath

from agent.discovery import nginx_config
from agent.discovery.base import DiscoveryOptions, SourceResult
from agent.discovery.nginx_config import Statement
from agent.host import Host
from agent.model import App, ConfigLocation, ListenAddress, LogRef, TlsCertificate

SOURCE = "nginx"
_PASS_DIRECTIVES = ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass")
_SUB_APP_MODIFIERS = ("", "^~", "=")  # regex locations are handlers, not apps


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
        for server in _blocks(http["block"], "server"):
            result.apps.extend(_server_apps(server, http_ctx))
    return result


class _Context:
    """Directives inherited down http -> server -> location."""

    def __init__(self, root: str, logs: list[LogRef] | None, logs_set: bool) -> None:
        self.root = root
        self.logs = logs or []
        self.logs_set = logs_set

    @classmethod
    def root(cls) -> "_Context":
        return cls("", [], False)

    def child(self, block: list[Statement]) -> "_Context":
        root = _arg(block, "root") or self.root
        logs = [s for s in block if s["directive"] == "access_log"]
        if not logs:
            return _Context(root, self.logs, self.logs_set)
        refs = []
        for s in logs:
            args = s.get("args") or []
            if args and args[0] != "off" and not args[0].startswith("syslog:"):
                fmt = args[1] if len(args) > 1 and "=" not in args[1] else "combined"
                refs.append(LogRef(path=args[0], format=fmt))
        return _Context(root, refs, True)


def _blocks(statements: list[Statement], directive: str) -> list[Statement]:
    return [s for s in statements if s["directive"] == directive and "block" in s]


def _arg(block: list[Statement], directive: str) -> str:
    for s in block:
        if s["directive"] == directive and s.get("args"):
            return s["args"][0]
    return ""


def _server_apps(server: Statement, http_ctx: _Context) -> list[App]:
    block = server["block"]
    ctx = http_ctx.child(block)
    names = [n for s in block if s["directive"] == "server_name" for n in s.get("args", []) if n]
    listen = [_listen(s["args"]) for s in block if s["directive"] == "listen" and s.get("args")]
    if not listen:
        listen = [ListenAddress("*", 80)]
    cert = _arg(block, "ssl_certificate")
    if cert or _arg(block, "ssl") == "on":
        for address in listen:
            address.tls = address.tls or _arg(block, "ssl") == "on"

    def make(prefix: str, stmt: Statement, root: str, upstream: str, logs: list[LogRef]) -> App:
        return App(
            kind=SOURCE, server_names=list(names), listen=[ListenAddress(**vars(a)) for a in listen],
            path_prefix=prefix, root=root, upstream=upstream,
            config=ConfigLocation(stmt["file"], stmt["line"]), access_logs=list(logs),
            tls=TlsCertificate(file=cert) if cert else None,
        )

    vhost = make("/", server, ctx.root, "", ctx.logs)
    redirect = next((s.get("args") for s in block if s["directive"] == "return"), None)
    if redirect:  # e.g. the port-80 block that only sends users to https
        vhost.labels["redirect"] = " ".join(redirect)
    apps = [vhost]
    for location, loc_ctx in _locations(block, ctx):
        path = location["args"][-1]
        modifier = location["args"][0] if len(location["args"]) > 1 else ""
        loc_block = location["block"]
        upstream = next((s["args"][0] for s in loc_block if s["directive"] in _PASS_DIRECTIVES and s.get("args")), "")
        alias = _arg(loc_block, "alias")
        if path == "/" and modifier in _SUB_APP_MODIFIERS:
            vhost.root = loc_ctx.root
            vhost.upstream = vhost.upstream or upstream
            if loc_ctx.logs_set:
                vhost.access_logs = list(loc_ctx.logs)
            continue
        if modifier not in _SUB_APP_MODIFIERS:
            continue
        own_root = _arg(loc_block, "root")
        if not (alias or upstream or (own_root and own_root != ctx.root)):
            continue
        if alias:
            root = alias.rstrip("/") or "/"
        elif own_root:
            root = posixpath.join(own_root, path.strip("/"))
        else:
            root = ""
        apps.append(make(path.rstrip("/") or "/", location, root, upstream, loc_ctx.logs))
    return apps


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
