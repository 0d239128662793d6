"""What every test module shares: the helpers' import path and the `servers` marker's guard."""

import sys
from pathlib import Path

import pytest

# tests import their helpers (tests/servers.py) as a package-less module path
sys.path.insert(0, str(Path(__file__).parent))

# decide_fleet: the demo fleet's store; naming_fleet: two servers, for naming apps and decisions
pytest_plugins = ["process_guard", "pytester", "decide_fleet", "naming_fleet"]

# The wheelhouse of this checkout, built once in each test worker for every Ansible converge in it.
from ansible_fleet import wheelhouse  # noqa: E402, F401

from ronda.collector.store import Store  # noqa: E402


@pytest.fixture
def store(tmp_path):
    """An empty store in a real SQLite file."""
    s = Store(tmp_path / "ronda.db")
    yield s
    s.close()
