"""Takedown verdicts: every rule gives a reason with its figures; the verdict follows from them.

    humans used it inside the idle window      -> keep (review when barely used,
                                                   superseded, or declared inactive)
    another app depends on it, a shared service
    still in use, declared in development       -> review
    logs do not cover the window, stale host    -> insufficient-evidence
    otherwise (idle, covered, fresh, unneeded)  -> safe-to-take-down

No input is read here: figures come in, a Verdict goes out. It runs once per
app of a fleet, so it avoids needless work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.findings import serving
from ronda.collector.reconcile.model import Clock, Decision, DiscoveredApp, HostInfo, Reason, Subject, Verdict

SAFE, REVIEW, KEEP, INSUFFICIENT = "safe-to-take-down", "review", "keep", "insufficient-evidence"
VERDICTS = (SAFE, REVIEW, KEEP, INSUFFICIENT)
_COVERAGE_RANK = {"partial": 1, "full": 2}  # anything else: no usable coverage
_USED_REVIEW_RULES = ("low-use", "superseded", "declared-status")


@dataclass(slots=True)
class Evidence:
    """A subject's apps taken together: the weakest coverage, the latest use, summed counts."""

    agents: tuple[str, ...]
    last_human: str | None
    last_request: str | None
    coverage: str
    coverage_start: str | None  # the latest start among its apps; None if one has none
    human_window: int | None
    human_recent: int | None
    human_previous: int | None
    rss_bytes: int
    disk_bytes: int


def gather(apps: list[DiscoveredApp]) -> Evidence:
    if len(apps) == 1:
        a = apps[0]
        return Evidence(
            (a.agent_id,),
            a.last_human_request,
            a.last_request,
            a.coverage or "",
            a.coverage_start,
            a.human_window,
            a.human_recent,
            a.human_previous,
            a.rss_bytes,
            a.disk_bytes,
        )
    humans = [a.last_human_request for a in apps if a.last_human_request]
    requests = [a.last_request for a in apps if a.last_request]
    starts = [a.coverage_start for a in apps if a.coverage_start is not None]
    return Evidence(
        tuple(dict.fromkeys(a.agent_id for a in apps)),
        max(humans, default=None),
        max(requests, default=None),
        min((a.coverage or "" for a in apps), key=lambda c: _COVERAGE_RANK.get(c, 0), default=""),
        max(starts) if apps and len(starts) == len(apps) else None,
        _sum([a.human_window for a in apps]),
        _sum([a.human_recent for a in apps]),
        _sum([a.human_previous for a in apps]),
        sum(a.rss_bytes for a in apps),
        sum(a.disk_bytes for a in apps),
    )


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if values and len(known) == len(values) else None


def _ago(days: int) -> str:
    return "today" if days <= 0 else "1 day ago" if days == 1 else f"{days} days ago"


def clock_for(now: datetime | Clock, config: ReconcileConfig) -> Clock:
    return now if isinstance(now, Clock) else Clock.at(now, config.idle_days, config.stale_after_hours)


def _trend(recent: int | None, previous: int | None) -> str | None:
    if recent is None or previous is None:
        return None
    if recent == 0 and previous == 0:
        return "none"
    if previous == 0:
        return "rising"
    ratio = recent / previous
    return "rising" if ratio >= 1.25 else "falling" if ratio <= 0.75 else "flat"


def rules(
    subject: Subject,
    ev: Evidence,
    hosts: dict[str, HostInfo],
    inbound: list[tuple[str, str]],
    config: ReconcileConfig,
    clock: Clock,
    notes: Sequence[Reason] = (),
) -> list[Reason]:
    """Every reason that bears on this subject, each with the figures in its text."""
    out: list[Reason] = []
    declared = subject.declared
    n = config.idle_days
    window_start = clock.window_start
    last_human = ev.last_human or ""  # ISO text: "" sorts before every time
    used = bool(last_human) and last_human >= window_start
    if used:
        count = f"; {ev.human_window} human requests in {n} days" if ev.human_window is not None else ""
        out.append(
            Reason(
                "human-use",
                KEEP,
                f"humans used it {_ago(clock.days_since(last_human))} ({last_human[:10]}){count}",
            )
        )
        if ev.human_window is not None and ev.human_window < config.low_use_requests:
            out.append(
                Reason(
                    "low-use",
                    REVIEW,
                    f"only {ev.human_window} human requests in {n} days "
                    f"(fewer than {config.low_use_requests})",
                )
            )
    else:
        last = f"last: {ev.last_human[:10]}" if ev.last_human else "none in the logs"
        out.append(Reason("no-human-use", SAFE, f"no human use in the last {n} days ({last})"))
    if declared is not None:
        if declared.superseded_by:
            out.append(
                Reason(
                    "superseded",
                    REVIEW,
                    f"superseded by {declared.superseded_by} but still used: move its users first",
                )
                if used
                else Reason("superseded", SAFE, f"superseded by {declared.superseded_by}")
            )
        if declared.status in ("inactive", "retired"):
            out.append(
                Reason("declared-status", REVIEW, f"declared {declared.status} but humans still use it")
                if used
                else Reason("declared-status", SAFE, f"declared {declared.status}")
            )
        elif declared.status == "in-development":
            out.append(Reason("declared-status", REVIEW, "declared in development"))
    for _, why in inbound:
        out.append(Reason("depended-on", REVIEW, why))
    out.extend(unsupported_reasons(subject, used, clock))
    out.extend(notes)  # what the engine knows about sub-apps inside this one
    if declared is not None and declared.app_class == "common":
        in_use = []
        if declared.status in ("active", "in-development"):
            in_use.append(f"declared {declared.status}")
        if ev.last_request and ev.last_request >= window_start:
            in_use.append(f"last request {ev.last_request[:10]}")
        if in_use:
            out.append(
                Reason(
                    "shared-service", REVIEW, f"a shared/common service still in use ({', '.join(in_use)})"
                )
            )
    _evidence(subject, ev, hosts, config, clock, out)
    trend = _trend(ev.human_recent, ev.human_previous)
    if trend == "none":
        out.append(Reason("trend", "info", f"no human requests in the last {2 * config.trend_days} days"))
    elif trend:
        out.append(
            Reason(
                "trend",
                "info",
                f"human requests {trend}: {ev.human_recent} in the last {config.trend_days} "
                f"days, {ev.human_previous} in the {config.trend_days} before",
            )
        )
    if declared is not None:
        out.append(
            Reason(
                "owner",
                "info",
                f"owner: {declared.owner or 'none declared'}"
                + (f", {declared.unit}" if declared.unit else "")
                + (f", contact {declared.contact}" if declared.contact else ", no contact"),
            )
        )
        if declared.annual_cost:
            out.append(
                Reason(
                    "cost", "info", "declared annual cost Rp " + f"{declared.annual_cost:,}".replace(",", ".")
                )
            )
    else:
        out.append(Reason("undeclared", "info", "not in the declared inventory: no owner on record"))
    return out


def _evidence(
    subject: Subject,
    ev: Evidence,
    hosts: dict[str, HostInfo],
    config: ReconcileConfig,
    clock: Clock,
    out: list[Reason],
) -> None:
    apps = serving(subject)
    n = config.idle_days
    window_start = clock.window_start
    if ev.coverage == "full" and ev.coverage_start is not None and ev.coverage_start <= window_start:
        out.append(
            Reason(
                "coverage",
                SAFE,
                f"logs cover {clock.days_since(ev.coverage_start)} days (since {ev.coverage_start[:10]})",
            )
        )
    else:
        blind = [a for a in apps if a.coverage not in _COVERAGE_RANK or a.coverage_start is None]
        partial = [a for a in apps if a.coverage == "partial"]
        short = [a.coverage_start for a in apps if a.coverage_start and a.coverage_start > window_start]
        if blind:
            out.append(Reason("coverage", INSUFFICIENT, "no readable access log for " + _keys(blind)))
        if partial:
            out.append(
                Reason("coverage", INSUFFICIENT, "access logs only partly readable for " + _keys(partial))
            )
        if short:
            start = max(short)
            out.append(
                Reason(
                    "coverage",
                    INSUFFICIENT,
                    f"logs cover only {clock.days_since(start)} days (since {start[:10]}); {n} are needed",
                )
            )
    for agent_id in ev.agents:
        host = hosts.get(agent_id)
        if host is None or host.last_seen is None:
            out.append(Reason("stale-host", INSUFFICIENT, f"host {agent_id} has never reported"))
        elif host.last_seen < clock.stale_before:
            out.append(
                Reason(
                    "stale-host",
                    INSUFFICIENT,
                    f"host {host.hostname or agent_id} last reported "
                    f"{clock.hours_since(host.last_seen)} hours ago "
                    f"({host.last_seen[:10]}); more than "
                    f"{config.stale_after_hours} hours",
                )
            )


def unsupported_reasons(subject: Subject, used: bool, clock: Clock) -> list[Reason]:
    """A release past its end of support: with nobody using it, one more reason to take it down; in use,
    a fact to act on (the unsupported-version finding says so)."""
    out = []
    for a in subject.apps:
        if a.end_of_support and a.end_of_support < clock.text[:10]:
            what = f"{a.framework} {a.framework_version}".strip()
            text = f"runs {what}, whose support ended {a.end_of_support}"
            out.append(
                Reason("unsupported-version", "info", text + ": upgrade it or replace it")
                if used
                else Reason(
                    "unsupported-version", SAFE, text + ": left running, it is a risk for nobody's benefit"
                )
            )
    return out


def _keys(apps: list[DiscoveredApp]) -> str:
    return ", ".join(a.app_key for a in apps[:3]) + (f" and {len(apps) - 3} more" if len(apps) > 3 else "")


def decide(reasons: list[Reason]) -> str:
    used = review_when_used = review = insufficient = False
    for r in reasons:
        if r.rule == "human-use":
            used = True
        elif r.effect == REVIEW:
            review = True
            review_when_used = review_when_used or r.rule in _USED_REVIEW_RULES
        elif r.effect == INSUFFICIENT:
            insufficient = True
    if used:
        return REVIEW if review_when_used else KEEP
    return REVIEW if review else INSUFFICIENT if insufficient else SAFE


def figures(
    subject: Subject,
    ev: Evidence | None,
    hosts: dict[str, HostInfo],
    inbound: list[tuple[str, str]],
    decision: Decision | None,
) -> dict[str, Any]:
    """The numbers behind a verdict, flat (they are stored as columns)."""
    declared = subject.declared
    seen = [s for a in ev.agents if a in hosts and (s := hosts[a].last_seen)] if ev else []
    if ev and len(ev.agents) == 1:
        host = hosts.get(ev.agents[0])
        names = [host.hostname or ev.agents[0] if host else ev.agents[0]]
    else:
        names = sorted({hosts[a].hostname or a if a in hosts else a for a in ev.agents}) if ev else []
    return {
        "hosts": names,
        "apps": len(subject.apps),
        "coverage": ev.coverage if ev else None,
        "coverage_start": ev.coverage_start if ev else None,
        "last_human_request": ev.last_human if ev else None,
        "last_request": ev.last_request if ev else None,
        "human_requests": ev.human_window if ev else None,
        "human_recent": ev.human_recent if ev else None,
        "human_previous": ev.human_previous if ev else None,
        "trend": _trend(ev.human_recent, ev.human_previous) if ev else None,
        "oldest_snapshot": min(seen) if ev and seen and len(seen) == len(ev.agents) else None,
        "inbound": [{"from": source, "why": why} for source, why in inbound],
        "owner": declared.owner if declared else "",
        "annual_cost": declared.annual_cost if declared else None,
        "rss_bytes": ev.rss_bytes if ev and ev.rss_bytes else None,  # None: not measured
        "disk_bytes": ev.disk_bytes if ev and ev.disk_bytes else None,
        "decision": {
            "decision": decision.decision,
            "by": decision.by,
            "at": decision.decided_at,
            "reason": decision.reason,
        }
        if decision
        else None,
    }


def verdict_for(
    subject: Subject,
    hosts: dict[str, HostInfo],
    inbound: list[tuple[str, str]],
    decision: Decision | None,
    config: ReconcileConfig,
    now: datetime | Clock,
    notes: Sequence[Reason] = (),
) -> Verdict:
    declared = subject.declared
    clock = clock_for(now, config)
    if not subject.apps:
        ev = None
        reasons = [
            Reason(
                "missing",
                REVIEW,
                "declared but found on no host ronda covers: check the inventory, or the host has no agent",
            )
        ]
        verdict = REVIEW
    else:
        ev = gather(serving(subject))
        reasons = rules(subject, ev, hosts, inbound, config, clock, notes)
        verdict = decide(reasons)
    deciding = [
        r.text for r in reasons if r.effect == verdict and not (verdict == REVIEW and r.rule == "human-use")
    ]
    single = subject.apps[0] if declared is None and len(subject.apps) == 1 else None
    facts = figures(subject, ev, hosts, inbound, decision)
    return Verdict(
        subject.handle,
        verdict,
        "; ".join(deciding[:3]),
        reasons,
        facts,
        declared.name if declared else _label(single) if single else "",
        declared.owner if declared else "",
        facts["hosts"],
        declared.app_id if declared else None,
        single.agent_id if single else None,
        single.app_key if single else None,
    )


def _label(app: DiscoveredApp) -> str:
    name = app.server_names[0] if app.server_names else "_"
    ports = sorted(app.ports)
    port = f":{ports[0]}" if ports and ports[0] not in (80, 443) else ""
    return f"{name}{port}{'' if app.prefix == '/' else app.prefix}"
