"""Apache httpd: every <VirtualHost> is an app (and so is the main server where it answers),
and so is every Alias, ProxyPass or WSGIScriptAlias prefix inside them.

The installed binary, when present, says which files, defines and modules are
in effect and which vhosts it serves; the files are parsed either way for
what it does not print (roots, aliases, proxies, logs, certificates).
Aliases of the main server (Debian's conf-enabled/*.conf: phpMyAdmin,
MediaWiki...) are apps under every vhost, or under the main server.
"""

from __future__ import annotations

import posixpath
import re

from ronda.agent.discovery import apache_binary, apache_config, apache_logs
from ronda.agent.discovery.apache_binary import BinaryFacts, split_address
from ronda.agent.discovery.apache_config import LoadedConfig, Settings
from ronda.agent.discovery.apache_scope import Scope, SubApp, handler_for, scan
from ronda.agent.discovery.apache_syntax import Directive
from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.discovery.shared import is_asset_prefix, key_and_link, without_credentials
from ronda.agent.host import Host
from ronda.model import App, ConfigLocation, ListenAddress, TlsCertificate

SOURCE = "apache"
# The DocumentRoot compiled into each distribution's httpd, for a main server that sets none.
COMPILED_DOCUMENT_ROOTS = {
    "debian": "/var/www/html",
    "rhel": "/var/www/html",
    "suse": "/srv/www/htdocs",
    "source": "/usr/local/apache2/htdocs",
    "arch": "/srv/http",
    "freebsd": "/usr/local/www/apache24/data",
}
_WILDCARDS = {"*", "0.0.0.0", "::", "[::]"}
_SYNTAX_ERROR = re.compile(r"Syntax error on line (?P<line>\d+) of (?P<file>/.+?):")


def discover(host: Host, options: DiscoveryOptions) -> SourceResult:
    result = SourceResult()
    found = apache_config.find_main_conf(host, options.apache_conf)
    facts, why = apache_binary.ask(host, options.apache_conf) if options.use_binaries else (None, "")
    main = options.apache_conf or (facts.main_file if facts else "") or (found[0] if found else "")
    if why:
        at = _SYNTAX_ERROR.search(why)
        result.error(
            SOURCE, without_credentials(why), at["file"] if at else main, int(at["line"]) if at else 0
        )
    if not main:
        return result
    layout = found[1] if found and found[0] == main else ""
    settings = Settings(
        document_root=(facts.main_docroot if facts else "") or COMPILED_DOCUMENT_ROOTS.get(layout, ""),
        server_root=facts.server_root if facts else "",
        env=apache_config.read_envvars(host, posixpath.dirname(main)),
        defines={**apache_config.read_service_defines(host), **(facts.defines if facts else {})},
        modules=facts.modules if facts else None,
    )
    loaded = apache_config.load(host, main, settings)
    for file, line, message in loaded.errors:
        result.error(SOURCE, message, file, line)
    result.apps = build_apps(loaded, result.log_formats)
    if facts:
        _reconcile(facts, loaded, result)
    key_and_link(result.apps)
    return result


def build_apps(loaded: LoadedConfig, log_formats: dict[str, str]) -> list[App]:
    top = loaded.directives
    root = loaded.server_root
    main = scan(top, root)
    main.document_root = main.document_root or loaded.default_document_root
    listens = _listens(top)
    vhosts = _vhost_sections(top)
    apps: list[App] = []
    seen_addresses: set[tuple[str, int]] = set()
    for section in vhosts:
        scope = scan(section.children or [], root)
        addresses = _vhost_addresses(section, listens, scope.ssl_engine, seen_addresses)
        apps.extend(_server_apps(scope, main, addresses, section, loaded, log_formats))
    uncovered = [a for a in listens if not _covered(a, vhosts, listens)]
    if uncovered:
        where = main.document_root_at or Directive("", [], loaded.main_file, 0)
        apps[:0] = _server_apps(main, Scope(), uncovered, where, loaded, log_formats)
    return apps


def _vhost_sections(directives: list[Directive]) -> list[Directive]:
    found = []
    for d in directives:
        if d.key == "virtualhost":
            found.append(d)
        elif d.is_section and d.key not in ("directory", "location", "files"):
            found.extend(_vhost_sections(d.children or []))
    return found


def _listens(directives: list[Directive]) -> list[ListenAddress]:
    out: list[ListenAddress] = []
    for d in directives:
        if d.key == "listen" and d.args:
            address, port = split_address(d.arg())
            if port:
                out.append(ListenAddress(address, port, tls=d.arg(1).lower() == "https"))
    return out


def _vhost_addresses(
    section: Directive, listens: list[ListenAddress], ssl: bool, seen: set[tuple[str, int]]
) -> list[ListenAddress]:
    out = []
    for spec in section.args or ["*"]:
        default_keyword = spec.startswith("_default_")
        address, port = split_address(spec)
        ports = [port] if port else sorted({a.port for a in listens}) or [80]
        for p in ports:
            listen_tls = any(a.port == p and a.tls for a in listens)
            first = (address, p) not in seen
            seen.add((address, p))
            out.append(
                ListenAddress(address, p, tls=ssl or listen_tls, default_server=first or default_keyword)
            )
    return out


def _covered(listen: ListenAddress, vhosts: list[Directive], listens: list[ListenAddress]) -> bool:
    """Does some vhost answer every request that arrives on this Listen address?

    A vhost on a host name is on the addresses httpd resolves it to: this host's, as far as ronda can tell.
    """
    for section in vhosts:
        for spec in section.args or ["*"]:
            address, port = split_address(spec)
            if port in (0, listen.port) and (
                address in _WILDCARDS or address == listen.address or _is_host_name(address)
            ):
                return True
    return False


def _is_host_name(address: str) -> bool:
    """sipd.kaltara.go.id, not 10.0.0.5 or ::1."""
    return ":" not in address and not address.rsplit(".", 1)[-1].isdigit()


def _server_apps(
    scope: Scope,
    main: Scope,
    addresses: list[ListenAddress],
    where: Directive,
    loaded: LoadedConfig,
    log_formats: dict[str, str],
) -> list[App]:
    names = [n for n in [scope.server_name or main.server_name, *scope.aliases] if n]
    names = list(dict.fromkeys(names))
    logs = apache_logs.resolve(scope.logs, main.logs, loaded.server_root, log_formats)
    certificate = scope.certificate or (main.certificate if scope.ssl_engine else "")
    balancers = {**main.balancers, **scope.balancers}
    # Without ProxyPreserveHost On, the backend is asked for the host of the ProxyPass URL (AJP passes
    # the client's on): that, or the client's, picks the backend's virtual host.
    preserve_host = scope.preserve_host if scope.preserve_host is not None else bool(main.preserve_host)

    def make(prefix: str, root: str, upstream: str, at: Directive, labels: dict[str, str]) -> App:
        labels = dict(labels)
        servers = balancers.get(upstream.rstrip("/").lower()) if upstream else None
        if servers:
            labels["upstream_servers"] = ",".join(servers)
        # mod_proxy_ajp speaks to a Java servlet container (Tomcat, Confluence, Jira)
        if upstream.lower().startswith("ajp://"):
            labels["backend"] = "ajp"
        if upstream.lower().startswith(("http://", "https://", "ajp://")):
            labels["host_header"] = (
                "$host" if preserve_host or upstream.lower().startswith("ajp") else "$proxy_host"
            )
        return App(
            kind=SOURCE,
            server_names=list(names),
            listen=[ListenAddress(**vars(a)) for a in addresses],
            path_prefix=prefix,
            root=root,
            upstream=upstream,
            config=ConfigLocation(at.file, at.line),
            access_logs=list(logs),
            tls=TlsCertificate(file=certificate) if certificate else None,
            labels=labels,
        )

    labels = {}
    if scope.redirect:
        labels["redirect"] = scope.redirect
    if scope.virtual_root:
        labels["virtual_document_root"] = scope.virtual_root
    wsgi = scope.wsgi or main.wsgi
    if wsgi:
        labels["wsgi"] = wsgi
    upstream = scope.upstream or main.upstream
    if scope.redirect:  # Redirect / wins over every Alias of the context: nothing of its own is served
        root = ""
    elif upstream:  # ProxyPass /: the document root serves only the paths kept from the backend
        root = scope.document_root if scope.proxy_excludes else ""
    else:
        root = scope.document_root or main.document_root
    handler = handler_for(root, [scope, main]) if not (upstream or scope.redirect) else ""
    if handler:
        labels["handler"] = handler
    vhost = make("/", root, upstream, where, labels)
    apps = [vhost]
    for sub in _merge_subs(scope.subs, main.subs):
        if scope.redirect and not sub.upstream:
            continue
        if upstream and not sub.upstream and is_asset_prefix(sub.prefix):
            continue  # the proxied app's own static files, served beside it
        handler = handler_for(sub.root, [scope, main]) if not sub.upstream else ""
        sub_labels = {**({"handler": handler} if handler else {}), **sub.labels}
        apps.append(make(sub.prefix, sub.root, sub.upstream, sub.where, sub_labels))
    return apps


def _merge_subs(own: list[SubApp], inherited: list[SubApp]) -> list[SubApp]:
    """The vhost's own prefixes win; a prefix under another one serving the same root is the same app."""
    by_prefix: dict[str, SubApp] = {}
    for sub in own + inherited:
        by_prefix.setdefault(sub.prefix, sub)
    kept: list[SubApp] = []
    for sub in by_prefix.values():
        parent = next(
            (
                o
                for o in by_prefix.values()
                if o is not sub
                and sub.prefix.startswith(o.prefix + "/")
                and o.root
                and o.root == sub.root
                and not o.upstream
            ),
            None,
        )
        if parent is not None:
            continue
        twin = next((k for k in kept if sub.root and (k.root, k.upstream) == (sub.root, sub.upstream)), None)
        if twin is not None:  # Alias /phpMyAdmin and /phpmyadmin to one directory: one app, two URLs
            twin.labels["also_at"] = ",".join(filter(None, [twin.labels.get("also_at", ""), sub.prefix]))
            continue
        kept.append(SubApp(sub.prefix, sub.root, sub.upstream, sub.where, dict(sub.labels)))
    return kept


def _reconcile(facts: BinaryFacts, loaded: LoadedConfig, result: SourceResult) -> None:
    """What the binary serves but the parse did not reach still becomes an app, with an error saying so."""
    reached = set(loaded.files)
    for file in facts.files:
        if file not in reached:
            result.error(SOURCE, f"{facts.command} loads this file but ronda could not follow it", file)
    parsed = {(a.config.file, a.config.line) for a in result.apps if a.path_prefix == "/"}
    extra: dict[tuple[str, int], App] = {}
    for v in facts.vhosts:
        if (v.file, v.line) in parsed:
            continue
        app = extra.get((v.file, v.line))
        if app is None:
            names = list(dict.fromkeys([v.name, *v.aliases]))
            app = App(
                kind=SOURCE,
                server_names=names,
                config=ConfigLocation(v.file, v.line),
                labels={"from": f"{facts.command} -S"},
            )
            extra[(v.file, v.line)] = app
            result.apps.append(app)
        app.listen.append(ListenAddress(v.address, v.port, default_server=v.default))
