"""A real converge of deploy/ansible: sshd on loopback addresses, a wheelhouse and no index,
a second run that changes nothing, units that systemd accepts, agents that report over mTLS,
and the hosts that cannot or may not run an agent covered by the collector's scheduled SSH scan.

The hosts are 127.0.0.2-5 reached over SSH, each with its own install prefix on this
machine. systemd is not PID 1 here, so the roles lay the units down
(`*_service_manage: false`) and the test starts each service with its unit's own
command line, user and capabilities (tests/test_systemd_units.py runs them under a real systemd).

- collector and web-1 have a suitable Python: each gets an agent.
- web-2 stands for an Ubuntu 18.04 or CentOS 7 server whose Python is 3.6: the role is pointed
  at an interpreter path that does not qualify (a script that answers as Python 3.6.9), so it
  is prepared for agentless scans. Its nginx logs as Debian and Ubuntu do, 0640 root:adm.
- web-3 has a suitable Python but `ronda_mode: agentless` (an agent not allowed by policy);
  its logs are in a directory closed to others (0700 root:root, as RHEL keeps /var/log/httpd),
  which the scan account reads through an ACL.
"""

from __future__ import annotations

import grp
import json
import os
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
    PROJECT,
    VERSION,
    Sshd,
    connection_vars,
    old_python,
    recap,
    ronda_hosts,
    run_playbook,
    start_unit,
)
from servers import Nginx, free_port, stop_process, wait_for_port

from ronda.collector.web.passwords import hash_password

pytestmark = pytest.mark.servers  # ansible-playbook converges hosts over a real sshd

HOSTS = {"collector": "127.0.0.2", "web-1": "127.0.0.3"}  # an agent on each
AGENTLESS = {"web-2": "127.0.0.4", "web-3": "127.0.0.5"}  # the collector's scheduled SSH scan reads them
EVERY_HOST = HOSTS | AGENTLESS
COLLECTOR = "collector"
# Accounts the roles create on this machine, unique per run so that concurrent runs never share one.
RUN = secrets.token_hex(3)
COLLECTOR_USER = f"rt{RUN}-svc"
WEB_PASSWORD_HASH = hash_password("kata-sandi-konsol", iterations=1000)


def agent_user(name: str) -> str:
    return f"rt{RUN}-a-{name}"


def scan_user(name: str) -> str:
    return f"rt{RUN}-s-{name}"


@dataclass
class Fleet:
    root: Path
    port: int
    inventory: Path
    wheelhouse: Path
    home: Path
    runs: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    after_check: list[Path] = field(default_factory=list)
    sshd: Sshd | None = None
    web_port: int = 0

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
        "ronda_coverage_user": scan_user(host),
        "ronda_coverage_home": f"{p}/var/lib/ronda-scan",
        "ronda_coverage_host_key_files": [f"{sshd.directory}/host_key.pub"],
        "ronda_coverage_nginx_conf": f"{p}/etc/nginx/nginx.conf",
    }
    if host == "web-2":
        values["ronda_agent_python"] = f"{p}/usr/bin/python3"
    if host == "web-3":
        values["ronda_mode"] = "agentless"
        values["ronda_coverage_acl_paths"] = [f"{p}/var/log/httpd"]
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
            "ronda_collector_timezone": "WITA",
            # The console on the collector's loopback address, with one account to decide.
            "ronda_collector_web_enabled": True,
            "ronda_collector_web_listen": f"{address}:{web_port}",
            "ronda_collector_web_accounts": [
                {"username": "budi", "name": "Budi Santoso", "password_hash": WEB_PASSWORD_HASH}
            ],
        }
    return values


def write_inventory(
    root: Path, sshd: Sshd, wheelhouse: Path, port: int, hosts: dict[str, str], web_port: int
) -> Path:
    import json

    inventory = {
        "all": {
            "hosts": {
                name: host_vars(root, name, address, sshd, web_port) for name, address in hosts.items()
            },
            "vars": {
                **connection_vars(sshd),
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
                # The collector dials the other 127.x addresses from 127.0.0.1, the source Linux picks on lo.
                "ronda_coverage_collector_addresses": ["127.0.0.1"],
            },
            "children": {
                "ronda_collectors": {"hosts": {COLLECTOR: {}}},
                "ronda_agents": {"hosts": {name: {} for name in hosts}},
            },
        }
    }
    path = root / f"inventory-{len(hosts)}.yml"
    path.write_text(json.dumps(inventory, indent=2))  # JSON is YAML
    return path


def remove_test_accounts() -> None:
    names = [COLLECTOR_USER, *(agent_user(h) for h in EVERY_HOST), *(scan_user(h) for h in EVERY_HOST)]
    for name in names:
        subprocess.run(["userdel", name], capture_output=True, check=False)
        subprocess.run(["groupdel", name], capture_output=True, check=False)


def serve_web(prefix: Path, address: str, port: int, log_dir: str) -> Nginx:
    """nginx serving one vhost of the host, logging to `log_dir` under its prefix."""
    docroot = prefix / "srv/www/portal"
    docroot.mkdir(parents=True)
    (docroot / "index.html").write_text("<h1>Portal layanan</h1>")
    (prefix / log_dir).mkdir(parents=True)
    return Nginx.write(
        prefix / "etc/nginx",
        f"""    server {{
        listen {address}:{port};
        server_name portal.{prefix.name}.example.go.id;
        root {docroot};
        access_log {prefix / log_dir}/portal.access.log combined;
    }}""",
    ).start()


def browse(address: str, port: int, count: int) -> None:
    for _ in range(count):
        request = urllib.request.Request(
            f"http://{address}:{port}/",
            headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200


def prepare_old_hosts(root: Path, web_port: int) -> list[Nginx]:
    """web-2's old Python and its Debian-shaped logs; web-3's logs closed to all but root."""
    web2, web3 = root / "hosts/web-2", root / "hosts/web-3"
    old_python(web2 / "usr/bin/python3", (3, 6))  # Ubuntu 18.04's and CentOS 7's python3
    servers = [
        serve_web(web2, AGENTLESS["web-2"], web_port, "var/log/nginx"),
        serve_web(web3, AGENTLESS["web-3"], web_port, "var/log/httpd"),
    ]
    for address in AGENTLESS.values():
        wait_for_port(web_port, address)
        browse(address, web_port, 3)
    # Debian's nginx package: logs 0640, group adm (logrotate's `create 0640 www-data adm`).
    for log in (web2 / "var/log/nginx").iterdir():
        os.chown(log, 0, grp.getgrnam("adm").gr_gid)
        log.chmod(0o640)
    (web3 / "var/log/httpd").chmod(0o700)
    for address in AGENTLESS.values():
        browse(address, web_port, 2)
    return servers


@pytest.fixture(scope="module")
def fleet(wheelhouse, tmp_path_factory):
    """Fresh hosts; a check run, a converge, and a second converge."""
    # The services run as their own users, who must be able to reach their prefixes.
    root = Path(tempfile.mkdtemp(prefix="ronda-fleet-"))
    root.chmod(0o755)
    remove_test_accounts()
    sshd = Sshd(tmp_path_factory.mktemp("sshd"), list(EVERY_HOST.values()), free_port()).start()
    port = free_port()
    servers: list[Nginx] = []
    try:
        servers = prepare_old_hosts(root, free_port())
        (root / "hosts" / COLLECTOR / "usr/local/bin").mkdir(parents=True)
        home = tmp_path_factory.mktemp("ansible-home")
        web_port = free_port()
        inventory = write_inventory(root, sshd, wheelhouse, port, EVERY_HOST, web_port)
        fleet = Fleet(root, port, inventory, wheelhouse, home, web_port=web_port)
        fleet.sshd = sshd
        before_check = set(p for p in (root / "hosts").rglob("*") if not p.is_dir())
        fleet.runs["check"] = run_playbook("site.yml", fleet.inventory, home, "--check", "--diff")
        fleet.after_check = sorted(
            p for p in (root / "hosts").rglob("*") if not p.is_dir() and p not in before_check
        )
        fleet.runs["converge"] = run_playbook("site.yml", fleet.inventory, home, "--diff")
        fleet.runs["again"] = run_playbook("site.yml", fleet.inventory, home)
        yield fleet
    finally:
        for server in servers:
            server.stop()
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
    assert set(EVERY_HOST) | {"localhost"} <= set(counts)
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
            assert {row["agent_id"] for row in json.load(answer)} >= set(HOSTS)

        # The scheduled SSH scan, run as its unit would: collector.toml names the hosts, key and known_hosts.
        job = start_unit(fleet.units(COLLECTOR) / "ronda-scan-ssh.service", tmp_path / "scan-ssh.log")
        assert job.wait(timeout=120) == 0, (tmp_path / "scan-ssh.log").read_text(errors="replace")
        coverage = {row["agent_id"]: row for row in ronda_hosts(cli)}
        assert {agent: row["coverage"] for agent, row in coverage.items()} == {
            **{host: "agent" for host in HOSTS},
            **{f"ssh:{host}": "ssh" for host in AGENTLESS},
        }
        assert all(row["last_seen"] for row in coverage.values())

        # The scan account read both logs: 0640 root:adm through its group, the closed one through its ACL.
        apps = json.loads(
            subprocess.run(
                [str(cli), "apps", "--format", "json"], capture_output=True, text=True, check=True
            ).stdout
        )
        portals = {row["agent_id"]: row for row in apps if row["agent_id"].startswith("ssh:")}
        assert set(portals) == {f"ssh:{host}" for host in AGENTLESS}
        for row in portals.values():
            assert row["coverage"] == "full" and row["last_human_request"], row
    finally:
        for process in processes:
            stop_process(process)


def test_each_web_server_is_covered_by_an_agent_or_prepared_for_agentless_scans(fleet):
    text = output(fleet.runs["converge"])
    assert "collector: an agent (Python 3." in text
    assert "web-2: agentless: the collector scans it over SSH (Python 3.6 at" in text
    assert "web-3: agentless: the collector scans it over SSH (ronda_mode is agentless)" in text
    for host in AGENTLESS:
        prefix = fleet.prefix(host)
        assert not (prefix / "opt/ronda-agent").exists() and not (prefix / "etc/ronda").exists()
        user = pwd.getpwnam(scan_user(host))
        assert user.pw_shell == "/bin/sh" and user.pw_uid < 1000  # a system account
        groups = {g.gr_name for g in grp.getgrall() if user.pw_name in g.gr_mem}
        assert groups == {"adm"}  # no sudo, no other group
        keys = prefix / "var/lib/ronda-scan/.ssh/authorized_keys"
        info = keys.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o640)  # the account cannot loosen it
        collector_key = (fleet.root / "pki/ssh/id_ronda.pub").read_text().split()[:2]
        assert keys.read_text() == f'restrict,from="127.0.0.1" {" ".join(collector_key)} ronda-collector\n'
    acl = subprocess.run(
        ["getfacl", "-p", "--omit-header", str(fleet.prefix("web-3") / "var/log/httpd")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"user:{scan_user('web-3')}:r-x" in acl


def test_the_collector_scans_each_agentless_host_with_the_key_ansible_read(fleet):
    import tomllib

    config = tomllib.loads((fleet.prefix(COLLECTOR) / "etc/ronda/collector.toml").read_text())
    assert config["timezone"] == "WITA"  # the inventory's zone, for every time the collector writes
    assert config["ssh"]["key"] == f"{fleet.prefix(COLLECTOR)}/etc/ronda/ssh/id_ronda"
    assert config["ssh"]["hosts"] == [
        {
            "name": host,
            "address": address,
            "port": fleet.sshd.port,
            "user": scan_user(host),
            "nginx_conf": f"{fleet.prefix(host)}/etc/nginx/nginx.conf",
        }
        for host, address in AGENTLESS.items()
    ]
    host_key = " ".join((fleet.sshd.directory / "host_key.pub").read_text().split()[:2])
    known = (fleet.prefix(COLLECTOR) / "etc/ronda/ssh/known_hosts").read_text().splitlines()
    assert [line for line in known if not line.startswith("#")] == [
        f"[{address}]:{fleet.sshd.port} {host_key}" for address in AGENTLESS.values()
    ]


@pytest.mark.parametrize("source, allowed", [("127.0.0.1", True), ("127.0.0.9", False)])
def test_the_scan_key_works_only_from_the_collectors_address(fleet, source, allowed):
    host = "web-2"
    result = subprocess.run(
        [
            "ssh",
            "-b",
            source,
            "-p",
            str(fleet.sshd.port),
            "-i",
            str(fleet.root / "pki/ssh/id_ronda"),
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={fleet.sshd.known_hosts}",
            f"{scan_user(host)}@{AGENTLESS[host]}",
            "id -un; echo tampered >> ~/.ssh/authorized_keys",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if allowed:
        assert result.stdout.split() == [scan_user(host)]
        assert "Permission denied" in result.stderr  # it may log in, not rewrite its key
    else:
        assert result.returncode == 255 and "Permission denied" in result.stderr


def test_removing_a_host_from_the_inventory_removes_its_scan_entry(fleet):
    hosts = {name: address for name, address in EVERY_HOST.items() if name != "web-3"}
    inventory = write_inventory(fleet.root, fleet.sshd, fleet.wheelhouse, fleet.port, hosts, fleet.web_port)
    run = run_playbook("site.yml", inventory, fleet.home, "--limit", f"localhost,{COLLECTOR}")
    assert run.returncode == 0, output(run)
    config = (fleet.prefix(COLLECTOR) / "etc/ronda/collector.toml").read_text()
    known = (fleet.prefix(COLLECTOR) / "etc/ronda/ssh/known_hosts").read_text()
    assert 'name = "web-2"' in config and "web-3" not in config
    assert AGENTLESS["web-2"] in known and AGENTLESS["web-3"] not in known
    assert not (fleet.root / "pki/agentless/web-3.json").exists()
