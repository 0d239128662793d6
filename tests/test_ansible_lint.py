"""deploy/ansible passes ansible-lint's production profile and a syntax check, its example
inventory parses, and every role variable is prefixed, documented and validated."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from ansible_fleet import ANSIBLE_DIR, BIN, ansible_env, run_playbook

ROLES = sorted(p.name for p in (ANSIBLE_DIR / "roles").iterdir())
EXAMPLE = ANSIBLE_DIR / "inventory" / "example"


@pytest.mark.servers
def test_ansible_lint_passes_the_production_profile(tmp_path):
    result = subprocess.run(
        [str(BIN / "ansible-lint"), "--profile", "production", "--offline", "--nocolor"],
        cwd=ANSIBLE_DIR,
        env=ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


@pytest.mark.parametrize("playbook", ["site.yml", "wheelhouse.yml"])
@pytest.mark.servers
def test_playbooks_pass_syntax_check(playbook, tmp_path):
    result = run_playbook(playbook, EXAMPLE, tmp_path, "--syntax-check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"playbook: {ANSIBLE_DIR / playbook}" in result.stdout


@pytest.mark.servers
def test_example_inventory_has_a_collector_and_agents_that_know_it(tmp_path):
    result = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(EXAMPLE), "--list"],
        cwd=ANSIBLE_DIR,
        env=ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    inventory = json.loads(result.stdout)
    collectors = inventory["ronda_collectors"]["hosts"]
    agents = set(inventory["web_servers"]["hosts"]) | set(collectors)
    assert len(collectors) == 1 and len(agents) > 1
    hostvars = inventory["_meta"]["hostvars"]
    for host in agents:
        assert hostvars[host]["ronda_agent_collector"].startswith(collectors[0].split(".")[0])
        assert hostvars[host]["ronda_version"]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_variable_is_prefixed_and_in_the_argument_spec(role):
    directory = ANSIBLE_DIR / "roles" / role
    defaults = yaml.safe_load((directory / "defaults" / "main.yml").read_text()) or {}
    spec = yaml.safe_load((directory / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    options = spec["options"]
    assert all(name.startswith(f"{role}_") for name in [*defaults, *options])
    assert set(defaults) <= set(options), "defaults without an argument spec"
    for name, option in options.items():
        assert option.get("description"), f"{name} has no description"
        assert option.get("required") or name in defaults, f"{name} is neither required nor defaulted"


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("ronda_agent_io_scheduling_class", "turbo", "ronda_agent_io_scheduling_class"),
        ("ronda_agent_interval_seconds", "often", "ronda_agent_interval_seconds"),
    ],
)
@pytest.mark.servers
def test_argument_specs_refuse_bad_values_before_any_change(variable, value, message, tmp_path):
    playbook = tmp_path / "bad.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Apply the agent role with a bad value",
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "roles": [{"role": "ronda_agent"}],
                    "vars": {
                        "ronda_agent_collector": "127.0.0.1:7470",
                        variable: value,
                        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    },
                }
            ]
        )
    )
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)],
        cwd=ANSIBLE_DIR,
        env=ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "Validating arguments against arg spec" in result.stdout and message in result.stdout
    assert "changed=0" in result.stdout
