"""A TCP relay on loopback that counts the bytes going each way: what a link between agent and collector
carries, TLS records, HTTP/2 frames, headers and acks included.

    with CountingRelay("127.0.0.1:7470") as relay:   # point the client at relay.address
        ...
        relay.up, relay.down                         # bytes client -> server, server -> client
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CountingRelay:
    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.up = 0
        self.down = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.up = self.down = 0

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for source, sink, upward in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, upward), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upward: bool) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    if upward:
                        self.up += len(data)
                    else:
                        self.down += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:  # one side closed: close both, which ends the other pump too
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def __enter__(self) -> CountingRelay:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
