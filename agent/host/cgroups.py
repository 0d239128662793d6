"""Which systemd unit and container a process belongs to, read from its cgroup paths."""

from __future__ import annotations

import re

_UNIT_RE = re.compile(r"/([^/]+\.(?:service|scope))$")
_CONTAINER_RE = re.compile(r"(?:docker-|docker/|containerd-|libpod-)([0-9a-f]{12,64})")


def cgroup_owner(text: str) -> tuple[str, str]:
    """(unit, container id) from the text of /proc/PID/cgroup; empty strings when none."""
    unit = container = ""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        m = _CONTAINER_RE.search(path)
        if m:
            container = m.group(1)[:12]
        m = _UNIT_RE.search(path)
        if m and not m.group(1).startswith(("docker-", "libpod-")):
            unit = m.group(1)
    return unit, container
