"""Fuzzing (hypothesis, bounded for CI) of the Report endpoint and of the config and log parsers,
plus property tests of the collector's fast ingest.

Each fuzz test first replays its corpus in tests/fuzz_corpus/ (seeds, and the inputs that once broke
something), then explores new inputs for a bounded number of examples. Whatever breaks goes into the
corpus as a file, so it is checked on every run from then on.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from datetime import UTC
from pathlib import Path

import grpc
import pytest
from fuzz_wire import messages, snapshots
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trust_fixtures import Collector

from bench.fleet import make_snapshot
from ronda.agent.config import AgentConfigError, load_config
from ronda.agent.discovery import apache_syntax
from ronda.agent.discovery.nginx_config import load as load_nginx
from ronda.agent.host import LocalHost
from ronda.collector.server import ServerConfig
from ronda.collector.store.wirebytes import changed_days, daily_block
from ronda.collector.validate import app_detail
from ronda.collector.wirejson import app_json
from ronda.convert import snapshot_to_wire
from ronda.wire.v1 import ronda_pb2 as pb

CORPUS = Path(__file__).parent / "fuzz_corpus"
FUZZ = settings(
    max_examples=int(os.environ.get("RONDA_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
ANSWERS = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ALREADY_EXISTS}


def corpus(kind: str) -> list[Path]:
    return sorted((CORPUS / kind).iterdir())


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    c = Collector(
        tmp_path_factory.mktemp("fuzz") / "ronda.db",
        ServerConfig(listen="127.0.0.1:0", insecure=True, max_message_bytes=1 << 20),
    )
    channel = grpc.insecure_channel(c.address)
    call = channel.unary_unary("/ronda.v1.Collector/Report")
    yield c, call
    channel.close()
    c.stop()


def _answer(call, payload: bytes) -> grpc.StatusCode:
    try:
        call(payload, timeout=10)
    except grpc.RpcError as e:
        assert e.code() in ANSWERS, (e.code(), e.details())
        return e.code()
    return grpc.StatusCode.OK


def _still_consistent(c: Collector) -> None:
    conn = sqlite3.connect(c.store.path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for (detail,) in conn.execute("SELECT detail FROM apps"):
        json.loads(detail)
    conn.close()


@pytest.mark.parametrize("path", corpus("report"), ids=lambda p: p.name)
def test_report_corpus(collector, path):
    """Seeds, and regressions: inputs that once got an internal error (UNKNOWN) or were stored
    though invalid."""
    c, call = collector
    answer = _answer(call, path.read_bytes())
    if path.name.startswith("regression-"):
        assert answer == grpc.StatusCode.INVALID_ARGUMENT
    _still_consistent(c)


@FUZZ
@given(snapshots())
def test_report_endpoint_structured(collector, message):
    """Any message the schema allows: a clear answer (stored or INVALID_ARGUMENT), never an internal error."""
    c, call = collector
    _answer(call, message.SerializeToString())


_VALID = snapshot_to_wire(make_snapshot("fuzz-seed", 1, apps=3, days=5)).SerializeToString()


@FUZZ
@given(st.data())
def test_report_endpoint_bytes(collector, data):
    """Byte-level: a valid snapshot flipped, cut, spliced, or plain noise."""
    c, call = collector
    payload = bytearray(_VALID)
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "noise"]))
        at = data.draw(st.integers(0, max(len(payload) - 1, 0)))
        if op == "flip" and payload:
            payload[at] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "cut":
            del payload[at : at + data.draw(st.integers(1, 64))]
        elif op == "insert":
            payload[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        else:
            payload = bytearray(data.draw(st.binary(max_size=256)))
    _answer(call, bytes(payload))


def test_the_server_is_sound_after_the_fuzzing(collector):
    c, call = collector
    assert (
        _answer(call, snapshot_to_wire(make_snapshot("after-fuzz", 1, apps=2, days=3)).SerializeToString())
        == grpc.StatusCode.OK
    )
    _still_consistent(c)


# -- properties of the fast ingest -------------------------------------------------------------------------

days = st.lists(
    st.builds(
        pb.DailyUsage,
        date=st.sampled_from([f"2026-11-{d:02d}" for d in range(1, 29)]),
        human=st.integers(0, 300),
        bot=st.integers(0, 2**40),
        monitor=st.integers(0, 3),
    ),
    max_size=30,
    unique_by=lambda d: d.date,
)  # a list naming a day twice is refused (found by this test)


@settings(max_examples=300, deadline=None)
@given(days, days, st.booleans())
def test_changed_days_finds_every_day_that_changed(old_days, new_days, with_logs):
    """Rows written for the changed days, over the old rows, give exactly the new rows."""

    def usage(daily):
        u = pb.Usage(coverage=pb.COVERAGE_FULL, daily=daily)
        u.coverage_end.seconds = 1795132800
        if with_logs:
            u.logs.add(path="/var/log/x", lines=len(daily))
        return u

    old, new = usage(old_days), usage(new_days)
    old_block = daily_block(old, old.SerializeToString(deterministic=True))
    new_block = daily_block(new, new.SerializeToString(deterministic=True))
    table = {}
    for d in old_days:
        table[d.date] = d.SerializeToString()
    for d in changed_days(old_block, new_block, new.daily):
        table[d.date] = d.SerializeToString()
    expected = {}
    for d in old_days:
        expected[d.date] = d.SerializeToString()
    for d in new_days:
        expected[d.date] = d.SerializeToString()
    assert table == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages(pb.App.DESCRIPTOR, max_repeat=2))
def test_app_detail_is_protobufs_json_mapping(values):
    """The fast detail of a valid app equals json_format's, without the daily rows (stored apart)."""
    from fuzz_wire import fill

    app = fill(pb.App(), values)
    problems: list[str] = []
    detail = app_detail(app, "app", problems)
    if problems:
        return  # refused apps are never stored
    reference = pb.App()
    reference.CopyFrom(app)
    if reference.HasField("usage"):
        reference.usage.ClearField("daily")
    assert detail == json_format.MessageToDict(reference, preserving_proto_field_name=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages(pb.App.DESCRIPTOR, max_repeat=2))
def test_the_checks_without_output_find_what_the_conversion_finds(values):
    """The resources and usage of an app whose rest is unchanged are only checked (CHECKERS): the same
    problems as converting them (CONVERTERS), in the same order."""
    from fuzz_wire import fill

    from ronda.collector.wirejson import CHECKERS, CONVERTERS

    app = fill(pb.App(), values)
    for name in ("ronda.v1.App", "ronda.v1.Resources", "ronda.v1.Usage"):
        message = app if name == "ronda.v1.App" else getattr(app, name.rsplit(".", 1)[1].lower())
        converted: list[str] = []
        checked: list[str] = []
        CONVERTERS[name](message, "app", converted)
        assert CHECKERS[name](message, "app", checked) is None
        assert checked == converted


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages(pb.App.DESCRIPTOR, max_repeat=3))
def test_an_apps_state_taken_from_its_bytes_is_the_one_protobuf_builds(values):
    """apps.state: resources and usage without the daily entries, cut from the bytes as received."""
    from fuzz_wire import fill

    from ronda.collector.store.wirebytes import app_parts, app_state, app_state_of, daily_span

    app = fill(pb.App(), values)
    wire = app.SerializeToString(deterministic=True)
    parts = app_parts(wire)
    assert parts is not None  # protobuf's own bytes are in field order
    usage_rest = None
    if parts.usage_start >= 0:
        usage = wire[parts.usage_start : parts.usage_end]
        head, tail = daily_span(app.usage, usage)
        usage_rest = usage[:head] + usage[tail:]
    assert pb.App.FromString(app_state(parts.resources, usage_rest)) == pb.App.FromString(app_state_of(app))


_app_versions = st.lists(
    st.tuples(
        messages(pb.Resources.DESCRIPTOR, max_repeat=2),
        messages(pb.Usage.DESCRIPTOR, max_repeat=2),
        st.sampled_from(["/var/www/a", "/var/www/b"]),
        st.booleans(),
        st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_app_versions)
def test_the_stored_detail_is_always_the_last_apps_json(versions):
    """Whatever changed between snapshots (only resources and usage, or more), the stored app (its detail
    and its state) is the JSON of the app as last sent: the patch path and the full path agree with
    json_format."""
    from datetime import datetime

    from fuzz_wire import fill

    from ronda.collector.store import Store

    store = Store(":memory:")
    sequence = 0
    expected = None
    for resources, usage, root, with_resources, with_usage in versions:
        app = pb.App(key="nginx:a.test:80/", kind="nginx", root=root, server_names=["a.test"])
        app.listen.add(address="*", port=80)
        if with_resources:
            fill(app.resources, resources)
        if with_usage:
            fill(app.usage, usage)
            app.usage.ClearField("daily")
            app.usage.daily.add(date="2026-11-20", human=sequence)
        if app_detail(app, "app", []) is None or _problems(app):
            continue
        sequence += 1
        snap = pb.Snapshot(agent_id="w1", sequence=sequence, report_id=f"r{sequence}", source=pb.SOURCE_AGENT)
        snap.collected_at.FromDatetime(datetime(2026, 11, 20, tzinfo=UTC))
        snap.apps.append(app)
        raw = snap.SerializeToString()
        store.ingest_message(pb.Snapshot.FromString(raw), raw=raw)
        reference = pb.App()
        reference.CopyFrom(app)
        if reference.HasField("usage"):
            reference.usage.ClearField("daily")
        expected = json_format.MessageToDict(reference, preserving_proto_field_name=True)
        row = store.query("SELECT detail, state FROM apps")[0]
        stored = app_json(row["detail"], row["state"])
        assert stored == expected
    store.close()


def _problems(app) -> list[str]:
    problems: list[str] = []
    app_detail(app, "app", problems)
    return problems


# -- config and log parsers ---------------------------------------------------------------------------------

toml_text = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda k, v: f"{k} = {v}\n",
        st.sampled_from(
            ["collector", "interval_seconds", "jitter_seconds", "insecure", "spool_max_entries", "ca", "x"]
        ),
        st.sampled_from(['"a:1"', "10", "-1", "true", "1e400", "[1]", "{a=1}", '"\\u0000"', "9" * 30, "nan"]),
    ),
)


@pytest.mark.parametrize("path", corpus("agent_config"), ids=lambda p: p.name)
def test_agent_config_corpus(path):
    _load_config(path)


def _load_config(path: Path) -> None:
    with contextlib.suppress(AgentConfigError):
        load_config(str(path))


@FUZZ
@given(toml_text)
def test_agent_config_parser(tmp_path, text):
    path = tmp_path / "agent.toml"
    path.write_text(text, errors="surrogatepass")
    _load_config(path)


nginx_text = st.lists(
    st.sampled_from(
        [
            "server {",
            "}",
            "listen 80;",
            "listen [::]:443 ssl;",
            "server_name a.test b.test;",
            "location /x {",
            "root /var/www;",
            "alias /srv/x/;",
            "proxy_pass http://127.0.0.1:3000;",
            "include /etc/nginx/conf.d/*.conf;",
            "include nginx.conf;",
            "http {",
            "events {}",
            "if ($x) {",
            "'",
            '"',
            "#",
            ";",
            "{",
            "\\",
            "${x}",
            "server_name ~^(?<n>.+)$;",
            "listen 99999;",
            "access_log /var/log/a.log combined;",
            "log_format x '$a';",
        ]
    ),
    max_size=40,
).map(lambda parts: "\n".join(parts))


@pytest.mark.parametrize("path", corpus("nginx"), ids=lambda p: p.name)
def test_nginx_corpus(tmp_path, path):
    _nginx(tmp_path, path.read_text())


def _nginx(root: Path, text: str) -> None:
    conf = root / "etc" / "nginx"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "nginx.conf").write_text(text)
    from ronda.agent.discovery import DiscoveryOptions, discover

    load_nginx(LocalHost(str(root)), "/etc/nginx/nginx.conf", use_binary=False)
    discover(LocalHost(str(root)), DiscoveryOptions(nginx_conf="/etc/nginx/nginx.conf"))


@FUZZ
@given(nginx_text)
def test_nginx_config_parser(tmp_path, text):
    _nginx(tmp_path, text)


apache_text = st.lists(
    st.sampled_from(
        [
            "<VirtualHost *:80>",
            "</VirtualHost>",
            "ServerName a.test",
            "DocumentRoot /var/www",
            "Alias /x /srv/x",
            "<Directory /var/www>",
            "</Directory>",
            "Include conf.d/*.conf",
            "<IfModule mod_ssl.c>",
            "</IfModule>",
            "Listen 8080",
            'Define X "y"',
            "${X}",
            "\\",
            '"',
            "<",
            ">",
            "ProxyPass /api http://127.0.0.1:8080/",
            "CustomLog ${APACHE_LOG_DIR}/a.log combined",
            'LogFormat "%h %l" x',
            '<If "true">',
            "</If>",
        ]
    ),
    max_size=40,
).map(lambda parts: "\n".join(parts))


@pytest.mark.parametrize("path", corpus("apache"), ids=lambda p: p.name)
def test_apache_corpus(path):
    apache_syntax.parse(path.read_text(), str(path))


@FUZZ
@given(st.one_of(apache_text, st.text(max_size=300)))
def test_apache_config_parser(text):
    apache_syntax.parse(text, "/etc/apache2/apache2.conf")


log_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                '10.0.0.1 - - [20/Nov/2026:08:00:00 +0700] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
                '10.0.0.2 - - [20/Nov/2026:08:00:01 +0000] "GET /x?y=1 HTTP/1.1" 404 0 "-" "curl/8"',
                '::1 - - [31/Dec/9999:23:59:59 +1400] "POST /a b HTTP/2.0" 500 - "-" "-"',
            ]
        ),
        st.binary(max_size=120).map(lambda b: b.replace(b"\n", b" ").decode("latin-1")),
    ),
    max_size=30,
).map(lambda lines: "\n".join(lines) + "\n")


@pytest.mark.parametrize("path", corpus("access_log"), ids=lambda p: p.name)
def test_access_log_corpus(tmp_path, path):
    _scan_log(tmp_path, path.read_bytes())


def _scan_log(tmp_path: Path, data: bytes) -> None:
    from ronda.agent.usage.collect import UsageCollector
    from ronda.model import App, LogRef

    log = tmp_path / "access.log"
    log.write_bytes(data)
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    app = App(key="app", kind="nginx", server_names=["app.test"], access_logs=[LogRef(str(log), "combined")])
    errors = UsageCollector(LocalHost(), [app], {}, state).run()
    assert all(e.message for e in errors)


@FUZZ
@given(log_lines)
def test_access_log_parser(tmp_path, text):
    _scan_log(tmp_path, text.encode("latin-1"))
