"""Bad input on the host: each problem is an error entry (or a truncated flag);
the rest of the result stays, and it is fast."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from servers_apps import DockerApiFixture

from ronda.agent.discovery import DiscoveryOptions, SourceResult, discover
from ronda.agent.host import LocalHost
from ronda.agent.inspect import InspectOptions, inspect_apps
from ronda.model import App


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _inspect(root: Path, apps: list[App], options: InspectOptions | None = None) -> SourceResult:
    result = SourceResult(apps=apps)
    for i, app in enumerate(apps):
        app.key = app.key or f"nginx:app{i}.test:80/"
    inspect_apps(LocalHost(str(root)), result, options)
    return result


def _errors(result: SourceResult) -> dict[str, str]:
    return {e.path: f"{e.source}: {e.message}" for e in result.errors}


def test_sparse_10gb_file_counts_its_blocks_and_costs_nothing(tmp_path: Path) -> None:
    _write(tmp_path, "/var/www/arsip/index.php", "<?php echo 1;\n")
    big = tmp_path / "var/www/arsip/backup.sql"
    with open(big, "wb"):
        pass
    os.truncate(big, 10 * 1024**3)
    started = time.monotonic()
    result = _inspect(tmp_path, [App(kind="nginx", server_names=["arsip.test"], root="/var/www/arsip")])
    assert time.monotonic() - started < 3
    res = result.apps[0].resources
    assert res.file_count == 2 and res.disk_bytes < 1024 * 1024 and not res.disk_walk_truncated
    assert result.apps[0].framework.name == "php"
    assert result.errors == []


def test_symlink_loops_neither_hang_nor_count_twice(tmp_path: Path) -> None:
    root = tmp_path / "var/www/portal"
    _write(tmp_path, "/var/www/portal/index.html", "<h1>portal</h1>\n")
    (root / "loop").symlink_to(".")  # a directory that contains itself
    (root / "a").symlink_to("b")  # a -> b -> a
    (root / "b").symlink_to("a")
    (root / "wp-includes").mkdir()
    (root / "wp-includes/version.php").symlink_to("version.php")  # the version file loops on itself
    (root / "deep").mkdir()
    (root / "deep/up").symlink_to("../..")
    started = time.monotonic()
    result = _inspect(tmp_path, [App(kind="nginx", server_names=["portal.test"], root="/var/www/portal")])
    assert time.monotonic() - started < 3
    app = result.apps[0]
    assert app.framework.name == "static"
    assert app.resources.file_count == 1 and not app.resources.disk_walk_truncated
    assert "symbolic links" in _errors(result)["/var/www/portal/wp-includes/version.php"]


def test_wrong_kinds_of_file_at_known_paths(tmp_path: Path) -> None:
    """A directory where the version file should be, a FIFO as a config (reading it would block forever)."""
    _write(tmp_path, "/var/www/wp/index.php", "<?php\n")
    (tmp_path / "var/www/wp/wp-includes/version.php").mkdir(parents=True)
    _write(tmp_path, "/var/www/blog/wp-includes/version.php", "<?php\n$wp_version = '6.4.2';\n")
    os.mkfifo(tmp_path / "var/www/blog/wp-config.php")
    started = time.monotonic()
    result = _inspect(
        tmp_path,
        [
            App(kind="nginx", server_names=["wp.test"], root="/var/www/wp"),
            App(kind="nginx", server_names=["blog.test"], root="/var/www/blog"),
        ],
    )
    assert time.monotonic() - started < 3
    errors = _errors(result)
    assert errors["/var/www/wp/wp-includes/version.php"] == "fingerprint: not a regular file"
    assert errors["/var/www/blog/wp-config.php"] == "database: not a regular file"
    assert result.apps[0].framework.name == "php"
    assert (result.apps[1].framework.name, result.apps[1].framework.version) == ("wordpress", "6.4.2")
    assert result.apps[1].resources.file_count == 1  # the FIFO is not a file to count


def test_walk_stops_at_its_file_limit(tmp_path: Path) -> None:
    for i in range(60):
        _write(tmp_path, f"/srv/static/d{i % 6}/page{i}.html", "x" * 10)
    result = _inspect(
        tmp_path,
        [App(kind="nginx", server_names=["s.test"], root="/srv/static")],
        InspectOptions(max_files=25),
    )
    res = result.apps[0].resources
    assert res.disk_walk_truncated and res.file_count == 25 and res.disk_bytes == 250


def test_missing_root_and_bad_certificates(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "/etc/ssl/garbage.pem",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    )
    _write(tmp_path, "/srv/ok/index.html", "ok\n")
    from ronda.model import TlsCertificate

    apps = [
        App(kind="nginx", server_names=["gone.test"], root="/srv/gone"),
        App(
            kind="nginx",
            server_names=["bad.test"],
            root="/srv/ok",
            tls=TlsCertificate(file="/etc/ssl/garbage.pem"),
        ),
        App(
            kind="nginx",
            server_names=["nocert.test"],
            root="/srv/ok",
            tls=TlsCertificate(file="/etc/ssl/none.pem"),
        ),
    ]
    result = _inspect(tmp_path, apps)
    errors = _errors(result)
    assert errors["/srv/gone"] == "disk: No such file or directory"
    assert (
        errors["/etc/ssl/garbage.pem"] == "tls: /etc/ssl/garbage.pem: the PEM certificate could not be parsed"
    )
    assert errors["/etc/ssl/none.pem"].startswith("tls: /etc/ssl/none.pem: No such file")
    assert result.apps[1].resources.file_count == 1 and result.apps[1].framework.name == "static"


@pytest.mark.servers
def test_unreadable_files_for_an_unprivileged_agent() -> None:
    """An agent running as `nobody` meets files it may not read: errors, and the rest of the result."""
    root = Path(tempfile.mkdtemp(prefix="ronda-unreadable-"))
    try:
        root.chmod(0o755)
        _write(root, "/var/www/wp/wp-includes/version.php", "<?php\n$wp_version = '6.4.2';\n")
        _write(root, "/var/www/wp/index.php", "<?php\n")
        _write(root, "/var/www/wp/wp-config.php", "<?php\ndefine('DB_NAME', 'x');\n").chmod(0o000)
        _write(root, "/var/www/joomla/libraries/src/Version.php", "<?php // Joomla\n").chmod(0o000)
        _write(root, "/var/www/joomla/index.php", "<?php\n")
        (root / "var/www/joomla/private").mkdir(mode=0o700)
        _write(root, "/var/www/joomla/private/secret.php", "<?php\n")
        for d in root.rglob("*"):
            if d.is_dir() and d.name != "private":
                d.chmod(0o755)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child drops to nobody and inspects
            try:
                os.close(read)
                os.setgid(65534)
                os.setuid(65534)
                result = _inspect(
                    root,
                    [
                        App(kind="nginx", server_names=["wp.test"], root="/var/www/wp"),
                        App(kind="nginx", server_names=["jo.test"], root="/var/www/joomla"),
                    ],
                )
                out = {
                    "errors": _errors(result),
                    "frameworks": [(a.framework.name, a.framework.version) for a in result.apps],
                    "files": [a.resources.file_count for a in result.apps],
                }
                os.write(write, json.dumps(out).encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            data = pipe.read()
        os.waitpid(pid, 0)
        out = json.loads(data)
        assert out["frameworks"] == [["wordpress", "6.4.2"], ["php", ""]]
        assert out["errors"]["/var/www/wp/wp-config.php"] == "database: Permission denied"
        assert out["errors"]["/var/www/joomla/libraries/src/Version.php"] == "fingerprint: Permission denied"
        assert out["errors"]["/var/www/joomla/private"] == "disk: Permission denied"
        assert out["files"] == [3, 2]
    finally:
        shutil.rmtree(root)


@pytest.mark.parametrize("dump", ["{not json", json.dumps({"name": "not a list"})])
def test_broken_pm2_dump(tmp_path: Path, dump: str) -> None:
    _write(tmp_path, "/root/.pm2/dump.pm2", dump)
    _write(
        tmp_path,
        "/home/deploy/.pm2/dump.pm2",
        json.dumps([{"name": "ok-app", "pm_cwd": "/srv/ok", "env": {"PORT": "3001"}}]),
    )
    result = discover(LocalHost(str(tmp_path)), DiscoveryOptions())
    assert [e.path for e in result.errors if e.source == "node"] == ["/root/.pm2/dump.pm2"]
    assert [a.key for a in result.apps if a.kind == "node"] == ["node:ok-app:3001/"]


def test_docker_socket_with_a_bad_answer(tmp_path: Path) -> None:
    with DockerApiFixture(
        tmp_path / "var/run/docker.sock",
        [
            {"Id": 5, "Ports": "nonsense"},
            "x",
            {
                "Id": "ab" * 32,
                "Names": ["/ok"],
                "Image": "httpd",
                "Ports": [{"PublicPort": 8081, "Type": "tcp"}],
            },
        ],
    ):
        result = discover(LocalHost(str(tmp_path)), DiscoveryOptions())
    assert [a.key for a in result.apps if a.kind == "docker"] == ["docker:ok:8081/"]
    (tmp_path / "var/run/docker.sock").unlink()
    (tmp_path / "var/run/docker.sock").write_text("a file, not a socket")
    result = discover(LocalHost(str(tmp_path)), DiscoveryOptions())
    assert [e.source for e in result.errors] == ["docker"] and "cannot list containers" in result.errors[
        0
    ].message
