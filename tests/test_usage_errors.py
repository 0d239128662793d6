"""Usage collection fails soft, says how good its evidence is, and keeps no addresses or secrets."""

from __future__ import annotations

import gzip
from pathlib import Path

from usage_lines import BROWSER, GOOGLEBOT, Request, daily_of, expected_daily, log_app, scan

from ronda.agent.host import LocalHost
from ronda.agent.usage import UsageCollector, UsageOptions, collect_usage
from ronda.convert import snapshot_from_wire, snapshot_to_wire
from ronda.model import App, LogRef, Snapshot

START = 1767225600
OPTIONS = UsageOptions(monitor_paths=("/healthz",))


def write(path: Path, reqs: list[Request]) -> None:
    path.write_text("".join(r.line() + "\n" for r in reqs))


def people(n: int, start: int = START, addr: str = "10.0.0.1", path: str = "/") -> list[Request]:
    return [Request(addr, start + i * 60, path, 200, BROWSER) for i in range(n)]


def test_a_corrupt_rotated_file_is_reported_and_the_rest_counted(tmp_path):
    write(tmp_path / "access.log", people(5, START + 86400))
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(b"x" * 600)[:40] + b"garbage" * 50)
    app = log_app(tmp_path / "access.log")
    errors = collect_usage(LocalHost(), [app], {}, tmp_path / "state", OPTIONS)
    assert [e.path for e in errors] == [str(tmp_path / "access.log.2.gz")]
    assert errors[0].source == "usage"
    assert daily_of(app) == expected_daily(people(5, START + 86400))
    assert app.usage.coverage == "partial" and app.usage.logs[0].status == "partial"


def test_unknown_format_missing_log_and_no_log(tmp_path):
    write(tmp_path / "custom.log", people(3))
    odd = App(key="odd", kind="nginx", access_logs=[LogRef(str(tmp_path / "custom.log"), "mine")])
    gone = log_app(tmp_path / "never-written.log", key="gone")
    bare = App(key="bare", kind="node")
    errors = collect_usage(LocalHost(), [odd, gone, bare], {}, tmp_path / "state", OPTIONS)
    assert [(e.path, "unknown log format" in e.message) for e in errors] == [
        (str(tmp_path / "custom.log"), True)
    ]
    assert odd.usage.coverage == "unreadable" and odd.usage.logs[0].status == "unknown-format"
    assert gone.usage.coverage == "none" and gone.usage.logs[0].status == "missing"
    assert bare.usage.coverage == "none" and bare.usage.logs == [] and bare.usage.daily == []


def test_the_format_definition_comes_from_discovery(tmp_path):
    reqs = people(4)
    (tmp_path / "custom.log").write_text("".join(f'{r.when} {r.addr} {r.status} "{r.ua}"\n' for r in reqs))
    app = App(key="c", kind="nginx", access_logs=[LogRef(str(tmp_path / "custom.log"), "mine")])
    assert (
        collect_usage(
            LocalHost(),
            [app],
            {"nginx:mine": '$msec $remote_addr $status "$http_user_agent"'},
            tmp_path / "state",
            OPTIONS,
        )
        == []
    )
    assert daily_of(app) == expected_daily(reqs) and app.usage.coverage == "full"


def test_an_unusable_state_dir_still_gives_this_scans_usage(tmp_path):
    write(tmp_path / "access.log", people(3))
    (tmp_path / "state").write_text("a file where the state dir should be")
    app = log_app(tmp_path / "access.log")
    errors = collect_usage(LocalHost(), [app], {}, tmp_path / "state", OPTIONS)
    assert len(errors) == 1 and "counting this scan only" in errors[0].message
    assert daily_of(app) == expected_daily(people(3))


def test_a_shared_log_without_a_vhost_field_counts_for_every_site(tmp_path):
    reqs = people(3) + [Request("10.0.0.9", START + 999, "/", 200, GOOGLEBOT)]
    write(tmp_path / "access.log", reqs)
    a, b = log_app(tmp_path / "access.log", key="a"), log_app(tmp_path / "access.log", key="b")
    scan([a, b], tmp_path / "state", OPTIONS)
    for app in (a, b):
        assert daily_of(app) == expected_daily(reqs)
        assert app.usage.coverage == "partial" and "virtual host" in app.usage.logs[0].error


def test_path_prefixes_split_one_site(tmp_path):
    root, sipd = people(3, path="/index.php"), people(2, START + 7, path="/sipd/laporan?x=1")
    edge = people(1, START + 9, path="/sipdx")  # not under /sipd
    write(tmp_path / "access.log", root + sipd + edge)
    site = log_app(tmp_path / "access.log", key="site")
    sub = log_app(tmp_path / "access.log", key="site", prefix="/sipd")
    sub.key = "sub"
    scan([site, sub], tmp_path / "state", OPTIONS)
    assert daily_of(site) == expected_daily(root + edge) and daily_of(sub) == expected_daily(sipd)
    assert site.usage.coverage == sub.usage.coverage == "full"


def test_progress_and_bounded_flushes(tmp_path):
    reqs = people(3000)
    write(tmp_path / "access.log", reqs)
    seen: list[tuple[int, int]] = []
    app = log_app(tmp_path / "access.log")
    options = UsageOptions(chunk_bytes=8192, flush_bytes=50_000)
    collector = UsageCollector(
        LocalHost(), [app], {}, tmp_path / "state", options, lambda d, t: seen.append((d, t))
    )
    assert collector.run() == []
    size = (tmp_path / "access.log").stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 10
    assert daily_of(app) == expected_daily(reqs)


def test_the_state_keeps_no_addresses_nor_paths(tmp_path):
    secret = "/reset?token=s3cr3t-t0ken"
    reqs = people(3, addr="203.0.113.77", path=secret) + people(2, START + 500, addr="198.51.100.23")
    write(tmp_path / "access.log", reqs)
    app = log_app(tmp_path / "access.log")
    scan([app], tmp_path / "state", OPTIONS)
    assert daily_of(app)["2026-01-01"]["human_clients"] == 2
    stored = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir())
    for text in ("203.0.113.77", "198.51.100.23", "s3cr3t", "token"):
        assert text.encode() not in stored
        assert text not in repr(app.usage)


def test_usage_goes_over_the_wire_unchanged(tmp_path):
    write(tmp_path / "access.log", people(4) + [Request("10.0.0.3", START + 999, "/x", 500, BROWSER)])
    app = log_app(tmp_path / "access.log")
    scan([app], tmp_path / "state", OPTIONS)
    back = snapshot_from_wire(snapshot_to_wire(Snapshot(apps=[app]))).apps[0]
    assert back.usage == app.usage and back.usage.daily[0].error == 1
