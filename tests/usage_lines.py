"""Helpers for usage tests: combined-format lines, and what the agent must make of them."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ronda.agent.host import LocalHost
from ronda.agent.usage import UsageCollector, UsageOptions
from ronda.model import App, LogRef

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
UPTIME = "UptimeRobot/2.0; http://www.uptimerobot.com/"
KUBE = "kube-probe/1.29"
# user agent -> what ronda must call it
AGENTS = {
    BROWSER: "human",
    PHONE: "human",
    GOOGLEBOT: "bot",
    BINGBOT: "bot",
    "-": "bot",
    "curl/8.5.0": "bot",
    UPTIME: "monitor",
    KUBE: "monitor",
}


@dataclass(frozen=True)
class Request:
    addr: str
    when: int  # epoch seconds
    path: str
    status: int
    ua: str

    def line(self) -> str:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(self.when))
        return f'{self.addr} - - [{stamp}] "GET {self.path} HTTP/1.1" {self.status} 512 "-" "{self.ua}"'

    @property
    def day(self) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(self.when))

    def kind(self, probes: tuple[str, ...] = ("/healthz",)) -> str:
        """The class the spec gives this request: monitor, bot, reject (403/404), error or human."""
        if self.path.split("?")[0] in probes or AGENTS[self.ua] == "monitor":
            return "monitor"
        if AGENTS[self.ua] == "bot":
            return "bot"
        if self.status in (403, 404):
            return "reject"
        return "error" if self.status >= 400 else "human"


def expected_daily(requests: list[Request], threshold: int = 20) -> dict[str, dict[str, int]]:
    """Per day: human, bot, monitor, error, scanner and human_clients, as the spec defines them."""
    days: dict[str, Counter] = {}
    rejects: Counter = Counter()
    clients: dict[str, set[str]] = {}
    for r in requests:
        day = days.setdefault(r.day, Counter())
        kind = r.kind()
        if kind == "reject":
            rejects[(r.day, r.addr)] += 1
            continue
        day[kind] += 1
        if kind == "human":
            clients.setdefault(r.day, set()).add(r.addr)
    for (day, _), n in rejects.items():
        days[day]["scanner" if n >= threshold else "error"] += n
    for day, who in clients.items():
        days[day]["human_clients"] = len(who)
    fields = ("human", "bot", "monitor", "error", "scanner", "human_clients")
    return {day: {f: c[f] for f in fields} for day, c in days.items() if any(c[f] for f in fields)}


def daily_of(app: App) -> dict[str, dict[str, int]]:
    assert app.usage is not None
    return {
        d.date: {
            "human": d.human,
            "bot": d.bot,
            "monitor": d.monitor,
            "error": d.error,
            "scanner": d.scanner,
            "human_clients": d.human_clients,
        }
        for d in app.usage.daily
    }


def log_app(path: Path, key: str = "app", fmt: str = "combined", prefix: str = "/") -> App:
    return App(
        key=key,
        kind="nginx",
        server_names=[f"{key}.test"],
        path_prefix=prefix,
        access_logs=[LogRef(path=str(path), format=fmt)],
    )


def scan(
    apps: list[App],
    state: Path,
    options: UsageOptions | None = None,
    log_formats: dict[str, str] | None = None,
) -> UsageCollector:
    collector = UsageCollector(LocalHost(), apps, log_formats or {}, state, options)
    errors = collector.run()
    assert errors == [], errors
    return collector
