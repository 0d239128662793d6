"""A fleet of test hosts for the Ansible roles: loopback addresses served by one real sshd.

Each host is a 127.0.0.x address with its own install prefix on this machine, so
the hosts do not collide; the playbook reaches them over SSH like any server.
Without systemd as PID 1, a service is started with its unit's own command line,
user, group and capabilities (`start_unit`); `SystemdNs` boots a real systemd in
namespaces of its own (the shared `systemd-ns` tool) for the tests that need one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from servers import building_from_the_checkout, stop_process, wait_for_port

from ronda import __version__

ANSIBLE_DIR = Path(__file__).resolve().parent.parent / "deploy" / "ansible"
PROJECT = ANSIBLE_DIR.parent.parent
VERSION = __version__
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """ronda and its dependencies as wheels, built by wheelhouse.yml (pip wheel) once in each of the test
    run's workers that converges."""
    home = tmp_path_factory.mktemp("ansible-home")
    directory = tmp_path_factory.mktemp("wheelhouse")
    with building_from_the_checkout():
        result = run_playbook(
            "wheelhouse.yml",
            "localhost,",
            home,
            "-e",
            f"ronda_version={VERSION}",
            "-e",
            f"ronda_wheelhouse_dir={directory}",
            "-e",
            f"ronda_wheelhouse_source={PROJECT}",
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (directory / VERSION / f"ronda-{VERSION}-py3-none-any.whl").exists()
    return directory


def add_version(wheelhouse: Path, version: str) -> None:
    """`wheelhouse/<version>/`: the same wheels, ronda's own relabelled `version` (for upgrade tests)."""
    (wheelhouse / version).mkdir(exist_ok=True)
    for wheel in (wheelhouse / VERSION).glob("*.whl"):
        if wheel.name.startswith("ronda-"):
            rewheel(wheel, version, wheelhouse / version)
        else:
            shutil.copy(wheel, wheelhouse / version)


def keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ronda-test", "-f", str(path)], check=True
    )
    return path


@dataclass
class Sshd:
    """Debian's sshd on several loopback addresses, logging in as root with one client key."""

    directory: Path
    addresses: list[str]
    port: int
    process: subprocess.Popen | None = None

    @property
    def client_key(self) -> Path:
        return self.directory / "client_key"

    @property
    def known_hosts(self) -> Path:
        return self.directory / "known_hosts"

    def write(self) -> Sshd:
        """Keys and sshd_config in `directory`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        host_key = keygen(self.directory / "host_key")
        keygen(self.client_key)
        authorized = self.directory / "authorized_keys"
        authorized.write_text(Path(f"{self.client_key}.pub").read_text())
        kind, blob = Path(f"{host_key}.pub").read_text().split()[:2]
        self.known_hosts.write_text("".join(f"[{a}]:{self.port} {kind} {blob}\n" for a in self.addresses))
        config = self.config
        listen = "".join(f"ListenAddress {a}:{self.port}\n" for a in self.addresses)
        config.write_text(f"""{listen}HostKey {host_key}
PidFile {self.directory}/sshd.pid
AuthorizedKeysFile {authorized} .ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
PrintMotd no
MaxStartups 50
MaxSessions 50
LogLevel ERROR
Subsystem sftp internal-sftp
""")
        return self

    @property
    def config(self) -> Path:
        return self.directory / "sshd_config"

    def wait(self) -> None:
        for address in self.addresses:
            wait_for_port(self.port, address)

    def start(self) -> Sshd:
        self.write()
        Path("/run/sshd").mkdir(
            mode=0o755, exist_ok=True
        )  # privilege separation; the packaged service makes it
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        self.process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(self.config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            self.wait()
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"sshd did not start: {self.process.stdout.read().decode()}") from None
        return self

    def stop(self) -> None:
        stop_process(self.process)


def old_python(path: Path, version: tuple[int, int]) -> Path:
    """An interpreter at `path` that answers as Python `version` would (old servers' Pythons, simulated):
    this machine's Python with `sys.version_info` replaced, running the `-c` code it is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    code = f'import sys; sys.version_info = ({version[0]}, {version[1]}, 0, "final", 0); exec(sys.argv[1])'
    path.write_text(f"#!/bin/sh\nexec /usr/bin/python3 -c '{code}' \"$2\"\n")
    path.chmod(0o755)
    return path


def connection_vars(sshd: Sshd) -> dict[str, object]:
    """How the playbook reaches the test hosts: root over SSH with the client key, the host key checked."""
    return {
        "ansible_port": sshd.port,
        "ansible_user": "root",
        # The plays become root as on real servers; su needs no password from root here.
        "ansible_become_method": "su",
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_private_key_file": str(sshd.client_key),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes",
    }


def ansible_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
            "ANSIBLE_HOME": str(home),
            "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "PATH": f"{BIN}:{env.get('PATH', '')}",
        }
    )
    return env


def run_playbook(
    playbook: str, inventory: Path, home: Path, *args: str, timeout: int = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(ANSIBLE_DIR / playbook), *args],
        cwd=ANSIBLE_DIR,
        env=ansible_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP of a run: {host: {"ok": n, "changed": n, "failed": n, ...}}."""
    text = output.rsplit("PLAY RECAP", 1)[-1]
    result = {}
    for line in text.splitlines():
        host, sep, counts = line.partition(" : ")
        if sep:
            result[host.strip()] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return result


@dataclass
class Unit:
    """What systemd would run for a [Service]: command line, user, group, environment, capabilities."""

    argv: list[str]
    user: str = ""
    group: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, path: Path) -> Unit:
        section, values = "", {}
        environment: dict[str, str] = {}
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            if section != "Service":
                continue
            if key == "Environment":
                for word in shlex.split(value.replace("%%", "%")):
                    name, _, val = word.partition("=")
                    environment[name] = val
            else:
                values[key] = value
        return cls(
            argv=shlex.split(values["ExecStart"].replace("%%", "%")),
            user=values.get("User", ""),
            group=values.get("Group", ""),
            environment=environment,
            capabilities=values.get("AmbientCapabilities", "").split(),
        )

    def command(self) -> list[str]:
        """argv run as the unit's user with only the unit's capabilities, as systemd would."""
        caps = ",".join(["-all"] + [f"+{c.removeprefix('CAP_').lower()}" for c in self.capabilities])
        return [
            "setpriv",
            f"--reuid={self.user}",
            f"--regid={self.group}",
            "--init-groups",
            f"--inh-caps={caps}",
            f"--ambient-caps={caps}",
            f"--bounding-set={caps}",
            "--no-new-privs",
            "--",
            *self.argv,
        ]


def start_unit(path: Path, log: Path) -> subprocess.Popen:
    unit = Unit.parse(path)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", **unit.environment}
    with open(log, "wb") as out:
        return subprocess.Popen(unit.command(), env=env, stdout=out, stderr=subprocess.STDOUT, cwd="/")


def ronda_hosts(cli: Path) -> list[dict]:
    result = subprocess.run(
        [str(cli), "hosts", "--format", "json"], capture_output=True, text=True, timeout=30, check=False
    )
    if result.returncode != 0:
        return []
    return json.loads(result.stdout or "[]")


def changed_tasks(output: str, host: str) -> set[str]:
    """Names of the tasks (without their role) that reported `changed` for `host`."""
    names, task = set(), ""
    for line in output.splitlines():
        match = re.match(r"(?:TASK|RUNNING HANDLER) \[(?:[\w.]+ : )?(.*?)\] \**$", line)
        if match:
            task = match.group(1)
        elif re.match(rf"changed: \[{re.escape(host)}[\] ]", line):
            names.add(task)
    return names


def rewheel(wheel: Path, version: str, directory: Path) -> Path:
    """A copy of a pure-Python wheel that says it is `version` (for upgrade tests), RECORD included."""
    import base64
    import hashlib
    import zipfile

    name, old = wheel.name.split("-")[:2]
    out = directory / wheel.name.replace(f"-{old}-", f"-{version}-", 1)
    with zipfile.ZipFile(wheel) as src:
        entries = {}
        for item in src.infolist():
            path = item.filename.replace(f"{name}-{old}.dist-info/", f"{name}-{version}.dist-info/", 1)
            data = src.read(item)
            if path.endswith(".dist-info/METADATA"):
                data = re.sub(rb"(?m)^Version: .*$", f"Version: {version}".encode(), data, count=1)
            entries[path] = data
    record = next(p for p in entries if p.endswith(".dist-info/RECORD"))
    lines = []
    for path, data in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},,\n" if path == record else f"{path},sha256={digest},{len(data)}\n")
    entries[record] = "".join(lines).encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for path, data in entries.items():
            dst.writestr(path, data)
    return out


def systemd_ns_tool() -> Path:
    """The tool that boots systemd as PID 1 of namespaces of its own: `shared/tools/systemd-ns` beside this
    checkout or one of its parents (where CI lays shared/), or $RONDA_SYSTEMD_NS."""
    if os.environ.get("RONDA_SYSTEMD_NS"):
        return Path(os.environ["RONDA_SYSTEMD_NS"])
    for parent in PROJECT.parents:
        tool = parent / "shared" / "tools" / "systemd-ns"
        if tool.exists():
            return tool
    raise RuntimeError(f"no shared/tools/systemd-ns beside {PROJECT} or its parents; set RONDA_SYSTEMD_NS")


@dataclass
class SystemdNs:
    """A real systemd in its own PID, mount and UTS namespaces, sharing files (but /tmp, /var/tmp and /run)
    and the network with this machine. Its /etc/systemd/system is a private tmpfs, so units and their
    enablement never reach this machine's."""

    pid: str
    tool: Path

    @classmethod
    def start(cls) -> SystemdNs:
        tool = systemd_ns_tool()
        started = subprocess.run(
            [str(tool), "start"], capture_output=True, text=True, timeout=120, check=False
        )
        if started.returncode != 0:
            raise RuntimeError(f"systemd-ns did not start: {started.stderr}")
        ns = cls(started.stdout.strip(), tool)
        try:
            ns.run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/etc/systemd/system")
            ns.run("systemctl", "daemon-reload")
        except BaseException:
            ns.stop()
            raise
        return ns

    def run(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(self.tool), "exec", self.pid, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({result.returncode}): {result.stdout}{result.stderr}"
            )
        return result

    def show(self, unit: str, prop: str) -> str:
        return self.run("systemctl", "show", "--value", "-p", prop, unit).stdout.strip()

    def start_sshd(self, sshd: Sshd) -> None:
        """sshd as a service of this systemd: Ansible's sessions then run under it."""
        sshd.write()
        binary = shutil.which("sshd") or "/usr/sbin/sshd"
        self.run(
            "systemd-run",
            "--unit=ronda-test-sshd",
            "-p",
            "RuntimeDirectory=sshd",
            binary,
            "-D",
            "-e",
            "-f",
            str(sshd.config),
        )
        sshd.wait()

    def stop(self) -> None:
        """End it and everything it started; wait until they are gone, so that their users can be removed."""
        subprocess.run([str(self.tool), "stop", self.pid], capture_output=True, timeout=30, check=False)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{self.pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
