"""The whole reconciliation as one pure function: inputs and a clock in, an Outcome out.

It runs in two steps: `plan` matches the fleet against the declaration once, and
`Plan.outcome` works out the findings and verdicts of a range of its subjects.
Subjects do not depend on one another, so ranges may be worked out apart (by
two processes) and their outcomes written one after the other.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from ronda.collector.reconcile import findings as rules
from ronda.collector.reconcile import texts as T
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.deps import inbound
from ronda.collector.reconcile.inputkey import subject_key
from ronda.collector.reconcile.match import Index, build_index, match_all
from ronda.collector.reconcile.model import (
    Clock,
    DiscoveredApp,
    Finding,
    Inputs,
    Match,
    Outcome,
    Reason,
    Subject,
)
from ronda.collector.reconcile.verdicts import INSUFFICIENT, clock_for, verdict_for


def _used(app: DiscoveredApp, clock: Clock) -> bool:
    return app.last_human_request is not None and app.last_human_request >= clock.window_start


def build_subjects(inputs: Inputs, matches: list[Match]) -> list[Subject]:
    """One subject per declared app (with every present app it matched) and per unmatched present app."""
    present = {a.handle: a for a in inputs.discovered if a.present}
    by_declared: dict[str, list] = defaultdict(list)
    matched: set[str] = set()
    for m in matches:
        if m.handle in present:
            by_declared[m.app_id].append(m)
            matched.add(m.handle)
    subjects = []
    for declared in inputs.declared:
        ms = by_declared.get(declared.app_id, [])
        subjects.append(Subject(declared.app_id, declared, [present[m.handle] for m in ms], ms))
    for handle, app in present.items():
        if handle not in matched:
            subjects.append(Subject(handle, None, [app]))
    return subjects


@dataclass
class Plan:
    """The fleet matched against the declaration: what every subject's findings and verdict read."""

    inputs: Inputs
    config: ReconcileConfig
    clock: Clock
    known: dict[str, int]
    index: Index
    matches: list[Match]
    subjects: list[Subject]
    subject_of: dict[str, str]  # present app -> the subject it belongs to
    by_app: dict
    by_declared: dict
    declared_parent: dict[str, str]  # present app -> the declared subject it belongs to
    run_text: str

    @cached_property
    def positions(self) -> dict[str, int]:
        return {s.handle: i for i, s in enumerate(self.subjects)}

    def owner(self, subject: str) -> int:
        """The position of the subject that a stored finding or verdict about `subject` belongs to
        (`APP#aspect` belongs to APP); len(subjects) for rows about no subject (listeners, sweeps,
        gone apps)."""
        positions = self.positions
        found = positions.get(subject)
        return found if found is not None else positions.get(subject.split("#", 1)[0], len(self.subjects))

    def outcome(self, start: int = 0, stop: int | None = None, fleet: bool = True) -> Outcome:
        """Findings and verdicts of subjects[start:stop]; with `fleet`, also the findings about no subject
        (exposed listeners, network sweeps). Subjects whose input checksum is in `known` are skipped."""
        inputs, config, clock, index, known = self.inputs, self.config, self.clock, self.index, self.known
        subject_of, by_app, by_declared, declared_parent = (
            self.subject_of,
            self.by_app,
            self.by_declared,
            self.declared_parent,
        )
        subjects = self.subjects[start:stop]
        findings: list[Finding] = []
        verdicts = []
        keys: dict[str, int] = {}
        skipped: set[str] = set()
        for subject in subjects:
            declared = subject.declared
            if declared is None and all(a.redirect for a in subject.apps):
                continue  # a redirect record only says where a name points: nothing to find or judge
            deps: list[tuple[str, str]] = []
            notes: list[Reason] = []
            for app in subject.apps:
                for source, why in by_app.get(app.handle, ()):
                    owner = subject_of.get(source, source)
                    if owner == subject.handle:
                        continue
                    child = index.by_handle.get(source)
                    if child is None or child.parent_key != app.app_key or _used(child, clock):
                        deps.append((owner, why))
                    elif rules.app_is_idle(child, clock):  # an idle sub-app blocks nothing: it goes along
                        notes.append(Reason("sub-app", "info", T.SUB_APP_IDLE(why=why)))
                    else:
                        notes.append(Reason("sub-app", INSUFFICIENT, T.SUB_APP_UNKNOWN(why=why)))
            if declared is not None:
                deps += by_declared.get(declared.app_id, ())
            if len(deps) > 1:
                deps = list(dict.fromkeys(deps))
            decision = inputs.decisions.get(subject.handle)
            if declared is None:
                app = subject.apps[0]
                context = (
                    declared_parent.get(f"{app.agent_id}/{app.parent_key}", "") if app.parent_key else ""
                )
            else:
                context = ",".join(sorted(index.agents_called(declared.host))) if declared.host else ""
            key = keys[subject.handle] = subject_key(
                subject, inputs.hosts, deps, notes, decision, clock, self.run_text, context
            )
            if known.get(subject.handle) == key:
                skipped.add(subject.handle)
                continue
            idle = rules.is_idle(subject, clock)
            if declared is None:
                findings += rules.hidden(subject, inputs.hosts, index, declared_parent)
                if idle:
                    findings += rules.idle(subject, config, clock, idle)
            else:
                findings += rules.missing(subject, index)
                findings += rules.idle(subject, config, clock, idle)
                findings += rules.status_mismatch(subject, config, clock, inputs.hosts, idle)
                findings += rules.unowned(subject, config)
                findings += rules.drift(subject, index, inputs.hosts)
            findings += rules.unsupported(subject, clock, inputs.hosts)
            if subject.apps or (declared is not None and declared.status == "active"):
                verdicts.append(verdict_for(subject, inputs.hosts, deps, decision, config, clock, notes))
        if fleet:
            # A sweep may confirm what a snapshot already showed. Sweeps find only hosts and listeners:
            # no subject's finding is of their kinds.
            about_hosts = rules.exposed_listeners(inputs.listeners, index, inputs.hosts, config)
            seen = {(f.kind, f.subject) for f in about_hosts}
            findings += about_hosts
            findings += [f for f in inputs.network_findings if (f.kind, f.subject) not in seen]
        return Outcome(
            matches=self.matches,
            findings=findings,
            verdicts=verdicts,
            subjects=subjects,
            keys=keys,
            skipped=skipped,
        )


def plan(inputs: Inputs, config: ReconcileConfig, now: datetime, known: dict[str, int] | None = None) -> Plan:
    """`known`: the input checksum of each subject as the previous run stored it; a subject whose
    checksum is unchanged is skipped (its stored verdict and findings hold) and listed in Outcome.skipped."""
    index = build_index(inputs.discovered, inputs.hosts, roots=any(d.root for d in inputs.declared))
    matches = match_all(inputs.declared, index, inputs.pins)
    subjects = build_subjects(inputs, matches)
    subject_of: dict[str, str] = {}
    for subject in subjects:
        for app in subject.apps:
            subject_of.setdefault(app.handle, subject.handle)
    by_app, by_declared = inbound(inputs.discovered, inputs.declared, index)
    declared_ids = {d.app_id for d in inputs.declared}
    return Plan(
        inputs,
        config,
        clock_for(now, config),
        known or {},
        index,
        matches,
        subjects,
        subject_of,
        by_app,
        by_declared,
        {h: s for h, s in subject_of.items() if s in declared_ids},
        repr(sorted(config.as_dict().items())),
    )


def reconcile(
    inputs: Inputs, config: ReconcileConfig, now: datetime, known: dict[str, int] | None = None
) -> Outcome:
    """Every subject's findings and verdict, and the findings about no subject (see `plan` for `known`)."""
    return plan(inputs, config, now, known).outcome()
