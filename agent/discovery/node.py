"""Node.js apps: PM2's process list (`pm2 jlist`, else its saved dump), else node processes that listen.

PM2's records carry each app's environment, which often holds secrets: only the
name, working directory, status and a numeric PORT are ever taken from them.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

from ronda.agent.discovery.base import DiscoveryOptions, SourceResult
from ronda.agent.host import CommandNotAvailable, Host, HostError, ListenSocket, ProcessInfo
from ronda.model import App, ConfigLocation, ListenAddress

SOURCE = "node"
DUMP_GLOBS = (
    "/root/.pm2/dump.pm2",
    "/home/*/.pm2/dump.pm2",
    "/var/www/.pm2/dump.pm2",
    "/opt/*/.pm2/dump.pm2",
    "/srv/*/.pm2/dump.pm2",
    "/etc/pm2/dump.pm2",
)
NODE_NAMES = ("node", "nodejs")
_MAX_DUMP = 8 * 1024 * 1024


@dataclass
class _Entry:
    name: str
    cwd: str
    pid: int = 0
    port: int = 0
    status: str = ""
    evidence: str = ""


def discover(host: Host, options: DiscoveryOptions) -> SourceResult:
    result = SourceResult()
    entries = _pm2_jlist(host, result)
    if entries is None:
        entries = _pm2_dumps(host, result)
    try:
        processes = host.processes()
        sockets = host.listeners()
    except HostError as e:
        result.error(SOURCE, f"cannot list processes or sockets: {e}")
        processes, sockets = [], []
    nodes = [p for p in processes if _is_node(p)]
    for entry in entries:
        if not entry.pid:  # from a dump: find the running process by its working directory
            entry.pid = next((p.pid for p in nodes if p.cwd and p.cwd == entry.cwd), 0)
    by_pid = {p.pid: p for p in processes}
    seen_pids = {e.pid for e in entries if e.pid}
    for proc in nodes:
        if proc.pid in seen_pids or proc.ppid in seen_pids or not proc.cwd:
            continue
        if any(s.pid == proc.pid for s in sockets):
            entries.append(_Entry(name="", cwd=proc.cwd, pid=proc.pid, evidence=""))
            seen_pids.add(proc.pid)
    for entry in entries:
        result.apps.append(_app(host, entry, sockets, by_pid))
    return result


def _is_node(p: ProcessInfo) -> bool:
    return p.name in NODE_NAMES or posixpath.basename(p.exe) in NODE_NAMES


def _pm2_jlist(host: Host, result: SourceResult) -> list[_Entry] | None:
    if host.which("pm2") is None:
        return None
    try:
        done = host.run(["pm2", "jlist"], timeout=20)
    except CommandNotAvailable:
        return None
    except HostError as e:
        result.error(SOURCE, f"pm2 jlist failed: {e}")
        return None
    if done.returncode != 0:
        result.error(SOURCE, f"pm2 jlist exited with status {done.returncode}")
        return None
    start = done.stdout.find("[")  # pm2 may print a banner before the JSON
    try:
        items = json.loads(done.stdout[start:]) if start >= 0 else None
    except ValueError:
        items = None
    if not isinstance(items, list):
        result.error(SOURCE, "pm2 jlist printed no process list")
        return None
    return [entry for item in items if isinstance(item, dict) and (entry := _entry(item, "pm2 jlist"))]


def _pm2_dumps(host: Host, result: SourceResult) -> list[_Entry]:
    entries: list[_Entry] = []
    for pattern in DUMP_GLOBS:
        for path in host.glob(pattern):
            try:
                items = json.loads(host.read_bytes(path, _MAX_DUMP))
            except HostError as e:
                result.error(SOURCE, str(e).rsplit(": ", 1)[-1], path)
                continue
            except ValueError:
                result.error(SOURCE, "not a PM2 dump (JSON expected)", path)
                continue
            if not isinstance(items, list):
                result.error(SOURCE, "not a PM2 dump (a JSON list expected)", path)
                continue
            entries += [entry for item in items if isinstance(item, dict) and (entry := _entry(item, path))]
    return entries


def _entry(item: dict, evidence: str) -> _Entry | None:
    """One PM2 record: jlist nests the settings under pm2_env, the dump has them at the top."""
    nested = item.get("pm2_env")
    env = nested if isinstance(nested, dict) else item
    cwd = env.get("pm_cwd") or env.get("cwd") or ""
    name = item.get("name") or env.get("name") or ""
    if not isinstance(cwd, str) or not isinstance(name, str) or not (cwd or name):
        return None
    port = 0
    variables = env.get("env")
    for source in (variables if isinstance(variables, dict) else {}, env):
        value = source.get("PORT")
        if isinstance(value, (int, str)) and str(value).isdigit():
            port = int(value)
            break
    pid, status = item.get("pid"), env.get("status")
    return _Entry(
        name=name,
        cwd=cwd,
        pid=pid if isinstance(pid, int) else 0,
        port=port,
        status=status if isinstance(status, str) else "",
        evidence=evidence,
    )


def _app(host: Host, entry: _Entry, sockets: list[ListenSocket], by_pid: dict[int, ProcessInfo]) -> App:
    pids = {entry.pid} | {p.pid for p in by_pid.values() if entry.pid and p.ppid == entry.pid}
    listen = sorted({(s.address, s.port) for s in sockets if s.pid and s.pid in pids})
    addresses = [ListenAddress(_address(a), p) for a, p in listen]
    if not addresses and entry.port:
        addresses = [ListenAddress("*", entry.port)]
    name = entry.name or _package_name(host, entry.cwd) or posixpath.basename(entry.cwd.rstrip("/")) or "node"
    labels = {"manager": "pm2" if entry.evidence else "process"}
    if entry.status:
        labels["status"] = entry.status
    proc = by_pid.get(entry.pid)
    if proc and proc.unit:
        labels["unit"] = proc.unit
    if proc and proc.container:
        labels["container"] = proc.container
    return App(
        kind=SOURCE,
        server_names=[name],
        listen=addresses,
        root=entry.cwd,
        config=ConfigLocation(file=entry.evidence if entry.evidence.startswith("/") else ""),
        labels=labels,
    )


def _address(address: str) -> str:
    return "*" if address in ("0.0.0.0", "::", "") else address


def _package_name(host: Host, cwd: str) -> str:
    if not cwd:
        return ""
    try:
        package = json.loads(host.read_bytes(posixpath.join(cwd, "package.json"), 256 * 1024))
    except (HostError, ValueError):
        return ""
    name = package.get("name") if isinstance(package, dict) else ""
    return name if isinstance(name, str) else ""
