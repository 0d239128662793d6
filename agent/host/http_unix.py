"""A minimal HTTP/1.0 GET over a unix socket (the Docker Engine API), for the host seam."""

from __future__ import annotations

import socket
import time

from ronda.agent.host.base import HostError


def http_get_unix(real_path: str, path: str, timeout: float, limit: int, shown_as: str = "") -> bytes:
    """The body of `GET path`; HostError on connection failure, a non-2xx status or a too-long answer."""
    shown = shown_as or real_path
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(real_path)
            sock.sendall(
                f"GET {path} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n\r\n".encode()
            )
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise HostError(f"{shown}: no complete answer within {timeout:g}s")
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
                size += len(data)
                if size > limit:
                    raise HostError(f"{shown}: answer longer than {limit} bytes")
    except OSError as e:
        raise HostError(f"{shown}: {e.strerror or e}") from None
    return _body(b"".join(chunks), shown, path)


def _body(raw: bytes, shown: str, path: str) -> bytes:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise HostError(f"{shown}: not an HTTP answer")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise HostError(f"{shown}: not an HTTP answer")
    status = int(parts[1])
    if not 200 <= status < 300:
        raise HostError(f"{shown}: GET {path} answered {status}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return _dechunk(body, shown)
    return body


def _dechunk(body: bytes, shown: str) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            raise HostError(f"{shown}: truncated chunked answer")
        try:
            size = int(body[pos:end].split(b";")[0], 16)
        except ValueError:
            raise HostError(f"{shown}: bad chunk size") from None
        if size == 0:
            return bytes(out)
        out += body[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2
