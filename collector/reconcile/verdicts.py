"""Takedown verdicts: every rule gives a reason with its figures; the verdict follows from them.

    humans used it inside the idle window      -> keep (review when barely used,
                                                   superseded, or declared inactive)
    another app depends on it, a shared service
    still in use, declared in development       -> review
    logs do not cover the window, stale host    -> insufficient-evidence
    otherwise (idle, covered, fresh, unneeded)  -> safe-to-take-down

No input is read here: figures come in, a Verdict goes out.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from collector.reconcile.config import ReconcileConfig
from collector.reconcile.model import Decision, DiscoveredApp, HostInfo, Reason, Subject, Verdict
from collector.reconcile.model import iso

SAFE, REVIEW, KEEP, INSUFFICIENT = "safe-to-take-down", "review", "keep", "insufficient-evidence"
VERDICTS = (SAFE, REVIEW, KEEP, INSUFFICIENT)
_COVERAGE_ORDER = {"": 0, "unspecified": 0, "none": 0, "unreadable": 0, "partial": 1, "full": 2}


def _day(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d") if value else None


def _ago(delta: timedelta) -> str:
    days = delta.days
    return "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago"


def _trend(recent: int | None, previous: int | None) -> str | None:
    if recent is None or previous is None:
        return None
    if recent == 0 and previous == 0:
        return "none"
    if previous == 0:
        return "rising"
    ratio = recent / previous
    return "rising" if ratio >= 1.25 else "falling" if ratio <= 0.75 else "flat"


def _sum(values: list[int | None]) -> int | None:
    return None if not values or any(v is None for v in values) else sum(v for v in values if v is not None)


def subject_figures(subject: Subject, hosts: dict[str, HostInfo], inbound: list[tuple[str, str]],
                    decision: Decision | None, config: ReconcileConfig, now: datetime) -> dict[str, Any]:
    apps = subject.apps
    declared = subject.declared
    host_infos = [hosts[a.agent_id] for a in apps if a.agent_id in hosts]
    starts = [a.coverage_start for a in apps]
    coverage_start = None if not apps or any(s is None for s in starts) else max(s for s in starts if s)
    humans = [a.last_human_request for a in apps if a.last_human_request]
    requests = [a.last_request for a in apps if a.last_request]
    seen = [h.last_seen for h in host_infos if h.last_seen]
    oldest_snapshot = min(seen) if seen and len(seen) == len({a.agent_id for a in apps}) else None
    recent, previous = _sum([a.human_recent for a in apps]), _sum([a.human_previous for a in apps])
    return {
        "hosts": sorted({h.hostname or h.agent_id for h in host_infos} | {a.agent_id for a in apps
                                                                          if a.agent_id not in hosts}),
        "apps": len(apps),
        "coverage": min((a.coverage or "" for a in apps), key=lambda c: _COVERAGE_ORDER.get(c, 0), default=None),
        "coverage_start": iso(coverage_start),
        "covered_days": (now - coverage_start).days if coverage_start else None,
        "last_human_request": iso(max(humans)) if humans else None,
        "days_since_human": (now - max(humans)).days if humans else None,
        "last_request": iso(max(requests)) if requests else None,
        "human_requests": _sum([a.human_window for a in apps]),
        "requests": _sum([a.requests_window for a in apps]),
        "human_recent": recent,
        "human_previous": previous,
        "trend": _trend(recent, previous),
        "oldest_snapshot": iso(oldest_snapshot),
        "snapshot_age_hours": round((now - oldest_snapshot).total_seconds() / 3600, 1) if oldest_snapshot else None,
        "inbound": [{"from": source, "why": why} for source, why in inbound],
        "owner": declared.owner if declared else "",
        "contact": declared.contact if declared else "",
        "declared_status": declared.status if declared else None,
        "app_class": declared.app_class if declared else None,
        "superseded_by": declared.superseded_by if declared else None,
        "annual_cost": declared.annual_cost if declared else None,
        "build_cost": declared.build_cost if declared else None,
        "rss_bytes": sum(a.rss_bytes for a in apps),
        "disk_bytes": sum(a.disk_bytes for a in apps),
        "idle_days": config.idle_days,
        "decision": {"decision": decision.decision, "by": decision.by, "at": decision.decided_at,
                     "reason": decision.reason} if decision else None,
    }


def _used(subject: Subject, config: ReconcileConfig, now: datetime) -> datetime | None:
    window_start = now - timedelta(days=config.idle_days)
    humans = [a.last_human_request for a in subject.apps if a.last_human_request]
    last = max(humans) if humans else None
    return last if last and last >= window_start else None


def rules(subject: Subject, figures: dict[str, Any], hosts: dict[str, HostInfo], config: ReconcileConfig,
          now: datetime) -> list[Reason]:
    """Every reason that bears on this subject, each with the figures in its text."""
    out: list[Reason] = []
    declared = subject.declared
    n = config.idle_days
    used = _used(subject, config, now)
    human = figures["human_requests"]
    if used:
        count = f"; {human} human requests in {n} days" if human is not None else ""
        out.append(Reason("human-use", KEEP, f"humans used it {_ago(now - used)} ({_day(used)}){count}"))
        if human is not None and human < config.low_use_requests:
            out.append(Reason("low-use", REVIEW, f"only {human} human requests in {n} days "
                                                 f"(fewer than {config.low_use_requests})"))
    else:
        last = figures["last_human_request"]
        out.append(Reason("no-human-use", SAFE, f"no human use in the last {n} days"
                          + (f" (last: {last[:10]})" if last else " (none in the logs)")))
    if declared and declared.superseded_by:
        if used:
            out.append(Reason("superseded", REVIEW, f"superseded by {declared.superseded_by} but still used: "
                                                    "move its users first"))
        else:
            out.append(Reason("superseded", SAFE, f"superseded by {declared.superseded_by}"))
    if declared and declared.status in ("inactive", "retired"):
        if used:
            out.append(Reason("declared-status", REVIEW, f"declared {declared.status} but humans still use it"))
        else:
            out.append(Reason("declared-status", SAFE, f"declared {declared.status}"))
    elif declared and declared.status == "in-development":
        out.append(Reason("declared-status", REVIEW, "declared in development"))
    for item in figures["inbound"]:
        out.append(Reason("depended-on", REVIEW, f"{item['why']}"))
    if declared and declared.app_class == "common":
        last_request = max((a.last_request for a in subject.apps if a.last_request), default=None)
        in_use = []
        if declared.status in ("active", "in-development"):
            in_use.append(f"declared {declared.status}")
        if last_request and last_request >= now - timedelta(days=n):
            in_use.append(f"last request {_day(last_request)}")
        if in_use:
            out.append(Reason("shared-service", REVIEW, "a shared/common service still in use ("
                                                        + ", ".join(in_use) + ")"))
    out.extend(_evidence(subject, figures, hosts, config, now))
    if figures["trend"] == "none":
        out.append(Reason("trend", "info", f"no human requests in the last {2 * config.trend_days} days"))
    elif figures["trend"]:
        out.append(Reason("trend", "info", f"human requests {figures['trend']}: {figures['human_recent']} in the "
                                           f"last {config.trend_days} days, {figures['human_previous']} in the "
                                           f"{config.trend_days} before"))
    if declared:
        owner = declared.owner or "no owner declared"
        out.append(Reason("owner", "info", f"owner: {owner}" + (f", {declared.unit}" if declared.unit else "")
                          + (f", contact {declared.contact}" if declared.contact else ", no contact")))
        if declared.annual_cost:
            out.append(Reason("cost", "info", f"declared annual cost Rp {declared.annual_cost:,}".replace(",", ".")))
    else:
        out.append(Reason("undeclared", "info", "not in the declared inventory: no owner on record"))
    return out


def _evidence(subject: Subject, figures: dict[str, Any], hosts: dict[str, HostInfo], config: ReconcileConfig,
              now: datetime) -> list[Reason]:
    out = []
    n = config.idle_days
    window_start = now - timedelta(days=n)
    blind = [a for a in subject.apps if _COVERAGE_ORDER.get(a.coverage or "", 0) == 0 or a.coverage_start is None]
    partial = [a for a in subject.apps if a.coverage == "partial"]
    short = [a for a in subject.apps if a.coverage_start and a.coverage_start > window_start]
    if blind:
        out.append(Reason("coverage", INSUFFICIENT, "no readable access log for " + _keys(blind)))
    if partial:
        out.append(Reason("coverage", INSUFFICIENT, "access logs only partly readable for " + _keys(partial)))
    if short:
        start = max(a.coverage_start for a in short if a.coverage_start)
        out.append(Reason("coverage", INSUFFICIENT, f"logs cover only {(now - start).days} days (since "
                                                    f"{_day(start)}); {n} are needed"))
    if not (blind or partial or short) and subject.apps:
        out.append(Reason("coverage", SAFE, f"logs cover {figures['covered_days']} days (since "
                                            f"{figures['coverage_start'][:10]})"))
    stale_after = timedelta(hours=config.stale_after_hours)
    for agent_id in sorted({a.agent_id for a in subject.apps}):
        host = hosts.get(agent_id)
        if host is None or host.last_seen is None:
            out.append(Reason("stale-host", INSUFFICIENT, f"host {agent_id} has never reported"))
        elif now - host.last_seen > stale_after:
            hours = int((now - host.last_seen).total_seconds() // 3600)
            out.append(Reason("stale-host", INSUFFICIENT, f"host {host.hostname or agent_id} last reported "
                                                          f"{hours} hours ago ({_day(host.last_seen)}); more than "
                                                          f"{config.stale_after_hours} hours"))
    return out


def _keys(apps: list[DiscoveredApp]) -> str:
    return ", ".join(a.app_key for a in apps[:3]) + (f" and {len(apps) - 3} more" if len(apps) > 3 else "")


def decide(reasons: list[Reason]) -> str:
    effects = {r.effect for r in reasons}
    if any(r.rule == "human-use" for r in reasons):
        return REVIEW if any(r.effect == REVIEW and r.rule in ("low-use", "superseded", "declared-status")
                             for r in reasons) else KEEP
    if REVIEW in effects:
        return REVIEW
    if INSUFFICIENT in effects:
        return INSUFFICIENT
    return SAFE


def verdict_for(subject: Subject, hosts: dict[str, HostInfo], inbound: list[tuple[str, str]],
                decision: Decision | None, config: ReconcileConfig, now: datetime) -> Verdict:
    figures = subject_figures(subject, hosts, inbound, decision, config, now)
    declared = subject.declared
    if not subject.apps:
        reasons = [Reason("missing", REVIEW, "declared but found on no host ronda covers: check the inventory, "
                                             "or the host has no agent")]
        verdict = REVIEW
    else:
        reasons = rules(subject, figures, hosts, config, now)
        verdict = decide(reasons)
    effect = {SAFE: SAFE, REVIEW: REVIEW, KEEP: KEEP, INSUFFICIENT: INSUFFICIENT}[verdict]
    deciding = [r for r in reasons if r.effect == effect]
    if verdict == REVIEW and subject.apps:
        deciding = [r for r in deciding if r.rule != "human-use"] or deciding
    summary = "; ".join(r.text for r in deciding[:3])
    first = subject.apps[0] if len(subject.apps) == 1 and declared is None else None
    return Verdict(
        subject=subject.handle, verdict=verdict, summary=summary, reasons=reasons, figures=figures,
        name=declared.name if declared else _label(first) if first else "",
        owner=declared.owner if declared else "", hosts=figures["hosts"],
        app_id=declared.app_id if declared else None,
        agent_id=first.agent_id if first else None, app_key=first.app_key if first else None)


def _label(app: DiscoveredApp) -> str:
    name = app.server_names[0] if app.server_names else "_"
    ports = sorted(app.ports)
    port = f":{ports[0]}" if ports and ports[0] not in (80, 443) else ""
    return f"{name}{port}{'' if app.path_prefix in ('', '/') else app.path_prefix}"
