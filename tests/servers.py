"""Real web servers for tests, started on loopback ports with configs in a temp dir."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def building_from_the_checkout() -> Iterator[None]:
    """One wheel build from this checkout at a time, across the test run's workers (`make test` runs
    several): pip builds a source tree in place, in its build/ folder, which two builds would share."""
    with open(Path(tempfile.gettempdir()) / "ronda-tests-checkout-build.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def http_get(
    port: int,
    path: str = "/",
    host_header: str = "",
    user_agent: str = "Mozilla/5.0 (X11; Linux x86_64) "
    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"User-Agent": user_agent})
    if host_header:
        request.add_header("Host", host_header)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def stop_process(process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """Terminate a child the test started, killing it if it does not stop within `timeout` seconds."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ChildServer:
    """Stop and `with` for a server the test runs as its child process (`self.process`)."""

    stop_timeout = 10.0

    def stop(self) -> None:
        stop_process(self.process, self.stop_timeout)  # type: ignore[attr-defined]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class Nginx(ChildServer):
    """nginx from the Debian package, running as a child of the test."""

    conf: Path
    prefix: Path
    process: subprocess.Popen | None = None

    @classmethod
    def binary(cls) -> str:
        path = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(path).exists():
            raise RuntimeError("nginx is not installed: .ci/run installs it (apt-get install nginx)")
        return path

    @classmethod
    def write(cls, tmp: Path, http_body: str, main_extra: str = "") -> Nginx:
        """A complete nginx.conf whose http block contains `http_body` (server blocks, includes...)."""
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "logs").mkdir(exist_ok=True)
        conf = tmp / "nginx.conf"
        # Test dirs under /tmp/pytest-of-root are private to root; workers must read them.
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(f"""
{user}
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/logs/error.log;
{main_extra}
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/logs/access.log combined;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{http_body}
}}
""")
        return cls(conf=conf, prefix=tmp)

    def start(self, *ports: int) -> Nginx:
        self.process = subprocess.Popen(
            [self.binary(), "-c", str(self.conf), "-p", str(self.prefix)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            for port in ports:
                wait_for_port(port)
        except TimeoutError:
            self.stop()
            out = self.process.stdout.read().decode() if self.process.stdout else ""
            raise RuntimeError(f"nginx did not start: {out}") from None
        return self
