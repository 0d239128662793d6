"""The CLIs in process (CliRunner), over real stores and the real demo."""

import json

import pytest
from click.testing import CliRunner
from test_collector_server import snapshot

from ronda.agent.cli import cli as agent_cli
from ronda.collector.cli import cli
from ronda.collector.store import Store


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "ronda.db"
    store = Store(path)
    store.ingest(snapshot(agent_id="web01", apps=2))
    store.ingest(snapshot(agent_id="web02", apps=1))
    store.close()
    return str(path)


def test_hosts_in_every_format(db):
    runner = CliRunner()
    table = runner.invoke(cli, ["hosts", "--db", db])
    assert table.exit_code == 0 and "web01" in table.output and "HOSTNAME" in table.output
    as_json = json.loads(runner.invoke(cli, ["hosts", "--db", db, "--format", "json"]).output)
    assert [(h["hostname"], h["apps"]) for h in as_json] == [("web01", 2), ("web02", 1)]
    csv = runner.invoke(cli, ["hosts", "--db", db, "--format", "csv"]).output.splitlines()
    assert csv[0].startswith("\ufeffagent_id,hostname") and len(csv) == 3  # a BOM, for spreadsheets


def test_apps_in_every_format(db):
    runner = CliRunner()
    as_json = json.loads(runner.invoke(cli, ["apps", "--db", db, "--format", "json"]).output)
    assert sorted((a["hostname"], a["app_key"]) for a in as_json) == [
        ("web01", "nginx:site0.test:80/"),
        ("web01", "nginx:site1.test:80/"),
        ("web02", "nginx:site0.test:80/"),
    ]
    assert as_json[0]["server_names"] == ["site0.test"]
    csv = runner.invoke(cli, ["apps", "--db", db, "--format", "csv"]).output.splitlines()
    assert len(csv) == 4 and "app_key" in csv[0]
    table = runner.invoke(cli, ["apps", "--db", db]).output
    assert "nginx:site1.test:80/" in table


def test_db_defaults_to_ronda_db_env(db, monkeypatch):
    monkeypatch.setenv("RONDA_DB", db)
    result = CliRunner().invoke(cli, ["hosts", "--format", "json"])
    assert len(json.loads(result.output)) == 2


def test_empty_store_says_what_to_do(tmp_path):
    Store(tmp_path / "new.db").close()
    result = CliRunner().invoke(cli, ["hosts", "--db", str(tmp_path / "new.db")])
    assert result.exit_code == 0 and "ronda-agent run" in result.output


def test_serve_refuses_plain_text_off_loopback(tmp_path):
    result = CliRunner().invoke(
        cli, ["serve", "--db", str(tmp_path / "x.db"), "--listen", "0.0.0.0:0", "--insecure"]
    )
    assert result.exit_code != 0 and "only allowed on loopback" in result.output


def test_serve_without_tls_files_explains(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--db", str(tmp_path / "x.db"), "--listen", "127.0.0.1:0"])
    assert result.exit_code != 0 and "--cert and --key" in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["--collector", "192.0.2.10:7470", "--insecure"], "only allowed on loopback"),
        (["--collector", "127.0.0.1:7470"], "needs --ca"),
        (["--collector", "127.0.0.1:99999", "--insecure"], "bad port"),
        ([], "no collector address"),
    ],
)
def test_agent_run_refuses_unsafe_or_incomplete_setups(tmp_path, args, message):
    result = CliRunner().invoke(agent_cli, ["run", "--once", "--state-dir", str(tmp_path / "s"), *args])
    assert result.exit_code != 0 and message in result.output


@pytest.mark.parametrize(
    "content,message",
    [
        ("collector = 7470\n", "agent.toml:1: collector must be a string, not a whole number"),
        ("colector = 'x:1'\n", "unknown setting(s) colector"),
        ("interval_seconds = 1\n", "at least 10"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_agent_config_errors_are_clear(tmp_path, content, message):
    config = tmp_path / "agent.toml"
    config.write_text(content)
    result = CliRunner().invoke(agent_cli, ["run", "--once", "--config", str(config)])
    assert result.exit_code != 0 and message in result.output


@pytest.mark.servers
def test_agent_unreachable_collector_is_a_clear_error(tmp_path):
    from servers import free_port

    result = CliRunner().invoke(
        agent_cli,
        [
            "run",
            "--once",
            "--insecure",
            "--collector",
            f"127.0.0.1:{free_port()}",
            "--state-dir",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code != 0 and "UNAVAILABLE" in result.output


@pytest.mark.parametrize("flags", [["--format", "json"], ["--json"]])  # --json: the documented alias
def test_agent_scan_json_of_a_fixture_root(flags):
    from ronda.collector.demo import fleet_dir

    result = CliRunner().invoke(agent_cli, ["scan", *flags, "--root", str(fleet_dir() / "web-dinkes")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["host"]["hostname"] == "web-dinkes"
    assert "nginx:dinkes.provinsi.example:80/sipd" in {a["key"] for a in data["apps"]}


@pytest.mark.parametrize("flags", [[], ["--format", "table"]])
def test_agent_scan_table_of_a_fixture_root(flags):
    from ronda.collector.demo import fleet_dir

    result = CliRunner().invoke(agent_cli, ["scan", *flags, "--root", str(fleet_dir() / "app-diskominfo")])
    assert result.exit_code == 0
    assert "ppid.provinsi.example" in result.output and "/srv/arsip/ppid" in result.output


def test_sequence_survives_restarts(tmp_path):
    from ronda.agent.state import AgentState

    state = AgentState.load(tmp_path)
    assert [state.next_sequence(), state.next_sequence()] == [1, 2]
    assert AgentState.load(tmp_path).next_sequence() == 3


@pytest.mark.servers
def test_demo_runs_the_sample_fleet_end_to_end(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--keep", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.count("sent snapshot 1 to 127.0.0.1:") == 3
    for expected in (
        "web-dinkes",
        "app-diskominfo",
        "dinkes.provinsi.example",
        "/sipd",
        "lapor.provinsi.example",
        # nginx in front of Apache's vhosts: the declared webmail, an undeclared console behind it
        "adminer.provinsi.example:8080 on app-diskominfo matches no declared app (served behind APP-009)",
    ):
        assert expected in result.output
    store = Store(tmp_path / "ronda.db")
    assert len(store.hosts()) == 3
    assert len(store.apps()) >= 10


def test_unknown_discovery_source_is_refused_with_the_known_ones():
    result = CliRunner().invoke(agent_cli, ["scan", "--sources", "nginx,iis"])
    assert result.exit_code == 2
    assert "unknown discovery source(s) iis" in result.output and "apache" in result.output


def test_sources_flag_limits_discovery():
    from ronda.collector.demo import fleet_dir

    result = CliRunner().invoke(
        agent_cli, ["scan", "--json", "--sources", "node", "--root", str(fleet_dir() / "app-diskominfo")]
    )
    assert result.exit_code == 0, result.output
    assert {a["kind"] for a in json.loads(result.output)["apps"]} == {"node"}


@pytest.mark.servers
@pytest.mark.parametrize(
    ("module", "program"), [("ronda.collector", "ronda"), ("ronda.agent", "ronda-agent")]
)
def test_python_dash_m_runs_each_program(module, program, tmp_path):
    """Where no console script is on PATH (a virtualenv not activated, a wheel unpacked by hand), the
    programs run as `python -m`: a command does its work, not just import the module."""
    import subprocess
    import sys

    version = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"{program}, version ")
    if module == "ronda.collector":
        db = tmp_path / "ronda.db"
        Store(db).close()
        done = subprocess.run(
            [sys.executable, "-m", module, "reconcile", "--db", str(db)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert Store(db).query("SELECT count(*) AS n FROM reconcile_runs") == [{"n": 1}]
