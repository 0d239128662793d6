"""Reconciliation benchmark: 10,000 hosts, 200,000 discovered apps, 30,000 declared apps.

    .venv/bin/python bench/reconcile.py [--hosts N] [--apps N] [--declared N] [--keep DIR]

Builds a reproducible collector database (seeded): hosts with 20 apps each
(vhosts, path sub-apps, catch-all defaults, proxies to loopback backends),
daily usage for the idle window (every day for used apps, crawler-only days
for the rest), public listeners, and a declared inventory whose URLs are
written the ways people write them (scheme, case, www., trailing slash) with
deliberate gaps. The rows are written straight into the store's tables:
ingest has its own benchmark; this one measures reconciliation.

Then, each in its own child process (wall time, CPU time and peak RSS from
rusage): `ronda reconcile` twice (the first run writes every finding and
verdict, the second is the steady state a schedule sees) and `ronda
candidates`. Baselines measured in the same run: a naive nested-loop matcher
on a sample of declared apps (extrapolated), and plain SQL over the same
tables (the idle count, the candidate count) as the floor any implementation
pays. Targets: the steady run within 60x the plain-SQL idle count, the first
run within 2x the steady one, `ronda candidates` under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ronda.collector.inventory.db import import_apps
from ronda.collector.inventory.model import DeclaredApp
from ronda.collector.reconcile.urls import host_key, normalize_path, parse_endpoint, path_within
from ronda.collector.store import Store

NOW = datetime.now(UTC).replace(microsecond=0)
ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("wordpress", "laravel", "codeigniter", "yii", "drupal", "joomla", "", "", "")


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _detail(
    key: str,
    name: str,
    listen: list,
    prefix: str,
    n: int,
    fw: str,
    upstream: str,
    coverage_days: int,
    last_human: datetime | None,
    rng: random.Random,
) -> str:
    """The app's whole JSON as agents send it (about 1 KiB): the store keeps it; reconcile reads little."""
    log = f"/var/log/nginx/app{n}.access.log"
    return json.dumps(
        {
            "key": key,
            "kind": "nginx",
            "server_names": [name],
            "listen": listen,
            "path_prefix": prefix,
            "root": f"/var/www/app{n}",
            "upstream": upstream,
            "config": {"file": f"/etc/nginx/sites-enabled/app{n}.conf", "line": 1},
            "access_logs": [{"path": log, "format": "combined"}],
            "framework": {
                "name": fw or "php",
                "version": "1.2.3",
                "evidence_file": f"/var/www/app{n}/version.php",
                "language": "php",
            },
            "resources": {
                "rss_bytes": str(rng.randrange(10, 500) << 20),
                "disk_bytes": str(rng.randrange(1, 900) << 20),
                "file_count": str(rng.randrange(10, 9000)),
                "newest_file": f"/var/www/app{n}/index.php",
            },
            "usage": {
                "coverage": "COVERAGE_FULL",
                "coverage_start": iso(NOW - timedelta(days=coverage_days)),
                "coverage_end": iso(NOW),
                "last_request": iso(NOW),
                "last_human_request": iso(last_human),
                "logs": [
                    {
                        "path": log,
                        "format": "combined",
                        "status": "ok",
                        "oldest_line": iso(NOW - timedelta(days=coverage_days)),
                        "newest_line": iso(NOW),
                        "lines": str(rng.randrange(1000, 900000)),
                    }
                ],
            },
            "tls": {
                "file": f"/etc/letsencrypt/live/{name}/fullchain.pem",
                "subject": f"CN={name}",
                "issuer": "CN=R11,O=Let's Encrypt",
                "dns_names": [name],
                "not_after": iso(NOW + timedelta(days=60)),
            },
            "database": {
                "engine": "mysql",
                "name": f"db_app{n}",
                "host": "localhost",
                "evidence_file": f"/var/www/app{n}/config.php",
            },
            "labels": {"upstream_servers": upstream.removeprefix("http://")} if upstream else {},
        }
    )


def _fleet(rng: random.Random, hosts: int, per_host: int, idle_days: int, names: list):
    """Per host: its agents/hosts rows, app rows, daily usage rows and listener rows (generated lazily)."""
    stamp = iso(NOW)
    for h in range(hosts):
        agent = f"{h:08x}{'0' * 24}"
        stale = rng.random() < 0.02
        seen = iso(NOW - timedelta(days=5 if stale else 0, minutes=rng.randrange(0, 30)))
        apps, usage = [], []
        for i in range(per_host):
            n = h * per_host + i
            name = f"app{n}.opd{n % 350}.prov.example"
            prefix, parent, upstream, port = "/", "", "", 443 if rng.random() < 0.6 else 80
            if i and i % 7 == 0:  # a path sub-app of the previous vhost
                name, prefix = names[-1][0], f"/modul{i}"
                parent = f"nginx:{name}:{port}/"
            if i == per_host - 1:
                name, port = "_", 8080 + i  # a catch-all default server
            if i % 11 == 3:  # a proxy to a backend on this host
                upstream = f"http://127.0.0.1:{9000 + i - 1}"
            key = f"nginx:{name}:{port}{prefix}"
            fw = rng.choice(FRAMEWORKS)
            names.append((name, prefix, fw))
            used = rng.random() < 0.3
            coverage_days = rng.choice((14, 60, 120, 200, 365, 400))
            last_human = (
                (NOW - timedelta(days=rng.randrange(0, 30)))
                if used
                else (NOW - timedelta(days=rng.randrange(idle_days + 1, 500)) if rng.random() < 0.5 else None)
            )
            listen = [{"address": "*", "port": port, "tls": port == 443, "default_server": name == "_"}]
            if upstream:
                listen.append({"address": "127.0.0.1", "port": 9000 + i})
            detail = _detail(key, name, listen, prefix, n, fw, upstream, coverage_days, last_human, rng)
            apps.append(
                (
                    agent,
                    key,
                    "nginx",
                    json.dumps([name]),
                    json.dumps([f"*:{port}"]),
                    prefix,
                    f"/var/www/app{n}",
                    upstream,
                    "/etc/nginx/sites-enabled/x.conf",
                    1,
                    parent,
                    fw or None,
                    "",
                    "full",
                    iso(NOW - timedelta(days=coverage_days)),
                    stamp,
                    iso(last_human),
                    stamp,
                    stamp,
                    1,
                    detail,
                )
            )
            for d in range(min(idle_days, coverage_days)):
                if used or d % 3 == 0:  # crawlers visit the unused ones now and then
                    human = rng.randrange(5, 200) if used else 0
                    usage.append(
                        (
                            agent,
                            key,
                            (NOW - timedelta(days=d)).strftime("%Y-%m-%d"),
                            human,
                            rng.randrange(0, 40),
                            12,
                            0,
                            0,
                            human // 5,
                        )
                    )
        listeners = [(agent, "tcp", "0.0.0.0", 22, 1, "sshd", "root", "", "", "[]", 1)]
        if h % 5 == 0:
            listeners.append((agent, "tcp", "0.0.0.0", 3306, 100, "mysqld", "mysql", "", "", "[]", 1))
        host = (
            agent,
            agent,
            f"web{h:05d}",
            f"web{h:05d}.prov.example",
            json.dumps([f"10.{h // 65536 % 256}.{h // 256 % 256}.{h % 256}"]),
            "Debian",
            "12",
            "agent",
            "0.1.0",
            900,
            3,
            seen,
        )
        yield (agent, seen, seen, 3, f"r{h}", "agent"), host, apps, usage, listeners


def build(
    db: Path, hosts: int, apps: int, declared: int, idle_days: int = 90, seed: int = 7
) -> dict[str, int]:
    rng = random.Random(seed)
    store = Store(db)
    names: list[tuple[str, str, str]] = []  # (server name, path prefix, framework) of each app
    with store.writing() as c:
        for agent, host, app_rows, usage_rows, listener_rows in _fleet(
            rng, hosts, max(1, apps // hosts), idle_days, names
        ):
            c.execute(
                "INSERT INTO agents (agent_id, first_seen, last_seen, last_sequence, last_report_id, source) "
                "VALUES (?,?,?,?,?,?)",
                agent,
            )
            c.execute(
                "INSERT INTO hosts (agent_id, machine_id, hostname, fqdn, addresses, os_name, os_version, "
                "source, agent_version, interval_seconds, sequence, collected_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                host,
            )
            c.executemany(
                "INSERT INTO apps (agent_id, app_key, kind, server_names, listen, path_prefix, root, "
                "upstream, config_file, config_line, parent_key, framework, framework_version, coverage, "
                "coverage_start, last_request, last_human_request, first_seen, last_seen, present, "
                "detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                app_rows,
            )
            c.executemany("INSERT OR REPLACE INTO app_usage_days VALUES (?,?,?,?,?,?,?,?,?)", usage_rows)
            c.executemany("INSERT OR IGNORE INTO listeners VALUES (?,?,?,?,?,?,?,?,?,?,?)", listener_rows)
    inventory = []
    vhosts = [(name, prefix, fw) for name, prefix, fw in names if name != "_"]
    for k in range(declared):
        if rng.random() < 0.85:  # written the ways people write them
            name, prefix, fw = vhosts[rng.randrange(len(vhosts))]
            path = "" if prefix == "/" else prefix
            url = rng.choice(
                [
                    f"https://{name}{path}",
                    f"HTTP://WWW.{name.upper()}{prefix}/",
                    f"{name}.{path}",
                    f"http://{name}:80{prefix}",
                ]
            )
        else:  # declared, but it runs nowhere
            url, fw = f"https://lama{k}.opd{k % 350}.prov.example", ""
        inventory.append(
            DeclaredApp(
                app_id=f"SPBE-{k:06d}",
                name=f"Aplikasi {k}",
                status=rng.choice(("active",) * 6 + ("inactive", "retired")),
                owner="" if rng.random() < 0.05 else f"OPD {k % 350}",
                contact=f"opd{k % 350}@prov.example",
                urls=[url],
                app_class="common" if k % 40 == 0 else "specific",
                framework=fw.title() if fw and rng.random() < 0.5 else "",
                annual_cost=rng.randrange(1, 100) * 1_000_000,
            )
        )
    import_apps(store, inventory, "bench-inventory.csv", "csv", b"bench")
    counts = {
        t: store.query(f"SELECT count(*) AS n FROM {t}")[0]["n"]
        for t in ("hosts", "apps", "inventory", "app_usage_daily", "listeners")
    }
    store.close()
    return counts


CPU: list[float] = []  # CPU seconds (user + system) of each child, in order


def child(args: list[str]) -> tuple[float, float, str]:
    """Run a command in a child; (wall seconds, peak RSS MiB of that child alone, stdout)."""
    with tempfile.TemporaryFile() as out_file:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out_file, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        CPU.append(usage.ru_utime + usage.ru_stime)
        if proc.returncode:
            raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
        out_file.seek(0)
        return wall, usage.ru_maxrss / 1024, out_file.read().decode()


def report(label: str, wall: float, rss: float, note: str = "") -> None:
    """One line about the latest child: its wall time, CPU time and peak RSS."""
    print(f"{label:27s}: {wall:6.2f} s  (CPU {CPU[-1]:5.2f} s)  peak RSS {rss:5.0f} MiB{note}")


def naive_match_seconds(db: Path, sample: int = 200) -> tuple[float, int]:
    """Nested loops: each declared URL against every discovered app (the obvious way), on a sample."""
    store = Store(db)
    declared = [json.loads(r["urls"]) for r in store.query("SELECT urls FROM inventory LIMIT ?", (sample,))]
    apps = [
        (json.loads(r["server_names"]), r["path_prefix"])
        for r in store.query("SELECT server_names, path_prefix FROM apps WHERE present")
    ]
    total = store.query("SELECT count(*) AS n FROM inventory")[0]["n"]
    start = time.perf_counter()
    for urls in declared:
        for url in urls:
            e = parse_endpoint(url)
            for names, prefix in apps:
                if any(host_key(n) == e.key for n in names) and path_within(e.path, normalize_path(prefix)):
                    pass
    return (time.perf_counter() - start) * total / len(declared), total


def sql_seconds(db: Path, sql: str, params: tuple = ()) -> float:
    """The best of three runs of a query (a floor: the least that one run of it costs)."""
    store = Store(db)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        store.query(sql, params)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--apps", type=int, default=200_000)
    parser.add_argument("--declared", type=int, default=30_000)
    parser.add_argument("--keep", metavar="DIR", help="Keep the database in DIR.")
    parser.add_argument("--reuse", action="store_true", help="With --keep: reuse the database built before.")
    parser.add_argument("--build", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        counts = build(Path(args.build), args.hosts, args.apps, args.declared)
        print(", ".join(f"{v:,} {k}" for k, v in counts.items()))
        return
    work = Path(args.keep or tempfile.mkdtemp(prefix="ronda-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.db"
    ronda = (
        [sys.executable, "-m", "ronda.collector"] if not shutil.which("ronda") else [shutil.which("ronda")]
    )
    ronda = [str(ROOT / ".venv/bin/ronda")] if (ROOT / ".venv/bin/ronda").exists() else ronda
    try:
        start = time.perf_counter()
        if not (args.keep and db.exists() and args.reuse):
            for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                p.unlink(missing_ok=True)
            _, _, out = child(
                [
                    sys.executable,
                    __file__,
                    "--build",
                    str(db),
                    "--hosts",
                    str(args.hosts),
                    "--apps",
                    str(args.apps),
                    "--declared",
                    str(args.declared),
                ]
            )
            size = db.stat().st_size / 2**20
            print(f"built in {time.perf_counter() - start:.1f} s: {out.strip()}; {size:.0f} MiB")
        else:
            print(f"reusing {db}")
        first, first_rss, out = child([*ronda, "reconcile", "--db", str(db)])
        print()
        report("ronda reconcile, first run", first, first_rss)
        print("  " + out.strip().replace("\n", "\n  "))
        second, second_rss, _ = child([*ronda, "reconcile", "--db", str(db)])
        report("ronda reconcile, steady", second, second_rss)
        cand, cand_rss, out = child([*ronda, "candidates", "--db", str(db)])
        report("ronda candidates", cand, cand_rss, f"  ({max(0, len(out.splitlines()) - 2):,} rows)")
        idle_sql = sql_seconds(
            db,
            "SELECT count(*) FROM apps WHERE present AND coverage_start <= ? AND "
            "(last_human_request IS NULL OR last_human_request < ?)",
            (iso(NOW - timedelta(days=90)),) * 2,
        )
        cand_sql = sql_seconds(db, "SELECT * FROM verdicts WHERE verdict = 'safe-to-take-down'")
        naive, total = naive_match_seconds(db)
        from ronda.collector.reconcile.config import ReconcileConfig
        from ronda.collector.reconcile.inputs import load_inputs
        from ronda.collector.reconcile.match import build_index, match_all

        inputs = load_inputs(Store(db), ReconcileConfig(), NOW)
        start = time.perf_counter()
        match_all(inputs.declared, build_index(inputs.discovered, inputs.hosts), inputs.pins)
        indexed = time.perf_counter() - start
        print("\nbaselines, same run:")
        print(
            f"  naive nested-loop matcher (extrapolated from 200 of {total:,}) : {naive:8.1f} s; "
            f"ronda's indexed matcher: {indexed:.2f} s  -> {naive / indexed:,.0f}x faster"
        )
        print(
            f"  plain SQL idle count over apps                      : {idle_sql:8.3f} s; full reconcile is "
            f"{second / idle_sql:,.0f}x that floor"
        )
        print(
            f"  plain SQL select of the candidate verdicts          : {cand_sql:8.3f} s; `ronda candidates` "
            f"(process start, query, table) is {cand / cand_sql:,.0f}x that"
        )
        print(
            f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work running "
            f"slows the wall times); python {sys.version.split()[0]}; "
            f"sqlite {__import__('sqlite3').sqlite_version}"
        )
        targets = [
            (
                f"steady run within 60x the plain SQL floor ({second / idle_sql:.0f}x)",
                second <= 60 * idle_sql,
            ),
            (f"first run within 2x the steady one ({first / second:.2f}x)", first <= 2 * second),
            (f"ronda candidates under 1 s ({cand:.2f} s)", cand < 1),
        ]
        print("\ntargets:")
        for text, met in targets:
            print(f"  {'met    ' if met else 'NOT MET'}  {text}")
        print("PASS" if all(met for _, met in targets) else "FAIL: a target is not met")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
