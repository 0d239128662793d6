"""The scan commands end to end over a fleet the test builds on loopback addresses.

Host A reports with ronda-agent into a running `ronda serve`; host B has only
sshd; host C has neither. A real nmap sweep finds all three, the SSH scan sees
inside B as the agent would, and C becomes an unmanaged-host finding.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request

import pytest
from scan_fleet import BIN, Fleet, new_fleet, ronda, ronda_agent

from ronda.collector.scans.view import load_view
from ronda.collector.store import Store
from ronda.collector.wirejson import app_json

pytestmark = pytest.mark.servers  # real nginx, sshd, nmap and ronda processes

# Fields that change between two scans of the same host a second apart.
VOLATILE = {"cpu_seconds", "rss_bytes", "report_id", "collected_at", "pid", "coverage_end"}


def _get(address: str, port: int, path: str, host: str) -> int:
    request = urllib.request.Request(
        f"http://{address}:{port}{path}",
        headers={"Host": host, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Fleet:
    f = new_fleet(tmp_path_factory.mktemp("fleet"))
    try:
        f.start()
        for path in ("/", "/index.html", "/missing"):
            _get(f.b, f.web_port, path, "app-b.test")
        yield f
    finally:
        f.stop()


@pytest.fixture(scope="module")
def scanned(fleet: Fleet) -> dict:
    """The schedule's commands, in order: an agent reports, then a sweep, then the SSH scan."""
    agent = fleet.agent_report()
    assert agent.returncode == 0, agent.stderr
    network = ronda("scan", "network", "--config", str(fleet.config), "--db", str(fleet.db))
    ssh = ronda("scan", "ssh", "--config", str(fleet.config), "--db", str(fleet.db))
    return {"agent": agent, "network": network, "ssh": ssh}


def _store(fleet: Fleet) -> Store:
    return Store(fleet.db)


def test_sweep_finds_all_three_hosts_with_service_and_title(fleet, scanned):
    network = scanned["network"]
    assert network.returncode == 0, network.stderr
    assert network.stdout.startswith("network sweep #")
    assert len(network.stdout.strip().splitlines()) == 1
    ports = json.loads(ronda("scans", "--db", str(fleet.db), "--format", "json", "ports").stdout)
    seen = {(p["address"], p["port"]): p for p in ports}
    assert set(seen) == {
        (fleet.a, fleet.web_port),
        (fleet.a, fleet.stray_port),
        (fleet.b, fleet.web_port),
        (fleet.c, fleet.web_port),
    }
    assert seen[(fleet.a, fleet.web_port)]["http_title"] == "Aplikasi A"
    assert seen[(fleet.b, fleet.web_port)]["http_title"] == "Aplikasi B"
    assert seen[(fleet.c, fleet.web_port)]["http_title"] == "Aplikasi C"
    for p in ports:
        assert (p["service"], p["product"], p["web"]) == ("http", "nginx", 1)
        assert p["version"]


def test_ssh_scan_stores_host_b_marked_as_ssh(fleet, scanned):
    ssh = scanned["ssh"]
    assert ssh.returncode == 0, ssh.stderr
    assert re.fullmatch(r"ssh scan: 1 of 1 hosts scanned, \d+ apps stored", ssh.stdout.strip())
    hosts = {
        h["agent_id"]: h for h in json.loads(ronda("hosts", "--db", str(fleet.db), "--format", "json").stdout)
    }
    assert hosts["ssh:host-b"]["source"] == "ssh"
    assert hosts["host-a"]["source"] == "agent"
    # the host's sequence and log offsets live on the collector, next to the database
    state = fleet.tmp / "ssh-state" / "host-b"
    assert json.loads((state / "agent.json").read_text())["agent_id"] == "ssh:host-b"
    assert (state / "usage.sqlite").stat().st_size > 0


def test_ssh_scan_sees_what_the_agent_sees_on_the_same_host(fleet, scanned):
    """The same app keys, roots, listen addresses, fingerprints and usage as `ronda-agent scan` on host B."""
    local = ronda_agent("scan", "--json", "--nginx-conf", fleet.nginx_conf("app-b"))
    assert local.returncode == 0, local.stderr
    agent_apps = {a["key"]: _strip(a) for a in json.loads(local.stdout)["apps"]}
    store = _store(fleet)
    stored = {
        r["app_key"]: _strip(app_json(r["detail"], r["state"]))
        for r in store.query(
            "SELECT app_key, detail, state FROM apps WHERE agent_id = 'ssh:host-b' AND present"
        )
    }
    mine = f"nginx:app-b.test:{fleet.web_port}/"
    assert mine in stored and set(stored) == set(agent_apps)
    assert stored[mine]["root"] == str(fleet.tmp / "app-b" / "www")
    assert stored[mine]["framework"]["evidence_file"].endswith("composer.json")
    # daily counts are kept in their own table; the rest of usage is in the app's state
    daily = [
        {k: v for k, v in r.items() if v and k not in ("agent_id", "app_key")}
        for r in store.query(
            "SELECT * FROM app_usage_daily WHERE agent_id = 'ssh:host-b' AND app_key = ? ORDER BY date",
            (mine,),
        )
    ]
    expected = [
        {k: int(v) if k != "date" else v for k, v in d.items()} for d in agent_apps[mine]["usage"]["daily"]
    ]
    assert daily == expected and daily[0]["human"] >= 2
    assert stored[mine]["usage"] == {k: v for k, v in agent_apps[mine]["usage"].items() if k != "daily"}
    for key, app in agent_apps.items():  # usage of ours is compared above; the machine's own logs may grow
        app.pop("usage", None)
        stored[key].pop("usage", None)
        assert stored[key] == app, key


def test_unmanaged_host_is_the_one_without_agent_or_ssh(fleet, scanned):
    findings = load_view(_store(fleet)).findings()
    unmanaged = [f for f in findings if f.kind == "unmanaged-host"]
    assert [f.subject for f in unmanaged] == [f"network:{fleet.c}"]
    assert unmanaged[0].detail["titles"] == {str(fleet.web_port): "Aplikasi C"}
    assert "Aplikasi C" in unmanaged[0].summary


def test_findings_take_reconciliation_shape(fleet, scanned):
    from ronda.collector.reconcile.model import Finding
    from ronda.collector.scans.reconcile_hook import network_findings_for

    found = network_findings_for(_store(fleet))
    assert all(isinstance(f, Finding) for f in found)
    assert {f.kind for f in found} == {"unmanaged-host", "exposed-listener"}


def test_port_the_agent_did_not_report_is_flagged(fleet, scanned):
    """The stray nginx on host A is not in the agent's config: reachable, yet no app of A explains it."""
    exposed = [f for f in load_view(_store(fleet)).findings() if f.kind == "exposed-listener"]
    assert [(f.agent_id, f.detail["address"], f.detail["port"]) for f in exposed] == [
        ("host-a", fleet.a, fleet.stray_port)
    ]
    assert exposed[0].detail["http_title"] == "Stray on A"


def test_last_seen_by_each_source(fleet, scanned):
    rows = json.loads(ronda("scans", "--db", str(fleet.db), "--format", "json", "hosts").stdout)
    by_id = {r["agent_id"]: r for r in rows}
    a, b = by_id["host-a"], by_id["ssh:host-b"]
    assert a["covered_by"] == "agent" and a["agent_last_seen"] and a["network_last_seen"]
    assert fleet.a in a["addresses"] and a["web_ports"] == sorted([fleet.web_port, fleet.stray_port])
    assert (
        b["covered_by"] == "ssh"
        and b["ssh_last_seen"]
        and b["network_last_seen"]
        and not b["agent_last_seen"]
    )
    assert by_id[None]["host"] == fleet.c and by_id[None]["covered_by"] == "none"
    runs = json.loads(ronda("scans", "--db", str(fleet.db), "--format", "json").stdout)
    assert [(r["kind"], r["status"]) for r in runs][-2:] == [("ssh", "ok"), ("network", "ok")]


def test_scans_run_again_change_nothing_but_time(fleet, scanned):
    store = _store(fleet)
    before = store.query(
        "SELECT address, port, service, http_title, web, open, first_seen FROM network_ports"
    )
    apps_before = store.query("SELECT app_key, detail FROM apps WHERE agent_id = 'ssh:host-b'")
    again = ronda("scan", "network", "--config", str(fleet.config), "--db", str(fleet.db))
    assert again.returncode == 0, again.stderr
    assert "0 new, 0 closed; 1 unmanaged hosts" in again.stdout
    ssh = ronda("scan", "ssh", "--config", str(fleet.config), "--db", str(fleet.db), "--host", "host-b")
    assert ssh.returncode == 0, ssh.stderr
    after = store.query("SELECT address, port, service, http_title, web, open, first_seen FROM network_ports")
    assert sorted(map(str, before)) == sorted(map(str, after))
    apps_after = store.query("SELECT app_key, detail FROM apps WHERE agent_id = 'ssh:host-b'")

    def stable(rows):  # usage moves on: the sweep itself left lines in host B's access log
        return [
            (
                r["app_key"],
                {
                    k: v
                    for k, v in json.loads(r["detail"]).items()
                    if k in ("root", "listen", "server_names", "framework", "database", "access_logs")
                },
            )
            for r in rows
        ]

    assert stable(apps_after) == stable(apps_before)
    sequences = [
        r["sequence"]
        for r in store.query("SELECT sequence FROM snapshots WHERE agent_id='ssh:host-b' ORDER BY sequence")
    ]
    assert sequences == list(range(1, len(sequences) + 1)) and len(sequences) >= 2


def test_scans_run_alongside_the_collector_and_each_other(fleet, scanned):
    """What a schedule may start at once: a sweep, an SSH scan and agents reporting into `ronda serve`."""
    assert fleet.serve is not None and fleet.serve.poll() is None
    quick = fleet.tmp / "quick.toml"  # no version detection: the sweep's ports only, a quick one
    quick.write_text(fleet.config.read_text().replace("timing = 3", "timing = 3\nversion_detection = false"))
    sweep = subprocess.Popen(
        [str(BIN / "ronda"), "scan", "network", "--config", str(quick), "--db", str(fleet.db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ssh = ronda("scan", "ssh", "--config", str(fleet.config), "--db", str(fleet.db))
        reports = [fleet.agent_report() for _ in range(3)]
        out, err = sweep.communicate(timeout=120)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 0, err
    assert ssh.returncode == 0, ssh.stderr
    assert all(r.returncode == 0 for r in reports), [r.stderr for r in reports]
    assert "0 new, 0 closed" in out
    titles = {
        r["http_title"]
        for r in json.loads(ronda("scans", "--db", str(fleet.db), "--format", "json", "ports").stdout)
    }
    assert titles == {"Aplikasi A", "Aplikasi B", "Aplikasi C", "Stray on A"}  # kept from the full sweeps
    runs = json.loads(ronda("scans", "--db", str(fleet.db), "--format", "json", "--limit", "2").stdout)
    assert {(r["kind"], r["status"]) for r in runs} == {("network", "ok"), ("ssh", "ok")}


def test_reconcile_reports_the_unmanaged_host(fleet, scanned):
    """What an operator sees: `ronda reconcile`, then `ronda findings --kind unmanaged-host`."""
    import json

    from click.testing import CliRunner

    from ronda.collector.cli import cli

    runner = CliRunner()
    done = runner.invoke(cli, ["reconcile", "--db", str(fleet.db)])
    assert done.exit_code == 0, done.output
    listed = runner.invoke(
        cli, ["findings", "--db", str(fleet.db), "--kind", "unmanaged-host", "--format", "json"]
    )
    assert listed.exit_code == 0, listed.output
    assert [f["subject"] for f in json.loads(listed.output)] == [f"network:{fleet.c}"]


def test_hosts_shows_how_each_host_is_covered(fleet, scanned):
    """`ronda hosts`: A by its agent, B by the SSH scan, C by the sweep only, and a configured SSH target
    that never answered (nothing listens there) by nothing at all."""
    failed = ronda(
        "scan", "ssh", "--config", str(fleet.config), "--db", str(fleet.db), "--host", "127.0.0.254"
    )
    assert failed.returncode == 1, failed.stderr
    rows = json.loads(ronda("hosts", "--db", str(fleet.db), "--format", "json").stdout)
    coverage = {(r["agent_id"] or r["hostname"]): (r["coverage"], bool(r["last_seen"])) for r in rows}
    assert coverage == {
        "host-a": ("agent", True),
        "ssh:host-b": ("ssh", True),
        fleet.c: ("network", True),
        "ssh:127.0.0.254": ("none", False),
    }
    header, *lines = ronda("hosts", "--db", str(fleet.db)).stdout.splitlines()
    assert header.split()[:4] == ["HOSTNAME", "AGENT_ID", "COVERAGE", "LAST_SEEN"]
    assert any(line.split()[:2] == [fleet.c, "network"] for line in lines)


def test_the_report_shows_how_each_host_is_covered_as_hosts_does(fleet, scanned):
    """The report's fleet coverage lists every host as `ronda hosts` does (the same rows): how it is
    covered and when it last answered, the least covered first."""
    ronda("scan", "ssh", "--config", str(fleet.config), "--db", str(fleet.db), "--host", "127.0.0.254")
    hosts = json.loads(ronda("hosts", "--db", str(fleet.db), "--format", "json").stdout)
    page = fleet.db.parent / "laporan.html"
    made = ronda("report", "--db", str(fleet.db), "--html", str(page), "--lang", "id", "--tz", "WITA")
    assert made.returncode == 0, made.stderr
    html = page.read_text()
    table = html[html.index('<table id="hosts-table"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<tr data-host="([^"]+)" data-coverage="(\w+)">(.*?)</tr>', table)
    assert {(name, coverage) for name, coverage, _ in rows} == {
        (h["hostname"] or h["agent_id"], h["coverage"]) for h in hosts
    }
    assert [coverage for _, coverage, _ in rows] == ["none", "network", "ssh", "agent"]
    answered = {name: cells for name, _, cells in rows}
    assert "tidak pernah" in answered["127.0.0.254"]  # the SSH target that never answered: never
    for name, coverage, cells in rows:
        if coverage != "none":
            assert re.search(r"pukul \d\d\.\d\d WITA", cells), (name, cells)
    assert "Cara setiap server dipantau" in html and "hanya sapuan jaringan" in html
