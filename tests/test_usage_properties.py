"""Property tests: random and malformed lines never crash the parser nor corrupt the counts of good lines."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from usage_lines import AGENTS, Request, daily_of, expected_daily, log_app, scan

from ronda.agent.usage import UsageOptions

pytestmark = pytest.mark.slow  # hypothesis runs thousands of generated logs

START = 1767225600  # 2026-01-01
requests = st.builds(
    Request,
    addr=st.sampled_from(["10.0.0.1", "10.0.0.2", "192.0.2.77", "2001:db8::5"]),
    when=st.integers(START, START + 3 * 86400),
    path=st.sampled_from(["/", "/index.php?a=1", "/healthz", "/sipd/x", "/.env", "/a b"]),
    status=st.sampled_from([200, 301, 304, 400, 403, 404, 500, 503]),
    ua=st.sampled_from(sorted(AGENTS)),
)
no_newline = st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" "))


@st.composite
def malformed(draw) -> bytes:
    """Junk, or a good line broken in a way that stops it being one."""
    kind = draw(st.sampled_from(["junk", "truncated", "bad-status", "bad-date", "quote"]))
    line = draw(requests).line().encode()
    if kind == "junk":
        return draw(no_newline)
    if kind == "truncated":
        return line[: draw(st.integers(0, len(line) - 1))]
    if kind == "bad-status":
        return line.replace(b'HTTP/1.1" ', b'HTTP/1.1" x', 1)
    if kind == "bad-date":
        return line.replace(b"/Jan/", b"/Foo/", 1).replace(b"[0", b"[9", 1)
    return line.replace(b'"-"', b'"-', 1)  # an unbalanced quote that a careless regex reads past


def _work() -> Path:
    return Path(tempfile.mkdtemp(prefix="ronda-usage-prop-"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    good=st.lists(requests, max_size=80),
    bad=st.lists(malformed(), max_size=30),
    seed=st.integers(0, 2**32),
    chunk=st.integers(16, 4096),
)
def test_malformed_lines_never_corrupt_good_counts(good, bad, seed, chunk):
    lines = [r.line().encode() for r in good] + bad
    random.Random(seed).shuffle(lines)
    work = _work()
    try:
        log = work / "access.log"
        log.write_bytes(b"".join(line + b"\n" for line in lines))
        app = log_app(log)
        collector = scan([app], work / "state", UsageOptions(chunk_bytes=chunk, monitor_paths=("/healthz",)))
        assert daily_of(app) == expected_daily(good)
        assert app.usage.unparsed_lines == len(bad)
        assert collector.stats.lines == len(lines)
        humans = [r for r in good if r.kind() in ("human", "error")]
        last_human = max((r.when for r in humans), default=None)
        got = app.usage.last_human_request
        assert (got.timestamp() if got else None) == last_human
    finally:
        shutil.rmtree(work, ignore_errors=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    good=st.lists(requests, min_size=1, max_size=60),
    bad=st.lists(malformed(), max_size=10),
    cuts=st.lists(st.integers(0, 10_000), max_size=4),
    chunk=st.integers(16, 2048),
)
def test_reading_in_several_scans_counts_every_line_once(good, bad, cuts, chunk):
    """Appending in pieces (even mid-line) and scanning after each gives the counts of one scan."""
    data = b"".join(line + b"\n" for line in [r.line().encode() for r in good] + bad)
    points = sorted({min(c, len(data)) for c in cuts} | {len(data)})
    work = _work()
    try:
        log = work / "access.log"
        log.write_bytes(b"")
        options = UsageOptions(chunk_bytes=chunk, monitor_paths=("/healthz",))
        done = 0
        for point in points:
            with open(log, "ab") as f:
                f.write(data[done:point])
            done = point
            app = log_app(log)
            scan([app], work / "state", options)
        assert daily_of(app) == expected_daily(good)
        assert app.usage.unparsed_lines == len(bad)
        again = log_app(log)
        collector = scan([again], work / "state", options)
        assert collector.stats.bytes_read == 0 and daily_of(again) == daily_of(app)
    finally:
        shutil.rmtree(work, ignore_errors=True)
