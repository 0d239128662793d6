"""The contenders of bench/logs.py, one per process: what a child imports is what it is charged for.

    python bench/logs_child.py ronda LOG STATE [--general]
    python bench/logs_child.py floor LOG

Prints one JSON object: the figures measured inside the process.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child_ronda(log: str, state: str, general: bool = False) -> dict:
    sys.path.insert(0, str(ROOT))
    from ronda.agent.host import LocalHost
    from ronda.agent.usage import UsageOptions, collect_usage
    from ronda.agent.usage.collect import UsageCollector
    from ronda.model import App, LogRef

    app = App(
        key="bench",
        kind="nginx",
        server_names=["app.example.go.id"],
        access_logs=[LogRef(path=log, format="combined")],
    )
    collector = UsageCollector(LocalHost(), [app], {}, Path(state), UsageOptions(lean_regex=not general))
    wall, cpu = time.perf_counter(), time.process_time()
    errors = collector.run()  # what collect_usage() runs
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert collect_usage
    daily = [
        (d.date, d.human, d.bot, d.monitor, d.error, d.scanner, d.human_clients) for d in app.usage.daily
    ]
    return {
        "errors": [e.message for e in errors],
        "lines": collector.stats.lines,
        "wall": wall,
        "cpu": cpu,
        "lean_lines": collector.stats.lean_lines,
        "bytes_read": collector.stats.bytes_read,
        "human": sum(d.human for d in app.usage.daily),
        "daily": daily,
        "last_human": str(app.usage.last_human_request),
    }


def child_floor(log: str) -> dict:
    """The C-level work of ronda's design alone, with no tallies, state or Python per distinct row.

    The same reads, newline count, lean-regex findall and Counter per 1 MiB buffer as the real parse:
    the least a parser built on `re.findall` and `Counter` does per line, so this bounds what ronda
    can reach (tallies, times and the state come on top).
    """
    sys.path.insert(0, str(ROOT))
    from collections import Counter

    from ronda.agent.usage import UsageOptions
    from ronda.agent.usage.formats import parse_definition

    options = UsageOptions()
    lean = parse_definition("nginx", "combined", None).compile([], list(options.monitor_paths)).lean
    assert lean is not None
    wall, cpu = time.perf_counter(), time.process_time()
    lines = rows = 0
    rest = b""
    with open(log, "rb") as f:
        while block := f.read(options.chunk_bytes):
            cut = block.rfind(b"\n") + 1
            buf, rest = rest + block[:cut], block[cut:]
            lines += buf.count(b"\n")
            rows += len(Counter(lean.findall(buf)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"lines": lines, "distinct_rows": rows, "wall": wall, "cpu": cpu}


def main(argv: list[str]) -> int:
    if argv[:1] == ["ronda"] and len(argv) in (3, 4):
        print(json.dumps(child_ronda(argv[1], argv[2], general=argv[3:] == ["--general"])))
    elif argv[:1] == ["floor"] and len(argv) == 2:
        print(json.dumps(child_floor(argv[1])))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
