"""Access-log benchmark: ronda's usage parser against GoAccess and `wc -l`, on the same file.

    .venv/bin/python bench/logs.py [--lines N] [--keep DIR]

Writes a reproducible combined-format log (seeded; visits of a few to a few
dozen requests from a Zipf-distributed pool of clients, ~10% crawler traffic,
health checks, 404 scans), then runs each tool in its own child process and
reports wall time, CPU time, lines/s per CPU second and peak RSS (from the
child's rusage). ronda runs twice: as configured (the lean regex path for
every buffer it matches whole, labelled with the share of lines it read) and
with the general path alone, and both must give the same counts. Finally it
rescans the unchanged log with the state of the first run and shows that no
old byte is read again.

On a shared machine CPU time is what to compare (wall time includes waiting
for the CPU); `--repeat N` keeps each tool's best of N runs.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROWSERS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{v}.0.0.0 Safari/537.36"
    ),
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.{m} Mobile/15E148 Safari/604.1"
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-A{m}5F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 "
        "Mobile Safari/537.36"
    ),
)
CRAWLERS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "python-requests/2.31.0",
)
PAGES = (
    "/",
    "/index.php",
    "/login",
    "/dashboard",
    "/laporan?tahun=2026",
    "/sipd/anggaran",
    "/sipd/api/rekap?id={p}",
    "/api/v1/data?page={p}",
)
ASSETS = ("/assets/app.js", "/assets/app.css", "/img/logo.png", "/favicon.ico", "/assets/font.woff2")
SCAN_PATHS = ("/wp-login.php", "/.env", "/phpmyadmin/", "/.git/config", "/admin.php", "/xmlrpc.php")


def write_log(path: Path, lines: int, seed: int = 20260101, days: int = 14, clients: int = 40_000) -> None:
    """A combined-format log of exactly `lines` lines, identical for identical arguments."""
    rnd = random.Random(seed)
    pool = []
    for _ in range(clients):
        ip = f"{rnd.randrange(1, 224)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        template = rnd.choice(BROWSERS)
        pool.append((ip, template.format(v=rnd.randrange(110, 131), m=rnd.randrange(1, 9))))
    cumulative = []
    total = 0.0
    for i in range(clients):
        total += 1.0 / (i + 1) ** 0.9
        cumulative.append(total)
    start = 1767225600  # 2026-01-01T00:00:00Z
    span = days * 86400
    written = 0
    with open(path, "w", buffering=1 << 20) as f:
        while written < lines:
            t = start + span * written // lines
            kind = rnd.random()
            if kind < 0.10:
                ip, ua = f"66.249.{rnd.randrange(64, 80)}.{rnd.randrange(1, 255)}", rnd.choice(CRAWLERS)
                visit = [
                    (rnd.choice(PAGES).format(p=rnd.randrange(900)), 200) for _ in range(rnd.randrange(1, 6))
                ]
            elif kind < 0.12:
                ip, ua = "10.0.0.5", "UptimeRobot/2.0"
                visit = [("/healthz", 200)]
            elif kind < 0.125:
                ip = f"45.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
                ua = rnd.choice(BROWSERS).format(v=118, m=1)
                visit = [(p, 404) for p in SCAN_PATHS for _ in range(5)]
            else:
                ip, ua = pool[bisect.bisect(cumulative, rnd.random() * total)]
                visit = []
                for _ in range(rnd.randrange(1, 6)):
                    status = 200 if rnd.random() < 0.93 else rnd.choice((302, 304, 404, 500))
                    visit.append((rnd.choice(PAGES).format(p=rnd.randrange(900)), status))
                    visit.extend(
                        (rnd.choice(ASSETS), 200 if rnd.random() < 0.7 else 304)
                        for _ in range(rnd.randrange(0, 8))
                    )
            for page, status in visit[: lines - written]:
                stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0700", time.gmtime(t + 7 * 3600))
                size = rnd.randrange(200, 90_000) if status == 200 else 0
                f.write(
                    f'{ip} - - [{stamp}] "GET {page} HTTP/1.1" {status} {size} '
                    f'"https://app.example.go.id/" "{ua}"\n'
                )
                written += 1


# -- the contenders, each run in a child process (bench/logs_child.py: ronda's imports and nothing else) ----
def run_child(argv: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds, peak RSS (bytes) and stdout of one child process.

    GNU time starts the child when it is installed: a child forked from this
    Python process would inherit its peak RSS in the kernel's accounting.
    """
    gnu_time = Path("/usr/bin/time")
    report = Path(tempfile.mkstemp(prefix="ronda-bench-time-")[1])
    if gnu_time.exists():
        argv = [str(gnu_time), "-f", "%U %S %M", "-o", str(report), *argv]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[0]} failed: {out[-500:]}")
    cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024
    if gnu_time.exists():
        user, system, kbytes = report.read_text().split()[-3:]
        cpu, rss = float(user) + float(system), int(kbytes) * 1024
    report.unlink()
    return wall, cpu, rss, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", help="write the log and state here and keep them")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each tool N times and keep its best CPU time"
    )
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ronda-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log, state = work / "access.log", work / "state"
    shutil.rmtree(state, ignore_errors=True)
    t = time.perf_counter()
    write_log(log, args.lines)
    size = log.stat().st_size
    print(
        f"log: {log} — {args.lines:,} lines, {size / 1e6:.1f} MB, written in {time.perf_counter() - t:.1f}s"
    )
    print(f"{'tool':<34}{'wall s':>8}{'cpu s':>8}{'lines/cpu-s':>14}{'peak RSS':>11}")
    print("(lines/s per CPU second: one core's throughput; wall time when CPU time is too small to see)")
    results: dict[str, tuple[float, float, int]] = {}

    def show(name: str, wall: float, cpu: float, rss: int | None) -> None:
        results[name] = (wall, cpu, rss or 0)
        rate = args.lines / (cpu or wall) if (cpu or wall) else float("inf")
        memory = f"{rss / 2**20:>9.1f}MB" if rss else f"{'':>11}"
        print(f"{name:<34}{wall:>8.2f}{cpu:>8.2f}{rate:>14,.0f}{memory}")

    child = [sys.executable, str(Path(__file__).resolve().with_name("logs_child.py"))]
    me = [*child, "ronda", str(log), str(state)]

    def first_parse(general: bool) -> tuple[float, float, int, dict]:
        """Best of --repeat first parses (each from an empty state).

        Returns the process figures and the child's report."""
        best = None
        for _ in range(max(args.repeat, 1)):
            shutil.rmtree(state, ignore_errors=True)
            wall, cpu, rss, out = run_child(me + (["--general"] if general else []))
            report = json.loads(out)
            if best is None or cpu < best[1]:
                best = (wall, cpu, max(rss, best[2] if best else 0), report)
        return best

    general = first_parse(general=True)
    wall, cpu, rss, first = first_parse(general=False)
    share = first["lean_lines"] / max(first["lines"], 1)
    path = "lean path" if share == 1 else "general path" if share == 0 else f"lean path for {share:.0%}"
    show(f"ronda, {path} (process)", wall, cpu, rss)
    show(f"ronda, {path} (parse)", first["wall"], first["cpu"], None)
    show("ronda, general path (parse)", general[3]["wall"], general[3]["cpu"], None)
    floor = min(
        (json.loads(run_child([*child, "floor", str(log)])[3]) for _ in range(max(args.repeat, 1))),
        key=lambda report: report["cpu"],
    )
    show("floor: count+findall+Counter", floor["wall"], floor["cpu"], None)
    goaccess = shutil.which("goaccess")
    if goaccess:
        best = None
        for _ in range(max(args.repeat, 1)):
            run = run_child(
                [
                    goaccess,
                    str(log),
                    "--log-format=COMBINED",
                    "--no-global-config",
                    "-o",
                    str(work / "goaccess.json"),
                ]
            )
            best = run if best is None or run[1] < best[1] else best
        show("goaccess", *best[:3])
    else:
        print("goaccess: not installed (apt-get install goaccess)")
    wall, cpu, rss, _ = run_child(["wc", "-l", str(log)])
    show("wc -l", wall, cpu, rss)
    wall, cpu, rss, out = run_child(me)
    again = json.loads(out)
    show("ronda (rescan, unchanged)", wall, cpu, rss)

    ronda, parse = results[f"ronda, {path} (process)"], results[f"ronda, {path} (parse)"]
    print()
    print(
        f"ronda: {first['lines']:,} lines parsed, {first['human']:,} human requests, "
        f"errors: {first['errors']}"
    )
    same = all(first[k] == general[3][k] for k in ("lines", "daily", "last_human"))
    print(
        f"ronda path: lean regex for {first['lean_lines']:,} of {first['lines']:,} lines; "
        f"the general path alone gives the same counts: {'yes' if same else 'NO'}"
    )
    if "goaccess" in results:
        goaccess = results["goaccess"]
        print(
            f"goaccess CPU time / ronda CPU time: {goaccess[1] / max(ronda[1], 1e-3):.1f} (whole process), "
            f"{goaccess[1] / max(parse[1], 1e-3):.1f} (parse only)"
        )
        print(
            f"goaccess CPU time / floor CPU time: {goaccess[1] / max(floor['cpu'], 1e-3):.1f} "
            "(the bound for a findall-and-Counter parser)"
        )
    wc = results["wc -l"]
    print(f"ronda parse CPU time / wc -l wall time: {parse[1] / max(wc[0], 1e-3):.0f}")
    print(
        f"rescan of the unchanged log: {again['bytes_read']:,} bytes of log read, "
        f"{again['lines']:,} lines parsed"
    )
    print(
        f"targets: >= 1,000,000 lines/s per core: {args.lines / max(parse[1], 1e-3):,.0f} (parse), "
        f"{args.lines / max(ronda[1], 1e-3):,.0f} (process); peak RSS < 64 MB: {ronda[2] / 2**20:.1f} MB"
        + (
            f"; >= 10x goaccess: {results['goaccess'][1] / max(parse[1], 1e-3):.1f}x (parse), "
            f"{results['goaccess'][1] / max(ronda[1], 1e-3):.1f}x (process: start-up and imports included, "
            "which the agent's daemon pays once)"
            if "goaccess" in results
            else ""
        )
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
