"""An error ends a command with one line on stderr and its exit code, never a traceback (unless asked).

Exit codes (ronda.errors): 1 failed, retry later; 2 refused, fix the config,
option or input. Each case stands for a mistake or a failure operators meet:
a misspelt setting, a spreadsheet with bad rows, a path that is not a
directory, a damaged or full disk, a collector that does not answer.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from reconcile_fleet import FLEET, INVENTORY, snapshot
from servers import free_port

from ronda.agent.cli import cli as agent_cli
from ronda.collector.cli import cli
from ronda.collector.store import Store
from ronda.errors import operational_message

BIN = Path(sys.executable).parent
AGENT_TOML_TYPO = 'colector = "collector.example.go.id:7470"\ninterval_seconds = 900\n'  # one letter short
RECONCILE_TOML_TYPO = "idel_days = 60\ntrend_days = 30\n"
INVENTORY_BAD_ROW = (
    INVENTORY + "APP-4,Presensi,BKD,,presensi.prov.example,hidup,specific,\n"
)  # unknown status


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A working directory with a store, config files, and `a-file`: a regular file where a directory
    is expected (what a typo in a path, or a mount that did not come up, looks like)."""
    store = Store(tmp_path / "ronda.db")
    store.ingest(snapshot(1, FLEET))
    store.close()
    (tmp_path / "a-file").write_text("")
    (tmp_path / "agent.toml").write_text(AGENT_TOML_TYPO)
    (tmp_path / "reconcile.toml").write_text(RECONCILE_TOML_TYPO)
    (tmp_path / "empty.toml").write_text("")
    (tmp_path / "katalog.csv").write_text(INVENTORY_BAD_ROW)
    (tmp_path / "not-a-database.db").write_text("SQLite? no: an HTML error page saved by mistake\n" * 50)
    return tmp_path


# (program, arguments, exit code, what the line says); {dir} is the site, {db} its store
CASES = [
    # config: a setting ronda refuses (2)
    (
        "ronda",
        ["reconcile", "--config", "{dir}/reconcile.toml"],
        2,
        "reconcile.toml:1: unknown setting(s) idel_days",
    ),
    (
        "ronda-agent",
        ["run", "--once", "--config", "{dir}/agent.toml"],
        2,
        "agent.toml:1: unknown setting(s) colector",
    ),
    (
        "ronda-agent",
        ["run", "--once", "--collector", "192.0.2.10:7470", "--insecure"],
        2,
        "only allowed on loopback",
    ),
    ("ronda", ["scan", "ssh", "--config", "{dir}/empty.toml"], 2, "no SSH hosts to scan"),
    ("ronda", ["scan", "network", "--config", "{dir}/empty.toml"], 2, "no network scopes are configured"),
    ("ronda", ["ca", "issue-agent", "web01", "--dir", "{dir}/no-ca"], 2, "no CA in"),
    # input: data ronda refuses (2)
    (
        "ronda",
        ["inventory", "import", "{dir}/katalog.csv"],
        2,
        "1 problem(s) in {dir}/katalog.csv; nothing was imported",
    ),
    ("ronda", ["inventory", "import", "{dir}/katalog.xlsx"], 2, "cannot read {dir}/katalog.xlsx"),
    ("ronda", ["explain", "APP-404"], 2, "no app 'APP-404'"),
    (
        "ronda",
        ["inventory", "link", "APP-404", "web1/nginx:portal.prov.example:80/"],
        2,
        "not a declared app id",
    ),
    ("ronda", ["agents", "approve", "web 01"], 2, "'web 01' is not a valid agent id"),
    ("ronda", ["decide", "APP-404", "keep", "--reason", "x", "--by", "y"], 2, "no app 'APP-404'"),
    # store: the database cannot be used (1)
    (
        "ronda",
        ["serve", "--insecure", "--listen", "127.0.0.1:0", "--db", "{dir}/a-file/ronda.db"],
        1,
        "cannot create the directory of {dir}/a-file/ronda.db",
    ),
    ("ronda", ["hosts", "--db", "{dir}/a-file/ronda.db"], 2, "no ronda database at {dir}/a-file/ronda.db"),
    ("ronda", ["apps", "--db", "{dir}/not-a-database.db"], 1, "file is not a database"),
    # output: a file that cannot be written (1)
    (
        "ronda",
        ["report", "--html", "{dir}/a-file/report.html"],
        1,
        "cannot write {dir}/a-file/report.html: Not a directory",
    ),
    (
        "ronda",
        ["inventory", "export", "{dir}/a-file/katalog.csv"],
        1,
        "cannot write {dir}/a-file/katalog.csv",
    ),
    ("ronda", ["ca", "init", "--dir", "{dir}/a-file/ca"], 1, "{dir}/a-file/ca: Not a directory"),
    # the agent's state, and the collector it reports to (1)
    (
        "ronda-agent",
        ["run", "--once", "--insecure", "--collector", "127.0.0.1:9", "--state-dir", "{dir}/a-file/s"],
        1,
        "cannot create state directory",
    ),
]


def invoke(site: Path, program: str, args: list[str], *extra: str):
    args = [a.format(dir=site) for a in args]
    if program == "ronda" and args[0] not in ("ca",) and "--db" not in args:
        args += ["--db", str(site / "ronda.db")]
    if program == "ronda-agent" and "--state-dir" not in args:
        args += ["--state-dir", str(site / "state")]
    return CliRunner().invoke(cli if program == "ronda" else agent_cli, [*extra, *args])


def assert_one_line(output: str, program: str, code: int, expected: str, result_code: int) -> None:
    assert result_code == code, output
    assert "Traceback" not in output
    last = output.strip().splitlines()[-1]
    assert last.startswith(f"{program}: ") and expected in last, output


@pytest.mark.parametrize("program, args, code, expected", CASES, ids=[" ".join(c[1][:2]) for c in CASES])
def test_errors_are_one_line_and_an_exit_code(site, program, args, code, expected):
    result = invoke(site, program, args)
    assert_one_line(result.output, program, code, expected.format(dir=site), result.exit_code)


@pytest.mark.servers
def test_an_unreachable_collector_fails_in_one_line_and_keeps_the_snapshot(site):
    args = ["run", "--once", "--insecure", "--collector", f"127.0.0.1:{free_port()}"]
    result = invoke(site, "ronda-agent", args)
    assert_one_line(result.output, "ronda-agent", 1, "collector answered UNAVAILABLE", result.exit_code)
    assert "kept in the spool" in result.output
    assert list((site / "state" / "spool").iterdir())


def test_a_damaged_database_names_the_file(site):
    """A crash on a failing disk leaves pages of garbage: reads fail with SQLite's own words."""
    db = site / "ronda.db"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()  # every page in the file
    with open(db, "r+b") as f:  # the first page stays readable; the others do not
        f.seek(4096)
        f.write(b"\xff" * (db.stat().st_size - 4096))
    result = invoke(site, "ronda", ["apps"])
    assert_one_line(
        result.output, "ronda", 1, f"database {db}: database disk image is malformed", result.exit_code
    )


@pytest.mark.parametrize("how", [["-v"], ["--verbose"], "RONDA_DEBUG"])
def test_verbose_or_ronda_debug_adds_the_traceback(site, monkeypatch, how):
    if how == "RONDA_DEBUG":
        monkeypatch.setenv("RONDA_DEBUG", "1")
    result = invoke(site, "ronda", ["explain", "APP-404"], *([] if how == "RONDA_DEBUG" else how))
    assert result.exit_code == 2
    assert "Traceback" in result.output and "NotFound" in result.output
    assert result.output.strip().splitlines()[-1].startswith("ronda: no app 'APP-404'")


def test_a_locked_database_is_told_as_such(tmp_path):
    """Another program (the sqlite3 shell, a backup) holding the database: SQLite's own error, explained."""
    path = tmp_path / "ronda.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError) as e:
        sqlite3.connect(path, timeout=0).execute("INSERT INTO t VALUES (1)")
    assert operational_message(e.value, str(path)) == (
        f"database {path}: database is locked (another process is writing to it; try again)"
    )


# -- the installed programs, as a shell or a timer runs them ------------------------------------------
# Sets the file-size limit in a fresh interpreter that then becomes `ronda`. Set between fork and exec
# (preexec_fn), it ran in a copy of this process, which has gRPC loaded; gRPC's fork handling aborted
# such a copy under load ("epoll_wait error: Bad file descriptor") before it became `ronda`.
_LIMITED = """import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
os.execv(sys.argv[2], sys.argv[2:])
"""


def ronda(*args: str, env: dict | None = None, limit_file_size: int | None = None):
    limited = [sys.executable, "-c", _LIMITED, str(limit_file_size)] if limit_file_size else []
    return subprocess.run(
        [*limited, str(BIN / "ronda"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.servers
def test_main_prints_one_line_on_stderr(site):
    done = ronda("report", "--html", str(site / "a-file" / "report.html"), "--db", str(site / "ronda.db"))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"ronda: cannot write {site}/a-file/report.html: Not a directory\n"


@pytest.mark.servers
def test_a_full_disk_fails_in_one_line_and_imports_nothing(site):
    """The disk fills while a large catalogue is imported (a file-size limit on the process stands in)."""
    rows = "".join(
        f"APP-{i},Aplikasi {i},Dinas {i % 40},humas{i}@prov.example,app{i}.prov.example,active,specific,\n"
        for i in range(5, 3000)
    )
    (site / "big.csv").write_text(INVENTORY + rows)
    db = site / "ronda.db"
    done = ronda(
        "inventory", "import", str(site / "big.csv"), "--db", str(db), limit_file_size=db.stat().st_size
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"ronda: database {db}: ") and done.stderr.count("\n") == 1
    assert Store(db).query("SELECT count(*) AS n FROM inventory") == [{"n": 0}]


@pytest.mark.servers
def test_the_agent_as_a_module_is_the_same_program(site):
    done = subprocess.run(
        [sys.executable, "-m", "ronda.agent", "run", "--once", "--config", str(site / "agent.toml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"ronda-agent: {site}/agent.toml:1: unknown setting(s) colector")
