"""Bounded, fail-soft reads of known files under an app root, through the Host seam."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ronda.agent.host import Host, HostError

MAX_TEXT = 512 * 1024


@dataclass
class Problem:
    path: str
    message: str


@dataclass
class Files:
    """Reads files relative to `base`. A missing file is None; an unreadable one is None and a Problem.

    Only regular files are read (a FIFO or device at a known path would block), and
    never more than `limit` bytes, so a huge or sparse file costs nothing.
    """

    host: Host
    base: str
    problems: list[Problem] = field(default_factory=list)

    def path(self, rel: str) -> str:
        return posixpath.normpath(posixpath.join(self.base, rel)) if rel else self.base

    def kind(self, rel: str) -> str:
        """ "file", "dir", "other" or "" when there is nothing usable at rel."""
        path = self.path(rel)
        try:
            st = self.host.stat(path)
        except HostError as e:
            self._broken_entry(path, e)
            return ""
        if st.is_file:
            return "file"
        return "dir" if st.is_dir else "other"

    def is_file(self, rel: str) -> bool:
        return self.kind(rel) == "file"

    def is_dir(self, rel: str) -> bool:
        return self.kind(rel) == "dir"

    def text(self, rel: str, limit: int = MAX_TEXT) -> str | None:
        path = self.path(rel)
        kind = self.kind(rel)
        if kind == "":
            return None
        if kind != "file":
            self.problems.append(Problem(path, "not a regular file"))
            return None
        try:
            return self.host.read_text(path, limit)
        except HostError as e:
            self.problems.append(Problem(path, reason(e, path)))
            return None

    def data(self, rel: str, limit: int = MAX_TEXT) -> bytes | None:
        path = self.path(rel)
        if self.kind(rel) != "file":
            return None
        try:
            return self.host.read_bytes(path, limit)
        except HostError as e:
            self.problems.append(Problem(path, reason(e, path)))
            return None

    def listdir(self, rel: str = "", limit: int = 1000) -> list[str]:
        path = self.path(rel)
        try:
            return self.host.listdir(path)[:limit]
        except HostError as e:
            self._broken_entry(path, e)
            return []

    def _broken_entry(self, path: str, error: HostError) -> None:
        """Absent is normal; an entry that exists but cannot be followed or read is a problem."""
        try:
            self.host.lstat(path)
        except HostError:
            return
        reason_text = reason(error, path)
        if "No such file" not in reason_text:  # a dangling symlink counts as absent
            self.problems.append(Problem(path, reason_text))


def reason(error: HostError, path: str = "") -> str:
    """The reason alone, without the path a HostError text carries ("path: reason" or "reason: path")."""
    text = str(error)
    for p in filter(None, (path, text.split(": ", 1)[0] if text.startswith("/") else "")):
        if text.startswith(f"{p}: "):
            return text[len(p) + 2 :]
        if text.endswith(f": {p}"):
            return text[: -len(p) - 2]
    return text
