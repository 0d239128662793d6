"""The whole reconciliation as one pure function: inputs and a clock in, an Outcome out."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from collector.reconcile import findings as rules
from collector.reconcile.config import ReconcileConfig
from collector.reconcile.deps import inbound
from collector.reconcile.match import build_index, match_all
from collector.reconcile.model import Finding, Inputs, Outcome, Subject
from collector.reconcile.verdicts import verdict_for


def build_subjects(inputs: Inputs, matches) -> list[Subject]:
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


def reconcile(inputs: Inputs, config: ReconcileConfig, now: datetime) -> Outcome:
    index = build_index(inputs.discovered, inputs.hosts)
    matches = match_all(inputs.declared, index, inputs.pins)
    subjects = build_subjects(inputs, matches)
    subject_of: dict[str, str] = {}
    for subject in subjects:
        for app in subject.apps:
            subject_of.setdefault(app.handle, subject.handle)
    by_app, by_declared = inbound(inputs.discovered, inputs.declared, index)
    findings: list[Finding] = []
    verdicts = []
    declared_ids = {d.app_id for d in inputs.declared}
    declared_parent = {h: s for h, s in subject_of.items() if s in declared_ids}
    for subject in subjects:
        deps: list[tuple[str, str]] = []
        for app in subject.apps:
            deps.extend((subject_of.get(src, src), why) for src, why in by_app.get(app.handle, [])
                        if subject_of.get(src, src) != subject.handle)
        if subject.declared is not None:
            deps.extend(by_declared.get(subject.declared.app_id, []))
        deps = list(dict.fromkeys(deps))
        findings += rules.hidden(subject, inputs.hosts, index, declared_parent)
        findings += rules.missing(subject, index)
        findings += rules.idle(subject, config, now)
        findings += rules.status_mismatch(subject, config, now, inputs.hosts)
        findings += rules.unowned(subject, config)
        findings += rules.drift(subject, index, inputs.hosts)
        if subject.apps or (subject.declared and subject.declared.status == "active"):
            verdicts.append(verdict_for(subject, inputs.hosts, deps, inputs.decisions.get(subject.handle),
                                        config, now))
    findings += rules.exposed_listeners(inputs.listeners, index, inputs.hosts, config)
    return Outcome(matches=matches, findings=findings, verdicts=verdicts, subjects=subjects)
