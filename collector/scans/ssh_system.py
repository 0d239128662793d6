"""Processes, listening sockets and system figures of a host reached over SSH.

Read from /proc through SFTP (and `ss` for which process holds a socket), and
computed the way psutil computes them on the host itself. `RemoteSystem` reads
them through the few calls of `ProcSource` (which an `ProcSource` provides) and
keeps each answer for the rest of a scan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import paramiko

from ronda.agent.host import DiskUsage, HostError, ListenSocket, ProcessInfo, SystemStats
from ronda.agent.host.cgroups import cgroup_owner
from ronda.agent.host.local import PSEUDO_FS
from ronda.collector.scans import procfs
from ronda.collector.scans.remote_stat import RemoteStat

MachineInfo = dict[str, str | int]
LIVE_SECONDS = 60.0  # several sources ask within one scan; each answer costs hundreds of round trips


class ProcSource(Protocol):
    """What reading a remote /proc needs: files over SFTP, and the read-only helper channel."""

    name: str
    helper: RemoteStat
    sftp: paramiko.SFTPClient

    def read_bytes(self, path: str, limit: int | None = None) -> bytes: ...

    def read_text(self, path: str, limit: int | None = None) -> str: ...

    def readlink(self, path: str) -> str: ...


class RemoteSystem:
    """One host's processes, sockets and system figures; an answer serves the whole scan (a snapshot
    is one moment anyway)."""

    def __init__(self, source: ProcSource) -> None:
        self.source = source
        self._info: MachineInfo | None = None
        self._live: dict[str, tuple[float, Any]] = {}

    def machine_info(self) -> MachineInfo:
        if self._info is None:
            self._info = machine_info(self.source)
        return self._info

    def processes(self) -> list[ProcessInfo]:
        return list(self._once("processes", lambda: processes(self.source, self.machine_info())))

    def listeners(self) -> list[ListenSocket]:
        return list(self._once("listeners", lambda: listeners(self.source)))

    def system_stats(self) -> SystemStats:
        return self._once("system", lambda: system_stats(self.source, self.machine_info()))

    def _once(self, what: str, compute: Callable[[], Any]) -> Any:
        entry = self._live.get(what)
        if entry is None or time.monotonic() - entry[0] > LIVE_SECONDS:
            entry = (time.monotonic(), compute())
            self._live[what] = entry
        return entry[1]


def machine_info(host: ProcSource) -> MachineInfo:
    """Kernel, architecture, fqdn and the sysconf values /proc figures are scaled by."""
    reply = host.helper.ask("I")
    lines = reply.text().strip().splitlines()
    lines += [""] * (6 - len(lines))

    def number(text: str, default: int) -> int:
        return int(text) if text.strip().isdigit() else default

    return {
        "kernel": lines[0].strip(),
        "architecture": lines[1].strip(),
        "fqdn": lines[2].strip(),
        "clock_ticks": number(lines[3], 100),
        "page_size": number(lines[4], 4096),
        "cpu_count": number(lines[5], 0),
    }


def _user_names(host: ProcSource) -> dict[int, str]:
    try:
        return procfs.passwd_names(host.read_text("/etc/passwd"))
    except HostError:
        return {}


def _read_or_empty(host: ProcSource, path: str) -> str:
    try:
        return host.read_text(path)
    except HostError:
        return ""


def _link_or_empty(host: ProcSource, path: str) -> str:
    try:
        target = host.readlink(path)
    except HostError:
        return ""
    return target[: -len(" (deleted)")] if target.endswith(" (deleted)") else target


def processes(host: ProcSource, info: MachineInfo) -> list[ProcessInfo]:
    ticks, page = int(info["clock_ticks"]), int(info["page_size"])
    users = _user_names(host)
    try:
        pids = sorted(int(name) for name in host.sftp.listdir("/proc") if name.isdigit())
    except OSError as e:
        raise HostError(f"cannot list /proc: {e.strerror or e}") from None
    found = []
    for pid in pids:
        base = f"/proc/{pid}"
        try:
            st = procfs.parse_proc_stat(host.read_text(f"{base}/stat"))
        except (HostError, ValueError, IndexError):
            continue  # gone since the listing
        try:
            cmdline = procfs.parse_cmdline(host.read_bytes(f"{base}/cmdline"))
        except HostError:
            cmdline = ()
        uid = procfs.real_uid(_read_or_empty(host, f"{base}/status"))
        statm = _read_or_empty(host, f"{base}/statm").split()
        unit, container = cgroup_owner(_read_or_empty(host, f"{base}/cgroup"))
        found.append(
            ProcessInfo(
                pid=pid,
                ppid=st.ppid,
                name=procfs.process_name(st.name, cmdline),
                exe=_link_or_empty(host, f"{base}/exe"),
                user="" if uid is None else users.get(uid, str(uid)),
                cwd=_link_or_empty(host, f"{base}/cwd"),
                cpu_seconds=st.utime_ticks / ticks + st.stime_ticks / ticks,
                rss_bytes=int(statm[1]) * page if len(statm) > 1 else 0,
                unit=unit,
                container=container,
                cmdline=cmdline,
            )
        )
    return found


def listeners(host: ProcSource) -> list[ListenSocket]:
    sockets = []
    for protocol, path in (("tcp", "/proc/net/tcp"), ("tcp6", "/proc/net/tcp6")):
        try:
            sockets += procfs.parse_proc_net_tcp(host.read_text(path), protocol)
        except HostError as e:
            if protocol == "tcp":
                raise HostError(f"cannot list sockets: {e}") from None
    owners = procfs.parse_ss_owners(host.helper.ask("N").text())
    seen = set()
    result = []
    for sock in sockets:
        pids = owners.get(sock.inode)
        # as psutil tells it: of the processes sharing a socket, the last one in /proc (highest pid) wins
        key = (sock.protocol, sock.address, sock.port, max(pids) if pids else 0)
        if key not in seen:
            seen.add(key)
            result.append(ListenSocket(*key))
    return sorted(result, key=lambda s: (s.port, s.address, s.pid))


def system_stats(host: ProcSource, info: MachineInfo) -> SystemStats:
    if not info["kernel"]:
        raise HostError(f"{host.name}: the system figures command gave no answer")
    memory = procfs.parse_meminfo(_read_or_empty(host, "/proc/meminfo"))
    total = memory.get("MemTotal", 0)
    available = memory.get("MemAvailable", memory.get("MemFree", 0))
    btime = procfs.boot_time(_read_or_empty(host, "/proc/stat"))
    addresses = procfs.parse_ip_addresses(host.helper.ask("A").text())
    return SystemStats(
        kernel=str(info["kernel"]),
        architecture=str(info["architecture"]),
        fqdn=str(info["fqdn"]),
        addresses=tuple(sorted(set(a.split("%")[0] for a in addresses))),
        boot_time=datetime.fromtimestamp(btime, tz=UTC) if btime else None,
        cpu_count=int(info["cpu_count"]),
        memory_total_bytes=total,
        memory_used_bytes=total - available,
        disks=tuple(_disks(host)),
    )


def _disks(host: ProcSource) -> list[DiskUsage]:
    physical = procfs.physical_fstypes(_read_or_empty(host, "/proc/filesystems"))
    disks = []
    for device, mountpoint, fstype in procfs.parse_mounts(_read_or_empty(host, "/proc/mounts")):
        if not device or device == "none" or fstype not in physical or fstype in PSEUDO_FS:
            continue
        reply = host.helper.ask("V", mountpoint)
        parts = reply.text().split()
        if not reply.ok or len(parts) != 3 or not all(p.isdigit() for p in parts):
            continue
        blocks, free, size = (int(p) for p in parts)
        disks.append(DiskUsage(mountpoint, device, fstype, blocks * size, (blocks - free) * size))
    return disks
