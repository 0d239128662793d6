"""nginx: every server block is an app, and so is every location that serves something of its
own (nginx_server.py says exactly what is and is not).

A pass to an `upstream` block carries that upstream's servers in the
`upstream_servers` label; a FastCGI pass in a regex location (the PHP one) is
the `handler` (its PHP-FPM pool) of the app around it, not an app. Variables
the config defines (`set`, `map` defaults) are expanded in roots, aliases and
backends. Parsed without the binary, the config is also checked as `nginx -t`
would (nginx_check.py).
"""

from __future__ import annotations

from ronda.agent.discovery import nginx_check, nginx_config
from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.discovery.nginx_config import Statement
from ronda.agent.discovery.nginx_names import server_names
from ronda.agent.discovery.nginx_server import Context, ServerApps, arg, blocks, upstream_name
from ronda.agent.discovery.nginx_vars import Variables
from ronda.agent.discovery.shared import key_and_link
from ronda.agent.host import Host
from ronda.model import App, ConfigLocation, ListenAddress, LogRef, TlsCertificate

SOURCE = "nginx"


def discover(host: Host, options: DiscoveryOptions) -> SourceResult:
    result = SourceResult()
    for main in nginx_config.main_confs(host, options.nginx_conf):
        loaded = nginx_config.load(host, main, options.use_binaries)
        if loaded is not None:
            _discover_config(loaded, result)
    key_and_link(result.apps)
    return result


def _discover_config(loaded: nginx_config.LoadedConfig, result: SourceResult) -> None:
    for file, line, message in loaded.errors:
        result.error(SOURCE, message, file, line)
    if not loaded.from_binary:  # what nginx -T loaded, nginx has checked already
        for file, line, message in nginx_check.check(loaded.statements):
            result.error(SOURCE, message, file, line)
    for http in blocks(loaded.statements, "http"):
        http_ctx = Context(variables=Variables.of_http(http["block"])).child(http["block"])
        for stmt in http["block"]:
            if stmt["directive"] == "log_format" and stmt.get("args"):
                name, *parts = stmt["args"]
                fmt = "".join(p for p in parts if not p.startswith("escape="))
                result.log_formats[f"{SOURCE}:{name}"] = fmt
        upstreams = {
            u["args"][0]: [s["args"][0] for s in u["block"] if s["directive"] == "server" and s.get("args")]
            for u in blocks(http["block"], "upstream")
            if u.get("args")
        }
        servers = [_server_apps(server, http_ctx, upstreams) for server in blocks(http["block"], "server")]
        _mark_implicit_defaults(servers)
        for apps in servers:
            result.apps.extend(apps)


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


def _server_apps(server: Statement, http_ctx: Context, upstreams: dict[str, list[str]]) -> list[App]:
    block = server["block"]
    ctx = http_ctx.child(block)
    names, regexes = server_names(
        [n for s in block if s["directive"] == "server_name" for n in s.get("args", [])]
    )
    listen = [_listen(s["args"]) for s in block if s["directive"] == "listen" and s.get("args")]
    if not listen:
        listen = [ListenAddress("*", 80)]
    if arg(block, "ssl") == "on":
        for address in listen:
            address.tls = True
    # An http-level certificate only matters to servers that speak TLS.
    cert = arg(block, "ssl_certificate") or (ctx.cert if any(a.tls for a in listen) else "")

    def make(
        prefix: str, stmt: Statement, root: str, upstream: str, logs: list[LogRef], labels: dict[str, str]
    ) -> App:
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
            labels=dict(labels),
        )

    labels = {"server_name_regex": " ".join(regexes)} if regexes else {}
    apps = ServerApps(make, upstreams).build(server, ctx, labels)
    for app in apps:
        _name_upstream_servers(app, upstreams)
    return apps


def _name_upstream_servers(app: App, upstreams: dict[str, list[str]]) -> None:
    """A pass to an upstream block: its servers in `upstream_servers`; a PHP handler named by one
    is that block's first server (what PHP-FPM listens on), the block's name in `handler_upstream`."""
    servers = upstreams.get(upstream_name(app.upstream)) if app.upstream else None
    if servers:
        app.labels["upstream_servers"] = ",".join(servers)
    handler = app.labels.get("handler", "")
    servers = upstreams.get(upstream_name(handler)) if handler and "://" not in handler else None
    if servers:
        app.labels["handler"], app.labels["handler_upstream"] = servers[0], handler


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
