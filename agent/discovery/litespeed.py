"""OpenLiteSpeed: every virtual host a listener maps is a site; every context with a location,
backend or app server of its own is an app under it.

Read from the layout the installer and control panels such as CyberPanel write:
$SERVER_ROOT/conf/httpd_config.conf (listeners with `map VHOST domains`,
`virtualhost` blocks with vhRoot and configFile, `vhTemplate` members,
extprocessors, the server's access log) and each vhost's vhconf.conf (docRoot,
vhDomain, vhAliases, contexts, extprocessors, scripthandler, vhssl, accesslog).
A vhost without a log of its own writes to the server's log, each line prefixed
`["VHOST"] `; its apps carry the vhost name in the `log_vhost` label so usage
can split that log.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, field

from ronda.agent.discovery import litespeed_config
from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.discovery.litespeed_config import Node
from ronda.agent.discovery.shared import clean_prefix, key_and_link, literal_prefix, without_credentials
from ronda.agent.host import Host, HostError
from ronda.model import App, ConfigLocation, ListenAddress, LogRef, TlsCertificate

SOURCE = "litespeed"
DEFAULT_SERVER_ROOT = "/usr/local/lsws"
COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
_PROGRAMS = ("openlitespeed", "lshttpd", "litespeed")
_BACKEND_TYPES = ("proxy", "fcgi", "lsapi", "servlet", "scgi", "uwsgi", "loadbalancer")
_VARIABLE = re.compile(r"\$(SERVER_ROOT|VH_NAME|VH_ROOT|DOC_ROOT|VH_DOMAIN)")


def discover(host: Host, options: DiscoveryOptions) -> SourceResult:
    result = SourceResult()
    for path in config_files(host, options.litespeed_conf):
        result.apps.extend(_apps_of(host, path, result))
    key_and_link(result.apps)
    return result


def config_files(host: Host, explicit: str = "") -> list[str]:
    """The config given, that of each running server ($SERVER_ROOT/bin/openlitespeed), the usual one."""
    if explicit:
        return [explicit]
    roots = []
    try:
        processes = host.processes()
    except HostError:
        processes = []
    for proc in processes:
        if proc.name in _PROGRAMS and posixpath.basename(posixpath.dirname(proc.exe)) == "bin":
            roots.append(posixpath.dirname(posixpath.dirname(proc.exe)))
    roots.append(DEFAULT_SERVER_ROOT)
    found = [f"{r}/conf/httpd_config.conf" for r in dict.fromkeys(roots)]
    return [p for p in found if host.exists(p)]


@dataclass
class _Listener:
    name: str
    address: ListenAddress
    cert: str
    maps: dict[str, list[str]] = field(default_factory=dict)  # vhost name -> domains


@dataclass
class _VHost:
    name: str
    root: str
    node: Node  # where it is declared
    config: Node | None  # its vhconf (or a template's virtualHostConfig)
    domains: list[str] = field(default_factory=list)  # a template member's own domain and aliases


def _apps_of(host: Host, path: str, result: SourceResult) -> list[App]:
    server_root = posixpath.dirname(posixpath.dirname(path))
    parsed = litespeed_config.read(host, path)
    for file, line, message in parsed.errors:
        result.error(SOURCE, message, file, line)
    top = parsed.root
    if not top.children:
        return []
    server = _Scope(server_root, {"SERVER_ROOT": server_root}, top, None)
    listeners = [_listener(node, server) for node in top.all("listener")]
    vhosts = [_declared(host, node, server, result) for node in top.all("virtualhost")]
    for template in top.all("vhtemplate"):
        vhosts.extend(_members(host, template, server, listeners, result))
    server_log = _log(top, server, result.log_formats)
    apps: list[App] = []
    for vh in vhosts:
        apps.extend(_vhost_apps(vh, server, listeners, server_log, result.log_formats))
    return apps


@dataclass
class _Scope:
    """Where relative paths start and what $VARIABLES stand for, with the config nodes to look in."""

    base: str
    variables: dict[str, str]
    node: Node
    parent: _Scope | None

    def path(self, value: str, base: str = "") -> str:
        expanded = _VARIABLE.sub(lambda m: self.variables.get(m.group(1), m.group(0)), value.strip())
        if expanded and not expanded.startswith("/") and "://" not in expanded:
            expanded = posixpath.join(base or self.base, expanded)
        return posixpath.normpath(expanded) if expanded.startswith("/") else expanded

    def processor(self, name: str) -> Node | None:
        scope: _Scope | None = self
        while scope is not None:
            for node in scope.node.all("extprocessor"):
                if node.value == name:
                    return node
            scope = scope.parent
        return None


def _listener(node: Node, server: _Scope) -> _Listener:
    spec = node.get("address")
    tls = node.get("secure") == "1"
    host_part, _, port = spec.rpartition(":")
    address = host_part.strip("[]")
    address = {"": "*", "ANY": "::", "*": "*"}.get(address, address)
    listener = _Listener(node.value, ListenAddress(address, int(port) if port.isdigit() else 0, tls), "")
    if tls and node.get("certfile"):
        listener.cert = server.path(node.get("certfile"))
    for m in node.all("map"):
        name, _, domains = m.value.partition(" ")
        listener.maps.setdefault(name, []).extend(
            d.strip() for d in re.split(r"[,\s]+", domains) if d.strip()
        )
    return listener


def _declared(host: Host, node: Node, server: _Scope, result: SourceResult) -> _VHost:
    name = node.value
    variables = dict(server.variables, VH_NAME=name)
    root = _Scope(server.base, variables, node, server).path(node.get("vhroot")).rstrip("/")
    config = node.all("virtualhostconfig")[0] if node.all("virtualhostconfig") else None
    file = node.get("configfile")
    if config is None and file:
        vars_ = dict(variables, VH_ROOT=root)
        path = _Scope(server.base, vars_, node, server).path(file)
        parsed = litespeed_config.read(host, path)
        for f, line, message in parsed.errors:
            result.error(SOURCE, message, f, line)
        config = parsed.root if parsed.root.children else None
    return _VHost(name, root, node, config)


def _members(
    host: Host, template: Node, server: _Scope, listeners: list[_Listener], result: SourceResult
) -> list[_VHost]:
    """Virtual hosts made from a template: `member NAME` lines or blocks, mapped on its listeners."""
    members = template.all("member")
    if not members:
        return []
    parsed = litespeed_config.read(host, server.path(template.get("templatefile")))
    for f, line, message in parsed.errors:
        result.error(SOURCE, message, f, line)
    body = parsed.root
    names = [n.strip() for n in re.split(r"[,\s]+", template.get("listeners")) if n.strip()]
    found = []
    for member in members:
        name = member.value.split()[0] if member.value else ""
        if not name:
            continue
        variables = dict(server.variables, VH_NAME=name)
        root = _Scope(server.base, variables, body, server).path(member.get("vhroot") or body.get("vhroot"))
        config = body.all("virtualhostconfig")[0] if body.all("virtualhostconfig") else None
        domains = [member.get("vhdomain") or name] + _split(member.get("vhaliases"))
        vh = _VHost(name, root.rstrip("/"), member, config, domains)
        for listener in listeners:
            if listener.name in names:
                listener.maps.setdefault(name, []).extend(domains)
        found.append(vh)
    return found


def _vhost_apps(
    vh: _VHost,
    server: _Scope,
    listeners: list[_Listener],
    server_log: LogRef | None,
    log_formats: dict[str, str],
) -> list[App]:
    config = vh.config or Node("", "", vh.node.file, vh.node.line, [])
    variables = dict(server.variables, VH_NAME=vh.name, VH_ROOT=vh.root)
    scope = _Scope(vh.root, variables, config, server)
    doc_root = scope.path(config.get("docroot"))
    scope.variables["DOC_ROOT"] = doc_root
    names: list[str] = []
    listen: list[ListenAddress] = []
    cert = scope.path(config.all("vhssl")[0].get("certfile")) if config.all("vhssl") else ""
    for listener in listeners:
        domains = listener.maps.get(vh.name)
        if domains is None:
            continue
        catch_all = "*" in domains
        names.extend(d.lower() for d in domains if d != "*")
        address = ListenAddress(**vars(listener.address))
        address.default_server = catch_all
        listen.append(address)
        cert = cert or listener.cert
    own = _split(config.get("vhdomain")) + _split(config.get("vhaliases")) + vh.domains
    names = list(dict.fromkeys(names + [d.replace("$VH_NAME", vh.name).lower() for d in own if d != "*"]))
    own_log = _log(config, scope, log_formats)
    labels: dict[str, str] = {"vhost": vh.name}
    logs: list[LogRef] = []
    if own_log is not None:
        logs = [own_log]
    elif server_log is not None:
        name = f"vhost-{server_log.format}"
        log_formats[f"{SOURCE}:{name}"] = '["%v"] ' + log_formats[f"{SOURCE}:{server_log.format}"]
        logs = [LogRef(server_log.path, name)]
        labels["log_vhost"] = vh.name
    if not listen:
        labels["unmapped"] = "no listener maps this virtual host"
    handler = _php_handler(scope)
    cert = cert if any(a.tls for a in listen) else ""

    def make(prefix: str, root: str, upstream: str, at: Node, extra: dict[str, str]) -> App:
        return App(
            kind=SOURCE,
            server_names=list(names),
            listen=[ListenAddress(**vars(a)) for a in listen],
            path_prefix=prefix,
            root=root,
            upstream=without_credentials(upstream),
            config=ConfigLocation(at.file, at.line),
            access_logs=list(logs),
            tls=TlsCertificate(file=cert) if cert else None,
            labels={**labels, **extra},
        )

    site = make("/", doc_root, "", vh.node, {"handler": handler} if handler else {})
    apps = [site]
    for context in config.all("context"):
        prefix, root, upstream, extra = _context(context, scope, doc_root)
        if prefix is None or prefix.startswith("/.well-known"):  # ACME challenges: plumbing, not an app
            continue
        if prefix == "/":
            site.root = root or site.root
            site.upstream = upstream or site.upstream
            site.labels.update(extra)
            continue
        if handler and not upstream:
            extra.setdefault("handler", handler)
        apps.append(make(prefix, root, upstream, context, extra))
    return apps


def _context(node: Node, scope: _Scope, doc_root: str) -> tuple[str | None, str, str, dict[str, str]]:
    """(prefix, root, upstream, labels) of a context that serves something of its own, else prefix None."""
    uri = node.value
    if uri.lower().startswith("exp:"):
        prefix = literal_prefix(uri[4:].strip())
        if not prefix:
            return None, "", "", {}
    else:
        prefix = clean_prefix(uri)
    kind = node.get("type", "null").lower()
    location = node.get("location")
    if kind == "redirect":
        return ("/", "", "", {"redirect": location}) if prefix == "/" and location else (None, "", "", {})
    if kind in _BACKEND_TYPES:
        processor = scope.processor(node.get("handler"))
        target = _address(processor) if processor is not None else node.get("handler")
        return prefix, "", target, {}
    if kind == "appserver":
        return prefix, scope.path(location, doc_root), "", {"app_type": node.get("apptype")}
    if not location:
        return None, "", "", {}
    root = scope.path(location, doc_root).rstrip("/") or "/"
    if kind in ("null", "static", "") and root == posixpath.join(doc_root, prefix.strip("/")).rstrip("/"):
        return None, "", "", {}  # the same files the site serves at that path
    return prefix, root, "", ({"handler": "cgi"} if kind == "cgi" else {})


def _address(processor: Node) -> str:
    """An extprocessor's address as the other sources write upstreams: unix:/path, http://host:port."""
    address = processor.get("address")
    if address.lower().startswith("uds:"):
        return "unix:/" + address[4:].lstrip("/")
    if processor.get("type").lower() == "proxy" and "://" not in address:
        return f"http://{address}"
    return address


def _php_handler(scope: _Scope) -> str:
    """Where .php goes: scripthandler `add lsapi:NAME php`, the vhost's own before the server's."""
    current: _Scope | None = scope
    while current is not None:
        for handler in current.node.all("scripthandler"):
            for add in handler.all("add"):
                target, _, suffixes = add.value.partition(" ")
                if "php" in _split(suffixes):
                    processor = scope.processor(target.partition(":")[2])
                    return _address(processor) if processor is not None else ""
        current = current.parent
    return ""


def _log(node: Node, scope: _Scope, log_formats: dict[str, str]) -> LogRef | None:
    """The access log a server or vhost config writes itself (None: none, or the server's)."""
    for log in node.all("accesslog"):
        if log.get("useserver") == "1" or not log.value or log.get("pipedlogger"):
            return None
        definition = log.get("logformat") or _headers_format(log)
        if definition == COMBINED:
            name = "combined"
        else:
            name = "custom-" + hashlib.sha1(definition.encode()).hexdigest()[:8]
        log_formats[f"{SOURCE}:{name}"] = definition
        return LogRef(scope.path(log.value), name)
    return None


def _headers_format(log: Node) -> str:
    """The line LiteSpeed writes without logFormat: common, then the headers logHeaders (or the
    older logReferer/logUserAgent, both on by default) ask for."""
    headers = log.get("logheaders")
    if headers.isdigit():
        flags = int(headers)
    else:
        flags = (log.get("logreferer", "1") == "1") * 1 + (log.get("loguseragent", "1") == "1") * 2
    fields = [("%{Referer}i", 1), ("%{User-Agent}i", 2), ("%{Host}i", 4)]
    return '%h %l %u %t "%r" %>s %b' + "".join(f' "{f}"' for f, bit in fields if flags & bit)


def _split(value: str) -> list[str]:
    return [v for v in re.split(r"[,\s]+", value) if v]
