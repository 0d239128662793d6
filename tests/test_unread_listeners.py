"""`ronda-agent scan` lists the processes that listen but serve no app ronda found, so a web server
ronda cannot read is never invisible."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from servers import free_port, stop_process, wait_for_port

from ronda.agent.cli import cli
from ronda.agent.render import unread_listeners
from ronda.model import Listener


def section(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "listen but serve no app ronda found" in line)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start + 1 : end]


@pytest.mark.servers
def test_a_web_server_ronda_cannot_read_is_listed_with_its_process_and_port():
    """Python's http.server stands for any server ronda has no source for (a Go binary, Jetty...)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        result = CliRunner().invoke(cli, ["scan", "--sources", "lighttpd"])
    finally:
        stop_process(server)
    assert result.exit_code == 0, result.output
    rows = section(result.output)
    assert rows[0].split()[:2] == ["PROCESS", "PID"]
    ours = [row for row in rows if f" {server.pid} " in row]
    assert len(ours) == 1 and f"127.0.0.1:{port}" in ours[0] and ours[0].split()[0].startswith("python")
    assert ours[0].rstrip().endswith("no")  # loopback only


def test_sockets_of_a_server_that_serves_apps_are_its_own():
    listeners = [
        Listener("tcp", "0.0.0.0", 80, 10, "nginx", "root", app_keys=["nginx:portal:80/"], public=True),
        Listener("tcp", "127.0.0.1", 8080, 10, "nginx", "root"),  # its status page: nginx's, not unknown
        Listener("tcp", "0.0.0.0", 9200, 20, "java", "elastic", unit="elasticsearch.service", public=True),
        Listener("tcp6", "::", 9200, 20, "java", "elastic", unit="elasticsearch.service", public=True),
        Listener("tcp", "127.0.0.1", 6379, 30, "redis-server", "redis"),
        Listener("tcp", "0.0.0.0", 5000, 0, "", "", public=True),  # another user's process, pid unknown
    ]
    assert unread_listeners(listeners) == [
        ["?", "?", "", "", "0.0.0.0:5000", "yes"],
        ["java", "20", "elastic", "elasticsearch.service", "0.0.0.0:9200,[::]:9200", "yes"],
        ["redis-server", "30", "redis", "", "127.0.0.1:6379", "no"],
    ]
