"""Package-ownership benchmark: which dpkg package owns each app root, on this machine's real dpkg database.

    .venv/bin/python bench/packages.py [--roots N] [--repeat N]

Runs, each in its own child process so that peak RSS is its own: ronda reading dpkg's files (what a
`--root` copy gets: every `/var/lib/dpkg/info/*.list` once, matched against all roots in one regex
pass), ronda asking `dpkg-query --search` once for all roots (what a live host or an SSH scan gets),
and the baseline a script would write: one `dpkg-query --search ROOT/*` per root. Roots are the
directories of the installed web-app packages (/usr/share/wordpress, ...) and as many other
/usr/share directories as --roots asks for. All three must name the same owners.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time, resource, subprocess
from ronda.agent.host import LocalHost
from ronda.agent.inspect.packages import PackageIndex
mode, roots = sys.argv[1], json.loads(sys.argv[2])
cpu, wall = time.process_time(), time.perf_counter()
if mode == "baseline":
    owners = {}
    for r in roots:
        out = subprocess.run(["dpkg-query", "--search", r + "/*"], capture_output=True, text=True).stdout
        counts = {}
        for line in out.splitlines():
            names, _, _ = line.partition(": ")
            for n in names.split(","):
                n = n.strip().split(":")[0]
                counts[n] = counts.get(n, 0) + 1
        owners[r] = min(counts, key=lambda n: (-counts[n], n)) if counts else None
else:
    index = PackageIndex(LocalHost(), commands=(mode == "dpkg-query"))
    index.prepare(roots)
    owners = {r: (o.name if o else None) for r, o in ((r, index.owner(r)) for r in roots)}
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "cpu": time.process_time() - cpu + children.ru_utime + children.ru_stime,
    "wall": time.perf_counter() - wall,
    "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "owners": owners,
}))
"""

WEB_APPS = [
    "/usr/share/wordpress", "/usr/share/phpmyadmin", "/usr/share/zabbix", "/usr/share/adminer",
    "/usr/share/postfixadmin", "/usr/share/tt-rss/www", "/usr/share/cacti/site", "/usr/share/dokuwiki",
    "/usr/share/mediawiki", "/usr/share/roundcube", "/usr/share/phpldapadmin", "/usr/share/phpsysinfo",
    "/usr/share/icingaweb2", "/usr/share/ganglia-webfrontend", "/var/www/html",
]  # fmt: skip


def roots(n: int) -> list[str]:
    chosen = [r for r in WEB_APPS if os.path.isdir(r)]
    others = sorted(f"/usr/share/{d}" for d in os.listdir("/usr/share") if os.path.isdir(f"/usr/share/{d}"))
    return (chosen + [r for r in others if r not in chosen])[: max(n, len(chosen))]


def run(mode: str, chosen: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, json.dumps(chosen)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roots", type=int, default=15, help="app roots to look up (default 15)")
    parser.add_argument("--repeat", type=int, default=3, help="keep each mode's best of N runs")
    args = parser.parse_args()
    chosen = roots(args.roots)
    lists = len([f for f in os.listdir("/var/lib/dpkg/info") if f.endswith(".list")])
    print(f"{len(chosen)} roots, {lists} installed packages' file lists")
    results = {}
    for mode in ("files", "dpkg-query", "baseline"):
        runs = [run(mode, chosen) for _ in range(args.repeat)]
        results[mode] = min(runs, key=lambda r: r["cpu"])
    base = results["baseline"]
    print(f"{'':34} {'CPU s':>7} {'wall s':>7} {'peak RSS':>9}  vs baseline CPU")
    labels = {
        "files": "ronda, dpkg's files (--root)",
        "dpkg-query": "ronda, one dpkg-query (live, SSH)",
        "baseline": "dpkg-query per root",
    }
    for mode, r in results.items():
        ratio = base["cpu"] / r["cpu"] if r["cpu"] else float("inf")
        print(f"{labels[mode]:34} {r['cpu']:7.2f} {r['wall']:7.2f} {r['rss'] / 1024:7.0f} MB  {ratio:5.1f}x")
    same = results["files"]["owners"] == results["dpkg-query"]["owners"] == base["owners"]
    print("same owners in all three:", same)
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
