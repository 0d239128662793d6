"""`ronda serve` as a child process, with its peak memory watched, and hostile callers to throw at it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc
from servers import free_port, stop_process, wait_for_port

from ronda.transport import TlsFiles, channel

BIN = Path(sys.executable).parent
REPORT = "/ronda.v1.Collector/Report"


class ServeChild:
    def __init__(self, db: Path, tls: TlsFiles | None, *args: str) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.tls = tls
        argv = [str(BIN / "ronda"), "serve", "--db", str(db), "--listen", self.address, *args]
        if tls is None:
            argv.append("--insecure")
        else:
            argv += ["--cert", tls.cert, "--key", tls.key] + (["--ca", tls.ca] if tls.ca else [])
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port(self.port, timeout=20)
        self.peak_rss = 0
        self._watching = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        process = psutil.Process(self.proc.pid)
        while not self._watching.is_set() and self.proc.poll() is None:
            try:
                rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(True))
            except psutil.Error:
                break
            self.peak_rss = max(self.peak_rss, rss)
            time.sleep(0.02)

    def health_seconds(self, client_tls: TlsFiles | None = None) -> float:
        """How long one health check takes (at most 5 s: a check that times out counts as 5 s)."""
        with channel(self.address, self.tls is None, client_tls or self.tls or TlsFiles()) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            started = time.monotonic()
            try:
                stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            except grpc.RpcError:
                return 5.0
            return time.monotonic() - started

    def stop(self) -> str:
        self._watching.set()
        stop_process(self.proc)
        return self.proc.stderr.read().decode() if self.proc.stderr else ""


class Stalled:
    """A Report call that sends its headers and then nothing: the slow-loris."""

    def __init__(self, address: str, tls: TlsFiles | None, metadata: tuple = ()) -> None:
        self.release = threading.Event()
        self.code: grpc.StatusCode | None = None
        self.details = ""
        self.ended_after = 0.0
        self._channel = channel(address, tls is None, tls or TlsFiles())
        self._thread = threading.Thread(target=self._call, args=(metadata,), daemon=True)
        self._thread.start()

    def _never(self):
        self.release.wait()
        yield from ()

    def _call(self, metadata: tuple) -> None:
        started = time.monotonic()
        try:
            self._channel.stream_unary(REPORT)(self._never(), timeout=120, metadata=metadata)
        except grpc.RpcError as e:
            self.code, self.details = e.code(), e.details() or ""
        self.ended_after = time.monotonic() - started

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def close(self) -> None:
        self.release.set()
        self._thread.join(10)
        self._channel.close()
