"""The guard behind `make test-fast`: a test that starts a process must be marked `servers`.

Each case is a test module as contributors write them (a process started by the test body, by
a fixture, through subprocess or os.system), run by a real pytest in a child process with the
guard plugin loaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.servers  # each case runs pytest in a child process

TESTS_DIR = Path(__file__).parent

UNMARKED_RUN = """
import subprocess

def test_runs_true():
    subprocess.run(["true"], check=True)
"""
MARKED_RUN = """
import subprocess
import pytest

@pytest.mark.servers
def test_runs_true():
    subprocess.run(["true"], check=True)
"""
MODULE_MARKED_RUN = """
import subprocess
import pytest

pytestmark = pytest.mark.servers

def test_runs_true():
    subprocess.run(["true"], check=True)
"""
FIXTURE_STARTS = """
import subprocess
import pytest

@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen(["sleep", "30"])
    yield proc
    proc.kill()
    proc.wait()

def test_uses_the_server(server):
    assert server.poll() is None
"""
OS_SYSTEM = """
import os

def test_shells_out():
    assert os.system("true") == 0
"""
SLOW_IS_NOT_SERVERS = """
import subprocess
import pytest

@pytest.mark.slow
def test_runs_true():
    subprocess.run(["true"], check=True)
"""
SPAWNED_INTERPRETER = """
import multiprocessing

def test_spawns():
    child = multiprocessing.get_context("spawn").Process(target=print)
    child.start()
    child.join()
"""
IN_PROCESS = """
import json

def test_in_process():
    assert json.loads("[1]") == [1]
"""


@pytest.mark.parametrize(
    "module,outcome,named",
    [
        (UNMARKED_RUN, {"failed": 1}, "'true'"),
        (MARKED_RUN, {"passed": 1}, None),
        (MODULE_MARKED_RUN, {"passed": 1}, None),
        (FIXTURE_STARTS, {"errors": 1}, "'sleep', '30'"),
        (OS_SYSTEM, {"failed": 1}, "os.system"),
        (SLOW_IS_NOT_SERVERS, {"failed": 1}, "'true'"),
        (SPAWNED_INTERPRETER, {"failed": 1}, "multiprocessing"),
        (IN_PROCESS, {"passed": 1}, None),
    ],
    ids=["unmarked", "marked", "module-marked", "fixture", "os-system", "slow-only", "spawn", "in-process"],
)
def test_a_process_needs_the_servers_marker(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, module: str, outcome: dict, named: str | None
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(TESTS_DIR))
    pytester.makepyfile(test_case=module)
    result = pytester.runpytest_subprocess("-p", "process_guard", "-p", "no:cacheprovider")
    result.assert_outcomes(**outcome)
    if named is not None:
        result.stdout.fnmatch_lines([f"*started a process*{named}*not marked `servers`*"])
