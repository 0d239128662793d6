"""systemd units that own listening processes: services that serve on a port but are not
a web server ronda reads elsewhere (nginx, Apache, Caddy, Tomcat, PHP-FPM, Node, Docker).

Unit files are read for WorkingDirectory only: ExecStart and Environment lines
may carry secrets and are never kept.
"""

from __future__ import annotations

import posixpath
import re

from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.host import Host, HostError, ProcessInfo
from ronda.model import App, ConfigLocation, ListenAddress

SOURCE = "systemd"
UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
)
# Programs another source reports, and infrastructure that is not a web app.
SKIP_PROGRAMS = re.compile(
    r"^(nginx|apache2|httpd|caddy|php-fpm.*|php\d.*|node|nodejs|PM2.*|docker.*|containerd.*|dockerd|sshd|"
    r"systemd.*|chronyd|ntpd|named|dnsmasq|unbound|cupsd|rpcbind|rpc\..*|master|exim4?|postfix|dovecot|"
    r"mysqld|mariadbd|postgres|redis-server|memcached|mongod|snmpd|zabbix_agent.*|rsyslogd|smbd|nmbd|avahi.*|"
    r"ronda.*)$"
)
SKIP_UNITS = re.compile(r"^(tomcat\d*|docker|containerd|ssh|sshd|cron|systemd-.*|user@\d+)\.(service|scope)$")
_WORKDIR = re.compile(r"^\s*WorkingDirectory\s*=\s*-?(/\S*)\s*$", re.M)


def discover(host: Host, options: DiscoveryOptions) -> SourceResult:
    result = SourceResult()
    try:
        sockets = host.listeners()
        processes = host.processes()
    except HostError as e:
        result.error(SOURCE, f"cannot list processes or sockets: {e}")
        return result
    by_pid = {p.pid: p for p in processes}
    units: dict[str, list[tuple[ProcessInfo, str, int]]] = {}
    for sock in sockets:
        proc = by_pid.get(sock.pid)
        if proc is None or not proc.unit or proc.container or SKIP_UNITS.match(proc.unit):
            continue
        if SKIP_PROGRAMS.match(proc.name) or SKIP_PROGRAMS.match(posixpath.basename(proc.exe)):
            continue
        units.setdefault(proc.unit, []).append((proc, sock.address, sock.port))
    for unit, owned in sorted(units.items()):
        result.apps.append(_app(host, unit, owned))
    return result


def _app(host: Host, unit: str, owned: list[tuple[ProcessInfo, str, int]]) -> App:
    listen: list[ListenAddress] = []
    for _, address, port in owned:
        a = ListenAddress("*" if address in ("0.0.0.0", "::") else address, port)
        if all((x.address, x.port) != (a.address, a.port) for x in listen):
            listen.append(a)
    unit_file, workdir = _unit_file(host, unit)
    main = min((p for p, _, _ in owned), key=lambda p: p.pid)
    root = workdir or (main.cwd if main.cwd not in ("", "/") else "")
    name = unit.rsplit(".", 1)[0]
    return App(
        kind=SOURCE,
        server_names=[name],
        listen=sorted(listen, key=lambda a: (a.port, a.address)),
        root=root,
        config=ConfigLocation(file=unit_file),
        labels={"unit": unit, "program": main.name},
    )


def _unit_file(host: Host, unit: str) -> tuple[str, str]:
    for directory in UNIT_DIRS:
        path = posixpath.join(directory, unit)
        try:
            text = host.read_text(path, 256 * 1024)
        except HostError:
            continue
        m = _WORKDIR.search(text)
        return path, m.group(1) if m else ""
    return "", ""
