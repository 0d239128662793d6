"""The whole reconciliation as one pure function: inputs and a clock in, an Outcome out.

It runs in two steps: `plan` matches the fleet against the declaration once;
`Plan.results` then works out each subject's findings and verdict, one
subject at a time, so a caller can write them as they come instead of holding
a fleet's worth at once (`Plan.outcome` collects them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from ronda.collector.reconcile import findings as rules
from ronda.collector.reconcile import texts as T
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.deps import inbound
from ronda.collector.reconcile.inputkey import run_key, subject_key
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
    SubjectResult,
)
from ronda.collector.reconcile.verdicts import INSUFFICIENT, clock_for, verdict_for


def _used(app: DiscoveredApp, clock: Clock) -> bool:
    return app.last_human_request is not None and app.last_human_request >= clock.window_start


@dataclass
class Plan:
    """The fleet matched against the declaration: what every subject's findings and verdict read.

    Subjects: one per declared app, with every present app it matched, then one per present app that
    matched none. They are made one at a time as `results` needs them, not held all at once."""

    inputs: Inputs
    config: ReconcileConfig
    clock: Clock
    known: dict[str, int]
    index: Index
    matches: list[Match]
    matched: dict[str, list[Match]]  # declared app id -> its matches of present apps
    declared_parent: dict[str, str]  # present app -> the first declared app that matched it
    by_app: dict
    by_declared: dict
    run: int  # inputkey.run_key of the config

    def subjects(self) -> Iterator[Subject]:
        present, matched = self.index.by_handle, self.matched
        for declared in self.inputs.declared:
            ms = matched.get(declared.app_id, ())
            yield Subject(declared.app_id, declared, [present[m.handle] for m in ms], ms)
        taken = {m.handle for m in self.matches}
        for handle, app in present.items():
            if handle not in taken:
                yield Subject(handle, None, [app])

    def results(self) -> Iterator[SubjectResult]:
        """Each subject's result, in order. A subject whose input checksum is the one in `known` is not
        worked out again (its stored verdict and findings hold): its result has worked=False."""
        inputs, config, clock, index, known = self.inputs, self.config, self.clock, self.index, self.known
        by_app, by_declared = self.by_app, self.by_declared
        declared_parent, hosts, run = self.declared_parent, inputs.hosts, self.run
        for subject in self.subjects():
            declared = subject.declared
            if declared is None and all(a.redirect for a in subject.apps):
                continue  # a redirect record only says where a name points: nothing to find or judge
            deps: list[tuple[str, str]] = []
            notes: list[Reason] = []
            for app in subject.apps:
                for source, why in by_app.get(app.handle, ()):
                    owner = declared_parent.get(source, source)  # the subject `source` belongs to
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
            key = subject_key(subject, hosts, deps, notes, decision, clock, run, context)
            if known.get(subject.handle) == key:
                yield SubjectResult(subject.handle, key, False)
                continue
            idle = rules.is_idle(subject, clock)
            if declared is None:
                findings = rules.hidden(subject, hosts, index, declared_parent)
                if idle:
                    findings += rules.idle(subject, config, clock, idle)
            else:
                findings = rules.missing(subject, index)
                findings += rules.idle(subject, config, clock, idle)
                findings += rules.status_mismatch(subject, config, clock, hosts, idle)
                findings += rules.unowned(subject, config)
                findings += rules.drift(subject, index, hosts)
            findings += rules.unsupported(subject, clock, hosts)
            verdict = None
            if subject.apps or (declared is not None and declared.status == "active"):
                verdict = verdict_for(subject, hosts, deps, decision, config, clock, notes)
            yield SubjectResult(subject.handle, key, True, findings, verdict)

    def fleet_findings(self) -> list[Finding]:
        """The findings about no subject: exposed listeners, and what network sweeps found. A sweep may
        confirm what a snapshot already showed; sweeps find only hosts and listeners, so no subject's
        finding is of their kinds."""
        inputs = self.inputs
        about_hosts = rules.exposed_listeners(inputs.listeners, self.index, inputs.hosts, self.config)
        seen = {(f.kind, f.subject) for f in about_hosts}
        return about_hosts + [f for f in inputs.network_findings if (f.kind, f.subject) not in seen]

    def outcome(self) -> Outcome:
        """Every subject's findings and verdict, and the findings about no subject, in one object."""
        findings: list[Finding] = []
        verdicts = []
        keys: dict[str, int] = {}
        skipped: set[str] = set()
        for result in self.results():
            keys[result.handle] = result.key
            if not result.worked:
                skipped.add(result.handle)
                continue
            findings += result.findings
            if result.verdict is not None:
                verdicts.append(result.verdict)
        findings += self.fleet_findings()
        return Outcome(self.matches, findings, verdicts, keys, skipped)


def plan(inputs: Inputs, config: ReconcileConfig, now: datetime, known: dict[str, int] | None = None) -> Plan:
    """`known`: the input checksum of each subject as the previous run stored it; a subject whose
    checksum is unchanged is skipped (its stored verdict and findings hold) and listed in Outcome.skipped."""
    index = build_index(inputs.discovered, inputs.hosts, roots=any(d.root for d in inputs.declared))
    matches = match_all(inputs.declared, index, inputs.pins)
    matched: dict[str, list[Match]] = defaultdict(list)
    for m in matches:
        if m.handle in index.by_handle:
            matched[m.app_id].append(m)
    declared_parent: dict[str, str] = {}
    for declared in inputs.declared:
        for m in matched.get(declared.app_id, ()):
            declared_parent.setdefault(m.handle, declared.app_id)
    by_app, by_declared = inbound(inputs.discovered, inputs.declared, index)
    return Plan(
        inputs,
        config,
        clock_for(now, config),
        known or {},
        index,
        matches,
        matched,
        declared_parent,
        by_app,
        by_declared,
        run_key(repr(sorted(config.as_dict().items()))),
    )


def reconcile(
    inputs: Inputs, config: ReconcileConfig, now: datetime, known: dict[str, int] | None = None
) -> Outcome:
    """Every subject's findings and verdict, and the findings about no subject (see `plan` for `known`)."""
    return plan(inputs, config, now, known).outcome()
