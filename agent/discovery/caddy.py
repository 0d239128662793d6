"""Caddy v2: every site (a route matching host names) is an app, and so is every path it hands to
another root or a reverse proxy (handle_path, handle, route).

The config is what `caddy adapt` prints when the binary is present, else the
same JSON shape built by parsing the Caddyfile (caddyfile.py, caddy_json.py);
a JSON config is read as it is. Configs come from the options, from running
`caddy run --config FILE` processes, and from the usual places.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from ronda.agent.discovery import caddy_json, caddyfile
from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.discovery.caddyfile import Caddyfile, Node
from ronda.agent.discovery.shared import clean_prefix, key_and_link, running_processes, without_credentials
from ronda.agent.host import CommandNotAvailable, Host, HostError
from ronda.model import App, ConfigLocation, ListenAddress, LogRef, TlsCertificate

SOURCE = "caddy"
DEFAULT_CONFIGS = (
    "/etc/caddy/Caddyfile",
    "/etc/caddy/caddy.json",
    "/usr/local/etc/caddy/Caddyfile",
    "/var/lib/caddy/.config/caddy/autosave.json",
)
# Where Caddy keeps the certificates it manages: the Debian service's home, then root's.
STORAGE_ROOTS = ("/var/lib/caddy/.local/share/caddy", "/root/.local/share/caddy")
_MAX_JSON_BYTES = 16 * 1024 * 1024
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
JSON = dict[str, Any]


def discover(host: Host, options: DiscoveryOptions) -> SourceResult:
    result = SourceResult()
    for path in config_files(host, options.caddyfile):
        config, parsed = _load(host, path, options.use_binaries, result)
        if config is not None:
            result.apps.extend(apps_from_json(host, config, path, parsed, result))
    key_and_link(result.apps)
    return result


def config_files(host: Host, explicit: str = "") -> list[str]:
    if explicit:
        return [explicit]
    found: list[str] = []
    for proc in running_processes(host):
        if proc.name != "caddy" and posixpath.basename(proc.exe) != "caddy":
            continue
        args = list(proc.cmdline)
        for i, arg in enumerate(args):
            value = (
                args[i + 1]
                if arg == "--config" and i + 1 < len(args)
                else arg[9:]
                if arg.startswith("--config=")
                else ""
            )
            if value:
                found.append(value if value.startswith("/") else posixpath.join(proc.cwd or "/", value))
    default = next((p for p in DEFAULT_CONFIGS if host.exists(p)), None)
    if default:
        found.append(default)
    return list(dict.fromkeys(found))


def _load(
    host: Host, path: str, use_binary: bool, result: SourceResult
) -> tuple[JSON | None, Caddyfile | None]:
    if path.endswith(".json"):
        try:
            if host.stat(path).size > _MAX_JSON_BYTES:
                raise HostError(f"{path}: larger than {_MAX_JSON_BYTES} bytes")
            return json.loads(host.read_text(path)), None
        except (HostError, ValueError) as e:
            result.error(SOURCE, f"cannot read Caddy JSON config: {e}", path)
            return None, None
    parsed = caddyfile.parse(host, path)
    if use_binary and host.which("caddy"):
        adapted, why = _adapt(host, path)
        if adapted is not None:
            return adapted, parsed
        if why:
            result.error(SOURCE, without_credentials(why), path)
    for file, line, message in parsed.errors:
        result.error(SOURCE, message, file, line)
    if not parsed.files:
        return None, None
    return caddy_json.to_json(parsed), parsed


def _adapt(host: Host, path: str) -> tuple[JSON | None, str]:
    try:
        done = host.run(["caddy", "adapt", "--config", path, "--adapter", "caddyfile"], timeout=30)
    except CommandNotAvailable:
        return None, ""
    except HostError as e:
        return None, f"caddy adapt: {e}"
    if done.returncode != 0:
        lines = [x for x in done.stderr.strip().splitlines() if x.strip()] or ["no output"]
        return None, f"caddy adapt failed, parsing the Caddyfile instead: {lines[-1][:300]}"
    try:
        return json.loads(done.stdout), ""
    except ValueError as e:
        return None, f"caddy adapt printed no JSON ({e}), parsing the Caddyfile instead"


@dataclass
class _Found:
    """What a route (and the routes under it) serve."""

    root: str = ""
    upstreams: list[str] = field(default_factory=list)
    handler: str = ""
    redirect: str = ""
    stripped: bool = False
    bad_dials: list[str] = field(default_factory=list)
    host_header: str = ""  # the Host reverse_proxy asks its backend for


@dataclass
class _Sub:
    prefix: str
    found: _Found
    route: JSON
    patterns: list[str]


def apps_from_json(
    host: Host, config: JSON, file: str, parsed: Caddyfile | None, result: SourceResult
) -> list[App]:
    """The apps of a Caddy JSON config; upstreams that are no address are errors in `result`."""
    log_formats = result.log_formats
    http = config.get("apps", {}).get("http", {})
    https_port = http.get("https_port", 443)
    apps: list[App] = []
    for server in http.get("servers", {}).values():
        listen = [_listen(spec) for spec in server.get("listen", [])]
        tls = "tls_connection_policies" in server or any(a.port == https_port for a in listen)
        for address in listen:
            address.tls = tls
        for route in server.get("routes", []):
            hosts = [h for m in route.get("match", []) for h in m.get("host", [])]
            site = _Found()
            subs: list[_Sub] = []
            _walk(route.get("handle", []), site, subs, "/")
            for dial in dict.fromkeys(site.bad_dials):
                shown = without_credentials(dial).rsplit("@", 1)[-1]  # never a user name or password
                result.error(SOURCE, f"reverse_proxy upstream {shown!r} is not a host:port address", file)
            site_app = App(
                kind=SOURCE,
                server_names=hosts,
                listen=listen,
                config=ConfigLocation(*_route_location(route, parsed, hosts, None, file)),
                access_logs=_logs(config, server, hosts, listen, log_formats),
            )
            cert = _certificate(host, config, server, hosts) if tls else ""
            if cert:
                site_app.tls = TlsCertificate(file=cert)
            labels = {k: v for k, v in (("handler", site.handler), ("redirect", site.redirect)) if v}
            apps.append(_app(site_app, "/", site, site_app.config, labels))
            for sub in subs:
                at = ConfigLocation(*_route_location(sub.route, parsed, hosts, sub.patterns, file))
                handler = sub.found.handler or (site.handler if not sub.found.upstreams else "")
                apps.append(
                    _app(site_app, sub.prefix, sub.found, at, {"handler": handler} if handler else {})
                )
    return apps


def _app(site: App, prefix: str, found: _Found, at: ConfigLocation, labels: dict[str, str]) -> App:
    """An app of a site: the site's names, listeners, logs and certificate, with what `found` serves."""
    if len(found.upstreams) > 1:
        labels["upstream_servers"] = ",".join(found.upstreams)
    if found.upstreams:
        labels["host_header"] = found.host_header
    return App(
        kind=SOURCE,
        server_names=list(site.server_names),
        listen=[ListenAddress(**vars(a)) for a in site.listen],
        path_prefix=prefix,
        root=found.root,
        upstream=(found.upstreams or [""])[0],
        config=ConfigLocation(at.file, at.line),
        access_logs=list(site.access_logs),
        tls=TlsCertificate(file=site.tls.file) if site.tls else None,
        labels=labels,
    )


_UPSTREAM_HOST = ("{upstream_hostport}", "{http.reverse_proxy.upstream.hostport}", "{upstream_host}")


def _host_header(proxy: JSON) -> str:
    """Caddy passes the client's Host on unless `header_up Host` says otherwise."""
    written = ((proxy.get("headers") or {}).get("request") or {}).get("set", {}).get("Host") or []
    value = str(written[0]) if written else "{host}"
    if value in _UPSTREAM_HOST or value.startswith("{http.reverse_proxy.upstream.host"):
        return "$proxy_host"
    return "$host" if value in ("{host}", "{http.request.host}", "{hostport}") else value


def _walk(handles: list[JSON], found: _Found, subs: list[_Sub], base: str) -> None:
    for h in handles:
        kind = h.get("handler")
        if kind == "vars" and h.get("root"):
            found.root = found.root or h["root"]
        elif kind == "file_server" and h.get("root"):
            found.root = h["root"]
        elif kind == "rewrite" and h.get("strip_path_prefix"):
            found.stripped = True
        elif kind == "reverse_proxy":
            written = [u.get("dial", "") for u in h.get("upstreams", []) if u.get("dial")]
            found.bad_dials += [d for d in written if not valid_dial(d)]
            dials = [_upstream(d, h) for d in written if valid_dial(d)]
            if h.get("transport", {}).get("protocol") == "fastcgi":
                found.handler = found.handler or (dials[0] if dials else "")
            elif not found.upstreams:
                found.upstreams = dials
                found.host_header = _host_header(h)
        elif kind == "static_response":
            location = (h.get("headers", {}).get("Location") or [""])[0]
            if location and str(h.get("status_code", "")).startswith("3"):
                found.redirect = found.redirect or location
        elif kind == "subroute":
            routes = h.get("routes", [])
            for route in sorted(routes, key=lambda r: bool(r.get("match"))):  # a site's root before its paths
                _route(route, found, subs, base)


def _route(route: JSON, parent: _Found, subs: list[_Sub], base: str) -> None:
    matchers = route.get("match", [])
    patterns = [p for m in matchers for p in m.get("path", [])]
    if matchers and not patterns:
        return  # file/not/header matchers: the plumbing of php_fastcgi and the like
    prefixes = [clean_prefix(p.rstrip("*")) for p in patterns if p.startswith("/")]
    if patterns and not prefixes:  # *.php: a handler for a file type
        handler = _Found()
        _walk(route.get("handle", []), handler, [], base)
        parent.handler = parent.handler or handler.handler
        return
    if not prefixes or "/" in prefixes:
        _walk(route.get("handle", []), parent, subs, base)
        return
    for prefix in dict.fromkeys(prefixes):  # `@static path /css/* /js/*`: every path of the matcher
        full = clean_prefix(base.rstrip("/") + prefix)
        own = _Found()
        nested: list[_Sub] = []
        _walk(route.get("handle", []), own, nested, full)
        if own.root and not own.stripped:
            own.root = posixpath.join(own.root, prefix.strip("/"))
        parent.bad_dials += own.bad_dials
        if own.upstreams or (own.root and own.root != parent.root):
            subs.append(_Sub(full, own, route, patterns))
        subs.extend(nested)


def valid_dial(dial: str) -> bool:
    """host:port, [v6]:port, :port, unix//path, or a placeholder Caddy fills per request."""
    if dial.startswith("unix/") or "{" in dial:
        return True
    host, _, port = dial.rpartition(":")
    if not (port.isdigit() and 0 < int(port) < 65536):
        return False
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    return host == "" or _HOST.fullmatch(host) is not None


def _listen(spec: str) -> ListenAddress:
    """ ":8088", "127.0.0.1:8088", "tcp/[::1]:80", "unix//run/caddy.sock"."""
    if spec.startswith("unix/"):
        return ListenAddress(spec[5:], 0)
    spec = spec.split("/", 1)[1] if spec.startswith(("tcp/", "tcp4/", "tcp6/", "udp/")) else spec
    address, _, port = spec.rpartition(":")
    port = port.split("-", 1)[0]
    return ListenAddress(address.strip("[]") or "*", int(port) if port.isdigit() else 0)


def _upstream(dial: str, handler: JSON) -> str:
    """adapt's dial as a URL like the other sources report: http://127.0.0.1:9000, unix:/run/app.sock."""
    if dial.startswith("unix/"):
        return "unix:" + dial[5:]
    if handler.get("transport", {}).get("protocol") == "fastcgi":
        return dial
    scheme = "https" if "tls" in handler.get("transport", {}) else "http"
    return f"{scheme}://{'localhost' + dial if dial.startswith(':') else dial}"


def _logs(
    config: JSON, server: JSON, hosts: list[str], listen: list[ListenAddress], log_formats: dict[str, str]
) -> list[LogRef]:
    settings = server.get("logs")
    if settings is None:
        return []
    mapped = settings.get("logger_names", {})
    names: list[str] = []
    for h in hosts:
        for key in [h] + [f"{h}:{a.port}" for a in listen]:
            value = mapped.get(key)
            if value is not None:
                names.extend(value if isinstance(value, list) else [value])
    if not names:
        names = [settings.get("default_logger_name", "")]
    loggers = config.get("logging", {}).get("logs", {})
    refs = []
    for name in dict.fromkeys(names):
        logger = loggers.get(name or "default", {})
        writer = logger.get("writer", {})
        if writer.get("output") != "file" or not writer.get("filename"):
            continue
        encoder = logger.get("encoder", {})
        fmt = encoder.get("format") or "json"
        if fmt == "filter":
            fmt = encoder.get("wrap", {}).get("format", "json")
        log_formats[f"{SOURCE}:{fmt}"] = fmt
        refs.append(LogRef(path=writer["filename"], format=fmt))
    return refs


def _certificate(host: Host, config: JSON, server: JSON, hosts: list[str]) -> str:
    """The site's certificate file: one it loads, else the one Caddy manages for it, if on disk."""
    files = config.get("apps", {}).get("tls", {}).get("certificates", {}).get("load_files", [])
    for policy in server.get("tls_connection_policies") or []:
        sni = policy.get("match", {}).get("sni", [])
        tags = policy.get("certificate_selection", {}).get("any_tag", [])
        if tags and set(sni) & set(hosts):
            for f in files:
                if set(f.get("tags", [])) & set(tags):
                    return f.get("certificate", "")
    storage = config.get("storage", {})
    roots = (
        [storage["root"]] if storage.get("module") == "file_system" and storage.get("root") else STORAGE_ROOTS
    )
    for root in roots:
        for name in hosts[:1]:
            safe = name.replace("*", "wildcard_")
            try:
                matches = host.glob(f"{root}/certificates/*/{safe}/{safe}.crt")
            except HostError:
                matches = []
            if matches:
                return matches[0]
    return ""


def _route_location(
    route: JSON, parsed: Caddyfile | None, hosts: list[str], patterns: list[str] | None, file: str
) -> tuple[str, int]:
    """Where a route is written: its "@file"/"@line", else found in the parsed Caddyfile."""
    if "@line" in route:
        return route.get("@file", file), route["@line"]
    if parsed is None:
        return file, 0
    site = next((s for s in parsed.sites if set(hosts) & {_host(a) for a in s.addresses}), None)
    if site is None and not hosts:
        site = next((s for s in parsed.sites if not any(_host(a) for a in s.addresses)), None)
    if site is None:
        return file, 0
    if not patterns:
        return site.file, site.line
    node = _find(site.directives, set(patterns))
    return (node.file, node.line) if node else (site.file, site.line)


def _find(nodes: list[Node], patterns: set[str]) -> Node | None:
    for node in nodes:
        if node.args[:1] and node.args[0] in patterns:
            return node
        found = _find(node.children, patterns)
        if found:
            return found
    return None


def _host(address: str) -> str:
    return caddy_json.site_address(address, 80, 443)[1]
