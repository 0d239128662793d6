"""What an app costs its server: the processes attributable to it, and its root on disk."""

from __future__ import annotations

from dataclasses import dataclass, field

from ronda.agent.host import Host, HostError, ListenSocket, ProcessInfo
from ronda.agent.inspect.diskwalk import Walk, walk
from ronda.agent.inspect.endpoints import serves, target_is, targets
from ronda.agent.inspect.files import Files
from ronda.agent.inspect.fpm import Pool, load_pools, pool_for, pool_workers
from ronda.model import App, ProcessRef, Resources


@dataclass
class Machine:
    """Processes, sockets and PHP-FPM pools of the host, read once per scan."""

    processes: list[ProcessInfo] = field(default_factory=list)
    sockets: list[ListenSocket] = field(default_factory=list)
    pools: list[Pool] = field(default_factory=list)
    own_addresses: frozenset[str] = frozenset()
    errors: list[tuple[str, str]] = field(default_factory=list)  # (what, message)
    problems: list[Files] = field(default_factory=list)

    @classmethod
    def load(cls, host: Host) -> Machine:
        m = cls()
        try:
            m.processes = host.processes()
        except HostError as e:
            m.errors.append(("processes", str(e)))
        try:
            m.sockets = host.listeners()
        except HostError as e:
            m.errors.append(("listeners", str(e)))
        try:
            m.own_addresses = frozenset(a.lower() for a in host.system_stats().addresses)
        except HostError as e:
            m.errors.append(("addresses", str(e)))
        m.pools = load_pools(host, m.processes, m.problems)
        return m

    def by_pid(self) -> dict[int, ProcessInfo]:
        return {p.pid: p for p in self.processes}

    def group(self, pid: int) -> list[ProcessInfo]:
        """A server's process group: its top ancestor running the same program, and that one's
        same-program descendants."""
        by_pid = self.by_pid()
        proc = by_pid.get(pid)
        if proc is None:
            return []

        def same(p: ProcessInfo) -> bool:  # one program, and never across a unit or container boundary
            program = p.name == proc.name and p.exe == proc.exe  # a PM2 daemon runs node too, named otherwise
            return program and p.unit == proc.unit and p.container == proc.container

        top = proc
        while top.ppid in by_pid and same(by_pid[top.ppid]):
            top = by_pid[top.ppid]
        children: dict[int, list[ProcessInfo]] = {}
        for p in self.processes:
            children.setdefault(p.ppid, []).append(p)
        members, todo = [], [top]
        while todo:
            p = todo.pop()
            members.append(p)
            todo.extend(c for c in children.get(p.pid, []) if same(c))
        return members


def app_processes(machine: Machine, app: App) -> list[ProcessRef]:
    """The processes serving `app`: its server, its backends (PHP-FPM pool, proxied service),
    its unit or container."""
    picked: dict[int, str] = {}

    def add(procs: list[ProcessInfo], role: str) -> None:
        for p in procs:
            picked.setdefault(p.pid, role)

    own_kind = app.kind in ("node", "systemd", "docker")
    for sock in machine.sockets:
        if sock.pid and serves(app, sock):
            add(machine.group(sock.pid), "app" if own_kind else f"{app.kind} server")
    for target in targets(app):
        pools = pool_for(machine.pools, target.socket, target.port, target.host)
        for pool in pools:
            add(pool_workers(pool, machine.processes), f"php-fpm pool {pool.name}")
        if target.port and not pools:
            for sock in machine.sockets:
                if sock.pid and target_is(target, sock, machine.own_addresses):
                    add(machine.group(sock.pid), "backend")
    unit, container = app.labels.get("unit", ""), app.labels.get("container", "")
    for p in machine.processes:
        if unit and p.unit == unit:
            add([p], "service")
        elif (
            container
            and p.container
            and (p.container.startswith(container) or container.startswith(p.container))
        ):
            add([p], "container")
        elif app.kind == "node" and app.root and p.cwd == app.root and p.name in ("node", "nodejs", "PM2"):
            add([p], "app")
    by_pid = machine.by_pid()
    return [_ref(by_pid[pid], role) for pid, role in sorted(picked.items())]


def _ref(p: ProcessInfo, role: str) -> ProcessRef:
    """Never the command line: arguments may carry secrets."""
    return ProcessRef(
        pid=p.pid,
        name=p.name,
        user=p.user,
        unit=p.unit,
        container=p.container,
        cpu_seconds=round(p.cpu_seconds, 2),
        rss_bytes=p.rss_bytes,
        role=role,
    )


def build_resources(processes: list[ProcessRef], disk: Walk | None) -> Resources:
    res = Resources(
        processes=processes,
        cpu_seconds=round(sum(p.cpu_seconds for p in processes), 2),
        rss_bytes=sum(p.rss_bytes for p in processes),
    )
    if disk is not None:
        res.disk_bytes = disk.bytes
        res.file_count = disk.files
        res.disk_walk_truncated = disk.truncated
        res.newest_mtime = disk.newest_mtime
        res.newest_file = disk.newest_file
    return res


__all__ = ["Machine", "app_processes", "build_resources", "walk"]
