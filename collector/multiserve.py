"""`ronda serve --processes N`: N server processes sharing one port (SO_REUSEPORT) and one SQLite file.

Python runs one thread at a time per process; decoding, checking and converting snapshots is
CPU work, so a collector on a machine with several cores serves more agents with one process per
core. The kernel spreads connections over the processes; SQLite serializes their writes (each
ingest is still one transaction). Each process drains its calls in flight on SIGTERM.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing as mp
import signal
import socket
import threading
from collections.abc import Callable

from ronda.collector.server import CHECKPOINT_EVERY, ServeError, ServerConfig, make_server, stop_gracefully
from ronda.collector.store import Store
from ronda.transport import join_address, split_address


def _die_with_parent() -> None:
    # Linux: a child left behind by a SIGKILLed parent stops too
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _child(db: str, config: ServerConfig, ready: mp.Queue) -> None:
    _die_with_parent()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    store = Store(db, CHECKPOINT_EVERY)
    try:
        server, port = make_server(store, config)
    except Exception as e:  # reported to the parent, which explains it
        ready.put(("error", str(e)))
        return
    ready.put(("ready", port))
    stop.wait()
    stop_gracefully(server, grace=10)
    store.close()


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve_processes(
    db: str,
    config: ServerConfig,
    processes: int,
    stop: threading.Event,
    on_ready: Callable[[int], None] = lambda port: None,
) -> None:
    """Run `processes` servers until `stop` is set, then drain them all; `on_ready(port)` once all listen."""
    Store(db).close()  # migrate once, before the servers race for it
    host, port = split_address(config.listen, allow_zero=True)
    if port == 0:
        port = free_port(host)
    shared = dataclasses.replace(config, listen=join_address(host, port), reuse_port=True)
    context = mp.get_context("spawn")  # gRPC must not be forked with threads running
    ready = context.Queue()
    children = [context.Process(target=_child, args=(db, shared, ready)) for _ in range(processes)]
    for child in children:
        child.start()
    try:
        for _ in children:
            kind, value = ready.get(timeout=60)
            if kind == "error":
                raise ServeError(value)
        on_ready(port)
        stop.wait()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: each drains its calls in flight, then exits
        for child in children:
            child.join(30)
