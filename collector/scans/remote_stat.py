"""File facts over one long-lived SSH channel: what SFTP cannot tell.

SFTP has no device and inode numbers, no allocated blocks and only whole
seconds of mtime, yet discovery needs them (walks remember directories by
device and inode, disk use counts sparse files by their blocks, fingerprints
keep the newest mtime). Starting a command per file costs a new SSH session
each time (a tenth of a second), so one small POSIX sh loop is started once
and asked, line by line, to `stat`, `find`, `realpath` or `command -v` a path.
It runs nothing else: the operation letter picks one of these fixed, read-only
commands and the path is only ever an argument.
"""

from __future__ import annotations

import secrets
import shlex
import time
from dataclasses import dataclass

import paramiko

from ronda.agent.host import HostError

_STAT_FORMAT = "%d %i %b %s %.9Y %f"
_SCRIPT = r"""
PATH="$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"; LC_ALL=C; export PATH LC_ALL
while IFS= read -r op && IFS= read -r p; do
  case "$op" in
    L) stat -c '{fmt}' -- "$p" 2>&1 ;;
    S) stat -L -c '{fmt}' -- "$p" 2>&1 ;;
    D) if [ ! -e "$p" ]; then echo "No such file or directory"; false
       elif [ ! -d "$p" ]; then echo "Not a directory"; false
       elif [ ! -r "$p" ] || [ ! -x "$p" ]; then echo "Permission denied"; false
       else find "$p" -mindepth 1 -maxdepth 1 -printf '%D %i %b %s %T@ %m %y %f\0' 2>/dev/null; fi ;;
    R) realpath -m -- "$p" 2>&1 ;;
    W) command -v -- "$p" 2>/dev/null ;;
    V) stat -f -c '%b %f %S' -- "$p" 2>&1 ;;
    I) uname -r; uname -m; hostname -f 2>/dev/null || hostname; getconf CLK_TCK; getconf PAGESIZE;
       getconf _NPROCESSORS_ONLN ;;
    A) ip -o addr show 2>/dev/null ;;
    N) ss -ltnpe 2>/dev/null ;;
    *) echo "unknown operation"; false ;;
  esac
  printf '\n%s %s\n' "{token}" "$?"
done
"""
OPERATIONS = "LSDRWVIAN"


@dataclass(frozen=True)
class Reply:
    status: int
    output: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    def text(self) -> str:
        return self.output.decode("utf-8", "surrogateescape")

    def error(self) -> str:
        """The reason in a failed reply, as strerror gives it ("No such file or directory")."""
        lines = [line for line in self.text().strip().splitlines() if line.strip()]
        return lines[-1].rsplit(": ", 1)[-1].strip() if lines else f"failed with status {self.status}"


class RemoteStat:
    def __init__(self, transport: paramiko.Transport, name: str, timeout: float) -> None:
        self.transport = transport
        self.name = name
        self.timeout = timeout
        self._channel: paramiko.Channel | None = None
        self._buffer = b""
        self._token = b""

    def _open(self) -> paramiko.Channel:
        if self._channel is None or self._channel.closed:
            self._token = secrets.token_hex(16).encode()
            script = _SCRIPT.replace("{fmt}", _STAT_FORMAT).replace("{token}", self._token.decode())
            try:
                channel = self.transport.open_session(timeout=self.timeout)
                channel.settimeout(self.timeout)
                channel.exec_command("sh -c " + shlex.quote(script))
            except (paramiko.SSHException, OSError) as e:
                raise HostError(f"{self.name}: cannot open a channel: {e}") from None
            self._channel, self._buffer = channel, b""
        return self._channel

    def ask(self, op: str, path: str = "/") -> Reply:
        if op not in OPERATIONS:
            raise ValueError(op)
        if "\n" in path or "\r" in path or "\0" in path:
            raise HostError(f"{path!r}: paths with line breaks are not read over SSH")
        channel = self._open()
        marker = b"\n" + self._token + b" "
        deadline = time.monotonic() + self.timeout
        try:
            channel.sendall(f"{op}\n{path}\n".encode("utf-8", "surrogateescape"))
            while True:
                at = self._buffer.find(marker)
                if at >= 0:
                    end = self._buffer.find(b"\n", at + len(marker))
                    if end >= 0:
                        output = self._buffer[:at]
                        status = int(self._buffer[at + len(marker) : end] or b"1")
                        self._buffer = self._buffer[end + 1 :]
                        return Reply(status, output)
                if time.monotonic() > deadline:
                    raise TimeoutError
                chunk = channel.recv(65536)
                if not chunk:
                    raise EOFError
                self._buffer += chunk
        except (TimeoutError, OSError, EOFError, paramiko.SSHException) as e:
            self.close()
            why = f"no answer within {self.timeout:g}s" if isinstance(e, TimeoutError) else "connection lost"
            raise HostError(f"{path}: {why}") from None

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
