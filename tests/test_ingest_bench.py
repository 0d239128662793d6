"""The ingest benchmark script runs (small: the real run is `.venv/bin/python -m bench.ingest`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.servers  # ronda serve and a bare grpcio server


def bench(*args: str) -> str:
    """What `python -m bench.ingest ARGS` prints, on a small fleet of 5-app hosts with 5 days of usage."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest", "--apps", "5", "--days", "5", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return done.stdout


def test_benchmark_script_runs_both_workloads_and_counts_bytes_on_the_wire():
    out = bench(
        "--agents",
        "2",
        "--seconds",
        "1",
        "--client-processes",
        "1",
        "--server-processes",
        "1",
        "--wire-apps",
        "5",
    )
    assert "steady: 2 agents" in out and "first-contact: 2 agents" in out
    assert out.count("bare grpcio (ack only)") == 2 and out.count("ronda / bare = ") == 2
    assert "  5 apps   changed days, gzip" in out and " MB" in out


def test_benchmark_script_times_the_store_in_process():
    out = bench("--in-process", "--agents", "3", "--in-process-rounds", "3")
    for case in ("steady, one connection", "two connections writing in turns", "whole windows", "very first"):
        assert case in out, out
    assert "bare grpcio" not in out
