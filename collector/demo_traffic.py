"""Access logs for the demo's sample fleet: seeded, realistic, relative to today.

Each log gets a traffic profile from sample_fleet/traffic.toml and is written
as a live file plus rotated ones (.1, .2.gz, ...), the way logrotate leaves them.
"""

from __future__ import annotations

import gzip
import random
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

WIB = timezone(timedelta(hours=7))
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
]
CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
]
MONITOR = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
SCANNER_PATHS = [
    "/.env",
    "/wp-admin/setup-config.php",
    "/phpmyadmin/scripts/setup.php",
    "/.git/config",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/cgi-bin/luci",
]
SCANNER_UA = "Mozilla/5.0 zgrab/0.x"


@dataclass
class LogSpec:
    host: str
    path: str
    profile: str
    days: int
    paths: list[str] = field(default_factory=lambda: ["/"])
    last_human_days_ago: int = 0
    rotate: int = 7


def _humans_per_day(spec: LogSpec, days_ago: int, rng: random.Random) -> int:
    if spec.profile in ("busy", "recent"):
        return rng.randint(40, 120) if days_ago % 7 not in (5, 6) else rng.randint(5, 20)
    if spec.profile == "light":
        return rng.choice([0, 0, 1, 2, 3, 5])
    if spec.profile in ("fading", "idle"):
        return rng.randint(3, 15) if days_ago > spec.last_human_days_ago else 0
    return 0


def _line(
    when: datetime, client: str, path: str, status: int, size: int, agent: str, referer: str = "-"
) -> str:
    stamp = when.astimezone(WIB).strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'{client} - - [{stamp}] "GET {path} HTTP/1.1" {status} {size} "{referer}" "{agent}"\n'


def day_lines(spec: LogSpec, day: datetime, days_ago: int, rng: random.Random) -> list[tuple[datetime, str]]:
    events: list[tuple[datetime, str]] = []

    def at() -> datetime:
        return day + timedelta(seconds=rng.randint(0, 86_399))

    for _ in range(_humans_per_day(spec, days_ago, rng)):
        client = f"10.{rng.randint(20, 40)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        status = 200 if rng.random() > 0.03 else 404
        events.append(
            (
                when := at(),
                _line(
                    when,
                    client,
                    rng.choice(spec.paths),
                    status,
                    rng.randint(900, 60_000),
                    rng.choice(BROWSERS),
                ),
            )
        )
    for _ in range(rng.randint(2, 12)):
        events.append(
            (
                when := at(),
                _line(
                    when,
                    f"66.249.{rng.randint(64, 79)}.{rng.randint(1, 254)}",
                    rng.choice(spec.paths),
                    200,
                    rng.randint(900, 30_000),
                    rng.choice(CRAWLERS),
                ),
            )
        )
    for hour in range(0, 24, 2):
        when = day + timedelta(hours=hour, minutes=3)
        events.append((when, _line(when, "69.162.124.226", "/", 200, 512, MONITOR)))
    if rng.random() < 0.3:
        scanner = f"45.{rng.randint(1, 250)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        start = at()
        for i, path in enumerate(SCANNER_PATHS):
            when = start + timedelta(seconds=i)
            events.append((when, _line(when, scanner, path, 404, 153, SCANNER_UA)))
    return events


def write_log(root: Path, spec: LogSpec, today: datetime) -> int:
    """Write one log (live file and rotations) under `root`; returns the line count."""
    rng = random.Random(zlib.crc32(f"{spec.host}{spec.path}".encode()))
    midnight = today.astimezone(WIB).replace(hour=0, minute=0, second=0, microsecond=0)
    chunks: dict[int, list[tuple[datetime, str]]] = {}
    for days_ago in range(spec.days, -1, -1):
        events = [
            e for e in day_lines(spec, midnight - timedelta(days=days_ago), days_ago, rng) if e[0] <= today
        ]
        chunks.setdefault(days_ago // spec.rotate, []).extend(events)
    target = root / spec.path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    for generation, events in chunks.items():
        events.sort(key=lambda e: e[0])
        data = "".join(line for _, line in events).encode()
        total += len(events)
        if generation == 0:
            target.write_bytes(data)
        elif generation == 1:
            target.with_name(target.name + ".1").write_bytes(data)
        else:
            with gzip.open(target.with_name(f"{target.name}.{generation}.gz"), "wb") as f:
                f.write(data)
    return total
