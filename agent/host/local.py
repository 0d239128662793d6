"""The local machine as a Host, optionally seen under a root prefix.

With a root (a directory laid out like `/`), only the file tree is read:
commands, processes, sockets and live system figures belong to the machine
running ronda, not to the tree, so they are reported as unavailable. Every
path, symbolic link, `..` and glob resolves inside the root: nothing outside
it is read, listed or named in an error.

Every file is checked to be a regular file before it is opened (a FIFO
would block the scan, a device would read forever), and opened without
blocking and checked again on the open descriptor.
This module is the only place that touches os, glob, subprocess and psutil.
The last two are imported where they are used: reading files and logs (a
usage scan, `--root`) needs neither, and a short run should not pay for them.
"""

from __future__ import annotations

import glob as _glob
import os
import posixpath
import shutil
import socket
import stat as _stat
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import BinaryIO

from ronda.agent.host.base import (
    MAX_READ_BYTES,
    CommandNotAvailable,
    CommandResult,
    DiskUsage,
    FileStat,
    HostError,
    ListenSocket,
    ProcessInfo,
    SystemStats,
    require_regular,
    require_size,
)
from ronda.agent.host.cgroups import cgroup_owner
from ronda.agent.host.globbing import glob_segments
from ronda.agent.host.http_unix import http_get_unix

_MAX_SYMLINK_HOPS = 40
PSEUDO_FS = {
    "proc",
    "sysfs",
    "tmpfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "overlay",
    "squashfs",
    "securityfs",
    "pstore",
    "bpf",
    "tracefs",
    "debugfs",
    "mqueue",
    "hugetlbfs",
    "fusectl",
    "configfs",
    "autofs",
    "binfmt_misc",
    "nsfs",
    "ramfs",
    "efivarfs",
    "rpc_pipefs",
}


def _to_stat(st: os.stat_result) -> FileStat:
    return FileStat(
        size=st.st_size,
        mtime=st.st_mtime,
        mode=st.st_mode,
        dev=st.st_dev,
        ino=st.st_ino,
        is_dir=_stat.S_ISDIR(st.st_mode),
        is_file=_stat.S_ISREG(st.st_mode),
        is_link=_stat.S_ISLNK(st.st_mode),
        allocated_bytes=st.st_blocks * 512,
    )


class LocalHost:
    def __init__(self, root: str | None = None) -> None:
        root = os.path.abspath(root) if root else "/"
        self.root = root
        self.live = root == "/"
        self.name = "local" if self.live else f"local:{root}"

    # -- paths ---------------------------------------------------------------
    def _real(self, path: str) -> str:
        """Map a host path to a path on this machine, resolving symlinks inside the root."""
        if self.live:
            return path
        if not path.startswith("/"):
            raise HostError(f"not an absolute path: {path}")
        parts = [p for p in path.split("/") if p and p != "."]
        resolved: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = os.path.join(self.root, *resolved, part)
            if os.path.islink(candidate):
                hops += 1
                if hops > _MAX_SYMLINK_HOPS:
                    raise HostError(f"too many levels of symbolic links: {path}")
                target = os.readlink(candidate)
                if target.startswith("/"):
                    resolved = []
                parts = [p for p in target.split("/") if p and p != "."] + parts
                continue
            resolved.append(part)
        return os.path.join(self.root, *resolved)

    def _host_path(self, real: str) -> str:
        if self.live:
            return real
        rel = os.path.relpath(real, self.root)
        return "/" if rel == "." else "/" + rel

    # -- files ---------------------------------------------------------------
    def _open_regular(self, path: str, limit: int | None) -> BinaryIO:
        """`path` opened for reading once it is known to be a regular file (of at most MAX_READ_BYTES
        for a whole-file read); O_NONBLOCK so that even a FIFO swapped in after the check cannot
        block the open, and the descriptor checked again."""
        real = self._real(path)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        if not self.live:
            flags |= os.O_NOFOLLOW  # _real resolved every link inside the root
        try:
            require_regular(path, os.stat(real).st_mode)
            fd = os.open(real, flags)
        except OSError as e:
            raise HostError(f"{path}: {e.strerror or e}") from None
        try:
            st = os.fstat(fd)
            require_regular(path, st.st_mode)
            require_size(path, st.st_size, limit)
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb")

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        with self._open_regular(path, limit) as f:
            try:
                data = f.read(MAX_READ_BYTES + 1 if limit is None else limit)
            except OSError as e:
                raise HostError(f"{path}: {e.strerror or e}") from None
        require_size(path, len(data), limit)  # it grew since the check
        return data

    def read_text(self, path: str, limit: int | None = None) -> str:
        return self.read_bytes(path, limit).decode("utf-8", errors="replace")

    def open_binary(self, path: str) -> BinaryIO:
        """A regular file to read in pieces (a log): no size bound."""
        return self._open_regular(path, 0)

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self._real(path)))
        except OSError as e:
            raise HostError(f"{path}: {e.strerror or e}") from None

    def stat(self, path: str) -> FileStat:
        try:
            return _to_stat(os.stat(self._real(path)))
        except OSError as e:
            raise HostError(f"{path}: {e.strerror or e}") from None

    def lstat(self, path: str) -> FileStat:
        try:
            parent, base = os.path.split(path.rstrip("/") or "/")
            keep = base not in ("", ".", "..")
            real = os.path.join(self._real(parent), base) if keep else self._real(path)
            return _to_stat(os.lstat(real))
        except OSError as e:
            raise HostError(f"{path}: {e.strerror or e}") from None

    def exists(self, path: str) -> bool:
        try:
            return os.path.exists(self._real(path))
        except HostError:
            return False

    def glob(self, pattern: str) -> list[str]:
        if self.live:
            return sorted(_glob.glob(pattern))
        # Python's glob would follow links and `..` on this machine, out of the root
        return sorted({posixpath.normpath(m) for m in glob_segments(pattern, self.listdir, self.lstat)})

    def realpath(self, path: str) -> str:
        if self.live:
            return os.path.realpath(path)
        return self._host_path(self._real(path))

    # -- commands ------------------------------------------------------------
    def which(self, command: str) -> str | None:
        if not self.live:
            return None
        return shutil.which(command, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")

    def run(self, argv: Sequence[str], timeout: float = 30.0) -> CommandResult:
        if not self.live:
            raise CommandNotAvailable(f"{self.name} is a file tree; cannot run {argv[0]}")
        import subprocess

        exe = self.which(argv[0])
        if exe is None:
            raise CommandNotAvailable(f"{argv[0]}: command not found")
        try:
            done = subprocess.run(
                [exe, *argv[1:]], capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
            )
        except subprocess.TimeoutExpired:
            raise HostError(f"{argv[0]} did not finish within {timeout:g}s") from None
        except OSError as e:
            raise HostError(f"{argv[0]}: {e.strerror or e}") from None
        return CommandResult(
            done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
        )

    def http_unix(
        self, socket_path: str, path: str, timeout: float = 5.0, limit: int = 16 * 1024 * 1024
    ) -> bytes:
        """GET over a unix socket; under a root the socket file is looked up inside the tree."""
        return http_get_unix(self._real(socket_path), path, timeout, limit, shown_as=socket_path)

    # -- processes and sockets ----------------------------------------------
    def processes(self) -> list[ProcessInfo]:
        if not self.live:
            return []
        import psutil

        found = []
        attrs = ["pid", "ppid", "name", "exe", "username", "cwd", "cpu_times", "memory_info", "cmdline"]
        for proc in psutil.process_iter(attrs):
            info = proc.info
            cpu = info.get("cpu_times")
            mem = info.get("memory_info")
            unit, container = _cgroup_owner(proc.pid)
            found.append(
                ProcessInfo(
                    pid=proc.pid,
                    ppid=info.get("ppid") or 0,
                    name=info.get("name") or "",
                    exe=info.get("exe") or "",
                    user=info.get("username") or "",
                    cwd=info.get("cwd") or "",
                    cpu_seconds=(cpu.user + cpu.system) if cpu else 0.0,
                    rss_bytes=mem.rss if mem else 0,
                    unit=unit,
                    container=container,
                    cmdline=tuple(info.get("cmdline") or ()),
                )
            )
        return found

    def listeners(self) -> list[ListenSocket]:
        if not self.live:
            return []
        import psutil

        try:
            conns = psutil.net_connections(kind="tcp")
        except (psutil.AccessDenied, OSError) as e:
            raise HostError(f"cannot list sockets: {e}") from None
        seen = set()
        result = []
        for c in conns:
            if c.status != psutil.CONN_LISTEN or not c.laddr:
                continue
            proto = "tcp6" if c.family == socket.AF_INET6 else "tcp"
            key = (proto, c.laddr.ip, c.laddr.port, c.pid or 0)
            if key not in seen:
                seen.add(key)
                result.append(ListenSocket(proto, c.laddr.ip, c.laddr.port, c.pid or 0))
        return sorted(result, key=lambda s: (s.port, s.address, s.pid))

    def system_stats(self) -> SystemStats:
        if not self.live:
            return SystemStats()
        import psutil

        uname = os.uname()
        addresses = []
        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(a.address):
                    addresses.append(a.address.split("%")[0])
        disks = []
        for part in psutil.disk_partitions(all=False):
            if part.fstype in PSEUDO_FS:
                continue
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:
                continue
            disks.append(DiskUsage(part.mountpoint, part.device, part.fstype, usage.total, usage.used))
        mem = psutil.virtual_memory()
        return SystemStats(
            kernel=uname.release,
            architecture=uname.machine,
            fqdn=socket.getfqdn(),
            addresses=tuple(sorted(set(addresses))),
            boot_time=datetime.fromtimestamp(psutil.boot_time(), tz=UTC),
            cpu_count=psutil.cpu_count() or 0,
            memory_total_bytes=mem.total,
            memory_used_bytes=mem.total - mem.available,
            disks=tuple(disks),
        )


def _is_loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1"


def _cgroup_owner(pid: int) -> tuple[str, str]:
    """The systemd unit and container id a process belongs to, from its cgroup."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return cgroup_owner(f.read())
    except OSError:
        return "", ""
