"""The sentences reconciliation writes into reasons and findings, one template each.

The store keeps them in English, as these templates fill them in. A reader in another
language gets them through `ronda.collector.words`, which finds the template a stored text
was written from, translates it through the catalog, and writes each placeholder in that
language (a date as `7 Des 2026`, a status as `nonaktif`). So a sentence is written here
once: change its English and its translations follow through the catalog.

Placeholders are typed by name (see KINDS); `ago`, `why`, `apps`, `in_use`, `problems` and
`status` hold pieces that are templates themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ronda.i18n import N_

# What each placeholder holds: how it is recognised in a stored text and written in another language.
KINDS = {
    "date": "date",
    "start": "date",
    "days": "number",
    "hours": "number",
    "count": "number",
    "limit": "number",
    "needed": "number",
    "recent": "number",
    "previous": "number",
    "more": "number",
    "port": "number",
    "money": "money",
    "status": "status",
    "trend": "trend",
    "ago": "piece:ago",
    "why": "piece:dependency",
    "apps": "piece:apps",
    "in_use": "list:in-use",
    "problems": "join:unowned-problem",
    "runs": "piece:runs",
    "process": "piece:process",
}
_PATTERNS = {
    "date": r"\d{4}-\d{2}-\d{2}",
    "number": r"\d+",
    "money": r"\d[\d.]*",
    "status": r"[a-z][a-z -]*",
    "trend": r"[a-z]+",
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Text:
    """One English sentence with {placeholders}, in a group (a reason's rule, a finding's kind)."""

    group: str
    message: str
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    placeholders: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts, seen, at = [], set(), 0
        for m in PLACEHOLDER.finditer(self.message):
            parts.append(re.escape(self.message[at : m.start()]))
            name = m.group(1)
            if name in seen:
                parts.append(f"(?P={name})")
            else:
                kind = KINDS.get(name, "text")
                parts.append(f"(?P<{name}>{_PATTERNS.get(kind, '.+?')})")
                seen.add(name)
            at = m.end()
        parts.append(re.escape(self.message[at:]))
        object.__setattr__(self, "pattern", re.compile("".join(parts), re.DOTALL))
        object.__setattr__(self, "placeholders", "{" in self.message or "}" in self.message)
        TEXTS.setdefault(self.group, []).append(self)

    def __call__(self, **values: object) -> str:
        return self.message.format_map(values) if self.placeholders else self.message


TEXTS: dict[str, list[Text]] = {}

# Pieces that fill other sentences.
TODAY = Text("ago", N_("today"))
DAY_AGO = Text("ago", N_("1 day ago"))
DAYS_AGO = Text("ago", N_("{days} days ago"))
APPS_MORE = Text("apps", N_("{apps} and {more} more"))
IN_USE_DECLARED = Text("in-use", N_("declared {status}"))
IN_USE_REQUEST = Text("in-use", N_("last request {date}"))
NO_OWNER_AGENCY = Text("unowned-problem", N_("no owner agency"))
UNKNOWN_OWNER = Text("unowned-problem", N_("owner '{owner}' is not a known agency"))
NO_CONTACT = Text("unowned-problem", N_("no contact"))
PROXIES_TO = Text("dependency", N_("{app} proxies to it ({upstream})"))
PROXIES_TO_HOST = Text("dependency", N_("{app} proxies to it ({upstream}), asking for Host {name}"))
PROXIES_TO_DEFAULT = Text(
    "dependency",
    N_("{app} proxies to it ({upstream}), asking for Host {name}, which the default virtual host answers"),
)
PROXIES_TO_ANY = Text("dependency", N_("{app} proxies to it ({upstream}), passing on any Host it receives"))
SERVED_INSIDE = Text("dependency", N_("{app} is served inside this vhost"))
DECLARED_DEPENDENCY = Text("dependency", N_("{app_id} ({name}) is declared to depend on it"))
RUNS = Text("runs", N_("declared {declared}, runs {found}"))
UNKNOWN_PROCESS = Text("process", N_("unknown process"))

# Reasons, by rule.
HUMAN_USE = Text("human-use", N_("humans used it {ago} ({date})"))
HUMAN_USE_COUNT = Text(
    "human-use", N_("humans used it {ago} ({date}); {count} human requests in {days} days")
)
LOW_USE = Text("low-use", N_("only {count} human requests in {days} days (fewer than {limit})"))
NO_HUMAN_USE = Text("no-human-use", N_("no human use in the last {days} days (last: {date})"))
NO_HUMAN_USE_EVER = Text("no-human-use", N_("no human use in the last {days} days (none in the logs)"))
SUPERSEDED_USED = Text("superseded", N_("superseded by {app} but still used: move its users first"))
SUPERSEDED = Text("superseded", N_("superseded by {app}"))
DECLARED_USED = Text("declared-status", N_("declared {status} but humans still use it"))
DECLARED = Text("declared-status", N_("declared {status}"))
SHARED_SERVICE = Text("shared-service", N_("a shared/common service still in use ({in_use})"))
NO_HUMAN_TREND = Text("trend", N_("no human requests in the last {days} days"))
TREND = Text(
    "trend", N_("human requests {trend}: {recent} in the last {days} days, {previous} in the {days} before")
)
OWNER = Text("owner", N_("owner: {owner}, contact {contact}"))
OWNER_UNIT = Text("owner", N_("owner: {owner}, {unit}, contact {contact}"))
OWNER_NO_CONTACT = Text("owner", N_("owner: {owner}, no contact"))
OWNER_UNIT_NO_CONTACT = Text("owner", N_("owner: {owner}, {unit}, no contact"))
NO_OWNER = Text("owner", N_("owner: none declared, contact {contact}"))
NO_OWNER_UNIT = Text("owner", N_("owner: none declared, {unit}, contact {contact}"))
NO_OWNER_NO_CONTACT = Text("owner", N_("owner: none declared, no contact"))
NO_OWNER_UNIT_NO_CONTACT = Text("owner", N_("owner: none declared, {unit}, no contact"))
COST = Text("cost", N_("declared annual cost Rp {money}"))
UNDECLARED = Text("undeclared", N_("not in the declared inventory: no owner on record"))
COVERED = Text("coverage", N_("logs cover {days} days (since {date})"))
NO_LOG = Text("coverage", N_("no readable access log for {apps}"))
PARTLY_READABLE = Text("coverage", N_("access logs only partly readable for {apps}"))
SHORT_LOGS = Text("coverage", N_("logs cover only {days} days (since {date}); {needed} are needed"))
NEVER_REPORTED = Text("stale-host", N_("host {host} has never reported"))
STALE_HOST = Text(
    "stale-host", N_("host {host} last reported {hours} hours ago ({date}); more than {limit} hours")
)
NOT_FOUND = Text(
    "missing", N_("declared but found on no host ronda covers: check the inventory, or the host has no agent")
)
DEPENDED_ON = Text("depended-on", N_("{why}"))
SUB_APP_IDLE = Text("sub-app", N_("{why}, and is idle too: it goes with it"))
UNSUPPORTED_USED = Text(
    "unsupported-version", N_("runs {software}, whose support ended {date}: upgrade it or replace it")
)
UNSUPPORTED = Text(
    "unsupported-version",
    N_("runs {software}, whose support ended {date}: left running, it is a risk for nobody's benefit"),
)
SUB_APP_UNKNOWN = Text("sub-app", N_("{why}, and its use is unknown (no log covering the window)"))

# Findings, by kind.
HIDDEN = Text("hidden", N_("{app} on {host} matches no declared app"))
HIDDEN_INSIDE = Text(
    "hidden",
    N_("{app} on {host} matches no declared app (it is served inside the vhost of declared {owner})"),
)
HIDDEN_BEHIND = Text("hidden", N_("{app} on {host} matches no declared app (served behind {fronts})"))
HIDDEN_BEHIND_UNDECLARED = Text(
    "hidden", N_("{app} on {host} matches no declared app (served behind {fronts}, undeclared)")
)
MISSING = Text("missing", N_("{app_id} {name} ({where}) is declared active but runs on no host ronda covers"))
MISSING_HOST = Text(
    "missing",
    N_(
        "{app_id} {name} ({where}) is declared active but runs on no host ronda covers; "
        "declared host {host} sends no snapshots"
    ),
)
NOTHING_TO_MATCH = Text("missing-where", N_("no URL or directory declared to match by"))
IDLE = Text("idle", N_("{name}: no human use in {days} days (last: {date}; logs since {start})"))
IDLE_NEVER = Text("idle", N_("{name}: no human use in {days} days (last: never seen; logs since {start})"))
STILL_SERVED = Text("status-mismatch", N_("{app_id} is declared {status} but still served on {hosts}"))
STILL_SERVED_LAST = Text(
    "status-mismatch", N_("{app_id} is declared {status} but still served on {hosts} (last request {date})")
)
ACTIVE_UNUSED = Text("status-mismatch", N_("{app_id} is declared active but nobody used it in {days} days"))
UNOWNED = Text("unowned", N_("{app_id} {name}: {problems}"))
DRIFT_HOST = Text("drift", N_("{app_id} is declared on {host} but runs on {hosts}"))
DRIFT_FRAMEWORK = Text("drift", N_("{app_id} on {host}: {runs}"))
EXPOSED = Text(
    "exposed-listener", N_("{host} listens on public {address}/{protocol}, which belongs to no known app")
)
EXPOSED_BY = Text(
    "exposed-listener",
    N_("{host} listens on public {address}/{protocol} by {process}, which belongs to no known app"),
)
EXPOSED_SERVES_NOTHING = Text(
    "exposed-listener",
    N_("{address} on {host} ({process}) serves no known app and is reachable from the network"),
)
EXPOSED_UNREPORTED = Text(
    "exposed-listener",
    N_(
        "{address} on {host} is reachable from the network ({service}) "
        "but its {source} snapshot does not report it"
    ),
)
UNSUPPORTED_IN_USE = Text(
    "unsupported-version", N_("{app} on {host} is in use and runs {software}, whose support ended {date}")
)
UNMANAGED = Text("unmanaged-host", N_("{address} serves web ports {ports} but has no agent and no SSH scan"))

# Words that fill placeholders: declared statuses and traffic trends.
STATUS_WORDS = {
    "active": N_("active"),
    "inactive": N_("inactive"),
    "retired": N_("retired"),
    "in-development": N_("in development"),
}
TREND_WORDS = {"rising": N_("rising"), "falling": N_("falling"), "flat": N_("flat"), "none": N_("none")}


def ago(days: int) -> str:
    return TODAY() if days <= 0 else DAY_AGO() if days == 1 else DAYS_AGO(days=days)
