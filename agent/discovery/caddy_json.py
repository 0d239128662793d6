"""A parsed Caddyfile as the JSON `caddy adapt` would print, for the directives that make apps.

Covers site addresses and ports, root, file_server, reverse_proxy (with `to`
and the FastCGI transport), php_fastcgi, handle/handle_path/route with path
and named matchers, redir/respond, log output files and `tls CERT KEY`.
Each route carries "@file"/"@line" so apps keep their place in the Caddyfile.
"""

from __future__ import annotations

import re
from typing import Any

from ronda.agent.discovery.caddyfile import Caddyfile, Node, Site

_ADDRESS = re.compile(
    r"^(?:(?P<scheme>[a-z0-9+]+)://)?(?P<host>\[[^\]]*\]|[^:/]*)(?::(?P<port>\d+))?(?P<path>/.*)?$",
    re.IGNORECASE,
)
JSON = dict[str, Any]


def site_address(address: str, http_port: int, https_port: int) -> tuple[str, str, int]:
    """(scheme, host, port) of a site address such as "http://portal.test:8088", ":8089" or "sipd.go.id"."""
    m = _ADDRESS.match(address.strip())
    if not m:
        return "", address, https_port
    scheme, host = (m["scheme"] or "").lower(), m["host"].strip("[]")
    if m["port"]:
        port = int(m["port"])
    elif scheme == "http":
        port = http_port
    else:
        port = https_port
    if not scheme:
        scheme = "http" if port == http_port or (not host and m["port"] and port != https_port) else "https"
    return scheme, host, port


def to_json(cf: Caddyfile) -> JSON:
    http_port = _int_option(cf, "http_port", 80)
    https_port = _int_option(cf, "https_port", 443)
    default_bind = (cf.option("default_bind") or [""])[0]
    servers: dict[str, JSON] = {}
    logging: dict[str, JSON] = {}
    load_files: list[JSON] = []
    for site in cf.sites:
        parsed = [site_address(a, http_port, https_port) for a in site.addresses]
        hosts = sorted({h for _, h, _ in parsed if h}, key=[h for _, h, _ in parsed].index)
        binds = next((n.args for n in site.directives if n.name == "bind" and n.args), [default_bind])
        for port in dict.fromkeys(p for _, _, p in parsed):
            listen = [f"{b}:{port}" if b else f":{port}" for b in binds]
            server = servers.setdefault(" ".join(listen), {"listen": listen, "routes": []})
            route: JSON = {
                "handle": [{"handler": "subroute", "routes": routes(site.directives, _matchers(site))}],
                "terminal": True,
                "@file": site.file,
                "@line": site.line,
            }
            if hosts:
                route["match"] = [{"host": hosts}]
            server["routes"].append(route)
            if any(s == "https" for s, _, p in parsed if p == port):
                server.setdefault("tls_connection_policies", [])
            _site_log(site, hosts, server, logging)
            _site_tls(site, hosts, server, load_files)
    config: JSON = {
        "apps": {
            "http": {
                "http_port": http_port,
                "https_port": https_port,
                "servers": {f"srv{i}": s for i, s in enumerate(servers.values())},
            }
        }
    }
    if load_files:
        config["apps"]["tls"] = {"certificates": {"load_files": load_files}}
    if logging:
        config["logging"] = {"logs": logging}
    return config


def _int_option(cf: Caddyfile, name: str, default: int) -> int:
    value = (cf.option(name) or [""])[0]
    return int(value) if value.isdigit() else default


def _matchers(site: Site) -> dict[str, list[str]]:
    """Named matchers' path patterns: `@api path /api/*` or `@api { path /api/* }`."""
    found: dict[str, list[str]] = {}
    for node in site.directives:
        if not node.name.startswith("@"):
            continue
        paths = node.args[1:] if node.args[:1] == ["path"] else []
        paths += [p for c in node.children if c.name == "path" for p in c.args]
        found[node.name] = paths
    return found


def _split_matcher(args: list[str], matchers: dict[str, list[str]]) -> tuple[list[str] | None, list[str]]:
    if args and args[0] == "*":
        return None, args[1:]
    if args and args[0].startswith("/"):
        return [args[0]], args[1:]
    if args and args[0].startswith("@"):
        return matchers.get(args[0], []) or [args[0]], args[1:]
    return None, args


def routes(nodes: list[Node], matchers: dict[str, list[str]]) -> list[JSON]:
    out = []
    for node in nodes:
        paths, args = _split_matcher(node.args, matchers)
        handle = _handle(node, args, matchers, paths)
        if handle is None:
            continue
        route: JSON = {"handle": handle, "@file": node.file, "@line": node.line}
        if node.name == "php_fastcgi":
            route["match"] = [{"path": ["*.php"]}]
        elif paths:
            route["match"] = [{"path": paths}]
        out.append(route)
    return out


def _handle(
    node: Node, args: list[str], matchers: dict[str, list[str]], paths: list[str] | None
) -> list[JSON] | None:
    name = node.name
    if name == "root" and args:
        return [{"handler": "vars", "root": args[0]}]
    if name == "file_server":
        root = next((c.args[0] for c in node.children if c.name == "root" and c.args), "")
        return [{"handler": "file_server", **({"root": root} if root else {})}]
    if name in ("reverse_proxy", "php_fastcgi"):
        upstreams = args + [a for c in node.children if c.name == "to" for a in c.args]
        transport = next((c.args[0] for c in node.children if c.name == "transport" and c.args), "")
        proxy: JSON = {"handler": "reverse_proxy", "upstreams": [{"dial": _dial(u)} for u in upstreams]}
        if name == "php_fastcgi" or transport == "fastcgi":
            proxy["transport"] = {"protocol": "fastcgi"}
        host = [
            c.args[1]
            for c in node.children
            if c.name == "header_up" and len(c.args) > 1 and c.args[0].lower() == "host"
        ]
        if host:
            proxy["headers"] = {"request": {"set": {"Host": host[-1:]}}}
        return [proxy]
    if name in ("handle", "route"):
        return [{"handler": "subroute", "routes": routes(node.children, matchers)}]
    if name == "handle_path":
        strip = (paths or [""])[0].rstrip("*").rstrip("/")
        return [
            {
                "handler": "subroute",
                "routes": [
                    {"handle": [{"handler": "rewrite", "strip_path_prefix": strip}]},
                    *routes(node.children, matchers),
                ],
            }
        ]
    if name == "redir" and args:
        code = {"permanent": 301, "temporary": 302}.get(args[1] if len(args) > 1 else "", 302)
        return [{"handler": "static_response", "headers": {"Location": [args[0]]}, "status_code": code}]
    if name == "respond":
        return [{"handler": "static_response", "body": args[0] if args else ""}]
    return None


def _dial(upstream: str) -> str:
    """Caddyfile upstream to adapt's dial: http://host:port -> host:port; unix//path stays. What Caddy
    refuses (a path after the address) is left as written, and reported as no address."""
    if upstream.startswith("unix/"):
        return upstream
    rest = upstream.split("://", 1)[1] if "://" in upstream else upstream
    address, _, path = rest.partition("/")
    if path:
        return upstream
    if ":" not in address.lstrip("[").split("]")[-1]:
        address += ":443" if upstream.startswith("https://") else ":80"
    return address


def _site_log(site: Site, hosts: list[str], server: JSON, logging: dict[str, JSON]) -> None:
    log = next((n for n in site.directives if n.name == "log"), None)
    if log is None:
        return
    output = next((c.args for c in log.children if c.name == "output" and c.args), ["stderr"])
    fmt = next((c.args[0] for c in log.children if c.name == "format" and c.args), "")
    name = f"log{len(logging)}"
    writer: JSON = {"output": output[0]}
    if output[0] == "file" and len(output) > 1:
        writer["filename"] = output[1]
    logging[name] = {
        "writer": writer,
        **({"encoder": {"format": fmt}} if fmt else {}),
        "include": [f"http.log.access.{name}"],
    }
    logs = server.setdefault("logs", {})
    if hosts:
        logs.setdefault("logger_names", {}).update({h: name for h in hosts})
    else:
        logs["default_logger_name"] = name


def _site_tls(site: Site, hosts: list[str], server: JSON, load_files: list[JSON]) -> None:
    tls = next((n for n in site.directives if n.name == "tls" and len(n.args) >= 2), None)
    if tls is None:
        return
    tag = f"cert{len(load_files)}"
    load_files.append({"certificate": tls.args[0], "key": tls.args[1], "tags": [tag]})
    server.setdefault("tls_connection_policies", []).append(
        {"match": {"sni": hosts}, "certificate_selection": {"any_tag": [tag]}}
    )
