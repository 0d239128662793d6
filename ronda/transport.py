"""Channel credentials shared by the agent and the collector's own clients.

TLS is the default. Plain text needs an explicit `insecure=True` and is only
allowed to a loopback address, so a mistake can never send a snapshot in the
clear across a network.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ronda.errors import EXIT_REFUSED, RondaError

if TYPE_CHECKING:  # imported where a channel or credentials are made; the rest serves every command
    import grpc

DEFAULT_PORT = 7470
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
log = logging.getLogger("ronda.transport")


class TransportError(RondaError):
    """Bad address, missing or unreadable certificate, or a refused insecure setup."""

    exit_code = EXIT_REFUSED  # its own raises are settings to fix; subclasses are failures


@dataclass(frozen=True)
class TlsFiles:
    ca: str = ""
    cert: str = ""
    key: str = ""
    allow_readable_key: bool = False  # a key other users can read is refused unless this is set


def check_key_file(path: str, allow_readable: bool = False) -> None:
    """A private key other users of the machine can read (or write) is refused; `allow_readable` turns
    the refusal into a warning. The group may read it: deployments give the service's group 0640."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # reading it will say what is wrong
    if not mode & (stat.S_IROTH | stat.S_IWOTH):
        return
    problem = f"private key {path} is readable by every user of this machine (mode {stat.S_IMODE(mode):04o})"
    if not allow_readable:
        raise TransportError(
            f"{problem}: chmod 600 {path} (or 640 for a service's group), or pass --allow-readable-key"
        )
    log.warning("%s; used anyway (--allow-readable-key)", problem)


def split_address(address: str, allow_zero: bool = False) -> tuple[str, int]:
    """'host:port', '[v6]:port' or 'host' (default port). Port 0 (any free port) only for servers."""
    text = address.strip()
    if not text:
        raise TransportError("empty address; expected HOST:PORT")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:
        host, port_text = text, ""  # bare IPv6
    else:
        host, port_text = text, ""
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not (0 if allow_zero else 1) <= int(port_text) < 65536:
        raise TransportError(f"bad port in {address!r}; expected HOST:PORT with PORT 1-65535")
    return host, int(port_text)


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback_for_insecure(host: str, role: str) -> None:
    if not is_loopback(host):
        raise TransportError(
            f"--insecure {role} {host!r} refused: plain text is only allowed on loopback "
            "(127.0.0.0/8, ::1, localhost). Use TLS (--ca/--cert/--key) for anything else."
        )


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise TransportError(f"cannot read {what} {path}: {e.strerror}") from None


def channel(address: str, insecure: bool, tls: TlsFiles) -> grpc.Channel:
    import grpc

    host, port = split_address(address)
    target = join_address(host, port)
    options = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    if insecure:
        require_loopback_for_insecure(host, "collector")
        return grpc.insecure_channel(target, options=options)
    if not tls.ca:
        raise TransportError(
            "TLS needs --ca (the CA that signed the collector's certificate), "
            "or --insecure for a collector on loopback"
        )
    if bool(tls.cert) != bool(tls.key):
        raise TransportError("--cert and --key go together (the agent's client certificate and its key)")
    if tls.key:
        check_key_file(tls.key, tls.allow_readable_key)
    creds = grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca, "CA certificate"),
        private_key=_read(tls.key, "private key") if tls.key else None,
        certificate_chain=_read(tls.cert, "certificate") if tls.cert else None,
    )
    return grpc.secure_channel(target, creds, options=options)


def server_credentials(tls: TlsFiles) -> grpc.ServerCredentials:
    """Server TLS; with a CA, clients must present a certificate it signed (mutual TLS)."""
    import grpc

    if not (tls.cert and tls.key):
        raise TransportError(
            "TLS needs --cert and --key (the collector's certificate and key), "
            "or --insecure on a loopback address"
        )
    check_key_file(tls.key, tls.allow_readable_key)
    pair = (_read(tls.key, "private key"), _read(tls.cert, "certificate"))
    root = _read(tls.ca, "CA certificate") if tls.ca else None
    return grpc.ssl_server_credentials([pair], root_certificates=root, require_client_auth=root is not None)
