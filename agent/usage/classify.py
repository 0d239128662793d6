"""Who sent a request: a person, a crawler, a monitor — decided once per distinct value.

Crawlers are recognised by the patterns of the `crawler-user-agents` package
(a community-maintained list), monitors by configurable user agents, source
addresses and probe paths. Results are cached per user agent and address, so
the cost is paid once per distinct string, not once per line.
"""

from __future__ import annotations

import ipaddress
import re

import crawleruseragents

from ronda.agent.usage.options import UsageOptions

HUMAN, BOT, MONITOR, ERROR, REJECT = range(5)
CLASS_NAMES = ("human", "bot", "monitor", "error", "reject")
_CACHE_LIMIT = 10_000
_LITERAL = re.compile(r"^(?:[^\\\[\](){}.*+?^$|]|\\[/\-. ])+$")
_GRAM = 3
_crawlers: CrawlerMatcher | None = None


class CrawlerMatcher:
    """The crawler-user-agents patterns, matched fast.

    Nearly all of the ~1,500 patterns are plain strings: they are indexed by
    their first three characters, so a user agent is checked against the few
    whose start occurs in it. The rest are one compiled alternation.
    """

    def __init__(self, patterns: list[str]) -> None:
        self.short: list[str] = []
        self.by_gram: dict[str, list[str]] = {}
        regexes = []
        for pattern in patterns:
            if _LITERAL.match(pattern):
                literal = re.sub(r"\\(.)", r"\1", pattern)
                if len(literal) < _GRAM:
                    self.short.append(literal)
                else:
                    self.by_gram.setdefault(literal[:_GRAM], []).append(literal)
            else:
                regexes.append(f"(?:{pattern})")
        self.rest = re.compile("|".join(regexes)) if regexes else None

    def search(self, ua: str) -> bool:
        by_gram = self.by_gram
        for i in range(len(ua) - _GRAM + 1):
            found = by_gram.get(ua[i : i + _GRAM])
            if found and any(literal in ua for literal in found):
                return True
        if any(literal in ua for literal in self.short):
            return True
        return bool(self.rest and self.rest.search(ua))


def crawler_matcher() -> CrawlerMatcher:
    global _crawlers
    if _crawlers is None:
        _crawlers = CrawlerMatcher([e["pattern"] for e in crawleruseragents.CRAWLER_USER_AGENTS_DATA])
    return _crawlers


class Classifier:
    def __init__(self, options: UsageOptions) -> None:
        self.crawlers = crawler_matcher()
        agents = [a for a in options.monitor_agents if a]
        self.monitor_agents = (
            re.compile("|".join(re.escape(a) for a in agents), re.IGNORECASE) if agents else None
        )
        self.networks = []
        for text in options.monitor_addresses:
            try:
                self.networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                continue
        self._agents: dict[bytes, int] = {}
        self._addresses: dict[bytes, bool] = {}

    def agent_class(self, ua: bytes) -> int:
        cls = self._agents.get(ua)
        if cls is None:
            text = ua.decode("utf-8", "replace")
            if self.monitor_agents is not None and self.monitor_agents.search(text):
                cls = MONITOR
            elif not text.strip(" -") or self.crawlers.search(text):
                cls = BOT  # browsers always send a user agent; an empty one is a script
            else:
                cls = HUMAN
            if len(self._agents) >= _CACHE_LIMIT:
                self._agents.clear()
            self._agents[ua] = cls
        return cls

    def monitor_address(self, addr: bytes) -> bool:
        if not self.networks:
            return False
        known = self._addresses.get(addr)
        if known is None:
            try:
                ip = ipaddress.ip_address(addr.decode("ascii", "replace").strip("[]"))
                known = any(ip in net for net in self.networks)
            except ValueError:
                known = False
            if len(self._addresses) >= _CACHE_LIMIT:
                self._addresses.clear()
            self._addresses[addr] = known
        return known

    def classify_known(self, agent_class: int, probe: bytes, monitor_address: int, status: int) -> int:
        """One of HUMAN, BOT, MONITOR, ERROR or REJECT (a 403/404 that may belong to a scanner flood)."""
        if probe or monitor_address:
            return MONITOR
        if agent_class != HUMAN:
            return agent_class
        if status in (403, 404):
            return REJECT
        if status >= 400:
            return ERROR
        return HUMAN
