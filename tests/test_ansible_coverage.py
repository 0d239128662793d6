"""How the ronda_coverage role decides, for one host, between an agent and agentless SSH scans: run in
check mode on this machine (nothing is written), with the interpreter the role is pointed at standing
for each distribution's default Python (simulated by `old_python`, this machine's Python answering
as an older one would), and `ronda_mode` set as an inventory would set it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ansible_fleet import ANSIBLE_DIR, old_python, run_playbook

pytestmark = pytest.mark.servers  # ansible-playbook


def decide(tmp_path: Path, python: str, mode: str | None = None) -> tuple[int, str]:
    variables = {
        "ronda_agent_python": python,
        "ronda_certs_dir": str(tmp_path / "pki"),
        "ronda_coverage_collector_addresses": ["127.0.0.1"],
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    }
    if mode:
        variables["ronda_mode"] = mode
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {"web": {"ansible_connection": "local", **variables}},
                    "children": {"ronda_agents": {"hosts": {"web": {}}}},
                }
            }
        )
    )
    playbook = tmp_path / "coverage.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "name": "Decide",
                    "hosts": "ronda_agents",
                    "gather_facts": False,
                    "roles": [{"role": "ronda_coverage"}],
                }
            ]
        )
    )
    run = run_playbook(str(playbook), inventory, tmp_path / "home", "--check", timeout=180)
    return run.returncode, run.stdout + run.stderr


@pytest.mark.parametrize(
    "distribution, version, covered",
    [
        ("CentOS 7's python (2.7)", (2, 7), "agentless"),
        ("RHEL 8's platform-python (3.6)", (3, 6), "agentless"),
        ("Debian 10 (3.7)", (3, 7), "agentless"),
        ("Ubuntu 20.04 (3.8)", (3, 8), "agentless"),
        ("RHEL 9 and Debian 11 (3.9)", (3, 9), "agentless"),
        ("Ubuntu 22.04 (3.10)", (3, 10), "agentless"),
        ("Debian 12 (3.11)", (3, 11), "agent"),
        ("Ubuntu 24.04 (3.12)", (3, 12), "agent"),
        ("Debian 13 (3.13)", (3, 13), "agent"),
    ],
)
def test_the_default_python_of_each_distribution_decides(tmp_path, distribution, version, covered):
    python = old_python(tmp_path / "usr/bin/python3", version)
    code, out = decide(tmp_path, str(python))
    assert code == 0, out
    found = f"Python {version[0]}.{version[1]} at {python}"
    expected = "web: an agent" if covered == "agent" else "web: agentless: the collector scans it over SSH"
    assert f"{expected} ({found}" in out, distribution
    assert not (tmp_path / "pki").exists(), "check mode wrote on the controller"


def test_a_host_without_that_python_is_agentless(tmp_path):
    code, out = decide(tmp_path, "/usr/bin/python3.11-absent")
    assert code == 0, out
    assert "web: agentless: the collector scans it over SSH (no Python at /usr/bin/python3.11-absent" in out


def test_policy_makes_a_host_agentless_whatever_its_python(tmp_path):
    code, out = decide(tmp_path, "/usr/bin/python3", mode="agentless")
    assert code == 0, out
    assert "web: agentless: the collector scans it over SSH (ronda_mode is agentless)" in out


@pytest.mark.parametrize(
    "mode, message",
    [
        ("agent", "ronda_mode is agent but the agent needs Python 3.11 or newer (Python 3.6 at"),
        ("sometimes", "ronda_mode is sometimes: use auto, agent or agentless"),
    ],
)
def test_an_impossible_mode_fails_before_any_change(tmp_path, mode, message):
    code, out = decide(tmp_path, str(old_python(tmp_path / "python3", (3, 6))), mode=mode)
    assert code != 0
    assert message in " ".join(out.split())
    assert "changed=0" in out


def test_the_role_runs_only_raw_on_the_host():
    """The agentless path must work where Ansible's modules cannot run (Python 2.7 or 3.6 only): on the
    host it runs `raw`; everything else runs on the controller."""
    on_controller = {"assert", "debug", "set_fact", "group_by", "include_tasks"}
    for path in (ANSIBLE_DIR / "roles/ronda_coverage/tasks").glob("*.yml"):
        for task in yaml.safe_load(path.read_text()):
            if task.get("delegate_to") == "localhost":
                continue
            modules = {
                key.removeprefix("ansible.builtin.") for key in task if key.startswith("ansible.builtin.")
            }
            assert modules <= on_controller | {"raw"}, (path.name, task["name"])
