"""Where a running version stands in its product's support: its release cycle, the day that cycle's
security support ends (or ended), and whether a newer release of the same cycle was out when the data
was taken (the version is outdated)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ronda.agent.inspect.signatures import Product, Release

_NUMBERS = re.compile(r"\d+")


@dataclass(frozen=True)
class Standing:
    version: str
    cycle: str
    end_of_support: date | None  # None: no end announced when the data was taken
    latest: str  # newest release of the cycle then; "" when the data does not say
    source: str  # "https://endoflife.date/wordpress (2026-02-03)"

    def supported_on(self, today: date) -> bool:
        return self.end_of_support is None or today <= self.end_of_support

    @property
    def outdated(self) -> bool:
        """A newer release of the same cycle was out when the data was taken."""
        return bool(self.latest) and _numbers(self.latest) > _numbers(self.version)


def standing(product: Product, version: str) -> Standing | None:
    """The support standing of `version` of `product`, or None when its data has no cycle for it."""
    if product.support is None or not version:
        return None
    release = cycle_of(product.support.releases, version)
    if release is None:
        return None
    source = f"{product.support.source} ({product.support.taken.isoformat()})"
    return Standing(version, release.cycle, release.end, release.latest, source)


def cycle_of(releases: tuple[Release, ...], version: str) -> Release | None:
    """The release whose cycle is the longest prefix, component by component, of `version`."""
    parts = re.split(r"[.-]", version.lstrip("vV"))  # a patch release 2.4.6-p3 is of cycle 2.4.6
    best: Release | None = None
    for r in releases:
        cycle = r.cycle.split(".")
        if parts[: len(cycle)] == cycle and (best is None or len(cycle) > len(best.cycle.split("."))):
            best = r
    return best


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in _NUMBERS.findall(version))
