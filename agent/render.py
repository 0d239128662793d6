"""Human-readable views of a snapshot for `ronda-agent scan`."""

from __future__ import annotations

from ronda.agent.usage import summarize
from ronda.model import Snapshot


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = (
        [max(len(str(x)) for x in col) for col in zip(headers, *rows)] if rows else [len(h) for h in headers]
    )

    def line(values):
        return "  ".join(str(v).ljust(w) for v, w in zip(values, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def snapshot_text(snapshot: Snapshot) -> str:
    h = snapshot.host
    head = (
        f"host {h.hostname or '?'} ({h.os_name} {h.os_version}".rstrip() + ")"
        f"  agent {snapshot.agent_id}  {len(snapshot.apps)} apps"
    )
    rows = []
    for app in snapshot.apps:
        names = ",".join(app.server_names[:2]) + ("…" if len(app.server_names) > 2 else "")
        listen = ",".join(sorted({str(a) for a in app.listen}))
        framework = ""
        if app.framework and app.framework.name:
            framework = f"{app.framework.name} {app.framework.version}".strip()
            end = app.framework.end_of_support
            if end and snapshot.collected_at and end < snapshot.collected_at.date().isoformat():
                framework += f" (unsupported since {end})"
        rows.append(
            [
                app.kind,
                names or "_",
                listen,
                app.path_prefix,
                app.root or app.upstream,
                framework,
                summarize(app.usage),
                str(app.config),
            ]
        )
    headers = ["KIND", "NAMES", "LISTEN", "PREFIX", "ROOT/UPSTREAM", "FRAMEWORK", "USAGE", "CONFIG"]
    parts = [head, "", table(rows, headers)]
    if snapshot.errors:
        parts += ["", f"{len(snapshot.errors)} problem(s) while reading the host:"]
        parts += [
            f"  [{e.source}] {e.path}{':' + str(e.line) if e.line else ''} {e.message}".replace("  ", " ", 1)
            for e in snapshot.errors
        ]
    return "\n".join(parts)
