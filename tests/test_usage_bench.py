"""The log benchmark script runs (on a small log: the real run is `.venv/bin/python bench/logs.py`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers  # runs bench/logs.py and its child processes

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_script_runs_on_a_small_log(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "logs.py"), "--lines", "3000", "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = done.stdout
    assert "3,000 lines" in out and "goaccess" in out and "wc -l" in out
    assert "ronda: 3,000 lines parsed" in out and "errors: []" in out and "parse only" in out
    assert "rescan of the unchanged log: 0 bytes of log read, 0 lines parsed" in out
    assert (tmp_path / "access.log").read_bytes().count(b"\n") == 3000
