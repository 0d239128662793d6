"""Least privilege: the agent writes nothing outside its state directory, keeps it private, and the
systemd units under deploy/systemd are valid and grant only the documented capabilities."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from servers import free_port
from trust_fixtures import Collector

from ronda.collector.demo import fleet_dir
from ronda.collector.server import ServerConfig

BIN = Path(sys.executable).parent
UNITS = Path(__file__).parent.parent / "deploy" / "systemd"


def _tree(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*")}


@pytest.mark.servers
def test_the_agent_writes_only_its_state_directory(tmp_path):
    host = tmp_path / "host"
    shutil.copytree(fleet_dir() / "web-dinkes", host, symlinks=True)
    home, tmp, cwd, state = (tmp_path / d for d in ("home", "tmp", "cwd", "state"))
    for d in (home, tmp, cwd):
        d.mkdir()
    before = _tree(host)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "XDG_STATE_HOME": str(home / "x"),
        "XDG_CACHE_HOME": str(home / "c"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    port = free_port()
    for collector_up in (False, True):  # unreachable (spools), then reachable (sends the spool)
        collector = (
            Collector(tmp_path / "r.db", ServerConfig(listen=f"127.0.0.1:{port}", insecure=True))
            if collector_up
            else None
        )
        try:
            subprocess.run(
                [
                    BIN / "ronda-agent",
                    "run",
                    "--once",
                    "--insecure",
                    "--collector",
                    f"127.0.0.1:{port}",
                    "--root",
                    host,
                    "--state-dir",
                    state,
                ],
                cwd=cwd,
                env=env,
                capture_output=True,
                timeout=60,
            )
        finally:
            if collector:
                assert collector.count("snapshots") == 2
                collector.stop()
    assert _tree(host) == before  # the host it read is untouched
    for d in (home, tmp, cwd):
        assert list(d.iterdir()) == [], d
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for path in state.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path  # nothing readable by others


def _verify(unit: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    fake = tmp_path / "opt" / "bin"
    fake.mkdir(parents=True, exist_ok=True)
    for name in ("ronda", "ronda-agent"):
        (fake / name).symlink_to(BIN / name) if not (fake / name).exists() else None
    text = unit.read_text().replace("/opt/ronda/bin/", f"{fake}/")
    copy = tmp_path / unit.name
    copy.write_text(text)
    return subprocess.run(["systemd-analyze", "verify", copy], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("unit", sorted(UNITS.glob("*.service")), ids=lambda p: p.name)
@pytest.mark.servers
def test_systemd_units_are_valid(tmp_path, unit):
    result = _verify(unit, tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_agent_unit_grants_only_the_documented_capabilities():
    text = (UNITS / "ronda-agent.service").read_text()
    lines = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert lines["User"] == "ronda-agent"
    assert set(lines["CapabilityBoundingSet"].split()) == {"CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"}
    assert lines["AmbientCapabilities"] == lines["CapabilityBoundingSet"]
    assert lines["ProtectSystem"] == "strict" and lines["ReadWritePaths"] == "/var/lib/ronda-agent"
    assert lines["NoNewPrivileges"] == "true"
    readme = (UNITS / "README.md").read_text()
    for capability in lines["CapabilityBoundingSet"].split():
        assert capability in readme
