"""Bounded walk of an app root: bytes on disk, file count, newest code file.

Never follows symlinks (so no loops), never reads file contents, counts sparse
files by the blocks they really use, and stops at a file count or a time limit
with `truncated` set.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ronda.agent.host import Host, HostError
from ronda.agent.inspect.files import Problem, reason

CODE_SUFFIXES = (
    ".php",
    ".phtml",
    ".inc",
    ".js",
    ".mjs",
    ".cjs",
    ".ts",
    ".py",
    ".rb",
    ".java",
    ".jsp",
    ".war",
    ".jar",
    ".class",
    ".html",
    ".htm",
    ".twig",
    ".tpl",
    ".blade.php",
    ".go",
    ".css",
    ".vue",
    ".json",
    ".xml",
    ".yml",
    ".yaml",
    ".ini",
    ".conf",
    ".sh",
)
# Written by the running app, not by a deployment.
NOT_CODE_DIRS = {
    "cache",
    "caches",
    "tmp",
    "temp",
    "log",
    "logs",
    "sessions",
    "uploads",
    "upload",
    "files",
    "storage",
    "var",
    "data",
    "media",
    "backup",
    "backups",
    ".git",
    "lost+found",
}


@dataclass
class Walk:
    bytes: int = 0
    files: int = 0
    truncated: bool = False
    newest_mtime: datetime | None = None
    newest_file: str = ""
    problems: list[Problem] = field(default_factory=list)


def walk(host: Host, root: str, max_files: int, max_seconds: float) -> Walk:
    result = Walk()
    deadline = time.monotonic() + max_seconds
    try:
        top = host.stat(root)
    except HostError as e:
        result.problems.append(Problem(root, reason(e, root)))
        return result
    if not top.is_dir:
        _count(result, root, top.size, top.allocated_bytes, top.mtime, code=True)
        return result
    seen_dirs = {(top.dev, top.ino)}
    stack: list[tuple[str, bool]] = [(root, True)]
    while stack:
        path, code = stack.pop()
        try:
            names = host.listdir(path)
        except HostError as e:
            result.problems.append(Problem(path, reason(e, path)))
            continue
        for name in names:
            if result.files >= max_files or time.monotonic() > deadline:
                result.truncated = True
                return result
            child = posixpath.join(path, name)
            try:
                st = host.lstat(child)
            except HostError as e:
                result.problems.append(Problem(child, reason(e, child)))
                continue
            if st.is_link:
                continue
            if st.is_dir:
                if (st.dev, st.ino) not in seen_dirs:
                    seen_dirs.add((st.dev, st.ino))
                    stack.append((child, code and name.lower() not in NOT_CODE_DIRS))
                continue
            if not st.is_file:
                continue
            is_code = code and name.lower().endswith(CODE_SUFFIXES)
            _count(result, child, st.size, st.allocated_bytes, st.mtime, is_code)
    return result


def _count(result: Walk, path: str, size: int, allocated: int, mtime: float, code: bool) -> None:
    result.files += 1
    result.bytes += min(size, allocated) if allocated >= 0 else size
    if code and (result.newest_mtime is None or mtime > result.newest_mtime.timestamp()):
        result.newest_mtime = datetime.fromtimestamp(mtime, tz=UTC)
        result.newest_file = path
