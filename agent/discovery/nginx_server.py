"""One nginx server block as the apps a user reaches through it.

The server is an app ("/"); so is every location that serves something of
its own: an alias or root other than the server's, a backend other than the
server's, or PHP of its own (`location ^~ /nextcloud { location ~ \\.php {
fastcgi_pass ...; } }`). What is never an app:

- named locations (`@app`): their backend belongs to the locations whose
  `try_files`/`error_page` fall through to them;
- `internal;` locations, and those under `/.well-known/` (ACME, webfinger);
- a regex location without a literal prefix (`~ \\.php$`, `~* \\.(css|js)$`):
  a FastCGI pass there is the PHP handler of the app around it;
- a location passing to the same backend as its server (`/message-bus/`,
  `/cable`), an exact-match file (`= /config.js`), a proxied app's own
  static files (`/static/`, `/media/`).

A server that only redirects (`return 301 ...`), or a location that sends
users to another site, is kept as a record with the `redirect` label and no
root; a server that only answers a status (`return 444`) has the `return` label.

An app that proxies over HTTP carries, in its `host_header` label, the Host its
backend is asked for, which picks the backend's virtual host: `$host` (the
client's, passed on), a fixed name, or nginx's default `$proxy_host`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ronda.agent.discovery.nginx_vars import Variables, concrete_path
from ronda.agent.discovery.shared import clean_prefix, is_asset_prefix, literal_prefix
from ronda.model import App, LogRef

Statement = dict[str, Any]
# make(prefix, statement, root, upstream, logs, labels) -> App, with the server's names and listeners
MakeApp = Callable[[str, Statement, str, str, list[LogRef], dict[str, str]], App]

PROXY_DIRECTIVES = ("proxy_pass", "grpc_pass")
DEFAULT_HOST_HEADER = (
    "$proxy_host"  # what proxy_pass sends without proxy_set_header Host: the upstream's name
)
HANDLER_DIRECTIVES = ("fastcgi_pass", "uwsgi_pass", "scgi_pass")
_REDIRECT_CODES = ("301", "302", "303", "307", "308")
_REGEX_MODIFIERS = ("~", "~*")
_PLUMBING = "/.well-known"
# rewrite patterns that match every request
_EVERY_URI = {"^", "^/", ".*", "^.*", "^.*$", "(.*)", "^(.*)", "^(.*)$", "^/(.*)", "^/(.*)$", "^/?(.*)$"}


class Context:
    """Directives inherited down http -> server -> location, and the variables in effect."""

    def __init__(
        self,
        root: str = "",
        logs: list[LogRef] | None = None,
        logs_set: bool = False,
        cert: str = "",
        variables: Variables | None = None,
        host: str = DEFAULT_HOST_HEADER,
    ) -> None:
        self.root = root  # as written: expanded where it is used, with that block's variables
        self.logs = logs or []
        self.logs_set = logs_set
        self.cert = cert
        self.variables = variables or Variables()
        self.host = host  # the Host header a proxy_pass here sends its backend

    def child(self, block: list[Statement]) -> Context:
        root = arg(block, "root") or self.root
        cert = arg(block, "ssl_certificate") or self.cert
        variables = self.variables.within(block)
        host = host_header(block, variables, self.host)
        logs = [s for s in block if s["directive"] == "access_log"]
        if not logs:
            return Context(root, self.logs, self.logs_set, cert, variables, host)
        refs = []
        for s in logs:
            args = s.get("args") or []
            if args and args[0] != "off" and not args[0].startswith("syslog:"):
                fmt = args[1] if len(args) > 1 and "=" not in args[1] else "combined"
                refs.append(LogRef(path=args[0], format=fmt))
        return Context(root, refs, True, cert, variables, host)

    @property
    def docroot(self) -> str:
        return concrete_path(self.variables.expand(self.root)) if self.root else ""


@dataclass
class Serves:
    """What one block serves by its own directives, or through the named location it falls through to."""

    proxy: str = ""  # proxy_pass, grpc_pass
    fastcgi: str = ""  # fastcgi_pass, uwsgi_pass, scgi_pass
    alias: str = ""
    root: str = ""  # its own root directive
    redirect: str = ""  # where it sends every request
    status: str = ""  # the status it answers every request with, when that is not a redirect
    via: list[Statement] | None = None  # the named location's block, when the backend is its

    def host(self, ctx: Context) -> str:
        """The Host header the backend is asked for (the named location's own, when the backend is its)."""
        return host_header(self.via, ctx.variables, ctx.host) if self.via is not None else ctx.host


def arg(block: list[Statement], directive: str) -> str:
    for s in block:
        if s["directive"] == directive and s.get("args"):
            return s["args"][0]
    return ""


def blocks(statements: list[Statement], directive: str) -> list[Statement]:
    return [s for s in statements if s["directive"] == directive and "block" in s]


def upstream_name(target: str) -> str:
    """http://backend/path -> backend; fastcgi_pass php_pool -> php_pool; unix:/run/x.sock -> ""."""
    if target.startswith("unix:"):
        return ""
    rest = target.split("://", 1)[1] if "://" in target else target
    name = rest.split("/", 1)[0]
    return "" if "$" in name or name.startswith("unix:") else name


def read_block(block: list[Statement], variables: Variables, named: dict[str, Statement]) -> Serves:
    found = Serves()
    for s in block:
        directive, args = s["directive"], s.get("args") or []
        if not args:
            continue
        if directive in PROXY_DIRECTIVES and not found.proxy:
            found.proxy = variables.expand(args[0])
        elif directive in HANDLER_DIRECTIVES and not found.fastcgi:
            found.fastcgi = variables.expand(args[0])
        elif directive == "alias":
            found.alias = variables.expand(args[0])
        elif directive == "root":
            found.root = variables.expand(args[0])
    found.redirect, found.status = _answer(block)
    fallback = _fallback(block, named)
    if fallback is not None and not (found.proxy or found.fastcgi):
        inner = read_block(fallback["block"], variables.within(fallback["block"]), {})
        found.proxy, found.fastcgi, found.via = inner.proxy, inner.fastcgi, fallback["block"]
    return found


def _answer(block: list[Statement]) -> tuple[str, str]:
    """(redirect target, other status) of a block that answers every request by itself."""
    for s in block:
        directive, args = s["directive"], s.get("args") or []
        if directive == "return" and args:
            code = args[0]
            if code in _REDIRECT_CODES and len(args) > 1:
                return args[1], ""
            return (code, "") if not code.isdigit() else ("", code)  # `return URL;` is a 302
        if directive == "rewrite" and len(args) >= 2 and args[0] in _EVERY_URI:
            flag = args[2] if len(args) > 2 else ""
            if flag in ("permanent", "redirect") or args[1].startswith(("http://", "https://", "$scheme://")):
                return args[1], ""
    return "", ""


def _fallback(block: list[Statement], named: dict[str, Statement]) -> Statement | None:
    """The named location a block hands requests to: `try_files $uri @app;`, `error_page 404 = @app;`."""
    for s in block:
        args = s.get("args") or []
        if s["directive"] in ("try_files", "error_page") and args and args[-1].startswith("@"):
            return named.get(args[-1])
    return None


def _conditional_redirect(block: list[Statement]) -> str:
    """Certbot's port-80 server: `if ($host = NAME) { return 301 https://...; }` then `return 404;`."""
    for s in blocks(block, "if"):
        target, _ = _answer(s["block"])
        if target:
            return target
    return ""


def host_header(block: list[Statement], variables: Variables, inherited: str) -> str:
    """The Host a proxy_pass in `block` sends its backend: a fixed name picks one of the backend's
    virtual hosts, `$host` passes on the client's. As nginx does, a block with any proxy_set_header
    of its own inherits none: without a Host line there, the backend is asked for $proxy_host."""
    headers = [s.get("args") or [] for s in block if s["directive"] == "proxy_set_header"]
    if not headers:
        return inherited
    for args in headers:
        if len(args) > 1 and args[0].lower() == "host":
            return variables.expand(args[1])
    return DEFAULT_HOST_HEADER


def _has(block: list[Statement], directive: str) -> bool:
    return any(s["directive"] == directive for s in block)


def _locations(block: list[Statement]) -> Iterator[tuple[Statement, str, str]]:
    """Each location of `block` with its modifier and URI."""
    for loc in blocks(block, "location"):
        args = loc.get("args") or []
        if args:
            yield loc, (args[0] if len(args) > 1 else ""), args[-1]


def _backend_ids(target: str, upstreams: dict[str, list[str]]) -> set[str]:
    """The addresses behind a pass target, for telling whether two locations share a backend."""
    if not target:
        return set()
    if "unix:" in target:
        return {target.split("unix:", 1)[1].split(":", 1)[0]}
    name = upstream_name(target)
    return {
        s.lower().removeprefix("unix:").replace("localhost", "127.0.0.1") for s in upstreams.get(name, [name])
    }


def _server_handlers(block: list[Statement], variables: Variables) -> set[str]:
    """What the server's own PHP locations (`~ \\.php$`, no literal prefix) pass to."""
    found = {
        read_block(loc["block"], variables, {}).fastcgi
        for loc, modifier, path in _locations(block)
        if modifier in _REGEX_MODIFIERS and clean_prefix(literal_prefix(path)) == "/"
    }
    return found - {""}


class ServerApps:
    """The apps of one server block (see the module docstring)."""

    def __init__(self, make: MakeApp, upstreams: dict[str, list[str]]) -> None:
        self.make = make
        self.upstreams = upstreams
        self.named: dict[str, Statement] = {}
        self.apps: dict[str, App] = {}
        self.handlers: list[tuple[str, str, App]] = []  # (literal prefix, FastCGI target, app around it)
        self.server_handlers: set[str] = set()
        self.host_headers: dict[int, str] = {}  # id(app) -> the Host header its backend is asked for

    def build(self, server: Statement, ctx: Context, labels: dict[str, str]) -> list[App]:
        block = server["block"]
        self.named = {p: loc for loc, _, p in _locations(block) if p.startswith("@")}
        vhost = self.vhost = self.make("/", server, ctx.docroot, "", ctx.logs, labels)
        own = read_block(block, ctx.variables, self.named)
        redirect = own.redirect or (_conditional_redirect(block) if own.status else "")
        if redirect or own.status:  # a server-level return answers before any location is looked at
            vhost.root = ""
            vhost.labels.update({"redirect": redirect} if redirect else {"return": own.status})
            return [vhost]
        vhost.upstream = own.proxy or own.fastcgi
        self.server_handlers = _server_handlers(block, ctx.variables)
        # the server's own backend first: the other locations compare theirs to it
        for loc, modifier, path in _locations(block):
            if path == "/" and modifier not in _REGEX_MODIFIERS:
                self._serve_root(loc, ctx)
        for loc, _, _ in _locations(block):
            self._walk(loc, ctx, vhost)
        self._attach_handlers()
        apps = [vhost, *self.apps.values()]
        for app in apps:
            if app.upstream.startswith(("http://", "https://")):
                app.labels["host_header"] = self.host_headers.get(id(app), DEFAULT_HOST_HEADER)
        return apps

    def _serve_root(self, loc: Statement, outer: Context) -> None:
        """`location /` (or `^~ /`, `= /`) says what the server app itself serves."""
        ctx = outer.child(loc["block"])
        found = read_block(loc["block"], ctx.variables, self.named)
        vhost = self.vhost
        if found.redirect or found.status:
            vhost.root = ""
            vhost.labels.update({"redirect": found.redirect} if found.redirect else {"return": found.status})
            return
        vhost.root = concrete_path(found.alias).rstrip("/") if found.alias else ctx.docroot
        vhost.upstream = vhost.upstream or found.proxy or found.fastcgi
        self.host_headers[id(vhost)] = found.host(ctx)
        if ctx.logs_set:
            vhost.access_logs = list(ctx.logs)

    def _walk(self, loc: Statement, outer: Context, parent: App) -> None:
        args, block = loc["args"], loc["block"]
        path, modifier = args[-1], (args[0] if len(args) > 1 else "")
        if path.startswith("@") or _has(block, "internal"):
            return
        regex = modifier in _REGEX_MODIFIERS
        prefix = clean_prefix(literal_prefix(path) if regex else path)
        if prefix == _PLUMBING or prefix.startswith(_PLUMBING + "/"):
            return
        ctx = outer.child(block)
        if parent is self.vhost and prefix == "/" and not regex:  # read already by _serve_root
            for child, _, _ in _locations(block):
                self._walk(child, ctx, parent)
            return
        found = read_block(block, ctx.variables, self.named)
        labels = {"pattern": path} if regex else {}
        if found.redirect:  # a record when it sends users elsewhere; /remote -> /remote.php is the app's own
            if prefix != "/" and "://" in found.redirect:
                self._add(prefix, loc, "", "", ctx.logs, {**labels, "redirect": found.redirect})
            return
        if found.status:  # deny, 404, 403: serves nothing
            return
        backend = found.proxy
        if regex and found.fastcgi:
            self.handlers.append((prefix, found.fastcgi, parent))
        else:
            backend = backend or found.fastcgi
        if self._same_backend(backend, found.host(ctx), parent):
            backend = ""  # the same backend as the app around it: part of that app
        directory = self._own_directory(found, ctx, outer, prefix, parent)
        app: App | None = None
        if prefix != "/" and self._is_app(modifier, prefix, backend, directory, parent):
            app = self._add(prefix, loc, directory, backend, ctx.logs, labels)
            self.host_headers.setdefault(id(app), found.host(ctx))
        elif prefix != "/" and not regex and self._php_of_its_own(block, ctx):
            root = directory or (posixpath.join(ctx.docroot, prefix.strip("/")) if ctx.docroot else "")
            app = self._add(prefix, loc, root, "", ctx.logs, labels)
        for child, _, _ in _locations(block):
            self._walk(child, ctx, app or parent)

    def _same_backend(self, backend: str, host: str, parent: App) -> bool:
        """Same addresses, and no other virtual host asked for there (`proxy_set_header Host intranet`)."""
        if not _backend_ids(backend, self.upstreams) & _backend_ids(parent.upstream, self.upstreams):
            return False
        around = self.host_headers.get(id(parent), DEFAULT_HOST_HEADER)
        return host == around or (host.startswith("$") and around.startswith("$"))

    def _is_app(self, modifier: str, prefix: str, backend: str, directory: str, parent: App) -> bool:
        if backend:
            return True
        if not directory or modifier == "=":  # an exact-match location is one file of the app around it
            return False
        return not (is_asset_prefix(prefix) and parent is self.vhost and self.vhost.upstream)

    def _own_directory(self, found: Serves, ctx: Context, outer: Context, prefix: str, parent: App) -> str:
        """The directory a location serves when it is not the one the app around it serves there."""
        if found.alias:
            directory = concrete_path(found.alias).rstrip("/")
        elif found.root and concrete_path(found.root) != outer.docroot:
            directory = posixpath.join(concrete_path(found.root), prefix.strip("/")).rstrip("/")
        else:
            return ""
        around = parent.root or outer.docroot
        if around and directory in (around, posixpath.join(around, prefix.strip("/"))):
            return ""
        return directory

    def _php_of_its_own(self, block: list[Statement], ctx: Context) -> bool:
        """A prefix whose nested regex location passes PHP to a handler the server itself does not use."""
        for loc, modifier, _ in _locations(block):
            if modifier not in _REGEX_MODIFIERS or _has(loc["block"], "internal"):
                continue
            inner = ctx.child(loc["block"])
            found = read_block(loc["block"], inner.variables, self.named)
            if found.fastcgi and found.fastcgi not in self.server_handlers:
                return True
        return False

    def _add(
        self,
        prefix: str,
        loc: Statement,
        root: str,
        upstream: str,
        logs: list[LogRef],
        labels: dict[str, str],
    ) -> App:
        """A location app; another location of the same prefix adds to it (`/pma`, `~ ^/pma/.+\\.php`)."""
        app = self.apps.get(prefix)
        if app is None:
            app = self.apps[prefix] = self.make(prefix, loc, root, upstream, logs, labels)
        else:
            app.root, app.upstream = app.root or root, app.upstream or upstream
        return app

    def _attach_handlers(self) -> None:
        """A PHP handler belongs to the app of its literal prefix, else to the app it is nested in."""
        for prefix, target, around in self.handlers:
            app = self.apps.get(prefix, around) if prefix != "/" else around
            app.labels.setdefault("handler", target)
        handler = self.vhost.labels.get("handler")
        for app in self.apps.values():
            if handler and not app.upstream and "redirect" not in app.labels:
                app.labels.setdefault("handler", handler)
