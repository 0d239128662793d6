"""A small fleet on loopback addresses for the scan tests: each "host" is its own 127.x.y.z address.

    host A  127.x.y.2  nginx (app-a) and a stray nginx on a second port; reports with ronda-agent
    host B  127.x.y.3  nginx (app-b) and sshd; scanned over SSH
    host C  127.x.y.4  nginx (app-c) only
The block 127.x.y.0/29 is drawn at random so parallel runs do not meet, and
it is the only scope the collector config allows.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from servers import Nginx, free_port, wait_for_port
from servers_ssh import Sshd

BIN = Path(sys.executable).parent


def ronda(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ronda"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or os.environ.copy(),
    )


def ronda_agent(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ronda-agent"), *args], capture_output=True, text=True, timeout=timeout)


def random_block() -> str:
    rng = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "big"))
    return f"127.{rng.randint(100, 250)}.{rng.randint(0, 255)}.{rng.choice(range(0, 256, 8))}"


def web_host(
    tmp: Path, name: str, address: str, port: int, title: str, extra_files: dict[str, str] | None = None
) -> Nginx:
    """nginx serving one vhost on address:port with an index page titled `title`."""
    www = tmp / name / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "index.html").write_text(f"<html><head><title>{title}</title></head><body>{name}</body></html>")
    for rel, text in (extra_files or {}).items():
        (www / rel).parent.mkdir(parents=True, exist_ok=True)
        (www / rel).write_text(text)
    body = f"""
    server {{
        listen {address}:{port};
        server_name {name}.test;
        root {www};
        access_log {tmp / name}/access.log combined;
    }}"""
    nginx = Nginx.write(tmp / name / "nginx", body)
    nginx.start()
    wait_for_port(port, address)
    return nginx


@dataclass
class Fleet:
    tmp: Path
    block: str
    web_port: int
    stray_port: int
    collector_port: int = 0
    servers: list = field(default_factory=list)
    sshd: Sshd | None = None
    serve: subprocess.Popen | None = None

    def address(self, last: int) -> str:
        a, b, c, d = self.block.split(".")
        return f"{a}.{b}.{c}.{int(d) + last}"

    @property
    def a(self) -> str:
        return self.address(2)

    @property
    def b(self) -> str:
        return self.address(3)

    @property
    def c(self) -> str:
        return self.address(4)

    @property
    def scope(self) -> str:
        return f"{self.block}/29"

    @property
    def db(self) -> Path:
        return self.tmp / "ronda.db"

    @property
    def config(self) -> Path:
        return self.tmp / "collector.toml"

    def nginx_conf(self, name: str) -> str:
        return str(self.tmp / name / "nginx" / "nginx.conf")

    def write_config(self, **ssh_overrides: str) -> Path:
        assert self.sshd is not None
        ssh = {
            "user": "root",
            "key": str(self.sshd.client_key),
            "known_hosts": str(self.sshd.known_hosts),
            "connect_timeout_seconds": 5,
            "command_timeout_seconds": 30,
            **ssh_overrides,
        }
        lines = [
            "[network]",
            f'scopes = ["{self.scope}"]',
            f'ports = "{self.web_port},{self.stray_port}"',
            "timing = 3",
            "host_timeout_seconds = 60",
            "",
            "[ssh]",
        ]
        lines += [f"{k} = {v!r}" if isinstance(v, (int, float)) else f'{k} = "{v}"' for k, v in ssh.items()]
        lines += [
            "",
            "[[ssh.hosts]]",
            'name = "host-b"',
            f'address = "{self.b}"',
            f"port = {self.sshd.port}",
            f'nginx_conf = "{self.nginx_conf("app-b")}"',
        ]
        self.config.write_text("\n".join(lines) + "\n")
        return self.config

    def start(self) -> Fleet:
        self.servers.append(web_host(self.tmp, "app-a", self.a, self.web_port, "Aplikasi A"))
        self.servers.append(web_host(self.tmp, "stray", self.a, self.stray_port, "Stray on A"))
        self.servers.append(
            web_host(
                self.tmp,
                "app-b",
                self.b,
                self.web_port,
                "Aplikasi B",
                {
                    "composer.json": '{"name": "dinkes/sikda", "require": {"php": ">=7.4"}}',
                },
            )
        )
        self.servers.append(web_host(self.tmp, "app-c", self.c, self.web_port, "Aplikasi C"))
        self.sshd = Sshd.write(self.tmp / "sshd", self.b, free_port()).start()
        self.write_config()
        self.collector_port = free_port()
        with open(self.tmp / "serve.log", "w") as log:  # the child keeps its own descriptor
            self.serve = subprocess.Popen(
                [
                    str(BIN / "ronda"),
                    "serve",
                    "--db",
                    str(self.db),
                    "--insecure",
                    "--listen",
                    f"127.0.0.1:{self.collector_port}",
                ],
                stdout=log,
                stderr=log,
            )
        wait_for_port(self.collector_port)
        return self

    def stop(self) -> None:
        if self.serve and self.serve.poll() is None:
            self.serve.terminate()
            try:
                self.serve.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.serve.kill()
        if self.sshd:
            self.sshd.stop()
        for server in self.servers:
            server.stop()

    def agent_report(self) -> subprocess.CompletedProcess:
        return ronda_agent(
            "run",
            "--once",
            "--collector",
            f"127.0.0.1:{self.collector_port}",
            "--insecure",
            "--nginx-conf",
            self.nginx_conf("app-a"),
            "--state-dir",
            str(self.tmp / "agent-a"),
            "--agent-id",
            "host-a",
        )


def new_fleet(tmp: Path) -> Fleet:
    # The stray app listens where Node and Grafana apps do: port 3000, which nmap's port table
    # calls "ppp", so a sweep without version detection names it wrongly. Host A's own address
    # is the fleet's alone.
    return Fleet(tmp=tmp, block=random_block(), web_port=free_port(), stray_port=3000)
