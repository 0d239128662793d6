"""Apps that are not web-server vhosts: Node under PM2 or alone, Docker containers, systemd services.

Their processes are real (Node, Python's http.server) and are placed in real
cgroups named as systemd and Docker name theirs, so the host sees their unit
or container as it would on a server. PM2's CLI and the Docker daemon cannot
run here: PM2's `jlist` output and the Docker Engine API's answer are replayed
by stand-ins (a `pm2` script on PATH, a unix-socket HTTP server) in the shapes
those tools print.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from servers import free_port, http_get, stop_process, wait_for_port
from servers_apps import Cgroup, DockerApiFixture, NodeApp

from ronda.agent.discovery import DiscoveryOptions, discover
from ronda.agent.host import LocalHost
from ronda.agent.inspect import inspect_apps
from ronda.agent.listeners import map_listeners

pytestmark = pytest.mark.servers  # real systemd, Docker-shaped and PM2 processes


def _http_server(directory: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process


def test_systemd_service_that_listens(tmp_path: Path) -> None:
    unit = f"ronda-test-{secrets.token_hex(4)}.service"
    site = tmp_path / "srv/laporan"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<h1>Laporan</h1>\n")
    port = free_port()
    cgroup = Cgroup(unit)
    process = _http_server(site, port)
    try:
        cgroup.add(process.pid)
        assert http_get(port)[0] == 200
        host = LocalHost()
        result = discover(host, DiscoveryOptions(nginx_conf=str(tmp_path / "none.conf")))
        inspect_apps(host, result)
        listeners, errors = map_listeners(host, result.apps)
    finally:
        stop_process(process)
        cgroup.remove()
    key = f"systemd:{unit.removesuffix('.service')}:{port}/"
    apps = {a.key: a for a in result.apps}
    app = apps[key]
    assert (app.root, app.labels["unit"]) == (str(site), unit)
    assert [(a.address, a.port) for a in app.listen] == [("127.0.0.1", port)]
    assert app.framework.name == "static"
    assert [(p.pid, p.unit) for p in app.resources.processes] == [(process.pid, unit)]
    [listener] = [lst for lst in listeners if lst.port == port]
    assert (listener.unit, listener.pid, listener.app_keys, listener.public) == (
        unit,
        process.pid,
        [key],
        False,
    )
    assert errors == []


def test_docker_container_with_published_port(tmp_path: Path) -> None:
    container_id = secrets.token_hex(32)
    code = tmp_path / "srv/sipd"
    code.mkdir(parents=True)
    (code / "index.php").write_text("<?php echo 'sipd';\n")
    port = free_port()
    cgroup = Cgroup(f"docker/{container_id}")
    process = _http_server(code, port)
    containers = [
        {
            "Id": container_id,
            "Names": ["/sipd-web-1"],
            "Image": "php:8.2-apache",
            "State": "running",
            "Ports": [
                {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": port, "Type": "tcp"},
                {"PrivatePort": 9000, "Type": "tcp"},
            ],
            "Labels": {
                "com.docker.compose.project": "sipd",
                "com.docker.compose.service": "web",
                "com.docker.compose.project.config_files": "/srv/sipd/compose.yaml",
            },
            "Mounts": [{"Type": "bind", "Source": str(code), "Destination": "/var/www/html"}],
        }
    ]
    try:
        cgroup.add(process.pid)
        with DockerApiFixture(tmp_path / "docker.sock", containers):
            host = LocalHost()
            result = discover(
                host,
                DiscoveryOptions(
                    nginx_conf=str(tmp_path / "none.conf"), docker_socket=str(tmp_path / "docker.sock")
                ),
            )
        inspect_apps(host, result)
        listeners, _ = map_listeners(host, result.apps)
    finally:
        stop_process(process)
        cgroup.remove()
    key = f"docker:sipd-web-1:{port}/"
    app = {a.key: a for a in result.apps}[key]
    assert app.labels == {
        "container": container_id[:12],
        "image": "php:8.2-apache",
        "compose_project": "sipd",
        "compose_service": "web",
        "status": "running",
    }
    assert (app.root, app.config.file, app.framework.name) == (str(code), "/srv/sipd/compose.yaml", "php")
    assert [(p.pid, p.container) for p in app.resources.processes] == [(process.pid, container_id[:12])]
    [listener] = [lst for lst in listeners if lst.port == port]
    assert (listener.container, listener.app_keys) == (container_id[:12], [key])


def test_node_app_under_pm2(tmp_path: Path, monkeypatch) -> None:
    api = tmp_path / "srv/api-perizinan"
    api.mkdir(parents=True)
    (api / "package.json").write_text(
        json.dumps({"name": "api-perizinan", "dependencies": {"fastify": "4.26.2"}})
    )
    port = free_port()
    with NodeApp(api, port).start(env={"API_TOKEN": "never-reported-7f3a"}) as node:
        jlist = [
            {
                "pid": node.process.pid,
                "name": "perizinan",
                "pm_id": 0,
                "monit": {"memory": 1, "cpu": 0},
                "pm2_env": {
                    "pm_cwd": str(api),
                    "status": "online",
                    "exec_mode": "fork_mode",
                    "env": {"PORT": str(port), "API_TOKEN": "never-reported-7f3a"},
                },
            }
        ]
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        pm2 = bin_dir / "pm2"
        pm2.write_text(f'#!/bin/sh\n[ "$1" = jlist ] && cat {tmp_path}/jlist.json\n')
        (tmp_path / "jlist.json").write_text(json.dumps(jlist))
        pm2.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        host = LocalHost()
        result = discover(host, DiscoveryOptions(nginx_conf=str(tmp_path / "none.conf")))
        inspect_apps(host, result)
    key = f"node:perizinan:{port}/"
    app = {a.key: a for a in result.apps}[key]
    assert (app.root, app.labels["manager"], app.labels["status"]) == (str(api), "pm2", "online")
    assert (app.framework.name, app.framework.version) == ("fastify", "4.26.2")
    assert [p.pid for p in app.resources.processes] == [node.process.pid]
    assert not any(a.kind == "node" and a.root == str(api) and a.key != key for a in result.apps)
    assert "never-reported-7f3a" not in repr(result)


def test_node_app_from_a_pm2_dump(tmp_path: Path) -> None:
    """Without the pm2 command (an SSH scan, a --root tree), PM2's saved dump still names the apps."""
    (tmp_path / "home/deploy/.pm2").mkdir(parents=True)
    (tmp_path / "srv/portal-api").mkdir(parents=True)
    (tmp_path / "srv/portal-api/package.json").write_text(
        json.dumps({"name": "portal-api", "dependencies": {"express": "^4.19.2"}})
    )
    (tmp_path / "home/deploy/.pm2/dump.pm2").write_text(
        json.dumps(
            [
                {
                    "name": "portal-api",
                    "pm_cwd": "/srv/portal-api",
                    "status": "online",
                    "env": {"PORT": 4100},
                },
                {"name": "queue-worker", "pm_cwd": "/srv/portal-api", "status": "stopped", "env": {}},
            ]
        )
    )
    host = LocalHost(str(tmp_path))
    result = discover(host)
    inspect_apps(host, result)
    apps = {a.key: a for a in result.apps if a.kind == "node"}
    assert sorted(apps) == ["node:portal-api:4100/", "node:queue-worker:-/"]
    api = apps["node:portal-api:4100/"]
    assert (api.config.file, api.framework.name, api.framework.version) == (
        "/home/deploy/.pm2/dump.pm2",
        "express",
        "4.19.2",
    )
    assert apps["node:queue-worker:-/"].labels["status"] == "stopped"
