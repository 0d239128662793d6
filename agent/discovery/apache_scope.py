"""What one Apache server context (the main server or a <VirtualHost>) declares about its apps.

A scope collects names, document root, sub-apps (Alias, ProxyPass, WSGI...),
handlers, TLS and logs from its directives, looking into <Location> and
<Directory>-like sections where those directives may appear.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass, field

from ronda.agent.discovery.apache_logs import LogConfig
from ronda.agent.discovery.apache_rewrite import EVERY_PATH, redirect_target, rewrite_rule, whole_site
from ronda.agent.discovery.apache_syntax import Directive
from ronda.agent.discovery.shared import clean_prefix, literal_prefix

# Aliases every stock Apache carries: icons, error pages, the empty cgi-bin. They are not apps.
_FURNITURE_PREFIXES = (
    "/usr/share/apache2/icons",
    "/usr/share/httpd/icons",
    "/usr/share/apache2/error",
    "/usr/share/httpd/error",
    "/usr/share/httpd/noindex",
    "/usr/share/javascript",
    "/usr/lib/cgi-bin",
    "/var/www/cgi-bin",
    "/usr/share/apache2/default-site",
)
_FURNITURE_URLS = {"/icons", "/error", "/noindex", "/.noindex.html", "/javascript", "/cgi-bin"}
_LOCATION_SECTIONS = {"location", "locationmatch"}
_HANDLER_SECTIONS = {"directory", "directorymatch", "files", "filesmatch", "location", "locationmatch"}
_REDIRECTS = {"redirect", "redirectpermanent", "redirecttemp", "redirectmatch"}


@dataclass
class SubApp:
    prefix: str
    root: str
    upstream: str
    where: Directive
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Scope:
    server_name: str = ""
    aliases: list[str] = field(default_factory=list)
    document_root: str = ""
    document_root_at: Directive | None = None
    upstream: str = ""  # ProxyPass (or RewriteRule [P]) of "/"
    preserve_host: bool | None = None  # ProxyPreserveHost: None when this scope does not say
    proxy_excludes: bool = False  # ProxyPass PATH ! : the document root still serves those paths
    handler: str = ""  # PHP-FPM and the like: SetHandler proxy:..., a ProxyPassMatch on file types
    # SetHandler proxy:... inside <Directory DIR>: only for what is served from DIR
    dir_handlers: list[tuple[str, str]] = field(default_factory=list)
    redirect: str = ""  # where the whole context redirects to
    virtual_root: str = ""  # mod_vhost_alias: VirtualDocumentRoot /var/www/%0/public
    wsgi: str = ""
    ssl_engine: bool = False
    certificate: str = ""
    subs: list[SubApp] = field(default_factory=list)
    balancers: dict[str, list[str]] = field(default_factory=dict)
    logs: LogConfig = field(default_factory=LogConfig)


def is_furniture(url: str, target: str) -> bool:
    return clean_prefix(url) in _FURNITURE_URLS or target.rstrip("/").startswith(_FURNITURE_PREFIXES)


def scan(directives: list[Directive], server_root: str) -> Scope:
    scope = Scope()
    _scan(directives, scope, server_root, location="", location_regex=False)
    return scope


def _abs(path: str, server_root: str) -> str:
    if not path:
        return ""
    path = path if path.startswith("/") else posixpath.join(server_root, path)
    return path.rstrip("/") or "/"


def _scan(
    directives: list[Directive], scope: Scope, server_root: str, location: str, location_regex: bool
) -> None:
    conditions: list[Directive] = []  # the RewriteConds of the next RewriteRule
    for d in directives:
        key = d.key
        if d.is_section:
            if key == "virtualhost":
                continue
            if key == "proxy" and d.arg().lower().startswith("balancer://"):
                members = [c.arg() for c in d.children or [] if c.key == "balancermember" and c.args]
                scope.balancers[d.arg().rstrip("/").lower()] = members
            elif key in _LOCATION_SECTIONS and d.args:
                regex = key == "locationmatch" or d.arg() == "~"
                path = d.args[-1]
                _scan(d.children or [], scope, server_root, literal_prefix(path) if regex else path, regex)
            elif key in ("directory", "directorymatch") and d.args:
                directory = "" if key == "directorymatch" or d.arg() == "~" else _abs(d.args[-1], server_root)
                _scan_handlers(d.children or [], scope, directory)
            elif key in _HANDLER_SECTIONS:
                _scan_handlers(d.children or [], scope, "")
            continue
        if key == "rewritecond":
            conditions.append(d)
            continue
        if key == "rewriterule":
            _rewrite(d, scope, location, conditions)
            conditions = []
            continue
        if key == "servername" and d.args:
            scope.server_name = _host_of(d.arg())
        elif key == "serveralias":
            scope.aliases.extend(a for a in d.args if a)
        elif key == "documentroot" and d.args:
            scope.document_root, scope.document_root_at = _abs(d.arg(), server_root), d
        elif key == "virtualdocumentroot" and d.args:
            fixed = d.arg().split("%", 1)[0]
            scope.document_root, scope.document_root_at = _abs(fixed.rsplit("/", 1)[0], server_root), d
            scope.virtual_root = d.arg()
        elif key == "proxypreservehost" and d.args:
            scope.preserve_host = d.arg().lower() == "on"
        elif key == "sslengine" and d.args:
            scope.ssl_engine = d.arg().lower() == "on"
        elif key == "sslcertificatefile" and d.args:
            scope.certificate = _abs(d.arg(), server_root)
        elif key in ("logformat", "customlog", "transferlog"):
            scope.logs.add(d)
        elif key == "sethandler" and d.arg().lower().startswith("proxy:"):
            scope.handler = scope.handler or d.arg()[6:]
        elif key in _REDIRECTS:
            if not location:
                scope.redirect = scope.redirect or redirect_target(d)
        else:
            _scan_app_directive(d, scope, server_root, location, location_regex)


def _scan_app_directive(d: Directive, scope: Scope, server_root: str, location: str, regex: bool) -> None:
    key, args = d.key, d.args
    if key in ("alias", "scriptalias") and args:
        url, target = (location, args[0]) if len(args) == 1 else (args[0], args[1])
        if url and not is_furniture(url, target):
            _add_sub(scope, url, _abs(target, server_root), "", d, {"pattern": location} if regex else {})
    elif key in ("aliasmatch", "scriptaliasmatch") and len(args) >= 2:
        target = args[1].split("$", 1)[0]
        prefix = literal_prefix(args[0])
        if prefix and not is_furniture(prefix, target):
            _add_sub(scope, prefix, _abs(target, server_root), "", d, {"pattern": args[0]})
    elif key == "proxypass" and args:
        url, upstream = (location, args[0]) if len(args) == 1 or "=" in args[1] else (args[0], args[1])
        if upstream == "!":
            scope.proxy_excludes = True
        if upstream == "!" or not url:
            return
        if clean_prefix(url) == "/" and not regex:
            scope.upstream = scope.upstream or upstream
        else:
            _add_sub(scope, url, "", upstream, d, {"pattern": location} if regex else {})
    elif key == "proxypassmatch" and args:
        pattern, upstream = (location, args[0]) if len(args) == 1 else (args[0], args[1])
        if upstream == "!":
            return
        prefix = literal_prefix(pattern) if len(args) > 1 else pattern
        if clean_prefix(prefix) != "/":
            _add_sub(scope, prefix, "", upstream, d, {"pattern": pattern})
        elif "\\." in pattern:  # ^/(.*\.php)$ -> a handler for a file type, not an app
            scope.handler = scope.handler or upstream
        else:
            scope.upstream = scope.upstream or upstream
    elif key == "wsgiscriptalias" and len(args) >= 2:
        if clean_prefix(args[0]) == "/":
            scope.wsgi = _abs(args[1], server_root)
        else:
            root = posixpath.dirname(_abs(args[1], server_root))
            _add_sub(scope, args[0], root, "", d, {"wsgi": _abs(args[1], server_root)})


def _scan_handlers(directives: list[Directive], scope: Scope, directory: str) -> None:
    for d in directives:
        if d.is_section:
            _scan_handlers(d.children or [], scope, directory)
        elif d.key == "sethandler" and d.arg().lower().startswith("proxy:"):
            if directory:
                scope.dir_handlers.append((directory, d.arg()[6:]))
            else:
                scope.handler = scope.handler or d.arg()[6:]


def _rewrite(d: Directive, scope: Scope, location: str, conditions: list[Directive]) -> None:
    """RewriteRule [P] proxies a prefix (or the whole site); [R] of every path redirects the whole site."""
    rule = rewrite_rule(d)
    if rule is None:
        return
    if rule.proxy:
        url = location or literal_prefix(rule.pattern) or "/"
        if clean_prefix(url) == "/":
            scope.upstream = scope.upstream or rule.target
        else:
            _add_sub(scope, url, "", rule.target, d, {"pattern": rule.pattern})
    elif not location and rule.pattern in EVERY_PATH and whole_site(conditions):
        scope.redirect = scope.redirect or rule.target


def handler_for(root: str, scopes: list[Scope]) -> str:
    """The PHP handler of what is served from `root`: the closest <Directory> one, else the context's own."""
    best = ("", "")
    for scope in scopes:
        for directory, handler in scope.dir_handlers:
            if root and _inside(root, directory) and len(directory) > len(best[0]):
                best = (directory, handler)
    return best[1] or next((s.handler for s in scopes if s.handler), "")


def _inside(path: str, directory: str) -> bool:
    """Is `path` in `directory`, a <Directory> argument (with httpd's wildcards: /var/www/*/public)?"""
    directory = directory.rstrip("/") or "/"
    if any(c in directory for c in "*?["):
        depth = directory.count("/")
        head = "/".join(path.split("/")[: depth + 1])
        return fnmatch.fnmatchcase(head, directory)
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _add_sub(scope: Scope, url: str, root: str, upstream: str, d: Directive, labels: dict[str, str]) -> None:
    scope.subs.append(SubApp(clean_prefix(url), root, upstream, d, dict(labels)))


def _host_of(server_name: str) -> str:
    """ServerName [scheme://]fqdn[:port] -> fqdn."""
    name = re.sub(r"^[a-z][a-z0-9+.-]*://", "", server_name.strip(), flags=re.IGNORECASE)
    if name.startswith("["):
        return name[1:].split("]", 1)[0]
    return name.rsplit(":", 1)[0] if name.count(":") == 1 else name
