"""Human-readable views of a snapshot for `ronda-agent scan`."""

from __future__ import annotations

from ronda.agent.usage import summarize
from ronda.model import ListenAddress, Listener, Snapshot
from ronda.safetext import terminal_text


def table(rows: list[list[str]], headers: list[str]) -> str:
    rows = [[terminal_text(str(v)) for v in row] for row in rows]  # what hosts wrote is shown, not obeyed
    widths = (
        [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
        if rows
        else [len(h) for h in headers]
    )

    def line(values: list[str]) -> str:
        return "  ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def snapshot_text(snapshot: Snapshot) -> str:
    h = snapshot.host
    head = terminal_text(
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
    unread = unread_listeners(snapshot.listeners)
    if unread:
        parts += [
            "",
            f"{len(unread)} process(es) listen but serve no app ronda found "
            "(a server ronda cannot read, or no web app):",
            table(unread, ["PROCESS", "PID", "USER", "UNIT/CONTAINER", "LISTEN", "PUBLIC"]),
        ]
    if snapshot.errors:
        parts += ["", f"{len(snapshot.errors)} problem(s) while reading the host:"]
        parts += [
            terminal_text(
                f"  [{e.source}] {e.path}{':' + str(e.line) if e.line else ''} {e.message}".replace(
                    "  ", " ", 1
                )
            )
            for e in snapshot.errors
        ]
    return "\n".join(parts)


def unread_listeners(listeners: list[Listener]) -> list[list[str]]:
    """One row per process whose listening sockets serve no app found, so no web server stays invisible.

    A socket of a process that serves an app elsewhere (nginx's status port) is that server's, not unknown.
    """
    serving = {x.pid for x in listeners if x.app_keys and x.pid}
    groups: dict[tuple, list[Listener]] = {}
    for x in listeners:
        if x.app_keys or (x.pid and x.pid in serving):
            continue
        key = (x.pid, x.process) if x.pid else (0, f"{x.address}:{x.port}")
        groups.setdefault(key, []).append(x)
    rows = []
    for (pid, _), sockets in sorted(groups.items(), key=lambda g: (not any(x.public for x in g[1]), g[0])):
        first = sockets[0]
        addresses = sorted({str(ListenAddress(x.address, x.port)) for x in sockets}, key=_by_port)
        rows.append(
            [
                first.process or "?",
                str(pid or "?"),
                first.user or "",
                first.unit or first.container,
                ",".join(addresses),
                "yes" if any(x.public for x in sockets) else "no",
            ]
        )
    return rows


def _by_port(address: str) -> tuple[int, str]:
    port = address.rsplit(":", 1)[-1]
    return (int(port) if port.isdigit() else 0, address)
