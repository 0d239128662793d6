"""Request times as logged: the day of a line, and its exact time for the few lines that need one.

Days repeat on every line of a log, so the day's own work (validation, the
epoch of its midnight) is cached per distinct raw value; only the clock is
read per line.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from functools import lru_cache

from ronda.agent.usage.formats import month_number


def day_of(kind: str, raw: bytes) -> str | None:
    """The raw day field as YYYY-MM-DD, or None when it is no valid date."""
    try:
        if kind == "clf":  # 10/Oct/2000
            d, mon, y = raw.decode("ascii").split("/")
            return datetime(int(y), month_number(mon), int(d)).strftime("%Y-%m-%d")
        if kind == "iso8601":
            return datetime.strptime(raw.decode("ascii"), "%Y-%m-%d").strftime("%Y-%m-%d")
        if kind == "epoch":
            return datetime.fromtimestamp(int(raw), UTC).strftime("%Y-%m-%d")
    except (ValueError, KeyError, OverflowError, OSError):
        return None
    return None


@lru_cache(maxsize=1024)
def _midnight(kind: str, raw: bytes) -> int | None:
    """Epoch seconds of 00:00 UTC on the raw day, or None when it is no valid date."""
    day = day_of(kind, raw)
    if day is None:
        return None
    y, mo, d = (int(x) for x in day.split("-"))
    return calendar.timegm((y, mo, d, 0, 0, 0, 0, 0, 0))


def epoch_of(kind: str, day_raw: bytes, clock: bytes | None) -> int | None:
    """Epoch seconds of a line from its day field and clock (time of day and zone)."""
    try:
        if kind == "epoch":
            return int(day_raw)
        midnight = _midnight(kind, day_raw)
        if midnight is None or clock is None:
            return None
        text = clock.decode("ascii")
        if kind == "clf":  # 13:55:36 -0700
            hms, zone = text.split(" ")
            offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * 60 * (-1 if zone[0] == "-" else 1)
        else:  # 13:55:36+07:00 or 13:55:36Z
            hms, zone = text[:8], text[8:]
            offset = (
                0
                if zone in ("Z", "")
                else (int(zone[1:3]) * 60 + int(zone[4:6])) * 60 * (-1 if zone[0] == "-" else 1)
            )
        h, mi, s = (int(x) for x in hms.split(":"))
        if h > 23 or mi > 59 or s > 60:
            return None
        return midnight + h * 3600 + mi * 60 + s - offset
    except (ValueError, IndexError):
        return None
