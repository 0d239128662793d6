"""Log rotation: renamed, copied-and-truncated, compressed, dated and reused files; every line
counted once."""

from __future__ import annotations

import gzip
import os
import random
import shutil
from pathlib import Path

import pytest
from usage_lines import AGENTS, Request, daily_of, expected_daily, log_app, scan

from ronda.agent.usage import UsageOptions

START = 1767225600  # 2026-01-01
OPTIONS = UsageOptions(monitor_paths=("/healthz",), chunk_bytes=4096)
_clock = [START]


def requests(n: int, seed: int) -> list[Request]:
    """`n` requests after all earlier ones (logs only grow forward in time)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        _clock[0] += rnd.randrange(1, 4000)
        out.append(
            Request(
                addr=rnd.choice(["10.0.0.1", "10.0.0.2", "192.0.2.3"]),
                when=_clock[0],
                path=rnd.choice(["/", "/login", "/healthz", "/x.php"]),
                status=rnd.choice([200, 200, 200, 304, 404, 500]),
                ua=rnd.choice(sorted(AGENTS)),
            )
        )
    return out


def append(path: Path, reqs: list[Request]) -> int:
    data = "".join(r.line() + "\n" for r in reqs).encode()
    with open(path, "ab") as f:
        f.write(data)
    return len(data)


def gzip_file(src: Path, dst: Path) -> None:
    with open(src, "rb") as f, gzip.open(dst, "wb") as g:
        shutil.copyfileobj(f, g)
    src.unlink()


class Site:
    """A log directory and the state of an agent that scans it (each scan is a fresh agent process)."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "log"
        self.dir.mkdir()
        self.log = self.dir / "access.log"
        self.state = tmp / "state"
        self.sent: list[Request] = []

    def write(self, n: int, seed: int, path: Path | None = None) -> int:
        reqs = requests(n, seed)
        self.sent.extend(reqs)
        return append(path or self.log, reqs)

    def check(self, new_bytes: int | None = None) -> None:
        app = log_app(self.log)
        collector = scan([app], self.state, OPTIONS)
        assert daily_of(app) == expected_daily(self.sent)
        assert app.usage.last_request.timestamp() == max(r.when for r in self.sent)
        if new_bytes is not None:
            assert collector.stats.bytes_read == new_bytes


def test_rename_then_compress(tmp_path):
    site = Site(tmp_path)
    site.check(site.write(40, 1))
    tail = site.write(25, 2)
    site.log.rename(site.dir / "access.log.1")
    site.check(tail + site.write(30, 3))
    # the next rotation: .1 is compressed to .2.gz, the live log becomes .1
    gzip_file(site.dir / "access.log.1", site.dir / "access.log.2.gz")
    tail = site.write(10, 4)
    site.log.rename(site.dir / "access.log.1")
    site.check(tail + site.write(5, 5))
    site.check(0)


def test_copytruncate(tmp_path):
    site = Site(tmp_path)
    site.check(site.write(40, 11))
    tail = site.write(20, 12)
    shutil.copyfile(site.log, site.dir / "access.log.1")
    with open(site.log, "r+b") as f:
        f.truncate(0)
    site.check(tail + site.write(15, 13))
    gzip_file(site.dir / "access.log.1", site.dir / "access.log.1.gz")
    site.check(0)


def test_compressed_before_its_tail_was_read(tmp_path):
    site = Site(tmp_path)
    site.check(site.write(30, 21))
    tail = site.write(30, 22)  # written, then rotated and compressed before the agent saw it
    site.log.rename(site.dir / "access.log.1")
    gzip_file(site.dir / "access.log.1", site.dir / "access.log.1.gz")
    site.check(tail + site.write(10, 23))
    site.check(0)


def test_dated_names(tmp_path):
    site = Site(tmp_path)
    site.check(site.write(20, 31))
    tail = site.write(20, 32)
    site.log.rename(site.dir / "access.log-20260102")
    site.check(tail + site.write(20, 33))
    gzip_file(site.dir / "access.log-20260102", site.dir / "access.log-20260102.gz")
    tail = site.write(5, 34)
    site.log.rename(site.dir / "access.log-20260103")
    site.check(tail + site.write(5, 35))
    site.check(0)


def test_same_inode_new_content(tmp_path):
    """A file rewritten in place (same device and inode, longer than the old offset) is read from
    its start."""
    site = Site(tmp_path)
    site.check(site.write(20, 41))
    inode = site.log.stat().st_ino
    with open(site.log, "r+b") as f:
        f.truncate(0)
    assert site.log.stat().st_ino == inode
    site.check(site.write(60, 42))


def test_deleted_and_recreated(tmp_path):
    """A new file in place of a deleted one (the file system often hands out the same inode again)."""
    site = Site(tmp_path)
    site.check(site.write(20, 51))
    site.log.unlink()
    site.check(site.write(30, 52))
    os.truncate(site.log, 0)
    site.check(site.write(3, 53))


@pytest.mark.parametrize("rotated", ["access.log.1", "access.log.2.gz"])
def test_partial_last_line_of_a_rotated_file(tmp_path, rotated):
    """A line still being written is left for later; once rotated, the file's last line is final."""
    site = Site(tmp_path)
    site.write(10, 61)
    last = requests(1, 62)[0]
    with open(site.log, "ab") as f:
        f.write(last.line().encode())  # no newline yet
    site.check()
    site.sent.append(last)
    if rotated.endswith(".gz"):
        gzip_file(site.log, site.dir / rotated)
    else:
        site.log.rename(site.dir / rotated)
    site.check()
