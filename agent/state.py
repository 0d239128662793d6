"""The agent's own small state: its id and the last sequence number it used.

Kept as one JSON file in the state directory, written atomically, so a
restart continues the sequence and the collector's idempotency holds.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ronda.errors import RondaError


class StateError(RondaError):
    """The state directory cannot be used."""


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
