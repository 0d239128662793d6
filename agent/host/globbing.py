"""Glob a host's paths one segment at a time, through the host's own listdir and lstat.

Python's glob walks the machine running ronda; a host under `--root` or over
SSH must be walked through its seam instead, so that a symbolic link or `..`
in a pattern resolves inside that host and never lists a file outside it.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable

from ronda.agent.host.base import HostError


def has_magic(text: str) -> bool:
    return any(c in text for c in "*?[")


def glob_segments(
    pattern: str, listdir: Callable[[str], list[str]], lstat: Callable[[str], object]
) -> list[str]:
    """The matches `glob.glob` would give on the host (no `**`; hidden names need a leading dot)."""

    def lexists(path: str) -> bool:
        try:
            lstat(path)
            return True
        except HostError:
            return False

    if not pattern.startswith("/"):
        return []
    if not has_magic(pattern):
        return [pattern] if lexists(pattern) else []
    segments = pattern.split("/")[1:]
    paths = ["/"]
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        found: list[str] = []
        for base in paths:
            if not segment:
                found.append(base + "/" if last else base)
            elif has_magic(segment):
                try:
                    names = listdir(base)
                except HostError:
                    continue
                if not segment.startswith("."):
                    names = [n for n in names if not n.startswith(".")]
                found += [posixpath.join(base, n) for n in fnmatch.filter(names, segment)]
            else:
                candidate = posixpath.join(base, segment)
                if not last or lexists(candidate):
                    found.append(candidate)
        paths = found
    return sorted(paths)
