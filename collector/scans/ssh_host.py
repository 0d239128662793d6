"""A remote server as a Host, over SSH: the agent's discovery runs unchanged on hosts without an agent.

Files are read through SFTP; stat, directory listings and `which` through one
long-lived read-only helper channel (see remote_stat); processes, sockets and
system figures from /proc (see ssh_system). Commands run only when they are on
the read-only allowlist below, with a timeout. paramiko lives here, in the
collector, never in what the agent imports.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shlex
import stat as _stat
import time
from collections.abc import Callable, Sequence
from typing import BinaryIO

import paramiko

from ronda.agent.host import (
    CommandNotAvailable,
    CommandResult,
    FileStat,
    HostError,
    ListenSocket,
    ProcessInfo,
    SystemStats,
)
from ronda.agent.host.base import MAX_READ_BYTES, require_regular, require_size
from ronda.agent.host.globbing import glob_segments
from ronda.collector.scans.remote_stat import RemoteStat
from ronda.collector.scans.ssh_system import RemoteSystem

MAX_COMMAND_OUTPUT = 64 * 1024 * 1024
_CACHE_SECONDS = 5.0  # a listing's stat results serve the lstat calls that follow it (a walk)
_TYPE_BITS = {
    "f": _stat.S_IFREG,
    "d": _stat.S_IFDIR,
    "l": _stat.S_IFLNK,
    "p": _stat.S_IFIFO,
    "s": _stat.S_IFSOCK,
    "c": _stat.S_IFCHR,
    "b": _stat.S_IFBLK,
}


def _never(flag_words: set[str]) -> Callable[[list[str]], bool]:
    return lambda args: not any(a in flag_words or a.startswith(tuple(flag_words)) for a in args)


def _only_flags(args: list[str], flags: set[str], with_value: set[str]) -> bool:
    """Every argument is one of `flags`, or one of `with_value` followed by its value."""
    i = 0
    while i < len(args):
        if args[i] in with_value and i + 1 < len(args):
            i += 2
        elif args[i] in flags:
            i += 1
        else:
            return False
    return True


# Commands discovery may run on a scanned server, each with a check of its arguments.
# Anything else is refused as not available, so the source falls back to reading files.
READ_ONLY_COMMANDS: dict[str, Callable[[list[str]], bool]] = {
    "nginx": _never({"-s"}),  # -T/-t/-V only read; -s signals the server
    "apache2ctl": _never({"-k", "start", "stop", "restart", "graceful", "graceful-stop", "configtest-start"}),
    "apachectl": _never({"-k", "start", "stop", "restart", "graceful", "graceful-stop"}),
    "httpd": _never({"-k"}),
    "apache2": _never({"-k"}),
    "caddy": lambda args: bool(args) and args[0] in ("adapt", "version", "list-modules"),
    # -p prints the config as lighttpd evaluates it (running its include_shell scripts, as every
    # start does), -t checks it, -v/-V print the version; -D, -1 or none would serve
    "lighttpd": lambda args: (
        bool({"-p", "-t", "-v", "-V"} & set(args)) and _only_flags(args, {"-p", "-t", "-v", "-V"}, {"-f"})
    ),
    "ss": _never({"-K", "--kill"}),
    "php": lambda args: args in (["-v"], ["--version"], ["-m"]),
    "java": lambda args: args in (["-version"], ["--version"]),
    "node": lambda args: args in (["--version"], ["-v"]),
    # which package owns a path (see agent/inspect/packages.py)
    "rpm": lambda args: (
        len(args) == 4 and args[:2] == ["-qf", "--queryformat"] and not args[3].startswith("-")
    ),
    "dpkg-query": lambda args: (
        len(args) > 1 and args[0] == "--search" and not any(a.startswith("-") for a in args[1:])
    ),
}


def _allowed(argv: Sequence[str]) -> bool:
    check = READ_ONLY_COMMANDS.get(posixpath.basename(argv[0]))
    return check is not None and check(list(argv[1:]))


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def parse_stat_line(line: str) -> FileStat:
    """`stat -c '%d %i %b %s %.9Y %f'` -> FileStat, with mtime computed as os.stat does."""
    dev, ino, blocks, size, mtime, mode_hex = line.split()
    mode = int(mode_hex, 16)
    return FileStat(
        size=int(size),
        mtime=_mtime(mtime),
        mode=mode,
        dev=int(dev),
        ino=int(ino),
        is_dir=_stat.S_ISDIR(mode),
        is_file=_stat.S_ISREG(mode),
        is_link=_stat.S_ISLNK(mode),
        allocated_bytes=int(blocks) * 512,
    )


def _mtime(text: str) -> float:
    seconds, _, fraction = text.partition(".")
    return int(seconds) + int((fraction + "000000000")[:9]) * 1e-9


def parse_find_record(record: str) -> tuple[str, FileStat]:
    """`find -printf '%D %i %b %s %T@ %m %y %f'` -> (name, FileStat as lstat gives it)."""
    dev, ino, blocks, size, mtime, perms, kind, name = record.split(" ", 7)
    mode = _TYPE_BITS.get(kind, 0) | int(perms, 8)
    return name, FileStat(
        size=int(size),
        mtime=_mtime(mtime),
        mode=mode,
        dev=int(dev),
        ino=int(ino),
        is_dir=kind == "d",
        is_file=kind == "f",
        is_link=kind == "l",
        allocated_bytes=int(blocks) * 512,
    )


class SshHost:
    def __init__(self, client: paramiko.SSHClient, name: str, command_timeout: float = 60.0) -> None:
        self.client = client
        self.name = f"ssh:{name}"
        self.command_timeout = command_timeout
        transport = client.get_transport()
        if transport is None:
            raise HostError(f"{self.name}: not connected")
        self.transport = transport
        try:
            self.sftp = client.open_sftp()
        except (paramiko.SSHException, OSError) as e:
            raise HostError(f"{self.name}: the server offers no SFTP subsystem ({_reason(e)})") from None
        channel = self.sftp.get_channel()
        if channel is not None:  # None only for an SFTPClient built without a channel
            channel.settimeout(command_timeout)
        self.helper = RemoteStat(transport, self.name, command_timeout)
        self._lstat_cache: dict[str, tuple[float, FileStat]] = {}
        self._which: dict[str, str | None] = {}
        self._find_works = True
        self.system = RemoteSystem(self)

    # -- connection ------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.transport.is_active()

    def close(self) -> None:
        self.helper.close()
        try:
            self.sftp.close()
        finally:
            self.client.close()

    def __enter__(self) -> SshHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files -----------------------------------------------------------------
    def _regular(self, path: str, limit: int | None) -> None:
        """Checked over SFTP before opening: the server's sftp-server would block on a FIFO's open."""
        try:
            attributes = self.sftp.stat(path)
        except (OSError, paramiko.SSHException) as e:
            raise HostError(f"{path}: {_reason(e)}") from None
        require_regular(path, attributes.st_mode or 0)
        require_size(path, attributes.st_size or 0, limit)

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        self._regular(path, limit)
        try:
            with self.sftp.open(path, "rb") as f:
                data = f.read(MAX_READ_BYTES + 1 if limit is None else limit)
        except (OSError, paramiko.SSHException) as e:
            raise HostError(f"{path}: {_reason(e)}") from None
        require_size(path, len(data), limit)  # it grew since the check
        return data

    def read_text(self, path: str, limit: int | None = None) -> str:
        return self.read_bytes(path, limit).decode("utf-8", errors="replace")

    def open_binary(self, path: str) -> BinaryIO:
        self._regular(path, 0)
        try:
            return self.sftp.open(path, "rb", bufsize=1 << 16)  # type: ignore[return-value]
        except (OSError, paramiko.SSHException) as e:
            raise HostError(f"{path}: {_reason(e)}") from None

    def readlink(self, path: str) -> str:
        try:
            return self.sftp.readlink(path) or ""
        except (OSError, paramiko.SSHException) as e:
            raise HostError(f"{path}: {_reason(e)}") from None

    def listdir(self, path: str) -> list[str]:
        if self._find_works:
            reply = self.helper.ask("D", path)
            if reply.ok:
                now = time.monotonic()
                if len(self._lstat_cache) > 50_000:
                    self._lstat_cache.clear()
                names = []
                for record in reply.output.split(b"\0"):
                    if not record.strip():
                        continue
                    name, st = parse_find_record(record.decode("utf-8", "surrogateescape").lstrip("\n"))
                    names.append(name)
                    self._lstat_cache[posixpath.join(path, name)] = (now, st)
                return sorted(names)
            reason = reply.error()
            if reason in ("No such file or directory", "Not a directory", "Permission denied"):
                raise HostError(f"{path}: {reason}")
            self._find_works = False  # no GNU find there (BusyBox): plain SFTP listings
        try:
            return sorted(self.sftp.listdir(path))
        except (OSError, paramiko.SSHException) as e:
            raise HostError(f"{path}: {_reason(e)}") from None

    def _stat(self, op: str, path: str) -> FileStat:
        # SFTP answers "no such file" without starting a process on the server; most probes
        # (fingerprints look for many files) end there. Only what exists costs a `stat`.
        try:
            (self.sftp.stat if op == "S" else self.sftp.lstat)(path)
        except OSError as e:
            if e.errno == errno.ENOENT:
                raise HostError(f"{path}: {self._missing(path)}") from None
            if e.errno:
                raise HostError(f"{path}: {os.strerror(e.errno)}") from None
        except paramiko.SSHException as e:
            raise HostError(f"{path}: {_reason(e)}") from None
        reply = self.helper.ask(op, path)
        if not reply.ok:
            raise HostError(f"{path}: {reply.error()}")
        try:
            return parse_stat_line(reply.text().strip())
        except ValueError:
            raise HostError(f"{path}: unexpected stat output {reply.text().strip()[:80]!r}") from None

    def _missing(self, path: str) -> str:
        """SFTP says "no such file" also where the kernel says "not a directory": ask the ancestors."""
        parent = posixpath.dirname(path.rstrip("/"))
        while parent and parent != "/":
            try:
                st = self.sftp.stat(parent)
            except OSError:
                parent = posixpath.dirname(parent)
                continue
            return os.strerror(errno.ENOENT if _stat.S_ISDIR(st.st_mode or 0) else errno.ENOTDIR)
        return os.strerror(errno.ENOENT)

    def _cached(self, path: str) -> FileStat | None:
        entry = self._lstat_cache.get(path)
        if entry and time.monotonic() - entry[0] < _CACHE_SECONDS:
            return entry[1]
        return None

    def lstat(self, path: str) -> FileStat:
        return self._cached(path) or self._stat("L", path)

    def stat(self, path: str) -> FileStat:
        cached = self._cached(path)
        if cached is not None and not cached.is_link:
            return cached
        return self._stat("S", path)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
            return True
        except HostError:
            return False

    def glob(self, pattern: str) -> list[str]:
        """The matches `glob.glob` would give on the server (no `**`, hidden names need a leading dot)."""
        return glob_segments(pattern, self.listdir, self.lstat)

    def realpath(self, path: str) -> str:
        reply = self.helper.ask("R", path)
        if not reply.ok:
            raise HostError(f"{path}: {reply.error()}")
        return reply.text().strip()

    # -- commands --------------------------------------------------------------
    def which(self, command: str) -> str | None:
        if command not in self._which:
            reply = self.helper.ask("W", command)
            found = reply.text().strip().splitlines()
            self._which[command] = found[0] if reply.ok and found and found[0].startswith("/") else None
        return self._which[command]

    def run(self, argv: Sequence[str], timeout: float = 30.0) -> CommandResult:
        if not argv or not _allowed(argv):
            raise CommandNotAvailable(
                f"{argv[0] if argv else 'an empty command'}: not on ronda's list of "
                "read-only commands for SSH scans"
            )
        exe = self.which(argv[0])
        if exe is None:
            raise CommandNotAvailable(f"{argv[0]}: command not found")
        timeout = min(timeout, self.command_timeout)
        # `timeout` on the server ends the command there too; the local deadline is the backstop
        killer = self.which("timeout")
        remote = ["env", "LC_ALL=C", *([killer, "-k", "2", f"{timeout:g}"] if killer else []), exe, *argv[1:]]
        try:
            channel = self.transport.open_session(timeout=timeout)
            channel.settimeout(timeout)
            channel.exec_command(shlex.join(remote))
            channel.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + timeout + (5 if killer else 0)
            while not (
                channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready()
            ):
                if time.monotonic() > deadline:
                    channel.close()
                    raise HostError(f"{argv[0]} did not finish within {timeout:g}s")
                if len(out) + len(err) > MAX_COMMAND_OUTPUT:
                    channel.close()
                    raise HostError(f"{argv[0]} printed more than {MAX_COMMAND_OUTPUT} bytes")
                got = False
                if channel.recv_ready():
                    out += channel.recv(65536)
                    got = True
                if channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                    got = True
                if not got:
                    time.sleep(0.005)
            status = channel.recv_exit_status()
            channel.close()
            if killer and status in (124, 137):
                raise HostError(f"{argv[0]} did not finish within {timeout:g}s")
        except (paramiko.SSHException, OSError) as e:
            raise HostError(f"{argv[0]}: {_reason(e)}") from None
        return CommandResult(status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def http_unix(
        self, socket_path: str, path: str, timeout: float = 5.0, limit: int = 16 * 1024 * 1024
    ) -> bytes:
        raise CommandNotAvailable(f"{socket_path}: unix sockets are not read over SSH scans")

    # -- processes, sockets, system (from /proc: see ssh_system) ---------------
    def processes(self) -> list[ProcessInfo]:
        return self.system.processes()

    def listeners(self) -> list[ListenSocket]:
        return self.system.listeners()

    def system_stats(self) -> SystemStats:
        return self.system.system_stats()
