"""The agent's own small state: its id, the last sequence number it used, and
which of its snapshots' usage the collector holds.

Kept as one JSON file in the state directory, written atomically, so a
restart continues the sequence and the collector's idempotency holds, and
sends only the usage days changed since the snapshot the collector holds
(ronda.agent.usage.delta). An agent that finds no such snapshot here (a first
start, a wiped or damaged state, an older agent rewrote the file) sends whole
windows.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ronda.agent.usage.delta import UsageMark
from ronda.errors import RondaError
from ronda.paths import default_path

# Usage marks kept, by sequence: every spooled snapshot's, and the last acknowledged ones', so that a
# collector restored to one of them still gets only what changed since.
MARKS_KEPT = 64


class StateError(RondaError):
    """The state directory cannot be used."""


def state_dir_for(configured: str, root: str = "") -> str:
    """The state directory of an agent that reads this machine (`configured`, else the default), or
    of one that reads a tree under `root`: a directory of its own under it (roots/NAME-HASH), so that
    a scan of a copy never moves the log offsets, sequence, spool or token of the machine's agent."""
    base = configured or default_path("agent-state")
    if not root or os.path.realpath(root) == "/":
        return base
    real = os.path.realpath(root)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(real))[:40] or "root"
    return os.path.join(base, "roots", f"{name}-{hashlib.sha256(real.encode()).hexdigest()[:12]}")


@dataclass
class AgentState:
    path: Path
    agent_id: str = ""
    sequence: int = 0
    usage_base: int = 0  # the snapshot through which the collector holds this agent's usage (0: none known)
    marks: dict[int, UsageMark] = field(default_factory=dict)  # recent snapshots' usage marks

    @classmethod
    def load(cls, state_dir: str | Path) -> AgentState:
        directory = Path(state_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise StateError(f"cannot create state directory {directory}: {e.strerror}") from None
        path = directory / "agent.json"
        state = cls(path)
        if path.exists():
            try:
                data = json.loads(path.read_text())
                state.agent_id = str(data.get("agent_id", ""))
                state.sequence = int(data.get("sequence", 0))
            except (OSError, ValueError, AttributeError) as e:
                raise StateError(f"{path} is damaged ({e}); move it away to start a new sequence") from None
            try:
                state.marks = {
                    int(sequence): UsageMark(str(where), int(generation))
                    for sequence, (where, generation) in data.get("usage_marks", {}).items()
                }
                base = int(data.get("usage_base", 0))
                state.usage_base = base if base in state.marks else 0
            except (TypeError, ValueError, AttributeError):  # the next snapshot sends whole windows
                state.marks, state.usage_base = {}, 0
        return state

    def next_sequence(self, mark: UsageMark | None = None) -> int:
        """Advance and persist the sequence (and the usage mark of its snapshot) before the snapshot that
        uses it is sent."""
        self.sequence += 1
        if mark is not None:
            self.marks[self.sequence] = mark
            for old in sorted(self.marks)[:-MARKS_KEPT]:
                del self.marks[old]
        self.save()
        return self.sequence

    def usage_since(self) -> UsageMark | None:
        """The mark of the snapshot whose usage the collector holds: the next one sends what changed since."""
        return self.marks.get(self.usage_base)

    def acknowledged(self, sequence: int, usage_base: int, usage_through: int) -> bool:
        """The collector answered snapshot `sequence` (sent relative to `usage_base`) holding this agent's
        usage through `usage_through`; persists what follows. True when its usage lags behind the
        snapshot: it did not hold the base (a store restored from a backup, a collector downgraded or
        reset), so another snapshot should follow now, relative to `usage_through` if its mark is kept,
        else with whole windows. An old collector says 0 to whole windows: that is no lag."""
        self.usage_base = usage_through if usage_through in self.marks else 0
        self.save()
        return usage_through != sequence and (usage_base != 0 or usage_through != 0)

    def save(self) -> None:
        data = json.dumps(
            {
                "agent_id": self.agent_id,
                "sequence": self.sequence,
                "usage_base": self.usage_base,
                "usage_marks": {
                    str(sequence): [mark.state, mark.generation] for sequence, mark in self.marks.items()
                },
            }
        )
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".agent.json.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise StateError(f"cannot write {self.path}: {e.strerror}") from None
