"""lighttpd: the global scope and every `$HTTP["host"]` block are sites; every `alias.url` entry,
every `$HTTP["url"]` block with a root or backend of its own, and every path prefix in
`proxy.server`/`fastcgi.server`/`scgi.server` is an app under its site.

The config is what `lighttpd -p -f FILE` prints when the binary is present (lighttpd's
own evaluation: includes, include_shell, variables, `+=`), else the files read by
lighttpd_syntax; file and line come from the files either way. Listeners are
`server.bind`/`server.port` and every `$SERVER["socket"]`. Access logs are
`accesslog.filename` in `accesslog.format` (lighttpd's default has the virtual host, %V).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass, field

from ronda.agent.discovery import lighttpd_syntax
from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.discovery.lighttpd_names import host_names
from ronda.agent.discovery.lighttpd_syntax import Array, Block, Condition, Config
from ronda.agent.discovery.shared import clean_prefix, key_and_link, literal_prefix, without_credentials
from ronda.agent.host import CommandNotAvailable, Host, HostError
from ronda.model import App, ConfigLocation, ListenAddress, LogRef, TlsCertificate

SOURCE = "lighttpd"
DEFAULT_CONFIGS = (
    "/etc/lighttpd/lighttpd.conf",
    "/usr/local/etc/lighttpd/lighttpd.conf",
    "/etc/lighttpd.conf",
)
# mod_accesslog's format when accesslog.format is not set: Apache's combined, with the host (%V) as ident.
DEFAULT_LOG_FORMAT = '%h %V %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
_BACKENDS = (("proxy.server", "http"), ("fastcgi.server", "fastcgi"), ("scgi.server", "scgi"))
_HOST_FIELDS = ("HTTP[host]", "REQUEST_HEADER[Host]", "REQUEST_HEADER[host]")
_EVERYTHING = ("", "^", "^/", "^(.*)$", "^/(.*)$", "^(.*)", "^/(.*)", ".*", "(.*)", "^.*$", "^/.*")


def discover(host: Host, options: DiscoveryOptions) -> SourceResult:
    result = SourceResult()
    for path in config_files(host, options.lighttpd_conf):
        result.apps.extend(_apps_of(host, path, options.use_binaries, result))
    key_and_link(result.apps)
    return result


def config_files(host: Host, explicit: str = "") -> list[str]:
    """The config given, those running lighttpd processes were started with (-f), and the usual places."""
    if explicit:
        return [explicit]
    found: list[str] = []
    try:
        processes = host.processes()
    except HostError:
        processes = []
    for proc in processes:
        if proc.name != SOURCE and posixpath.basename(proc.exe) != SOURCE:
            continue
        args = list(proc.cmdline)
        for i, arg in enumerate(args[:-1]):
            if arg == "-f":
                value = args[i + 1]
                found.append(value if value.startswith("/") else posixpath.join(proc.cwd or "/", value))
    found.extend(p for p in DEFAULT_CONFIGS if host.exists(p))
    return list(dict.fromkeys(found))


def _apps_of(host: Host, path: str, use_binary: bool, result: SourceResult) -> list[App]:
    files = lighttpd_syntax.read_file(host, path)
    if not files.files:
        for file, line, message in files.errors:
            result.error(SOURCE, message, file, line)
        return []
    printed, why = _print_config(host, path) if use_binary and host.which(SOURCE) else (None, "")
    if why:
        result.error(SOURCE, why, path)
    from_files = build_apps(files, result.log_formats)
    if printed is None:
        for file, line, message in files.errors:
            result.error(SOURCE, message, file, line)
        return from_files
    # lighttpd's own evaluation, placed at the file and line the files give for the same app
    where = {_identity(a): a.config for a in from_files}
    apps = build_apps(printed, result.log_formats)
    for app in apps:
        app.config = where.get(_identity(app), ConfigLocation(path, 0))
    return apps


def _identity(app: App) -> tuple:
    return tuple(app.server_names), app.path_prefix, tuple((a.address, a.port) for a in app.listen)


def _print_config(host: Host, path: str) -> tuple[Config | None, str]:
    try:
        done = host.run([SOURCE, "-p", "-f", path], timeout=30)
    except CommandNotAvailable:
        return None, ""
    except HostError as e:
        return None, f"lighttpd -p: {e}"
    if done.returncode != 0:
        # Quote no config text: the token near a syntax error may be a password.
        m = re.search(r"source: (\S+) line: (\d+)", done.stderr)
        where = f" ({m.group(1)}:{m.group(2)})" if m else ""
        return None, f"lighttpd -p rejects the config{where}; reading the files instead"
    config = lighttpd_syntax.read_text(done.stdout, path)
    if config.errors:
        _, line, message = config.errors[0]
        return (
            None,
            f"cannot read what lighttpd -p printed (line {line}: {message}); reading the files instead",
        )
    return config, ""


@dataclass
class _Site:
    block: Block
    names: list[str]
    regexes: list[str]
    listen: list[ListenAddress]
    scopes: list[tuple[Block, str]] = field(default_factory=list)  # (url or other block, url prefix or "")


def build_apps(config: Config, log_formats: dict[str, str]) -> list[App]:
    root = config.root
    sockets, own = _sockets(root)
    main = _main_listener(root)
    every = list(sockets.values())
    if not any((a.address, a.port) == (main.address, main.port) for a in every):
        every.insert(0, main)
    # The global scope answers every host no block matches, on every socket without a site of its own;
    # host blocks apply on every socket.
    unowned = [a for a in every if not any(sockets[b] is a for b in own)]
    sites = [_Site(root, [], [], _copies(unowned, default=True))]
    _walk(root, sites[0], every, sockets, own, sites)
    if any(s.block.is_else and s.block.condition is None and s.block.parent is root for s in sites[1:]):
        sites.pop(0)  # a host chain ending in a plain `else` catches every other host instead
    certs = {a.port: str(b.lookup("ssl.pemfile") or "") for b, a in sockets.items() if a.tls}
    apps: list[App] = []
    for site in sites:
        apps.extend(_site_apps(site, certs, config.root.file, log_formats))
    return apps


def _walk(
    block: Block,
    site: _Site,
    listen: list[ListenAddress],
    sockets: dict[Block, ListenAddress],
    own: set[Block],
    sites: list[_Site],
) -> None:
    chain_is_host = False
    for child in block.children:
        cond = child.condition
        if cond is not None and not child.is_else:
            chain_is_host = cond.field in _HOST_FIELDS
        if cond is not None and cond.field == "SERVER[socket]" and child in sockets:
            here = [sockets[child]]
            if child in own:
                new = _Site(child, [], [], _copies(here, default=True))
                sites.append(new)
                _walk(child, new, here, sockets, own, sites)
            else:
                _walk(child, site, here, sockets, own, sites)
        elif cond is not None and cond.field in _HOST_FIELDS and cond.op in ("==", "=~", "=^", "=$"):
            names, regexes = host_names(cond)
            new = _Site(child, names, regexes, _copies(listen, default=False))
            sites.append(new)
            _walk(child, new, listen, sockets, own, sites)
        elif cond is None and child.is_else and chain_is_host:
            new = _Site(child, [], [], _copies(listen, default=True))
            sites.append(new)
            _walk(child, new, listen, sockets, own, sites)
        elif cond is not None and cond.field in _HOST_FIELDS:
            continue  # != / !~ a host: the other hosts' redirect or deny, not a site of its own
        else:
            prefix = _url_prefix(cond) if cond is not None and cond.field == "HTTP[url]" else ""
            site.scopes.append((child, prefix))
            _walk(child, site, listen, sockets, own, sites)


def _copies(listen: list[ListenAddress], default: bool) -> list[ListenAddress]:
    return [ListenAddress(a.address, a.port, a.tls, default) for a in listen]


def _site_apps(site: _Site, certs: dict[int, str], main_file: str, log_formats: dict[str, str]) -> list[App]:
    block = site.block
    cert = str(block.lookup("ssl.pemfile") or "") or next(
        (certs[a.port] for a in site.listen if a.tls and certs.get(a.port)), ""
    )
    if not any(a.tls for a in site.listen):
        cert = ""
    logs = _logs(block, log_formats)
    if block.parent is None:  # the global scope: where its document root is set
        site_file, site_line = block.located("server.document-root") or (main_file, 0)
    else:
        site_file, site_line = block.file, block.line

    def make(prefix: str, root: str, upstream: str, at: tuple[str, int], labels: dict[str, str]) -> App:
        if "," in upstream:
            labels["upstream_servers"], upstream = upstream, upstream.split(",", 1)[0]
        return App(
            kind=SOURCE,
            server_names=list(site.names),
            listen=[ListenAddress(**vars(a)) for a in site.listen],
            path_prefix=prefix,
            root=root,
            upstream=upstream,
            config=ConfigLocation(*at),
            access_logs=list(logs),
            tls=TlsCertificate(file=cert) if cert else None,
            labels=labels,
        )

    labels = {"server_name_regex": " ".join(site.regexes)} if site.regexes else {}
    served = _served(block)
    vhost = make(
        "/", str(block.lookup("server.document-root") or ""), served.upstream, (site_file, site_line), labels
    )
    if served.handler:
        vhost.labels["handler"] = served.handler
    redirect = _redirect(block)
    if redirect:
        vhost.labels["redirect"] = redirect
    apps = [vhost]
    seen = {"/"}

    def add(prefix: str, root: str, upstream: str, at: tuple[str, int], labels: dict[str, str]) -> None:
        if prefix in seen:
            return
        seen.add(prefix)
        if served.handler and not upstream:
            labels.setdefault("handler", served.handler)
        apps.append(make(prefix, root, upstream, at, labels))

    for prefix, target, at in served.prefixes:
        add(prefix, "", target, at, {})
    for prefix, path, at in _aliases(block):
        add(prefix, path, "", at, {})
    for scope, url in site.scopes:
        at = (scope.file, scope.line)
        if url:  # $HTTP["url"] =^ "/api": an app when it has a root or a backend of its own
            own = _served(scope, own_only=True)
            docroot = scope.settings.get("server.document-root")
            if own.upstream or docroot:
                root = posixpath.join(str(docroot), url.strip("/")) if docroot else ""
                add(url, root, own.upstream, at, {"handler": own.handler} if own.handler else {})
            continue
        label = {"condition": scope.condition.text} if scope.condition else {}
        extra = _served(scope, own_only=True)
        for prefix, target, where in extra.prefixes:
            add(prefix, "", target, where, dict(label))
        for prefix, path, where in _aliases(scope, only_own=True):
            add(prefix, path, "", where, dict(label))
    return apps


@dataclass
class _Served:
    upstream: str = ""  # what the whole scope is passed to
    handler: str = ""  # where .php (or another extension) goes
    prefixes: list[tuple[str, str, tuple[str, int]]] = field(default_factory=list)  # (prefix, target, at)


def _served(block: Block, own_only: bool = False) -> _Served:
    """Backends of mod_proxy, mod_fastcgi and mod_scgi, keyed by "" (everything), a path prefix
    or an extension."""
    found = _Served()
    for key, scheme in _BACKENDS:
        value = block.settings.get(key) if own_only else block.lookup(key)
        if not isinstance(value, Array):
            continue
        inherited = block.parent.lookup(key) if (own_only and block.parent) else None
        for match, backends in value.keyed():
            if own_only and isinstance(inherited, Array) and inherited.get(match) == backends:
                continue  # the same entry the enclosing scope has
            target = _backend(backends, scheme)
            if not target:
                continue
            if match in ("", "/"):
                found.upstream = found.upstream or target
            elif match.startswith("/"):
                at = block.located(f"{key}[{match}]") or (block.file, block.line)
                found.prefixes.append((clean_prefix(match), target, at))
            elif scheme != "http" or not found.handler:
                found.handler = found.handler or target
    return found


def _backend(backends: object, scheme: str) -> str:
    """The backends of one match: ( ( "host" => ..., "port" => ... ), ... ), named ones
    ( "php1" => ( "socket" => ... ) ), or a single ( "socket" => ... ). Several: comma-separated."""
    if not isinstance(backends, Array):
        return ""
    if backends.get("host") is not None or backends.get("socket") is not None:
        entries = [backends]
    else:
        entries = [v for _, v in backends if isinstance(v, Array)]
    targets = [t for t in (_target(e, scheme) for e in entries) if t]
    return ",".join(dict.fromkeys(targets))


def _target(entry: Array, scheme: str) -> str:
    socket = entry.get("socket")
    if socket:
        return f"unix:{socket}"
    address = str(entry.get("host") or "")
    if not address:
        return ""
    if address.startswith("/"):
        return f"unix:{address}"
    port = entry.get("port")
    hostport = (f"[{address}]" if ":" in address else address) + (f":{port}" if port else "")
    return without_credentials(f"http://{hostport}" if scheme == "http" else hostport)


def _aliases(block: Block, only_own: bool = False) -> list[tuple[str, str, tuple[str, int]]]:
    value = block.settings.get("alias.url") if only_own else block.lookup("alias.url")
    if not isinstance(value, Array):
        return []
    inherited = block.parent.lookup("alias.url") if (only_own and block.parent) else None
    found = []
    for prefix, path in value.keyed():
        if not prefix.startswith("/") or (isinstance(inherited, Array) and inherited.get(prefix) == path):
            continue
        at = block.located(f"alias.url[{prefix}]") or block.located("alias.url") or (block.file, block.line)
        found.append((clean_prefix(prefix), str(path).rstrip("/") or "/", at))
    return found


def _redirect(block: Block) -> str:
    value = block.lookup("url.redirect")
    if isinstance(value, Array):
        for pattern, target in value.keyed():
            if pattern in _EVERYTHING:
                return str(target)
    return ""


def _logs(block: Block, log_formats: dict[str, str]) -> list[LogRef]:
    path = block.lookup("accesslog.filename")
    if not isinstance(path, str) or not path or path.startswith("|"):
        return []
    definition = block.lookup("accesslog.format")
    if isinstance(definition, str) and definition and definition != DEFAULT_LOG_FORMAT:
        name = "custom-" + hashlib.sha1(definition.encode()).hexdigest()[:8]
    else:
        name, definition = "default", DEFAULT_LOG_FORMAT
    log_formats[f"{SOURCE}:{name}"] = definition
    return [LogRef(path=path, format=name)]


def _main_listener(root: Block) -> ListenAddress:
    tls = _enabled(root.settings.get("ssl.engine"))
    port = root.settings.get("server.port")
    port = port if isinstance(port, int) else int(port) if isinstance(port, str) and port.isdigit() else 0
    bind = str(root.settings.get("server.bind") or "")
    if bind.startswith("/"):
        return ListenAddress(bind, 0, tls)
    return ListenAddress(bind.strip("[]") or "*", port or (443 if tls else 80), tls)


def _sockets(root: Block) -> tuple[dict[Block, ListenAddress], set[Block]]:
    """Each `$SERVER["socket"] == "addr:port"` block's listener, and the blocks that serve a site
    of their own."""
    sockets: dict[Block, ListenAddress] = {}
    own: set[Block] = set()
    for child in root.children:
        cond = child.condition
        if cond is None or cond.field != "SERVER[socket]" or cond.op != "==":
            continue
        sockets[child] = _socket(cond.value, _enabled(child.lookup("ssl.engine")))
        serves = _served(child, own_only=True)
        if "server.document-root" in child.settings or serves.upstream:
            own.add(child)
    return sockets, own


def _socket(spec: str, tls: bool) -> ListenAddress:
    """ "127.0.0.1:8443", ":80", "[::]:80", "/run/lighttpd.sock" """
    if spec.startswith("/"):
        return ListenAddress(spec, 0, tls)
    if spec.startswith("["):
        address, _, port = spec[1:].partition("]")
        port = port.lstrip(":")
    else:
        address, _, port = spec.rpartition(":")
    return ListenAddress(address or "*", int(port) if port.isdigit() else (443 if tls else 80), tls)


def _enabled(value: object) -> bool:
    return str(value).lower() in ("enable", "1", "true")


def _url_prefix(cond: Condition) -> str:
    """The path prefix a $HTTP["url"] condition stands for, or "" (an extension, a pattern)."""
    if cond.op in ("==", "=^"):
        return clean_prefix(cond.value) if cond.value.startswith("/") and cond.value != "/" else ""
    if cond.op == "=~":
        prefix = literal_prefix(cond.value)
        return prefix if prefix not in ("", "/") else ""
    return ""
