"""Tomcat: every <Host> of server.xml is an app ("/", its ROOT), and so is every web application
deployed to it: directories and WARs in its appBase, Context descriptors in
conf/<Engine>/<Host>/*.xml and <Context> elements of server.xml.

Instances come from the options, from running JVMs (-Dcatalina.base=..., whose
other -D flags fill `${...}` in the XML) and from the usual places (Debian's
/etc/tomcatN with /var/lib/tomcatN, RHEL's /etc/tomcat, /opt/tomcat).
AccessLogValves become LogRefs whose pattern is defined as "tomcat:NAME".
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
from dataclasses import dataclass

from ronda.agent.discovery import tomcat_xml
from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.discovery.shared import key_and_link, running_processes
from ronda.agent.discovery.tomcat_xml import Element, XmlError
from ronda.agent.host import Host, HostError
from ronda.model import App, ConfigLocation, ListenAddress, LogRef, TlsCertificate

SOURCE = "tomcat"
DEFAULT_SERVER_XMLS = (
    "/etc/tomcat10/server.xml",
    "/etc/tomcat9/server.xml",
    "/etc/tomcat8/server.xml",
    "/etc/tomcat/server.xml",
    "/opt/tomcat/conf/server.xml",
    "/usr/local/tomcat/conf/server.xml",
)
PATTERNS = {
    "common": '%h %l %u %t "%r" %s %b',
    "combined": '%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"',
}
_MAX_XML_BYTES = 4 * 1024 * 1024
_MAX_WEBAPPS = 1000


@dataclass(frozen=True)
class Instance:
    server_xml: str
    base: str  # CATALINA_BASE
    home: str = ""  # CATALINA_HOME
    properties: tuple[tuple[str, str], ...] = ()  # the JVM's -Dname=value flags


def discover(host: Host, options: DiscoveryOptions) -> SourceResult:
    result = SourceResult()
    for instance in instances(host, options.tomcat_server_xml):
        _discover_instance(host, instance, result)
    key_and_link(result.apps)
    return result


def instances(host: Host, explicit: str = "") -> list[Instance]:
    """Tomcat instances: `explicit` alone when given (with its running JVM's -D flags, if one runs)."""
    found = _running(host)
    if explicit:
        running = found.get(host.realpath(explicit))
        base, home = (running.base, running.home) if running else (base_of(host, explicit), "")
        return [Instance(explicit, base, home, running.properties if running else ())]
    candidates = list(DEFAULT_SERVER_XMLS)
    with contextlib.suppress(HostError):
        candidates += host.glob("/opt/apache-tomcat-*/conf/server.xml")
    for xml in candidates:
        if host.exists(xml):
            found.setdefault(host.realpath(xml), Instance(xml, base_of(host, xml)))
    return list(found.values())


def _running(host: Host) -> dict[str, Instance]:
    """Instances of the running JVMs (-Dcatalina.base=...), by their server.xml's real path."""
    found: dict[str, Instance] = {}
    for proc in running_processes(host):
        props = dict(a[2:].split("=", 1) for a in proc.cmdline if a.startswith("-D") and "=" in a)
        base = props.get("catalina.base") or props.get("catalina.home")
        if base:
            xml = posixpath.join(base, "conf/server.xml")
            instance = Instance(xml, base, props.get("catalina.home", ""), tuple(sorted(props.items())))
            found.setdefault(host.realpath(xml), instance)
    return found


def base_of(host: Host, server_xml: str) -> str:
    """CATALINA_BASE of a server.xml: the parent of its conf/, or the distribution's base for /etc/tomcat*."""
    conf = posixpath.dirname(server_xml)
    name = posixpath.basename(conf)
    if name == "conf":
        return posixpath.dirname(conf)
    # Debian: /etc/tomcatN with /var/lib/tomcatN; RHEL: /etc/tomcat with /usr/share/tomcat.
    bases = (
        (f"/usr/share/{name}", f"/var/lib/{name}")
        if name == "tomcat"
        else (f"/var/lib/{name}", f"/usr/share/{name}")
    )
    for base in bases:
        if name.startswith("tomcat") and host.exists(posixpath.join(base, "webapps")):
            return base
    return posixpath.dirname(conf)


def _read_xml(host: Host, path: str, props: dict[str, str], result: SourceResult) -> Element | None:
    try:
        if host.stat(path).size > _MAX_XML_BYTES:
            raise HostError(f"{path}: larger than {_MAX_XML_BYTES} bytes")
        return tomcat_xml.parse(host.read_text(path), props)
    except HostError as e:
        result.error(SOURCE, f"cannot read: {e}", path)
    except XmlError as e:
        result.error(SOURCE, str(e), path, e.line)
    return None


def _discover_instance(host: Host, instance: Instance, result: SourceResult) -> None:
    base = instance.base
    props = {"catalina.base": base, "catalina.home": instance.home or base}
    with contextlib.suppress(HostError):
        props.update(
            tomcat_xml.read_properties(host.read_text(posixpath.join(base, "conf/catalina.properties")))
        )
    props.update(instance.properties)  # system properties win over catalina.properties
    server = _read_xml(host, instance.server_xml, props, result)
    if server is None:
        return
    for service in server.all("Service"):
        listen, ajp, cert = _connectors(service, base)
        for engine in service.all("Engine"):
            for host_el in engine.all("Host"):
                apps = _host_apps(host, instance, engine, host_el, listen, props, result)
                for app in apps:
                    app.access_logs = (
                        _access_logs(engine, host_el, base, result.log_formats) + app.access_logs
                    )
                    if cert:
                        app.tls = TlsCertificate(file=cert)
                    if ajp:
                        app.labels["ajp_ports"] = ",".join(map(str, ajp))
                result.apps.extend(apps)


def _connectors(service: Element, base: str) -> tuple[list[ListenAddress], list[int], str]:
    listen: list[ListenAddress] = []
    ajp: list[int] = []
    cert = ""
    for c in service.all("Connector"):
        port = c.get("port")
        if not port.isdigit() or int(port) <= 0:
            continue
        if c.get("protocol").upper().startswith("AJP"):
            # AJP serves a front web server (mod_jk, proxy_ajp), not users: a label, kept out of the
            # listen addresses so that it never becomes part of an app's key.
            ajp.append(int(port))
            continue
        # scheme="https" alone says TLS ends at a proxy in front (proxyName/proxyPort): users reach the
        # proxy over https, this connector speaks plain HTTP.
        tls = c.get("SSLEnabled").lower() == "true"
        listen.append(ListenAddress(c.get("address") or "*", int(port), tls=tls))
        if tls and not cert:
            certs = [x for h in c.all("SSLHostConfig") for x in h.all("Certificate")]
            cert = next(
                (x.get("certificateFile") or x.get("certificateKeystoreFile") for x in certs), ""
            ) or c.get("keystoreFile")
            cert = _abs(cert, base) if cert else ""
    return listen, ajp, cert


def _abs(path: str, base: str) -> str:
    return path if path.startswith("/") else posixpath.normpath(posixpath.join(base, path))


def context_path(name: str) -> tuple[str, str]:
    """Tomcat's naming: ROOT -> "/", foo#bar -> "/foo/bar", foo##2.1 -> ("/foo", "2.1")."""
    name, _, version = name.partition("##")
    path = "/" if name.upper() == "ROOT" or not name else "/" + name.replace("#", "/")
    return path, version


def _host_apps(
    host: Host,
    instance: Instance,
    engine: Element,
    el: Element,
    listen: list[ListenAddress],
    props: dict[str, str],
    result: SourceResult,
) -> list[App]:
    name = el.get("name")
    names = [name] + [a.text.strip() for a in el.all("Alias") if a.text.strip()]
    default = name == engine.get("defaultHost")
    app_base = _abs(el.get("appBase", "webapps"), instance.base)
    xml_base = _abs(el.get("xmlBase") or f"conf/{engine.get('name', 'Catalina')}/{name}", instance.base)
    contexts: dict[str, App] = {}

    def add(path: str, root: str, at: ConfigLocation, labels: dict[str, str]) -> App:
        app = App(
            kind=SOURCE,
            server_names=list(names),
            listen=[ListenAddress(a.address, a.port, a.tls, default) for a in listen],
            path_prefix=path,
            root=root,
            config=at,
            labels={k: v for k, v in labels.items() if v},
        )
        previous = contexts.get(path)
        if previous is not None:
            app.labels = {**previous.labels, **app.labels}
        contexts[path] = app
        return app

    try:
        entries = host.listdir(app_base)[:_MAX_WEBAPPS]
    except HostError as e:
        result.error(SOURCE, f"cannot list appBase: {e}", instance.server_xml, el.line)
        entries = []
    for entry in sorted(entries, key=lambda e: (e.endswith(".war"), e)):  # unpacked directories win
        full = posixpath.join(app_base, entry)
        try:
            is_dir = host.stat(full).is_dir
        except HostError:
            continue
        if entry.endswith(".war") and not is_dir:
            path, version = context_path(entry[:-4])
            if path in contexts:
                contexts[path].labels["war"] = full
            else:
                add(path, "", ConfigLocation(full), {"war": full, "version": version})
        elif is_dir and entry not in ("META-INF", "WEB-INF"):
            path, version = context_path(entry)
            add(path, full, ConfigLocation(full), {"version": version})
    try:
        descriptors = sorted(host.glob(posixpath.join(xml_base, "*.xml")))
    except HostError:
        descriptors = []
    for file in descriptors:
        context = _read_xml(host, file, props, result)
        if context is None or context.tag != "Context":
            continue
        path, version = context_path(posixpath.basename(file)[:-4])
        doc_base = _abs(context.get("docBase"), app_base) if context.get("docBase") else ""
        unpacked = contexts.get(path, App()).root
        war = doc_base if doc_base.endswith(".war") else ""
        app = add(
            path,
            unpacked if war or not doc_base else doc_base,
            ConfigLocation(file, context.line),
            {"version": version, "war": war},
        )
        app.access_logs = _valve_logs(context, instance.base, result.log_formats)
    for context in el.all("Context"):
        # ${confluence.context.path}/synchrony-proxy: a property nobody set deploys at its default, ""
        path = tomcat_xml.unset_properties_removed(context.get("path")) or "/"
        doc_base = context.get("docBase")
        add(
            path if path.startswith("/") else "/" + path,
            _abs(doc_base, app_base) if doc_base else "",
            ConfigLocation(instance.server_xml, context.line),
            {},
        )
    root_app = contexts.pop("/", None)
    vhost = App(
        kind=SOURCE,
        server_names=list(names),
        listen=[ListenAddress(a.address, a.port, a.tls, default) for a in listen],
        root=root_app.root if root_app else "",
        config=ConfigLocation(instance.server_xml, el.line),
        labels={**(root_app.labels if root_app else {}), "app_base": app_base},
    )
    return [vhost, *sorted(contexts.values(), key=lambda a: a.path_prefix)]


def _access_logs(engine: Element, host_el: Element, base: str, log_formats: dict[str, str]) -> list[LogRef]:
    return _valve_logs(host_el, base, log_formats) or _valve_logs(engine, base, log_formats)


def _valve_logs(el: Element, base: str, log_formats: dict[str, str]) -> list[LogRef]:
    refs = []
    for valve in el.all("Valve"):
        if not valve.get("className").endswith("AccessLogValve"):
            continue
        directory = _abs(valve.get("directory", "logs"), base)
        prefix, suffix = valve.get("prefix", "access_log"), valve.get("suffix", "")
        rotatable = valve.get("rotatable", "true").lower() != "false"
        path = posixpath.join(directory, f"{prefix}*{suffix}" if rotatable else f"{prefix}{suffix}")
        pattern = valve.get("pattern", "common")
        if valve.get("className").endswith("JsonAccessLogValve"):
            name, definition = "json", "json"
        elif pattern in PATTERNS:
            name, definition = pattern, PATTERNS[pattern]
        else:
            name = next((k for k, v in PATTERNS.items() if v == pattern), "")
            name, definition = name or "inline-" + hashlib.sha1(pattern.encode()).hexdigest()[:8], pattern
        log_formats[f"{SOURCE}:{name}"] = definition
        refs.append(LogRef(path=path, format=name))
    return refs
