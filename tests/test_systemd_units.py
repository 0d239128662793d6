"""The roles' units under a real systemd: site.yml converges a collector host and an agent host whose
sshd runs as a service of a systemd booted in namespaces of its own (`SystemdNs`), so the roles enable
and start the services, handlers restart them and timers fire, exactly as on a server.

Proves: units enabled and started; a handler restarts the agent when its config changes and nothing
restarts when nothing changed; a timer fires its job; an upgrade and a rollback restart the agent onto
the other environment; the agent reports over mutual TLS from inside its sandbox and reads a 0640
root:adm access log (Debian's nginx shape) it has no group for; neither service can write outside its
state directory; and `systemd-analyze security` rates every unit "OK" or better.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import secrets
import shutil
import sqlite3
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
    SystemdNs,
    add_version,
    changed_tasks,
    connection_vars,
    recap,
    run_playbook,
)
from servers import Nginx, free_port

pytestmark = pytest.mark.servers  # a systemd of its own, sshd, nginx and ansible-playbook

COLLECTOR, AGENT = "collector", "web-1"
ADDRESSES = {COLLECTOR: "127.0.0.6", AGENT: "127.0.0.7"}
RUN = secrets.token_hex(3)
USERS = {COLLECTOR: f"rs{RUN}-svc", AGENT: f"rs{RUN}-agent"}
NEW = f"{VERSION}.post1"
JOBS = ("scan-network", "scan-ssh", "reconcile", "report")
SECURITY_OK = 4.9  # systemd-analyze's "OK" ends here; MEDIUM starts at 5.0


@dataclass
class Fleet:
    root: Path
    ns: SystemdNs
    sshd: Sshd
    inventory: Path
    home: Path
    port: int
    web_port: int
    runs: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    pids: dict[str, dict[str, str]] = field(default_factory=dict)  # run -> unit -> MainPID after it

    def prefix(self, host: str) -> Path:
        return self.root / host

    def converge(self, name: str, *args: str) -> subprocess.CompletedProcess:
        run = run_playbook("site.yml", self.inventory, self.home, *args)
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
        self.runs[name] = run
        self.pids[name] = {unit: self.ns.show(unit, "MainPID") for unit in ("ronda-agent", "ronda-collector")}
        return run

    def ronda(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.prefix(COLLECTOR) / "usr/local/bin/ronda"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def inventory(root: Path, sshd: Sshd, wheelhouse: Path, port: int, web_port: int) -> Path:
    c, a = root / COLLECTOR, root / AGENT
    hosts = {
        COLLECTOR: {
            "ansible_host": ADDRESSES[COLLECTOR],
            "ronda_collector_install_dir": f"{c}/opt/ronda",
            "ronda_collector_config_dir": f"{c}/etc/ronda",
            "ronda_collector_state_dir": f"{c}/var/lib/ronda",
            "ronda_collector_cli_path": f"{c}/usr/local/bin/ronda",
            "ronda_collector_user": USERS[COLLECTOR],
            "ronda_collector_group": USERS[COLLECTOR],
            "ronda_collector_listen": f"{ADDRESSES[COLLECTOR]}:{port}",
            "ronda_collector_processes": 1,
            # The web console on the collector's loopback address, as a service of its own.
            "ronda_collector_web_enabled": True,
            "ronda_collector_web_listen": f"{ADDRESSES[COLLECTOR]}:{web_port}",
            # The role's jobs; reconcile every 10 s so that the test sees its timer fire.
            "ronda_collector_jobs": [
                {"name": "scan-network", "args": ["scan", "network"], "on_calendar": "daily"},
                {"name": "scan-ssh", "args": ["scan", "ssh"], "on_calendar": "daily"},
                {
                    "name": "report",
                    "args": ["report", "--html", f"{c}/var/lib/ronda/reports/ronda.html"],
                    "on_calendar": "daily",
                },
                {
                    "name": "reconcile",
                    "args": ["reconcile"],
                    "on_calendar": "*:*:0/10",
                    "randomized_delay": "0",
                    "accuracy": "1s",
                },
            ],
        },
        AGENT: {
            "ansible_host": ADDRESSES[AGENT],
            "ronda_agent_install_dir": f"{a}/opt/ronda-agent",
            "ronda_agent_config_dir": f"{a}/etc/ronda",
            "ronda_agent_state_dir": f"{a}/var/lib/ronda-agent",
            "ronda_agent_user": USERS[AGENT],
            "ronda_agent_group": USERS[AGENT],
            "ronda_agent_nginx_conf": f"{a}/etc/nginx/nginx.conf",
            "ronda_agent_collector": f"{ADDRESSES[COLLECTOR]}:{port}",
            "ronda_agent_interval_seconds": 3600,
            "ronda_agent_jitter_seconds": 0,
        },
    }
    data = {
        "all": {
            "hosts": hosts,
            "vars": {
                **connection_vars(sshd),
                "ronda_version": VERSION,
                "ronda_wheelhouse_dir": str(wheelhouse),
                "ronda_certs_dir": str(root / "pki"),
            },
            "children": {
                "ronda_collectors": {"hosts": {COLLECTOR: {}}},
                "ronda_agents": {"hosts": {AGENT: {}}},
            },
        }
    }
    path = root / "inventory.yml"
    path.write_text(json.dumps(data, indent=2))
    return path


def serve_portal(prefix: Path, port: int) -> Nginx:
    """nginx logging as Debian's package does: 0640, group adm, which the agent's user is not in."""
    docroot = prefix / "srv/www/portal"
    docroot.mkdir(parents=True)
    (docroot / "index.html").write_text("<h1>Portal</h1>")
    logs = prefix / "var/log/nginx"
    logs.mkdir(parents=True)
    nginx = Nginx.write(
        prefix / "etc/nginx",
        f"""    server {{
        listen 127.0.0.1:{port};
        server_name portal.web-1.example.go.id;
        root {docroot};
        access_log {logs}/portal.access.log combined;
    }}""",
    ).start(port)
    browse(port)
    for log in logs.iterdir():
        os.chown(log, 0, grp.getgrnam("adm").gr_gid)
        log.chmod(0o640)
    browse(port)
    return nginx


def browse(port: int) -> None:
    for _ in range(3):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/",
            headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200


def remove_accounts() -> None:
    for name in USERS.values():
        subprocess.run(["userdel", name], capture_output=True, check=False)
        subprocess.run(["groupdel", name], capture_output=True, check=False)


def wait_for(what: str, check, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


@pytest.fixture(scope="module")
def fleet(wheelhouse, tmp_path_factory):
    # Outside /tmp, which is private to the namespaces; services must traverse it.
    root = Path(tempfile.mkdtemp(prefix="ronda-systemd-", dir="/var/lib"))
    root.chmod(0o755)
    remove_accounts()
    add_version(wheelhouse, NEW)
    ns = nginx = None
    try:
        ns = SystemdNs.start()
        sshd = Sshd(root / "sshd", list(ADDRESSES.values()), free_port())
        ns.start_sshd(sshd)
        nginx = serve_portal(root / AGENT, free_port())
        (root / COLLECTOR / "usr/local/bin").mkdir(parents=True)
        port, web_port = free_port(), free_port()
        hosts = inventory(root, sshd, wheelhouse, port, web_port)
        fleet = Fleet(root, ns, sshd, hosts, tmp_path_factory.mktemp("home"), port, web_port)
        fleet.converge("converge")
        yield fleet
    finally:
        if nginx:
            nginx.stop()
        if ns:
            ns.stop()
        remove_accounts()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def reported(fleet) -> dict:
    """The agent's snapshot, stored by the collector: both services running under systemd."""

    def hosts() -> list[dict]:
        result = fleet.ronda("hosts", "--format", "json")
        return json.loads(result.stdout) if result.returncode == 0 else []

    wait_for("the agent's first report", lambda: any(h["agent_id"] == AGENT for h in hosts()))
    apps = json.loads(fleet.ronda("apps", "--format", "json").stdout)
    return {"hosts": hosts(), "apps": [a for a in apps if a["agent_id"] == AGENT]}


def test_units_are_enabled_and_started(fleet):
    units = ("ronda-collector.service", "ronda-web.service", "ronda-agent.service")
    for unit in (*units, *(f"ronda-{job}.timer" for job in JOBS)):
        assert fleet.ns.run("systemctl", "is-enabled", unit).stdout.strip() == "enabled", unit
        assert fleet.ns.run("systemctl", "is-active", unit).stdout.strip() == "active", unit
    assert fleet.ns.show("ronda-agent", "User") == USERS[AGENT]
    assert fleet.ns.show("ronda-collector", "User") == USERS[COLLECTOR]
    assert fleet.ns.show("ronda-web", "User") == USERS[COLLECTOR]


def test_the_web_console_serves_what_the_agent_reported_from_its_sandbox(fleet, reported):
    url = f"http://{ADDRESSES[COLLECTOR]}:{fleet.web_port}/ronda/hosts.json?_shape=array"
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert AGENT in {row["agent_id"] for row in json.load(answer)}


def test_the_agent_reports_over_mutual_tls_from_its_sandbox(fleet, reported):
    unit = fleet.ns.run("systemctl", "cat", "ronda-collector.service").stdout
    assert "--ca " in unit  # agents must show a certificate
    (host,) = [h for h in reported["hosts"] if h["agent_id"] == AGENT]
    assert host["coverage"] == "agent"


def test_the_agent_reads_a_root_adm_log_it_has_no_group_for(fleet, reported):
    assert "adm" not in {g.gr_name for g in grp.getgrall() if USERS[AGENT] in g.gr_mem}
    (portal,) = [a for a in reported["apps"] if "portal.web-1.example.go.id" in a["server_names"]]
    assert portal["coverage"] == "full" and portal["last_human_request"], portal


def write_as_service(fleet: Fleet, unit: str, path: Path) -> str:
    """Try to write `path` from inside `unit`'s running sandbox (its mount namespace), as its user."""
    pid = fleet.ns.show(unit, "MainPID")
    user = pwd.getpwnam(fleet.ns.show(unit, "User"))
    result = fleet.ns.run(
        "nsenter", "-t", pid, "-m", "-S", str(user.pw_uid), "-G", str(user.pw_gid), "--",
        "sh", "-c", 'echo probe > "$1" && echo written', "sh", str(path),
        check=False,
    )  # fmt: skip
    return (result.stdout + result.stderr).strip()


@pytest.mark.parametrize(
    "host, unit, state",
    [(AGENT, "ronda-agent", "var/lib/ronda-agent"), (COLLECTOR, "ronda-collector", "var/lib/ronda")],
)
def test_a_service_writes_its_state_directory_and_nowhere_else(fleet, reported, host, unit, state):
    # A directory the service's own user owns, outside its state: only the sandbox stops the write.
    own = fleet.prefix(host) / "owned-elsewhere"
    own.mkdir(exist_ok=True)
    user = pwd.getpwnam(USERS[host])
    os.chown(own, user.pw_uid, user.pw_gid)
    assert "Read-only file system" in write_as_service(fleet, unit, own / "probe")
    assert not (own / "probe").exists()
    assert write_as_service(fleet, unit, fleet.prefix(host) / state / "probe") == "written"
    (fleet.prefix(host) / state / "probe").unlink()


def test_a_timer_fires_its_job(fleet, reported):
    timer = "ronda-reconcile.timer"
    assert fleet.ns.show(timer, "ActiveState") == "active"
    wait_for(
        "the reconcile timer to fire",
        lambda: fleet.ns.show("ronda-reconcile.service", "ExecMainExitTimestampMonotonic") not in ("", "0"),
        timeout=60,
    )
    assert fleet.ns.show("ronda-reconcile.service", "Result") == "success"
    with sqlite3.connect(fleet.prefix(COLLECTOR) / "var/lib/ronda/ronda.db") as db:
        assert db.execute("SELECT count(*) FROM reconcile_runs").fetchone()[0] >= 1
    # Each timer is scheduled again; a timer whose job is running (reconcile's, every 10 s) has no next
    # elapse until the job ends.
    for job in JOBS:
        wait_for(
            f"the {job} timer to be scheduled",
            lambda job=job: fleet.ns.show(f"ronda-{job}.timer", "NextElapseUSecRealtime") != "",
            timeout=60,
        )


def agent_venv(fleet: Fleet) -> str:
    """The environment the running agent's process was started from."""
    pid = fleet.ns.show("ronda-agent", "MainPID")
    argv = fleet.ns.run("cat", f"/proc/{pid}/cmdline").stdout.split("\0")
    return re.search(r"/venvs/([^/]+)/bin/ronda-agent", " ".join(argv)).group(1)


@pytest.fixture(scope="module")
def upgraded(fleet, reported) -> tuple[str, subprocess.CompletedProcess]:
    """The environment the agent ran from, and the run that upgraded the agents only."""
    before = agent_venv(fleet)
    return before, fleet.converge("upgrade", "-e", f"ronda_agent_version={NEW}")


def test_upgrade_restarts_onto_the_new_environment_and_restarts_nothing_else(fleet, upgraded):
    before, run = upgraded
    assert (before, agent_venv(fleet)) == (VERSION, NEW)
    assert fleet.pids["upgrade"]["ronda-agent"] != fleet.pids["converge"]["ronda-agent"]
    # Nothing changed on the collector: no task changed, the service was not restarted.
    assert recap(run.stdout)[COLLECTOR]["changed"] == 0
    assert fleet.pids["upgrade"]["ronda-collector"] == fleet.pids["converge"]["ronda-collector"]


def test_rollback_restarts_onto_the_old_environment(fleet, upgraded):
    run = fleet.converge("rollback", "--limit", f"localhost,{AGENT}", "-e", f"ronda_agent_version={VERSION}")
    assert agent_venv(fleet) == VERSION
    assert fleet.pids["rollback"]["ronda-agent"] != fleet.pids["upgrade"]["ronda-agent"]
    # The old environment was still there: nothing reinstalled, the unit rewritten, the agent restarted.
    changed = changed_tasks(run.stdout, AGENT)
    assert {f"Point current at ronda {VERSION}", "Write the systemd unit", "Restart ronda-agent"} <= changed
    assert not any(task.startswith(("Install from", "Create the virtual", "Unpack")) for task in changed)


def test_a_config_change_restarts_the_agent(fleet, reported):
    before = fleet.ns.show("ronda-agent", "MainPID")
    run = fleet.converge("config", "--limit", f"localhost,{AGENT}", "-e", "ronda_agent_interval_seconds=1800")
    assert changed_tasks(run.stdout, AGENT) == {"Write agent.toml", "Restart ronda-agent"}
    assert fleet.pids["config"]["ronda-agent"] != before
    assert "interval_seconds = 1800" in (fleet.prefix(AGENT) / "etc/ronda/agent.toml").read_text()


UNITS = [
    "ronda-agent.service",
    "ronda-collector.service",
    "ronda-web.service",
    *(f"ronda-{job}.service" for job in JOBS),
]


def exposure(output: str) -> float:
    """The overall exposure `systemd-analyze security` prints (0 safest, 10 least safe)."""
    found = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", output)
    assert found, output[-2000:]
    print(f"{found.group(0)}")
    return float(found.group(1))


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_security_rates_the_unit_ok_or_better(fleet, unit):
    result = fleet.ns.run("systemd-analyze", "security", "--no-pager", unit)
    assert exposure(result.stdout) <= SECURITY_OK, result.stdout


@pytest.mark.parametrize("unit", sorted((PROJECT / "deploy/systemd").glob("*.service")), ids=lambda p: p.name)
def test_the_plain_units_rate_ok_or_better(unit):
    """deploy/systemd's units for installs without Ansible, rated from their files (`--offline`)."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", unit.name],
        cwd=unit.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert exposure(result.stdout) <= SECURITY_OK, result.stdout + result.stderr
