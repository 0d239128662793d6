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

import os
import tomllib
from dataclasses import asdict, dataclass, field, fields

DEFAULT_PATH = "/etc/ronda/reconcile.toml"


class ConfigError(Exception):
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
    path = (
        path
        or os.environ.get("RONDA_RECONCILE_CONFIG")
        or (DEFAULT_PATH if os.path.exists(DEFAULT_PATH) else None)
    )
    if not path:
        return ReconcileConfig()
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read reconcile config {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return config_from_dict(data, path)


def config_from_dict(data: dict, where: str = "config") -> ReconcileConfig:
    defaults = ReconcileConfig()
    known = {f.name for f in fields(ReconcileConfig)}
    problems = [f"unknown setting {k!r}" for k in sorted(set(data) - known)]
    for name, value in data.items():
        if name not in known:
            continue
        default = getattr(defaults, name)
        if isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(f"{name} must be a whole number of 0 or more")
        elif not isinstance(value, list) or not all(
            isinstance(v, type(default[0]) if default else (str, int)) for v in value
        ):
            problems.append(f"{name} must be a list")
    for name in ("idle_days", "trend_days"):
        if isinstance(data.get(name), int) and data[name] < 1:
            problems.append(f"{name} must be at least 1")
    if problems:
        raise ConfigError(
            f"{where}: " + "; ".join(problems) + f"; known settings: {', '.join(sorted(known))}"
        )
    return ReconcileConfig(**data)
