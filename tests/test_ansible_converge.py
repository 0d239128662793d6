"""A real converge of deploy/ansible: sshd on loopback addresses, a wheelhouse and no index,
a second run that changes nothing, units that systemd accepts, and agents that report over mTLS.

The hosts are 127.0.0.2-4 reached over SSH, each with its own install prefix on this
machine. systemd is not PID 1 here, so the roles lay the units down
(`*_service_manage: false`) and the test starts each service with its unit's own
command line, user and capabilities.
"""

from __future__ import annotations

import grp
import json
import pwd
import secrets
import shutil
import stat
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ansible_fleet import (
    ANSIBLE_DIR,
    Sshd,
    Unit,
    changed_tasks,
    recap,
    rewheel,
    ronda_hosts,
    run_playbook,
    start_unit,
)
from servers import free_port, stop_process, wait_for_port

from ronda import __version__
from ronda.collector.web.passwords import hash_password

pytestmark = pytest.mark.servers  # ansible-playbook converges hosts over a real sshd

PROJECT = ANSIBLE_DIR.parent.parent
VERSION = __version__
HOSTS = {"collector": "127.0.0.2", "web-1": "127.0.0.3", "web-2": "127.0.0.4"}
AGENTLESS = ("web-3", "127.0.0.5")  # no agent: the collector's scheduled SSH scan reads it
COLLECTOR = "collector"
# Accounts the roles create on this machine, unique per run so that concurrent runs never share one.
RUN = secrets.token_hex(3)
COLLECTOR_USER = f"rt{RUN}-svc"
WEB_PASSWORD_HASH = hash_password("kata-sandi-konsol", iterations=1000)


def agent_user(name: str) -> str:
    return f"rt{RUN}-a-{name}"


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """ronda and its dependencies as wheels, built once per session by wheelhouse.yml (pip wheel)."""
    home = tmp_path_factory.mktemp("ansible-home")
    directory = tmp_path_factory.mktemp("wheelhouse")
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


@dataclass
class Fleet:
    root: Path
    port: int
    inventory: Path
    wheelhouse: Path
    home: Path
    web_port: int
    runs: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    after_check: list[Path] = field(default_factory=list)

    def prefix(self, host: str) -> Path:
        return self.root / "hosts" / host

    def units(self, host: str) -> Path:
        return self.prefix(host) / "etc/systemd/system"


def host_vars(fleet_root: Path, host: str, address: str, sshd: Sshd, web_port: int = 0) -> dict:
    p = fleet_root / "hosts" / host
    values = {
        "ansible_host": address,
        "ronda_agent_install_dir": f"{p}/opt/ronda-agent",
        "ronda_agent_config_dir": f"{p}/etc/ronda",
        "ronda_agent_state_dir": f"{p}/var/lib/ronda-agent",
        "ronda_agent_systemd_dir": f"{p}/etc/systemd/system",
        "ronda_agent_user": agent_user(host),
        "ronda_agent_group": agent_user(host),
    }
    if host == COLLECTOR:
        values |= {
            "ronda_collector_install_dir": f"{p}/opt/ronda",
            "ronda_collector_config_dir": f"{p}/etc/ronda",
            "ronda_collector_state_dir": f"{p}/var/lib/ronda",
            "ronda_collector_systemd_dir": f"{p}/etc/systemd/system",
            "ronda_collector_cli_path": f"{p}/usr/local/bin/ronda",
            "ronda_collector_user": COLLECTOR_USER,
            "ronda_collector_group": COLLECTOR_USER,
            "ronda_collector_network": {"scopes": ["127.0.0.0/29"], "ports": "22,80,443", "timing": 4},
            "ronda_collector_ssh": {"user": "root", "port": sshd.port},
            "ronda_collector_ssh_hosts": [{"name": AGENTLESS[0], "address": AGENTLESS[1]}],
            "ronda_collector_ssh_key_src": str(sshd.client_key),
            "ronda_collector_ssh_known_hosts_src": str(sshd.known_hosts),
            # The console on the collector's loopback address, with one account to decide.
            "ronda_collector_web_enabled": True,
            "ronda_collector_web_listen": f"{address}:{web_port}",
            "ronda_collector_web_accounts": [
                {"username": "budi", "name": "Budi Santoso", "password_hash": WEB_PASSWORD_HASH}
            ],
        }
    return values


def write_inventory(root: Path, sshd: Sshd, wheelhouse: Path, port: int, web_port: int) -> Path:

    inventory = {
        "all": {
            "hosts": {
                name: host_vars(root, name, address, sshd, web_port) for name, address in HOSTS.items()
            },
            "vars": {
                "ansible_port": sshd.port,
                "ansible_user": "root",
                # The plays become root as on real servers; su needs no password from root here.
                "ansible_become_method": "su",
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_private_key_file": str(sshd.client_key),
                "ansible_ssh_common_args": (
                    f"-o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes"
                ),
                "ronda_version": VERSION,
                "ronda_wheelhouse_dir": str(wheelhouse),
                "ronda_wheelhouse_source": str(PROJECT),
                "ronda_certs_dir": str(root / "pki"),
                "ronda_agent_service_manage": False,
                "ronda_collector_service_manage": False,
                "ronda_agent_collector": f"{HOSTS[COLLECTOR]}:{port}",
                "ronda_agent_interval_seconds": 3600,
                "ronda_agent_jitter_seconds": 0,
                "ronda_collector_listen": f"{HOSTS[COLLECTOR]}:{port}",
            },
            "children": {
                "ronda_collectors": {"hosts": {COLLECTOR: {}}},
                "ronda_agents": {"hosts": {name: {} for name in HOSTS}},
            },
        }
    }
    path = root / "inventory.yml"
    path.write_text(json.dumps(inventory, indent=2))  # JSON is YAML
    return path


def remove_test_accounts() -> None:
    for name in [COLLECTOR_USER, *(agent_user(h) for h in HOSTS)]:
        subprocess.run(["userdel", name], capture_output=True, check=False)
        subprocess.run(["groupdel", name], capture_output=True, check=False)


@pytest.fixture(scope="module")
def fleet(wheelhouse, tmp_path_factory):
    """Fresh hosts; a check run, a converge, and a second converge."""
    # The services run as their own users, who must be able to reach their prefixes.
    root = Path(tempfile.mkdtemp(prefix="ronda-fleet-"))
    root.chmod(0o755)
    remove_test_accounts()
    sshd = Sshd(tmp_path_factory.mktemp("sshd"), [*HOSTS.values(), AGENTLESS[1]], free_port()).start()
    port = free_port()
    try:
        (root / "hosts" / COLLECTOR / "usr/local/bin").mkdir(parents=True)
        home = tmp_path_factory.mktemp("ansible-home")
        web_port = free_port()
        inventory = write_inventory(root, sshd, wheelhouse, port, web_port)
        fleet = Fleet(root, port, inventory, wheelhouse, home, web_port)
        fleet.runs["check"] = run_playbook("site.yml", fleet.inventory, home, "--check", "--diff")
        fleet.after_check = sorted(p for p in (root / "hosts").rglob("*") if not p.is_dir())
        fleet.runs["converge"] = run_playbook("site.yml", fleet.inventory, home, "--diff")
        fleet.runs["again"] = run_playbook("site.yml", fleet.inventory, home)
        yield fleet
    finally:
        sshd.stop()
        remove_test_accounts()
        shutil.rmtree(root, ignore_errors=True)


def output(run: subprocess.CompletedProcess) -> str:
    return run.stdout + run.stderr


def test_check_mode_on_fresh_hosts_runs_and_changes_nothing(fleet):
    run = fleet.runs["check"]
    assert run.returncode == 0, output(run)
    assert all(counts["failed"] == 0 for counts in recap(run.stdout).values())
    assert fleet.after_check == [], "check mode wrote files on the hosts"


def test_converge_installs_every_host_from_the_wheelhouse(fleet):
    run = fleet.runs["converge"]
    assert run.returncode == 0, output(run)
    counts = recap(run.stdout)
    assert set(HOSTS) <= set(counts)
    assert all(counts[h]["changed"] > 0 and counts[h]["failed"] == 0 for h in HOSTS)
    for host in HOSTS:
        venv = fleet.prefix(host) / "opt/ronda-agent/venvs" / VERSION
        assert (fleet.prefix(host) / "opt/ronda-agent/current").resolve() == venv
        version = subprocess.run(
            [str(venv / "bin/ronda-agent"), "--version"], capture_output=True, text=True, check=False
        )
        assert version.stdout.split()[-1] == VERSION
        wheels = {p.name for p in (fleet.prefix(host) / "opt/ronda-agent/wheelhouse" / VERSION).iterdir()}
        assert f"ronda-{VERSION}-py3-none-any.whl" in wheels
    assert (fleet.prefix(COLLECTOR) / "opt/ronda/venvs" / VERSION / "bin/ronda").exists()


def test_second_run_changes_nothing(fleet):
    run = fleet.runs["again"]
    assert run.returncode == 0, output(run)
    counts = recap(run.stdout)
    assert set(HOSTS) | {"localhost"} <= set(counts)
    assert {host: c["changed"] for host, c in counts.items()} == {host: 0 for host in counts}


@pytest.mark.parametrize("host", list(HOSTS))
def test_rendered_units_pass_systemd_analyze_verify(fleet, host):
    units = sorted(str(p) for p in fleet.units(host).iterdir())
    expected = {"ronda-agent.service"}
    if host == COLLECTOR:
        expected |= {"ronda-collector.service", "ronda-web.service"} | {
            f"ronda-{job}.{kind}"
            for job in ("scan-network", "scan-ssh", "reconcile", "report")
            for kind in ("service", "timer")
        }
    assert {Path(u).name for u in units} == expected
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_secrets_have_tight_modes_and_never_show_in_output(fleet):
    for host in HOSTS:
        config = fleet.prefix(host) / "etc/ronda"
        key = config / "agent-key.pem"
        info = key.stat()
        assert stat.S_IMODE(info.st_mode) == 0o640
        assert (pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name) == (
            "root",
            agent_user(host),
        )
        assert not (config / "ca-key.pem").exists()
    for key in ("collector-key.pem", "ssh/id_ronda", "web.toml"):
        info = (fleet.prefix(COLLECTOR) / "etc/ronda" / key).stat()
        assert stat.S_IMODE(info.st_mode) == 0o640
        assert grp.getgrgid(info.st_gid).gr_name == COLLECTOR_USER
    assert stat.S_IMODE((fleet.root / "pki/ca-key.pem").stat().st_mode) == 0o600
    for run in fleet.runs.values():
        assert "PRIVATE KEY" not in output(run)


def test_agents_started_from_their_units_report_to_the_collector_over_mtls(fleet, tmp_path):
    processes = []
    try:
        collector_unit = fleet.units(COLLECTOR) / "ronda-collector.service"
        assert "--ca" in collector_unit.read_text()  # mutual TLS: agents must present a certificate
        processes.append(start_unit(collector_unit, tmp_path / "collector.log"))
        wait_for_port(fleet.port, HOSTS[COLLECTOR], timeout=20)
        for host in HOSTS:
            processes.append(start_unit(fleet.units(host) / "ronda-agent.service", tmp_path / f"{host}.log"))
        cli = fleet.prefix(COLLECTOR) / "usr/local/bin/ronda"
        deadline = time.monotonic() + 60
        seen: set[str] = set()
        while time.monotonic() < deadline and seen != set(HOSTS):
            time.sleep(0.5)
            seen = {row["agent_id"] for row in ronda_hosts(cli)}
            assert all(p.poll() is None for p in processes), "a service exited"
        logs = {p.name: p.read_text(errors="replace") for p in tmp_path.glob("*.log")}
        assert seen == set(HOSTS), logs

        # The console, run as its unit would, reads what the agents reported.
        processes.append(start_unit(fleet.units(COLLECTOR) / "ronda-web.service", tmp_path / "web.log"))
        wait_for_port(fleet.web_port, HOSTS[COLLECTOR], timeout=30)
        url = f"http://{HOSTS[COLLECTOR]}:{fleet.web_port}/ronda/hosts.json?_shape=array"
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert {row["agent_id"] for row in json.load(answer)} == set(HOSTS)

        # The scheduled SSH scan, run as its unit would: collector.toml names the host, key and known_hosts.
        job = start_unit(fleet.units(COLLECTOR) / "ronda-scan-ssh.service", tmp_path / "scan-ssh.log")
        assert job.wait(timeout=120) == 0, (tmp_path / "scan-ssh.log").read_text(errors="replace")
        assert {row["agent_id"] for row in ronda_hosts(cli)} == set(HOSTS) | {f"ssh:{AGENTLESS[0]}"}
    finally:
        for process in processes:
            stop_process(process)


def installed_version(venv: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('ronda'))"
    # cwd "/": a checkout's ronda.egg-info in the working directory would answer first
    return subprocess.run(
        [str(venv / "bin/python"), "-c", code], capture_output=True, text=True, cwd="/", check=False
    ).stdout.strip()


def test_changing_the_version_upgrades_and_changing_it_back_rolls_back(fleet):
    """ronda_version picks the environment the unit runs; the old one stays, so a rollback
    reinstalls nothing."""
    new = f"{VERSION}.post1"
    (fleet.wheelhouse / new).mkdir(exist_ok=True)
    for wheel in (fleet.wheelhouse / VERSION).glob("*.whl"):
        if wheel.name.startswith("ronda-"):
            rewheel(wheel, new, fleet.wheelhouse / new)
        else:
            shutil.copy(wheel, fleet.wheelhouse / new)
    host = "web-1"
    install = fleet.prefix(host) / "opt/ronda-agent"
    unit = fleet.units(host) / "ronda-agent.service"

    upgrade = run_playbook(
        "site.yml", fleet.inventory, fleet.home, "--limit", host, "-e", f"ronda_version={new}"
    )
    assert upgrade.returncode == 0, output(upgrade)
    assert set(recap(upgrade.stdout)) == {host}
    assert (install / "current").resolve() == install / "venvs" / new
    assert installed_version(install / "venvs" / new) == new
    assert Unit.parse(unit).argv[0] == f"{install}/venvs/{new}/bin/ronda-agent"
    assert installed_version(install / "venvs" / VERSION) == VERSION  # kept for a rollback

    rollback = run_playbook(
        "site.yml", fleet.inventory, fleet.home, "--limit", host, "-e", f"ronda_version={VERSION}"
    )
    assert rollback.returncode == 0, output(rollback)
    assert (install / "current").resolve() == install / "venvs" / VERSION
    assert Unit.parse(unit).argv[0] == f"{install}/venvs/{VERSION}/bin/ronda-agent"
    assert changed_tasks(rollback.stdout, host) == {
        f"Point current at ronda {VERSION}",
        "Write the systemd unit",
    }
