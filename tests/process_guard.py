"""A pytest plugin: a test that starts a process must be marked `servers`.

`make test-fast` leaves out the tests marked `servers` (they start a process: a web server,
sshd, nmap, Ansible, Chromium, ronda's own commands...) or `slow` (in-process but long). A
test that starts a process without `servers` fails, naming the command, so that a new one
cannot slip into the fast run unnoticed: mark its module (`pytestmark = pytest.mark.servers`)
or the test itself. tests/conftest.py loads this plugin.
"""

from __future__ import annotations

import multiprocessing.process
import sys
from collections.abc import Generator
from typing import Any

import pytest

# Audit events (PEP 578) that start a process, whichever API a test or fixture goes through.
_PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.system", "os.exec"}
)
_watching: list[bool] = [False]  # True while a test without the marker runs
_started: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event in _PROCESS_EVENTS and _watching[0]:
        what = args[1] if event == "subprocess.Popen" else args  # Popen: (executable, args, cwd, env)
        _started.append(f"{event} {str(what)[:200]}")


sys.addaudithook(_audit)

# multiprocessing's spawn and forkserver start methods raise no audit event: its one way in is watched.
_process_start = multiprocessing.process.BaseProcess.start


def _watched_start(self: multiprocessing.process.BaseProcess) -> Any:
    _audit("subprocess.Popen", (None, f"multiprocessing {self.name}"))
    return _process_start(self)


multiprocessing.process.BaseProcess.start = _watched_start  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _guard(item, "its setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _guard(item, "it"))


# Not the teardown: the last test of a module also tears down the module's fixtures, which a
# marked test may have set up (stopping a server may well run a command).


def _guard(item: pytest.Item, phase: str) -> Generator[None, None, None]:
    if item.get_closest_marker("servers") is not None:
        return (yield)
    _started.clear()
    _watching[0] = True
    try:
        result = yield
    finally:
        _watching[0] = False
    if _started:
        pytest.fail(
            f"{item.nodeid}: {phase} started a process ({_started[0]}) but the test is not marked "
            "`servers`: mark it (or its module: pytestmark = pytest.mark.servers) so that "
            "`make test-fast` leaves it out",
            pytrace=False,
        )
    return result
