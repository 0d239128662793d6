"""Pure parsers of what a Linux host shows in /proc and a few read-only commands.

They give the same figures psutil gives on the host itself, so a host read
over SSH reports what its agent would.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

TCP_LISTEN = "0A"


@dataclass(frozen=True)
class ProcStat:
    name: str
    ppid: int
    utime_ticks: int
    stime_ticks: int


def parse_proc_stat(text: str) -> ProcStat:
    """/proc/PID/stat: the command name is in parentheses and may itself contain ") "."""
    left, right = text.find("("), text.rfind(")")
    if left < 0 or right < left:
        raise ValueError("not a /proc/PID/stat line")
    fields = text[right + 2 :].split()
    return ProcStat(
        name=text[left + 1 : right],
        ppid=int(fields[1]),
        utime_ticks=int(fields[11]),
        stime_ticks=int(fields[12]),
    )


def real_uid(status: str) -> int | None:
    for line in status.splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


def parse_cmdline(data: bytes) -> tuple[str, ...]:
    """argv as psutil reads it, including processes that rewrote their title into one string."""
    text = data.decode("utf-8", "surrogateescape")
    if not text:
        return ()
    sep = "\0" if text.endswith("\0") else " "
    if text.endswith(sep):
        text = text[:-1]
    parts = text.split(sep)
    if sep == "\0" and len(parts) == 1 and " " in text:
        parts = text.split(" ")
    return tuple(parts)


def process_name(comm: str, cmdline: tuple[str, ...]) -> str:
    """psutil's rule: the kernel keeps 15 characters; take the longer name from argv[0] when it fits."""
    if len(comm) >= 15 and cmdline:
        extended = cmdline[0].rsplit("/", 1)[-1]
        if extended.startswith(comm):
            return extended
    return comm


def passwd_names(text: str) -> dict[int, str]:
    names: dict[int, str] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            names.setdefault(int(parts[2]), parts[0])
    return names


@dataclass(frozen=True)
class TcpSocket:
    protocol: str
    address: str
    port: int
    inode: int


def parse_proc_net_tcp(text: str, protocol: str) -> list[TcpSocket]:
    """Listening sockets in /proc/net/tcp or tcp6 (addresses in host byte order words)."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != TCP_LISTEN:
            continue
        hex_addr, hex_port = fields[1].split(":")
        raw = bytes.fromhex(hex_addr)
        # each 32-bit word is little-endian on the x86/arm hosts ronda runs on
        packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
        family = socket.AF_INET6 if protocol == "tcp6" else socket.AF_INET
        found.append(TcpSocket(protocol, socket.inet_ntop(family, packed), int(hex_port, 16), int(fields[9])))
    return found


_SS_INODE = re.compile(r"\bino:(\d+)")
_SS_PID = re.compile(r"pid=(\d+)")


def parse_ss_owners(text: str) -> dict[int, list[int]]:
    """`ss -ltnpe`: socket inode -> the pids holding it."""
    owners: dict[int, list[int]] = {}
    for line in text.splitlines():
        inode = _SS_INODE.search(line)
        if inode:
            pids = [int(p) for p in _SS_PID.findall(line)]
            owners.setdefault(int(inode.group(1)), [])
            owners[int(inode.group(1))] += [p for p in pids if p not in owners[int(inode.group(1))]]
    return owners


def parse_meminfo(text: str) -> dict[str, int]:
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return values


def boot_time(proc_stat: str) -> int | None:
    for line in proc_stat.splitlines():
        if line.startswith("btime "):
            return int(line.split()[1])
    return None


def physical_fstypes(filesystems: str) -> set[str]:
    """Filesystem types backed by a device (psutil's disk_partitions(all=False) rule)."""
    types = set()
    for line in filesystems.splitlines():
        parts = line.split()
        if len(parts) == 1:
            types.add(parts[0])
        elif len(parts) == 2 and parts[0] == "nodev" and parts[1] == "zfs":
            types.add("zfs")
    return types


def parse_mounts(text: str) -> list[tuple[str, str, str]]:
    """(device, mountpoint, fstype) from /proc/mounts, with its octal escapes undone."""
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            mounts.append((_unescape(parts[0]), _unescape(parts[1]), parts[2]))
    return mounts


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def parse_ip_addresses(text: str) -> list[str]:
    """Addresses from `ip -o addr show`, without prefix length, zone or loopback."""
    found = []
    for line in text.splitlines():
        m = re.search(r"\binet6?\s+([0-9a-fA-F.:]+)(?:/\d+)?", line)
        if not m:
            continue
        try:
            ip = ipaddress.ip_address(m.group(1))
        except ValueError:
            continue
        if not ip.is_loopback:
            found.append(m.group(1))
    return found
