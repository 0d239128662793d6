"""Listening sockets mapped to their process and to the apps they serve; the rest reported as serving none."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from servers import Nginx, free_port

from ronda.agent.discovery import DiscoveryOptions, discover
from ronda.agent.host import ListenSocket, LocalHost
from ronda.agent.inspect.endpoints import Target, backs, serves, upstream_target
from ronda.agent.listeners import map_listeners
from ronda.model import App, ListenAddress


@pytest.mark.servers
def test_unknown_and_public_listeners(tmp_path: Path) -> None:
    """nginx serving two apps on a wildcard listen; a bare socket on all interfaces serving nothing known."""
    web = free_port()
    (tmp_path / "www").mkdir()
    nginx = Nginx.write(
        tmp_path / "nginx",
        f"""
    server {{ listen {web}; server_name a.test; root {tmp_path}/www; }}
    server {{ listen {web}; server_name b.test; root {tmp_path}/www; }}
""",
    )
    stray = socket.socket()
    stray.bind(("0.0.0.0", 0))  # bound, never connected to: no traffic leaves loopback
    stray.listen(1)
    stray_port = stray.getsockname()[1]
    try:
        with nginx.start(web):
            host = LocalHost()
            result = discover(host, DiscoveryOptions(nginx_conf=str(nginx.conf)))
            listeners, errors = map_listeners(host, result.apps)
    finally:
        stray.close()
    assert errors == []
    [served] = [lst for lst in listeners if lst.port == web]
    assert served.app_keys == [f"nginx:a.test:{web}/", f"nginx:b.test:{web}/"]
    assert (served.address, served.public, served.process) == ("0.0.0.0", True, "nginx")
    [unknown] = [lst for lst in listeners if lst.port == stray_port]
    assert (unknown.app_keys, unknown.public, unknown.pid) == ([], True, os.getpid())
    assert unknown.process and unknown.user == "root"


def test_file_tree_has_no_listeners(tmp_path: Path) -> None:
    assert map_listeners(LocalHost(str(tmp_path)), []) == ([], [])


@pytest.mark.parametrize(
    "upstream,target",
    [
        ("http://127.0.0.1:8080", Target(host="127.0.0.1", port=8080)),
        ("http://localhost:3000/api/", Target(host="localhost", port=3000)),
        ("https://[::1]/", Target(host="::1", port=443)),
        ("http://backend", Target(host="backend", port=80)),
        ("127.0.0.1:9000", Target(host="127.0.0.1", port=9000)),
        ("fcgi://127.0.0.1:9001/var/www/app/", Target(host="127.0.0.1", port=9001)),
        ("unix:/run/php/php8.2-fpm.sock", Target(socket="/run/php/php8.2-fpm.sock")),
        ("unix:/run/php/php8.2-fpm.sock|fcgi://localhost", Target(socket="/run/php/php8.2-fpm.sock")),
        ("http://unix:/run/gunicorn.sock:/", Target(socket="/run/gunicorn.sock")),
        ("php_pool", Target(name="php_pool")),
        ("http://$backend", None),
        ("", None),
    ],
)
def test_upstream_spellings(upstream: str, target: Target | None) -> None:
    assert upstream_target(upstream) == target


@pytest.mark.parametrize(
    "listen,sock,expected",
    [
        ("*", "127.0.0.1", True),
        ("0.0.0.0", "10.1.2.3", True),
        ("127.0.0.1", "0.0.0.0", True),
        ("127.0.0.1", "127.0.0.2", False),
        ("[::]", "::1", True),
        ("localhost", "127.0.0.1", True),
    ],
)
def test_listen_address_matching(listen: str, sock: str, expected: bool) -> None:
    app = App(listen=[ListenAddress(listen, 80)])
    assert serves(app, ListenSocket("tcp", sock, 80, 1)) is expected
    assert not serves(app, ListenSocket("tcp", sock, 81, 1))


@pytest.mark.parametrize(
    "upstream,sock,own,expected",
    [
        ("http://127.0.0.1:8080", "127.0.0.1", (), True),
        ("http://127.0.0.1:8080", "0.0.0.0", (), True),
        ("http://localhost:8080", "::1", (), True),
        ("http://10.0.0.5:8080", "0.0.0.0", (), False),  # another machine's backend
        ("http://10.0.0.5:8080", "0.0.0.0", ("10.0.0.5",), True),  # this machine's own address
        ("http://127.0.0.1:8081", "127.0.0.1", (), False),
    ],
)
def test_backend_matching(upstream: str, sock: str, own: tuple[str, ...], expected: bool) -> None:
    assert backs(App(upstream=upstream), ListenSocket("tcp", sock, 8080, 1), frozenset(own)) is expected


def test_an_ipv4_mapped_listener_serves_its_ipv4_apps() -> None:
    """Java listens on IPv6 sockets: Tomcat's address="127.0.0.33" shows as ::ffff:127.0.0.33."""
    sock = socket.socket(socket.AF_INET6)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::ffff:127.0.0.33", 0))  # bound, never connected to
    sock.listen(1)
    port = sock.getsockname()[1]
    app = App(key=f"tomcat:localhost:{port}/", listen=[ListenAddress("127.0.0.33", port)])
    try:
        listeners, errors = map_listeners(LocalHost(), [app])
    finally:
        sock.close()
    [mapped] = [lst for lst in listeners if lst.port == port]
    assert mapped.address == "::ffff:127.0.0.33"  # as the kernel reports it
    assert (mapped.app_keys, mapped.public) == ([app.key], False)
