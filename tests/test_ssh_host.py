"""The Host seam over SSH answers as the local host does, against a real sshd on a loopback address."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from scan_fleet import random_block
from servers import free_port
from servers_ssh import Sshd

from ronda.agent.host import CommandNotAvailable, HostError, LocalHost
from ronda.agent.inspect.diskwalk import walk
from ronda.collector.scan_config import SshTarget
from ronda.collector.scans.ssh_connect import connect
from ronda.collector.scans.ssh_host import SshHost
from ronda.collector.scans.ssh_system import RemoteSystem

pytestmark = pytest.mark.servers  # a real sshd


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    (root / "app" / "wp-includes").mkdir(parents=True)
    (root / "app" / "wp-includes" / "version.php").write_text("<?php\n$wp_version = '6.4.3';\n")
    (root / "app" / "index.php").write_text("<?php echo 'hi';\n")
    (root / "app" / ".env").write_text("APP_KEY=not-a-real-key\n")
    (root / "app" / "sub dir").mkdir()
    (root / "app" / "sub dir" / "file with spaces.txt").write_text("x" * 5000)
    with open(root / "app" / "sparse.bin", "wb") as f:
        f.seek(50 * 1024 * 1024)
        f.write(b"end")
    (root / "app" / "link-to-index").symlink_to("index.php")
    (root / "app" / "dangling").symlink_to("nowhere")
    (root / "app" / "loop").symlink_to(root / "app")
    os.mkfifo(root / "app" / "fifo")
    (root / "secret").mkdir(mode=0o700)
    return root


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    block = random_block()
    address = block.rsplit(".", 1)[0] + f".{int(block.rsplit('.', 1)[1]) + 3}"
    sshd = Sshd.write(tmp_path_factory.mktemp("sshd"), address, free_port()).start()
    target = SshTarget(
        name="parity",
        address=address,
        port=sshd.port,
        user="root",
        key=str(sshd.client_key),
        known_hosts=str(sshd.known_hosts),
    )
    remote = SshHost(connect(target, 5), "parity", command_timeout=20)
    try:
        yield remote, LocalHost(), target
    finally:
        remote.close()
        sshd.stop()


def _both(hosts, method: str, *args):
    remote, local, _ = hosts
    out = []
    for host in (remote, local):
        try:
            out.append(getattr(host, method)(*args))
        except HostError as e:
            out.append(("HostError", str(e)))
    return out


@pytest.mark.parametrize(
    "rel",
    [
        "app",
        "app/index.php",
        "app/sparse.bin",
        "app/link-to-index",
        "app/dangling",
        "app/fifo",
        "app/sub dir/file with spaces.txt",
        "missing",
        "app/index.php/x",
    ],
)
@pytest.mark.parametrize("method", ["stat", "lstat", "exists", "realpath"])
def test_file_facts_match(hosts, tree, rel, method):
    remote, local = _both(hosts, method, str(tree / rel))
    assert remote == local


@pytest.mark.parametrize(
    "pattern",
    [
        "app/*",
        "app/*.php",
        "app/.*",
        "app/*/version.php",
        "app/sub*/*",
        "app/[iw]*",
        "nothing/*",
        "app/index.php",
    ],
)
def test_glob_matches(hosts, tree, pattern):
    remote, local = _both(hosts, "glob", str(tree / pattern))
    assert remote == local


@pytest.mark.parametrize("rel", ["app", "app/sub dir", "secret", "missing", "app/index.php"])
def test_listdir_matches(hosts, tree, rel):
    remote, local = _both(hosts, "listdir", str(tree / rel))
    assert remote == local


def test_reads_match_and_respect_limits(hosts, tree):
    remote, local, _ = hosts
    path = str(tree / "app" / "sub dir" / "file with spaces.txt")
    assert remote.read_bytes(path) == local.read_bytes(path)
    assert remote.read_bytes(path, limit=100) == b"x" * 100
    assert remote.read_text("/proc/self/status").startswith("Name:")  # size 0 in stat, read to the end
    with remote.open_binary(path) as f:
        f.seek(4990)
        assert f.read() == b"x" * 10
    with pytest.raises(HostError, match="No such file"):
        remote.read_bytes(str(tree / "missing"))


@pytest.mark.parametrize("method", ["read_bytes", "open_binary"])
def test_a_fifo_or_device_is_refused_over_sftp_as_locally(hosts, tree, method):
    # opening a FIFO would block the server's sftp-server; /dev/zero would be read forever
    for path, words in ((str(tree / "app" / "fifo"), "named pipe (FIFO)"), ("/dev/zero", "character device")):
        started = time.monotonic()
        remote, local = _both(hosts, method, path)
        assert remote == local == ("HostError", f"{path}: a {words}, not a regular file; not read")
        assert time.monotonic() - started < 5


def test_disk_walk_matches_sparse_files_and_loops(hosts, tree):
    """The walk counts blocks really used and remembers directories by device and inode."""
    remote, local, _ = hosts
    a, b = walk(remote, str(tree / "app"), 1000, 10), walk(local, str(tree / "app"), 1000, 10)
    assert (a.bytes, a.files, a.newest_file, a.newest_mtime, a.truncated) == (
        b.bytes,
        b.files,
        b.newest_file,
        b.newest_mtime,
        b.truncated,
    )
    assert a.bytes < 1024 * 1024  # the 50 MB sparse file holds almost no blocks


def test_processes_listeners_and_system_match(hosts):
    remote, local, target = hosts

    def still(p):
        return replace(p, cpu_seconds=0, rss_bytes=0)

    # processes start, exec and end meanwhile: compare those unchanged across the remote read
    before = {p.pid: still(p) for p in local.processes() if p.exe}  # kernel threads rename themselves at will
    theirs = {p.pid: still(p) for p in RemoteSystem(remote).processes()}
    after = {p.pid: still(p) for p in local.processes() if p.exe}
    stable = {pid for pid in set(before) & set(after) if before[pid] == after[pid]}
    assert os.getpid() in stable and stable <= set(theirs)  # alive throughout: the remote read saw it
    assert len(stable) > 5
    for pid in stable:
        assert theirs[pid] == before[pid]
    # servers of other tests may come and go: what the SSH side saw both times, the local side sees too
    first = set(RemoteSystem(remote).listeners())
    here = set(local.listeners())
    second = set(RemoteSystem(remote).listeners())
    assert first & second <= here <= first | second
    sshd = [s for s in first if s.address == target.address and s.port == target.port]
    assert sshd and sshd[0].pid and theirs[sshd[0].pid].name == "sshd"
    a, b = remote.system_stats(), local.system_stats()
    assert (a.kernel, a.architecture, a.addresses, a.boot_time, a.cpu_count, a.memory_total_bytes) == (
        b.kernel,
        b.architecture,
        b.addresses,
        b.boot_time,
        b.cpu_count,
        b.memory_total_bytes,
    )
    # bytes used move as other programs write; the disks themselves must be the same
    assert [replace(d, used_bytes=0) for d in a.disks] == [replace(d, used_bytes=0) for d in b.disks] != []


def test_only_read_only_commands_run(hosts, tmp_path):
    remote, local, _ = hosts
    assert remote.run(["nginx", "-v"]) == local.run(["nginx", "-v"])
    assert remote.which("nginx") == local.which("nginx") and remote.which("no-such-ronda-tool") is None
    victim = tmp_path / "keep-me"
    victim.write_text("still here")
    for argv in (
        ["rm", "-f", str(victim)],
        ["nginx", "-s", "stop"],
        ["sh", "-c", "true"],
        ["apache2ctl", "stop"],
        ["pm2", "jlist"],
        ["caddy", "run"],
    ):
        with pytest.raises(CommandNotAvailable, match="read-only"):
            remote.run(argv)
    assert victim.read_text() == "still here"


def test_a_command_that_hangs_is_stopped_on_the_server_too(hosts, tmp_path):
    """A server binary stuck on its config (here a FIFO nobody writes) is ended, and the scan goes on."""
    remote, _, _ = hosts
    fifo = tmp_path / "stuck.conf"
    os.mkfifo(fifo)
    with pytest.raises(HostError, match="did not finish within 1s"):
        remote.run(["nginx", "-t", "-c", str(fifo)], timeout=1)
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", str(fifo)], capture_output=True, text=True).stdout.split()
    assert left == []
    assert remote.read_bytes("/etc/hostname")  # the connection is still usable


def test_names_with_line_breaks(hosts, tmp_path):
    """The helper channel is line based: asked alone, such a name is an error of its own, never a confused
    answer; met in a listing (as a walk meets it), its facts come with the listing."""
    remote, local, _ = hosts
    odd = tmp_path / "a\nb"
    odd.write_text("odd")
    with pytest.raises(HostError, match="line breaks"):
        remote.stat(str(odd))
    assert remote.listdir(str(tmp_path)) == local.listdir(str(tmp_path)) == ["a\nb"]
    assert remote.lstat(str(odd)) == local.lstat(str(odd))
