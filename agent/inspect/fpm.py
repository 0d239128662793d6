"""PHP-FPM pools: their listen sockets from the pool configs, and their worker processes."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from ronda.agent.host import Host, ProcessInfo
from ronda.agent.inspect.files import Files

POOL_GLOBS = (
    "/etc/php/*/fpm/php-fpm.conf",
    "/etc/php/*/fpm/pool.d/*.conf",
    "/etc/php-fpm.conf",
    "/etc/php-fpm.d/*.conf",
    "/usr/local/etc/php-fpm.conf",
    "/usr/local/etc/php-fpm.d/*.conf",
    "/etc/opt/remi/*/php-fpm.d/*.conf",
    "/opt/remi/*/root/etc/php-fpm.d/*.conf",
)
_MASTER = re.compile(r"^php-fpm[\d.]*: master process \((.+)\)$")
_WORKER = re.compile(r"^php-fpm[\d.]*: pool (\S+)")
_MAX_FILES = 200


@dataclass(frozen=True)
class Pool:
    name: str
    listen: str  # a socket path, or [host:]port
    file: str  # the pool's config file
    main_conf: str = ""  # the php-fpm.conf that includes it, when known


def fpm_role(proc: ProcessInfo) -> tuple[str, str] | None:
    """("master", conf) or ("pool", name) for a php-fpm process, from its process title."""
    title = proc.cmdline[0] if proc.cmdline else ""
    m = _MASTER.match(title)
    if m:
        return "master", m.group(1)
    m = _WORKER.match(title)
    return ("pool", m.group(1)) if m else None


def load_pools(host: Host, processes: list[ProcessInfo], problems: list[Files]) -> list[Pool]:
    """Pools from running masters' configs (and what they include), then from the usual places."""
    pools: dict[tuple[str, str], Pool] = {}
    seen: set[str] = set()
    mains = sorted({r[1] for p in processes if (r := fpm_role(p)) and r[0] == "master"})
    for main in mains:
        _read(host, main, main, pools, seen, problems, depth=0)
    for pattern in POOL_GLOBS:
        for path in host.glob(pattern)[:_MAX_FILES]:
            main = path if path.endswith("php-fpm.conf") else ""
            _read(host, path, main, pools, seen, problems, depth=0)
    return list(pools.values())


def _read(
    host: Host,
    path: str,
    main: str,
    pools: dict[tuple[str, str], Pool],
    seen: set[str],
    problems: list[Files],
    depth: int,
) -> None:
    if path in seen or depth > 3 or len(seen) >= _MAX_FILES:
        return
    seen.add(path)
    f = Files(host, path)
    problems.append(f)
    text = f.text("", limit=256 * 1024)
    if text is None:
        return
    section = ""
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, eq, value = line.partition("=")
        if not eq:
            continue
        key, value = key.strip(), value.strip().strip("\"'")
        if key == "include":
            pattern = value if value.startswith("/") else posixpath.join(posixpath.dirname(path), value)
            for inc in host.glob(pattern)[:_MAX_FILES]:
                _read(host, inc, main, pools, seen, problems, depth + 1)
        elif key == "listen" and section and section != "global":
            listen = value.replace("$pool", section)
            old = pools.get((main, section))
            if old is None or not old.main_conf:
                pools[(main, section)] = Pool(section, listen, path, main)


def pool_for(pools: list[Pool], socket_path: str = "", port: int = 0, host: str = "") -> list[Pool]:
    """Pools listening on a unix socket path or on a TCP port."""
    found = []
    for pool in pools:
        listen = pool.listen
        if socket_path and listen == socket_path:
            found.append(pool)
        elif port and not listen.startswith("/"):
            addr, _, p = listen.rpartition(":")
            if (p or addr) == str(port) and (
                not addr
                or not host
                or addr in (host, "0.0.0.0", "[::]", "*")
                or (host in ("localhost", "127.0.0.1") and addr.startswith("127."))
            ):
                found.append(pool)
    return found


def pool_workers(pool: Pool, processes: list[ProcessInfo]) -> list[ProcessInfo]:
    """The pool's worker processes, under the master that loaded the pool's config when that is known."""
    by_pid = {p.pid: p for p in processes}
    workers = []
    for proc in processes:
        role = fpm_role(proc)
        if not role or role != ("pool", pool.name):
            continue
        master = by_pid.get(proc.ppid)
        master_role = fpm_role(master) if master else None
        if pool.main_conf and master_role and master_role[0] == "master" and master_role[1] != pool.main_conf:
            continue
        workers.append(proc)
    return workers
