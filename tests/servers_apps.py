"""Real app servers for tests: a PHP-FPM master with its pools, and a Node.js HTTP app."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from servers import ChildServer, wait_for_port


def _wait_for_socket(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        time.sleep(0.05)
    raise TimeoutError(f"no socket at {path} after {timeout}s")


@dataclass
class PhpFpm(ChildServer):
    """Debian's php-fpm in the foreground, its php-fpm.conf and pool files in a temp dir."""

    conf: Path
    sockets: dict[str, Path]
    process: subprocess.Popen | None = None

    @classmethod
    def binary(cls) -> str:
        found = shutil.which("php-fpm") or next(
            iter(sorted(glob.glob("/usr/sbin/php-fpm*"), reverse=True)), ""
        )
        if not found:
            raise RuntimeError("php-fpm is not installed: .ci/run installs it (apt-get install php-fpm)")
        return found

    @classmethod
    def write(cls, tmp: Path, pools: list[str]) -> PhpFpm:
        """One pool per name on a unix socket tmp/<name>.sock, configs in tmp/pool.d/ (Debian's layout)."""
        (tmp / "pool.d").mkdir(parents=True, exist_ok=True)
        conf = tmp / "php-fpm.conf"
        conf.write_text(
            f"[global]\npid = {tmp}/php-fpm.pid\nerror_log = {tmp}/php-fpm.log\n"
            f"daemonize = no\ninclude = {tmp}/pool.d/*.conf\n"
        )
        sockets = {}
        for name in pools:
            sockets[name] = tmp / f"{name}.sock"
            (tmp / "pool.d" / f"{name}.conf").write_text(
                f"[{name}]\nuser = root\ngroup = root\nlisten = {tmp}/$pool.sock\nlisten.mode = 0666\n"
                "pm = static\npm.max_children = 2\n"
            )
        return cls(conf=conf, sockets=sockets)

    def start(self) -> PhpFpm:
        self.process = subprocess.Popen(
            [self.binary(), "-F", "-R", "-y", str(self.conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            for sock in self.sockets.values():
                _wait_for_socket(sock)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"php-fpm did not start: {self.process.stdout.read().decode()}") from None
        return self


NODE_SERVER = """
const http = require('http');
const port = parseInt(process.env.PORT, 10);
http.createServer((req, res) => { res.end('layanan ' + req.url); }).listen(port, '127.0.0.1');
"""


@dataclass
class NodeApp(ChildServer):
    """A Node.js HTTP app (Debian's nodejs) listening on a loopback port, its cwd the app directory."""

    directory: Path
    port: int
    process: subprocess.Popen | None = None

    def start(self, env: dict[str, str] | None = None) -> NodeApp:
        node = shutil.which("node") or shutil.which("nodejs")
        if not node:
            raise RuntimeError("nodejs is not installed: .ci/run installs it (apt-get install nodejs)")
        (self.directory / "server.js").write_text(NODE_SERVER)
        self.process = subprocess.Popen(
            [node, "server.js"], cwd=self.directory, env={**os.environ, **(env or {}), "PORT": str(self.port)}
        )
        wait_for_port(self.port)
        return self


class DockerApiFixture:
    """Answers GET /containers/json on a unix socket with recorded Docker Engine API JSON.

    A Docker daemon cannot run in this sandbox (no image registry, no privileges for
    its namespaces), so the shape of its answer is replayed here; the client side
    (the socket, HTTP, JSON) is ronda's real code.
    """

    def __init__(self, socket_path: Path, containers: list[dict], chunked: bool = True) -> None:
        import json
        import socketserver
        import threading
        from http.server import BaseHTTPRequestHandler

        body = json.dumps(containers).encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path.split("?")[0].rstrip("/").endswith("/containers/json"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    if chunked:  # dockerd streams its answers chunked
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for i in range(0, len(body), 100):
                            part = body[i : i + 100]
                            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                self.close_connection = True

            def log_message(self, *args) -> None:
                pass

        socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.server = socketserver.ThreadingUnixStreamServer(str(socket_path), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> DockerApiFixture:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class Cgroup:
    """A real cgroup named like systemd's units ("x.service") or Docker's ("docker/<id>").

    Moving a test process into it gives the process the unit or container that
    the host reads from /proc/PID/cgroup, the way systemd and Docker do.
    """

    def __init__(self, name: str) -> None:
        self.path = _cgroup_root() / name
        self.path.mkdir(parents=True, exist_ok=True)

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        """Only after its processes ended: the kernel refuses to remove a populated cgroup."""
        for path in [self.path, *self.path.parents]:
            if path == _cgroup_root():
                break
            deadline = time.monotonic() + 5
            while True:
                try:
                    path.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline or any(path.iterdir()) and path != self.path:
                        break
                    time.sleep(0.05)


def _cgroup_root() -> Path:
    """The hierarchy systemd names units in: cgroup v1's name=systemd, else the unified v2 tree."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if ":name=systemd:" in line and Path("/sys/fs/cgroup/systemd").is_dir():
            return Path("/sys/fs/cgroup/systemd")
    for candidate in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")):
        if (candidate / "cgroup.procs").exists():
            return candidate
    raise RuntimeError("no writable cgroup hierarchy: tests of units and containers need root and cgroupfs")
