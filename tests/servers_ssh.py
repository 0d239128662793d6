"""A real OpenSSH server (Debian's openssh-server) for tests, on a loopback address and port.

    with Sshd.write(tmp, "127.0.0.3", port).start() as sshd:
        sshd.client_key      # private key (ed25519) whose public half is authorized
        sshd.known_hosts     # a known_hosts file holding this server's host key

Everything (host key, authorized keys, pid file, config) lives in `tmp`; the
server logs in as the user running the test (root in CI) with the client key only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from servers import ChildServer, wait_for_port


def keygen(path: Path, kind: str = "ed25519") -> Path:
    """A new key pair without passphrase at `path` (and `path`.pub)."""
    path.unlink(missing_ok=True)
    Path(f"{path}.pub").unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "ronda-test", "-f", str(path)], check=True
    )
    return path


def known_hosts_line(address: str, port: int, host_pub: Path) -> str:
    kind, blob = host_pub.read_text().split()[:2]
    name = address if port == 22 else f"[{address}]:{port}"
    return f"{name} {kind} {blob}\n"


@dataclass
class Sshd(ChildServer):
    directory: Path
    address: str
    port: int
    process: subprocess.Popen | None = None

    @property
    def config(self) -> Path:
        return self.directory / "sshd_config"

    @property
    def client_key(self) -> Path:
        return self.directory / "client_key"

    @property
    def host_key(self) -> Path:
        return self.directory / "host_key"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    @classmethod
    def binary(cls) -> str:
        path = shutil.which("sshd") or "/usr/sbin/sshd"
        if not Path(path).exists():
            raise RuntimeError("sshd is not installed: .ci/run installs it (apt-get install openssh-server)")
        return path

    @classmethod
    def write(cls, directory: Path, address: str, port: int) -> Sshd:
        directory.mkdir(parents=True, exist_ok=True)
        sshd = cls(directory, address, port)
        keygen(sshd.host_key)
        keygen(sshd.client_key)
        authorized = directory / "authorized_keys"
        authorized.write_text(Path(f"{sshd.client_key}.pub").read_text())
        authorized.chmod(0o600)
        sshd.known_hosts.write_text(known_hosts_line(address, port, Path(f"{sshd.host_key}.pub")))
        user = pwd.getpwuid(os.getuid()).pw_name
        sshd.config.write_text(f"""
ListenAddress {address}:{port}
HostKey {sshd.host_key}
PidFile {directory}/sshd.pid
AuthorizedKeysFile {authorized}
AllowUsers {user}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
LogLevel ERROR
Subsystem sftp internal-sftp
""")
        return sshd

    def start(self) -> Sshd:
        # privilege separation needs this directory; the packaged service normally creates it
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary(), "-D", "-e", "-f", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.port, self.address)
        except TimeoutError:
            self.stop()
            out = self.process.stdout.read().decode() if self.process.stdout else ""
            raise RuntimeError(f"sshd did not start: {out}") from None
        return self
