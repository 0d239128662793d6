"""Reconciliation thresholds: a TOML file, every value with a sane default.

idle_days = 90                # no human use for this long (with logs covering it) is idle
trend_days = 30               # traffic trend compares the last N days with the N before
stale_after_hours = 48        # a host whose latest snapshot is older cannot support a verdict
low_use_requests = 10         # fewer human requests than this in the idle window: review, not keep
exposed_ignore_ports = [22]   # public listeners that are expected (sshd)
exposed_ignore_processes = ["sshd"]
known_owners = []             # when set, an owner outside the list counts as unknown
unknown_owner_values = ["-", "?", "unknown", "tidak diketahui", "n/a", "tidak ada"]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ronda.errors import ConfigError
from ronda.tomlfile import TomlFile, fields_of, find_config

DEFAULT_PATH = "/etc/ronda/reconcile.toml"


class ReconcileConfigError(ConfigError):
    """The reconcile config cannot be read or has bad values."""


@dataclass(frozen=True)
class ReconcileConfig:
    idle_days: int = 90
    trend_days: int = 30
    stale_after_hours: int = 48
    low_use_requests: int = 10
    exposed_ignore_ports: list[int] = field(default_factory=lambda: [22])
    exposed_ignore_processes: list[str] = field(default_factory=lambda: ["sshd"])
    known_owners: list[str] = field(default_factory=list)
    unknown_owner_values: list[str] = field(
        default_factory=lambda: ["-", "?", "unknown", "tidak diketahui", "n/a", "na", "tidak ada", "none"]
    )

    def as_dict(self) -> dict:
        return asdict(self)


def load_config(path: str | None = None) -> ReconcileConfig:
    """`path`, else $RONDA_RECONCILE_CONFIG, else /etc/ronda/reconcile.toml if it exists, else defaults."""
    path = find_config(path, "RONDA_RECONCILE_CONFIG", DEFAULT_PATH)
    if not path:
        return ReconcileConfig()
    file = TomlFile.read(path, "reconcile config", ReconcileConfigError)
    values = file.settings(file.data, fields_of(ReconcileConfig))
    for name, value in values.items():
        least = 1 if name in ("idle_days", "trend_days") else 0
        if isinstance(value, int) and value < least:
            file.problem(f"{name} must be at least {least}", name)
    file.check()
    return ReconcileConfig(**values)
