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

from ronda.collector.reconcile import texts as T
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
        ago, day = T.ago(clock.days_since(last_human)), last_human[:10]
        out.append(
            Reason("human-use", KEEP, T.HUMAN_USE(ago=ago, date=day))
            if ev.human_window is None
            else Reason(
                "human-use", KEEP, T.HUMAN_USE_COUNT(ago=ago, date=day, count=ev.human_window, days=n)
            )
        )
        if ev.human_window is not None and ev.human_window < config.low_use_requests:
            out.append(
                Reason(
                    "low-use",
                    REVIEW,
                    T.LOW_USE(count=ev.human_window, days=n, limit=config.low_use_requests),
                )
            )
    else:
        if ev.last_human:
            out.append(Reason("no-human-use", SAFE, T.NO_HUMAN_USE(days=n, date=ev.last_human[:10])))
        else:
            out.append(Reason("no-human-use", SAFE, T.NO_HUMAN_USE_EVER(days=n)))
    if declared is not None:
        if declared.superseded_by:
            out.append(
                Reason("superseded", REVIEW, T.SUPERSEDED_USED(app=declared.superseded_by))
                if used
                else Reason("superseded", SAFE, T.SUPERSEDED(app=declared.superseded_by))
            )
        if declared.status in ("inactive", "retired"):
            out.append(
                Reason("declared-status", REVIEW, T.DECLARED_USED(status=declared.status))
                if used
                else Reason("declared-status", SAFE, T.DECLARED(status=declared.status))
            )
        elif declared.status == "in-development":
            out.append(Reason("declared-status", REVIEW, T.DECLARED(status="in development")))
    for _, why in inbound:
        out.append(Reason("depended-on", REVIEW, T.DEPENDED_ON(why=why)))
    out.extend(unsupported_reasons(subject, used, clock))
    out.extend(notes)  # what the engine knows about sub-apps inside this one
    if declared is not None and declared.app_class == "common":
        in_use = []
        if declared.status in ("active", "in-development"):
            in_use.append(T.IN_USE_DECLARED(status=declared.status))
        if ev.last_request and ev.last_request >= window_start:
            in_use.append(T.IN_USE_REQUEST(date=ev.last_request[:10]))
        if in_use:
            out.append(Reason("shared-service", REVIEW, T.SHARED_SERVICE(in_use=", ".join(in_use))))
    _evidence(subject, ev, hosts, config, clock, out)
    trend = _trend(ev.human_recent, ev.human_previous)
    if trend == "none":
        out.append(Reason("trend", "info", T.NO_HUMAN_TREND(days=2 * config.trend_days)))
    elif trend:
        recent, previous = ev.human_recent, ev.human_previous
        text = T.TREND(trend=trend, recent=recent, days=config.trend_days, previous=previous)
        out.append(Reason("trend", "info", text))
    if declared is not None:
        out.append(Reason("owner", "info", _owner(declared.owner, declared.unit, declared.contact)))
        if declared.annual_cost:
            money = f"{declared.annual_cost:,}".replace(",", ".")
            out.append(Reason("cost", "info", T.COST(money=money)))
    else:
        out.append(Reason("undeclared", "info", T.UNDECLARED()))
    return out


def _owner(owner: str, unit: str, contact: str) -> str:
    template = {
        (True, True, True): T.OWNER_UNIT,
        (True, False, True): T.OWNER,
        (True, True, False): T.OWNER_UNIT_NO_CONTACT,
        (True, False, False): T.OWNER_NO_CONTACT,
        (False, True, True): T.NO_OWNER_UNIT,
        (False, False, True): T.NO_OWNER,
        (False, True, False): T.NO_OWNER_UNIT_NO_CONTACT,
        (False, False, False): T.NO_OWNER_NO_CONTACT,
    }[(bool(owner), bool(unit), bool(contact))]
    return template(owner=owner, unit=unit, contact=contact)


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
                T.COVERED(days=clock.days_since(ev.coverage_start), date=ev.coverage_start[:10]),
            )
        )
    else:
        blind = [a for a in apps if a.coverage not in _COVERAGE_RANK or a.coverage_start is None]
        partial = [a for a in apps if a.coverage == "partial"]
        short = [a.coverage_start for a in apps if a.coverage_start and a.coverage_start > window_start]
        if blind:
            out.append(Reason("coverage", INSUFFICIENT, T.NO_LOG(apps=_keys(blind))))
        if partial:
            out.append(Reason("coverage", INSUFFICIENT, T.PARTLY_READABLE(apps=_keys(partial))))
        if short:
            start = max(short)
            out.append(
                Reason(
                    "coverage",
                    INSUFFICIENT,
                    T.SHORT_LOGS(days=clock.days_since(start), date=start[:10], needed=n),
                )
            )
    for agent_id in ev.agents:
        host = hosts.get(agent_id)
        if host is None or host.last_seen is None:
            out.append(Reason("stale-host", INSUFFICIENT, T.NEVER_REPORTED(host=agent_id)))
        elif host.last_seen < clock.stale_before:
            out.append(
                Reason(
                    "stale-host",
                    INSUFFICIENT,
                    T.STALE_HOST(
                        host=host.hostname or agent_id,
                        hours=clock.hours_since(host.last_seen),
                        date=host.last_seen[:10],
                        limit=config.stale_after_hours,
                    ),
                )
            )


def unsupported_reasons(subject: Subject, used: bool, clock: Clock) -> list[Reason]:
    """A release past its end of support: with nobody using it, one more reason to take it down; in use,
    a fact to act on (the unsupported-version finding says so)."""
    out = []
    for a in subject.apps:
        if a.end_of_support and a.end_of_support < clock.text[:10]:
            what = f"{a.framework} {a.framework_version}".strip()
            out.append(
                Reason(
                    "unsupported-version", "info", T.UNSUPPORTED_USED(software=what, date=a.end_of_support)
                )
                if used
                else Reason("unsupported-version", SAFE, T.UNSUPPORTED(software=what, date=a.end_of_support))
            )
    return out


def _keys(apps: list[DiscoveredApp]) -> str:
    keys = ", ".join(a.app_key for a in apps[:3])
    return T.APPS_MORE(apps=keys, more=len(apps) - 3) if len(apps) > 3 else keys


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
        reasons = [Reason("missing", REVIEW, T.NOT_FOUND())]
        verdict = REVIEW
    else:
        ev = gather(serving(subject))
        reasons = rules(subject, ev, hosts, inbound, config, clock, notes)
        verdict = decide(reasons)
    deciding = [r.text for r in deciding_reasons(verdict, reasons)]
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


def deciding_reasons(verdict: str, reasons: list[Reason]) -> list[Reason]:
    """The reasons a verdict's summary gives: those arguing for it (human use aside under review)."""
    return [r for r in reasons if r.effect == verdict and not (verdict == REVIEW and r.rule == "human-use")]


def _label(app: DiscoveredApp) -> str:
    name = app.server_names[0] if app.server_names else "_"
    ports = sorted(app.ports)
    port = f":{ports[0]}" if ports and ports[0] not in (80, 443) else ""
    return f"{name}{port}{'' if app.prefix == '/' else app.prefix}"
