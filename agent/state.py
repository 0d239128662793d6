"""The agent's own small state: its id and the last sequence number it used.

Kept as one JSON file in the state directory, written atomically, so a
restart continues the sequence and the collector's idempotency holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ronda.errors import RondaError
from ronda.paths import default_path


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
            except (OSError, ValueError) as e:
                raise StateError(f"{path} is damaged ({e}); move it away to start a new sequence") from None
        return state

    def next_sequence(self) -> int:
        """Advance and persist the sequence before the snapshot that uses it is sent."""
        self.sequence += 1
        self.save()
        return self.sequence

    def save(self) -> None:
        data = json.dumps({"agent_id": self.agent_id, "sequence": self.sequence})
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
