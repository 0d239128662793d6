"""Processes, listening sockets and system figures of a host reached over SSH.

Read from /proc through SFTP (and `ss` for which process holds a socket), and
computed the way psutil computes them on the host itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ronda.agent.host import DiskUsage, HostError, ListenSocket, ProcessInfo, SystemStats
from ronda.agent.host.cgroups import cgroup_owner
from ronda.agent.host.local import PSEUDO_FS
from ronda.collector.scans import procfs

if TYPE_CHECKING:
    from ronda.collector.scans.ssh_host import SshHost


def machine_info(host: SshHost) -> dict[str, str | int]:
    """Kernel, architecture, fqdn and the sysconf values /proc figures are scaled by (asked once)."""
    cached = getattr(host, "_machine_info", None)
    if cached is not None:
        return cached
    reply = host.helper.ask("I")
    lines = reply.text().strip().splitlines()
    lines += [""] * (6 - len(lines))

    def number(text: str, default: int) -> int:
        return int(text) if text.strip().isdigit() else default

    info: dict[str, str | int] = {
        "kernel": lines[0].strip(),
        "architecture": lines[1].strip(),
        "fqdn": lines[2].strip(),
        "clock_ticks": number(lines[3], 100),
        "page_size": number(lines[4], 4096),
        "cpu_count": number(lines[5], 0),
    }
    host._machine_info = info  # type: ignore[attr-defined]
    return info


def _user_names(host: SshHost) -> dict[int, str]:
    try:
        return procfs.passwd_names(host.read_text("/etc/passwd"))
    except HostError:
        return {}


def _read_or_empty(host: SshHost, path: str) -> str:
    try:
        return host.read_text(path)
    except HostError:
        return ""


def _link_or_empty(host: SshHost, path: str) -> str:
    try:
        target = host.readlink(path)
    except HostError:
        return ""
    return target[: -len(" (deleted)")] if target.endswith(" (deleted)") else target


def processes(host: SshHost) -> list[ProcessInfo]:
    info = machine_info(host)
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


def listeners(host: SshHost) -> list[ListenSocket]:
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


def system_stats(host: SshHost) -> SystemStats:
    info = machine_info(host)
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


def _disks(host: SshHost) -> list[DiskUsage]:
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
