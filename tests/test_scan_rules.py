"""Scopes, port lists, the collector's scan config, network findings and the /proc parsers: pure rules."""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path

import pytest

from ronda.agent.host.cgroups import cgroup_owner
from ronda.collector.scan_config import ScanConfigError, load_scan_config
from ronda.collector.scans import procfs
from ronda.collector.scans.findings import CoveredHost, HostListener, NetPort, network_findings
from ronda.collector.scans.nmap_sweep import PortObservation, _title
from ronda.collector.scans.scope import PortList, ScopeError, check_targets, parse_networks
from ronda.collector.scans.ssh_host import parse_find_record, parse_stat_line


def nets(*texts: str):
    return [ipaddress.ip_network(t, strict=False) for t in texts]


@pytest.mark.parametrize(
    "targets, ok",
    [
        (["10.1.2.0/24"], True),
        (["10.1.2.7"], True),
        (["10.1.0.0/16"], False),  # wider than the scope
        (["10.1.3.0/24"], False),
        (["10.1.2.0/24", "192.168.0.1"], False),
        (["10.1.2.128/25"], True),  # overlaps the excluded block: swept around it
        (["10.1.2.201"], False),  # inside the excluded block
        (["fd00::1"], True),
        (["fd01::1"], False),
    ],
)
def test_targets_must_lie_inside_a_scope(targets, ok):
    scopes, exclude = nets("10.1.2.0/24", "fd00::/64"), nets("10.1.2.200/29")
    if ok:
        check_targets(nets(*targets), scopes, exclude)
    else:
        with pytest.raises(ScopeError):
            check_targets(nets(*targets), scopes, exclude)


def test_excluded_blocks_are_skipped_by_nmap():
    from ronda.collector.scans.nmap_sweep import SweepOptions, nmap_arguments
    from ronda.collector.scans.scope import exclusions_for

    skip = exclusions_for(nets("10.1.2.128/25"), nets("10.1.2.200/29", "10.9.0.0/16"))
    assert skip == nets("10.1.2.200/29")
    assert "--exclude 10.1.2.200/29" in nmap_arguments(SweepOptions(), skip)
    assert "-n -Pn -sT" in nmap_arguments(SweepOptions())


def test_no_scope_refuses_everything_and_huge_sweeps_are_refused():
    with pytest.raises(ScopeError, match="no network scopes"):
        check_targets(nets("127.0.0.1"), [])
    with pytest.raises(ScopeError, match="split the targets"):
        check_targets(nets("10.0.0.0/8"), nets("10.0.0.0/8"))
    with pytest.raises(ScopeError, match="host names are not accepted"):
        parse_networks(["intranet.local"], "targets")


@pytest.mark.parametrize(
    "spec, text, inside, outside",
    [
        ("80,443,8000-8090", "80,443,8000-8090", [80, 8042], [81, 8091]),
        ("8443, 80 ,80", "80,8443", [8443], [443]),
        ([3000, "5000-5001"], "3000,5000-5001", [5001], [4999]),
    ],
)
def test_port_lists(spec, text, inside, outside):
    ports = PortList.parse(spec)
    assert str(ports) == text
    assert all(p in ports for p in inside) and not any(p in ports for p in outside)


@pytest.mark.parametrize("spec", ["", "http", "0", "70000", "90-80", "80-"])
def test_bad_port_lists(spec):
    with pytest.raises(ScopeError):
        PortList.parse(spec)


def test_config_reads_scopes_ports_and_ssh_hosts(tmp_path: Path):
    path = tmp_path / "collector.toml"
    path.write_text("""
[network]
scopes = ["10.20.0.0/16"]
exclude = ["10.20.99.0/24"]
ports = "80,8080"
timing = 4

[ssh]
user = "ronda"
key = "/etc/ronda/ssh/id_ed25519"
known_hosts = "/etc/ronda/ssh/known_hosts"
port = 2222

[[ssh.hosts]]
name = "web-dinkes"
address = "10.20.1.5"

[[ssh.hosts]]
address = "10.20.1.6"
port = 22
user = "audit"
""")
    config = load_scan_config(str(path))
    assert [str(s) for s in config.network.scopes] == ["10.20.0.0/16"]
    assert str(config.network.ports) == "80,8080" and config.network.timing == 4
    dinkes = config.ssh.target("web-dinkes")
    assert (dinkes.address, dinkes.port, dinkes.user, dinkes.agent_id) == (
        "10.20.1.5",
        2222,
        "ronda",
        "ssh:web-dinkes",
    )
    other = config.ssh.target("10.20.1.6")
    assert (other.name, other.port, other.user, other.key) == (
        "10.20.1.6",
        22,
        "audit",
        "/etc/ronda/ssh/id_ed25519",
    )
    adhoc = config.ssh.target("10.20.7.7")
    assert (adhoc.port, adhoc.known_hosts) == (2222, "/etc/ronda/ssh/known_hosts")


@pytest.mark.parametrize(
    "body, message",
    [
        ("[network]\nscope = ['10.0.0.0/8']\n", "unknown setting(s) scope"),
        (
            "[network]\nscopes = '10.0.0.0/8'\n",
            "c.toml:2: [network] scopes must be a list of strings, not a string",
        ),
        ("[network]\nscopes = ['10.0.0.300/24']\n", "is not an IP address"),
        ("[network]\ntiming = 9\n", "timing must be 0-5"),
        ("[network]\nports = '80-70'\n", "outside 1-65535 or reversed"),
        ("[ssh]\nconnect_timeout_seconds = 0\n", "timeouts must be positive"),
        ("[[ssh.hosts]]\nname = 'x'\n", "address is required"),
        ("[[ssh.hosts]]\naddress = '10.0.0.1'\nname = 'a b'\n", "may hold only"),
        ("[[ssh.hosts]]\naddress = '10.0.0.1'\n[[ssh.hosts]]\naddress = '10.0.0.1'\n", "used twice"),
        ("[network\n", "not valid TOML"),
    ],
)
def test_bad_configs_are_explained(tmp_path: Path, body, message):
    path = tmp_path / "c.toml"
    path.write_text(body)
    with pytest.raises(ScanConfigError, match=re.escape(message)):
        load_scan_config(str(path))


def _port(address, port, **kw):
    return NetPort(address, port, first_seen="2026-01-01T00:00:00Z", last_seen="2026-01-02T00:00:00Z", **kw)


def test_network_findings():
    agent = CoveredHost(
        "web01",
        "web01",
        "agent",
        {"10.0.0.1"},
        app_listens={("*", 80)},
        listeners=[
            HostListener("tcp", "0.0.0.0", 80, "nginx", ("nginx:a:80/",)),
            HostListener("tcp", "0.0.0.0", 9000, "java", ()),
            HostListener("tcp", "0.0.0.0", 22, "sshd", ()),
        ],
    )
    ssh = CoveredHost("ssh:old", "old", "ssh", {"10.0.0.2"}, app_listens={("10.0.0.2", 443)})
    by_app = CoveredHost(
        "app02",
        "app02",
        "agent",
        set(),
        app_listens={("10.0.0.3", 8080)},
        listeners=[HostListener("tcp", "10.0.0.3", 8080, "node", ("node:x:8080/",))],
    )
    ports = [
        _port("10.0.0.1", 80, service="http"),
        _port("10.0.0.1", 9000, service="http"),
        _port("10.0.0.1", 22, service="ssh", web=False),
        _port("10.0.0.1", 8081, service="http"),
        _port("10.0.0.2", 443, service="https"),
        _port("10.0.0.2", 8443, service="https"),
        _port("10.0.0.3", 8080, service="http"),
        _port("10.0.0.9", 80, service="http", product="Apache httpd", http_title="SIMPEG"),
        _port("10.0.0.10", 5432, service="postgresql", web=False),
    ]
    found = {(f.kind, f.subject): f for f in network_findings(ports, [agent, ssh, by_app])}
    assert set(found) == {
        ("exposed-listener", "web01/listener:tcp:0.0.0.0:9000"),  # reported, serves no app
        ("exposed-listener", "web01/listener:tcp:10.0.0.1:8081"),  # not reported at all
        ("exposed-listener", "ssh:old/listener:tcp:10.0.0.2:8443"),
        ("unmanaged-host", "network:10.0.0.9"),  # a database alone is no web host
    }
    unmanaged = found[("unmanaged-host", "network:10.0.0.9")]
    assert "SIMPEG" in unmanaged.summary and unmanaged.detail["ports"] == [80]
    assert found[("exposed-listener", "web01/listener:tcp:0.0.0.0:9000")].detail["process"] == "java"


@pytest.mark.parametrize(
    "service, tunnel, title, port, web, scheme",
    [
        ("http", "", "", 8123, True, "http"),
        ("http", "ssl", "", 8443, True, "https"),
        ("https", "", "", 443, True, "https"),
        ("ssh", "", "", 22, False, ""),
        ("", "", "", 8080, True, "http"),
        ("unknown", "", "", 8080, True, "http"),
        ("unknown", "", "", 12345, False, ""),
        ("unknown", "", "Login", 9999, True, "http"),
    ],
)
def test_what_counts_as_web(service, tunnel, title, port, web, scheme):
    p = PortObservation("10.0.0.1", port, service=service, tunnel=tunnel, http_title=title)
    assert (p.is_web, p.scheme) == (web, scheme)


@pytest.mark.parametrize(
    "raw, title",
    [
        ("Aplikasi SIMPEG", "Aplikasi SIMPEG"),
        ("Site doesn't have a title (text/html).", ""),
        ("Did not follow redirect to https://x/", ""),
        ("Login\nRequested resource was /login", "Login"),
    ],
)
def test_http_title(raw, title):
    assert _title(raw) == title


def test_proc_net_tcp_addresses_as_psutil_gives_them():
    v4 = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1\n"
        "   1: 0100007F:1F91 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4243 1\n"
    )
    assert procfs.parse_proc_net_tcp(v4, "tcp") == [procfs.TcpSocket("tcp", "127.0.0.1", 8080, 4242)]
    raw = socket.inet_pton(socket.AF_INET6, "fd00::2")
    words = "".join(raw[i : i + 4][::-1].hex().upper() for i in range(0, 16, 4))
    v6 = "header\n   0: " + words + ":0050 " + "0" * 32 + ":0000 0A 0:0 0:0 0 0 0 77 1\n"
    assert procfs.parse_proc_net_tcp(v6, "tcp6") == [procfs.TcpSocket("tcp6", "fd00::2", 80, 77)]


def test_proc_parsers():
    st = procfs.parse_proc_stat(
        "123 (php-fpm: pool (www)) S 1 123 123 0 -1 4194560 100 0 0 0 250 50 0 0 20 0"
    )
    assert (st.name, st.ppid, st.utime_ticks, st.stime_ticks) == ("php-fpm: pool (www)", 1, 250, 50)
    assert procfs.parse_cmdline(b"nginx: master process /usr/sbin/nginx\0") == (
        "nginx:",
        "master",
        "process",
        "/usr/sbin/nginx",
    )
    assert procfs.parse_cmdline(b"/usr/bin/python3\0-m\0http.server\0") == (
        "/usr/bin/python3",
        "-m",
        "http.server",
    )
    assert (
        procfs.process_name("gnome-keyring-d", ("/usr/bin/gnome-keyring-daemon",)) == "gnome-keyring-daemon"
    )
    assert cgroup_owner("0::/system.slice/nginx.service\n") == ("nginx.service", "")
    assert procfs.parse_ss_owners(
        'LISTEN 0 511 0.0.0.0:80 0.0.0.0:* users:(("nginx",pid=12,fd=6),("nginx",pid=10,fd=6)) ino:555 sk:1'
    ) == {555: [12, 10]}
    assert procfs.parse_ip_addresses(
        "1: lo    inet 127.0.0.1/8 scope host lo\n"
        "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\n"
        "2: eth0    inet6 fe80::1/64 scope link\n"
    ) == ["10.0.0.5", "fe80::1"]
    assert procfs.parse_mounts("/dev/sda1 /srv/my\\040data ext4 rw 0 0\n") == [
        ("/dev/sda1", "/srv/my data", "ext4")
    ]


def test_stat_outputs_become_file_stats():
    st = parse_stat_line("2049 131 16 5000 1700000000.123456789 81a4")
    assert (st.dev, st.ino, st.allocated_bytes, st.size, st.is_file, st.mode & 0o777) == (
        2049,
        131,
        8192,
        5000,
        True,
        0o644,
    )
    assert st.mtime == 1700000000 + 123456789 * 1e-9
    name, entry = parse_find_record("2049 132 0 4096 1700000000.5000000000 755 d sub dir")
    assert name == "sub dir" and entry.is_dir and entry.mode & 0o777 == 0o755 and entry.mtime == 1700000000.5


@pytest.mark.servers
def test_the_agent_never_loads_the_scan_libraries():
    """paramiko and python-nmap are the collector's; the agent must ship and run without them."""
    import subprocess
    import sys

    code = (
        "import sys, ronda.agent.cli, ronda.agent.runner, ronda.agent.snapshot; "
        "print(sorted(m for m in ('paramiko', 'nmap', 'ronda.collector') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
