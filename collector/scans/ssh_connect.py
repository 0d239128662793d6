"""Open an SSH connection the careful way: known host keys only, key authentication only, timeouts.

A host key that is not in the configured known_hosts file is refused, never
added; a changed one is refused too. No password, no agent, no keys looked up
in ~/.ssh: only the configured key file.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import paramiko

from ronda.collector.scan_config import SshTarget
from ronda.errors import ScanError

# paramiko logs each failure from its own thread; the SshError raised here says it once, clearly.
logging.getLogger("paramiko").setLevel(logging.CRITICAL)


class SshError(ScanError):
    """An SSH scan of one host could not be done; the message says why and what to do."""


def _where(target: SshTarget) -> str:
    return f"{target.address}:{target.port}" + (f" ({target.name})" if target.name != target.address else "")


def load_key(path: str) -> paramiko.PKey:
    if not path:
        raise SshError("no SSH key configured: set key under [ssh] in the collector config or give --key")
    try:
        return paramiko.PKey.from_path(path)
    except FileNotFoundError:
        raise SshError(f"SSH key {path} does not exist") from None
    except PermissionError:
        raise SshError(f"SSH key {path} is not readable by this user") from None
    except paramiko.PasswordRequiredException:
        raise SshError(
            f"SSH key {path} is protected by a passphrase; ronda needs a key it can use unattended "
            "(a dedicated key without passphrase, readable only by the collector's user)"
        ) from None
    except (paramiko.SSHException, ValueError, OSError) as e:
        raise SshError(f"SSH key {path} cannot be loaded: {e}") from None


def connect(target: SshTarget, timeout: float) -> paramiko.SSHClient:
    """A connected, authenticated client, or SshError with the reason."""
    where = _where(target)
    if not target.known_hosts:
        raise SshError(
            "no known_hosts file configured: set known_hosts under [ssh] (ronda never trusts a "
            "host key it has not been given)"
        )
    if not Path(target.known_hosts).is_file():
        raise SshError(f"known_hosts file {target.known_hosts} does not exist")
    if not target.user:
        raise SshError(f"{where}: no SSH user configured")
    key = load_key(target.key)
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(target.known_hosts)
    except (OSError, paramiko.SSHException) as e:
        raise SshError(f"cannot read known_hosts file {target.known_hosts}: {e}") from None
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        sock = socket.create_connection((target.address, target.port), timeout=timeout)
    except TimeoutError:
        raise SshError(f"{where}: no connection within {timeout:g}s") from None
    except OSError as e:
        raise SshError(f"{where}: cannot connect: {e.strerror or e}") from None
    try:
        # the handshake may take longer than each step; a silent server fails at the banner first
        client.connect(
            target.address,
            port=target.port,
            username=target.user,
            pkey=key,
            sock=sock,
            timeout=2 * timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            channel_timeout=timeout,
            look_for_keys=False,
            allow_agent=False,
        )
    except paramiko.BadHostKeyException as e:
        client.close()
        raise SshError(
            f"{where}: the host key ({e.key.get_name()} {e.key.fingerprint}) differs from the one in "
            f"{target.known_hosts}; refusing to connect. If the server was reinstalled, replace its "
            "entry after checking the new key out of band"
        ) from None
    except paramiko.AuthenticationException:
        client.close()
        raise SshError(
            f"{where}: the server refused key authentication as user {target.user!r} with key "
            f"{target.key}; add the key's public half to that user's authorized_keys"
        ) from None
    except TimeoutError:
        client.close()
        raise SshError(f"{where}: the SSH handshake did not finish within {2 * timeout:g}s") from None
    except paramiko.SSHException as e:
        client.close()
        text = str(e)
        if "not found in known_hosts" in text:
            raise SshError(
                f"{where}: host key unknown: the server is not in {target.known_hosts}; refusing to "
                "connect (ronda never adds keys itself: add the server's key after checking its "
                "fingerprint, e.g. with ssh-keyscan and ssh-keygen -lf)"
            ) from None
        if "banner" in text.lower():
            raise SshError(
                f"{where}: no SSH greeting within {timeout:g}s (the port accepts connections but does "
                "not speak SSH, or the server hangs)"
            ) from None
        if "No existing session" in text:
            raise SshError(f"{where}: the SSH handshake did not finish within {2 * timeout:g}s") from None
        raise SshError(f"{where}: SSH failed: {text}") from None
    except OSError as e:
        client.close()
        raise SshError(f"{where}: cannot connect: {e.strerror or e}") from None
    return client
