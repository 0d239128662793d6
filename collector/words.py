"""What ronda's codes and stored sentences say in the reader's language.

Verdicts, finding kinds, decisions and coverage are stored as codes (`safe-to-take-down`);
reasons and finding summaries as English sentences written from the templates of
`ronda.collector.reconcile.texts`. `Words` turns both into the language of a `Lang`: a code
into its label, a sentence into its translation, with dates, numbers and money written the
way that language writes them. A sentence no template explains is shown as stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from babel.lists import format_list

from ronda.collector.reconcile import texts as T
from ronda.collector.reconcile.model import Reason
from ronda.collector.reconcile.verdicts import deciding_reasons
from ronda.i18n import N_, Lang

VERDICT_LABELS = {
    "safe-to-take-down": N_("safe to take down"),
    "review": N_("review"),
    "keep": N_("keep"),
    "insufficient-evidence": N_("insufficient evidence"),
}
KIND_LABELS = {
    "hidden": N_("hidden (undeclared)"),
    "missing": N_("missing (declared, not found)"),
    "idle": N_("idle"),
    "status-mismatch": N_("status mismatch"),
    "unowned": N_("no owner"),
    "drift": N_("drift"),
    "exposed-listener": N_("exposed port"),
    "unmanaged-host": N_("unmanaged host"),
    "unsupported-version": N_("unsupported version"),
}
DECISION_LABELS = {
    "take-down": N_("take down"),
    "keep": N_("keep"),
    "consolidate": N_("consolidate"),
    "review": N_("review"),
}
COVERAGE_LABELS = {
    "full": N_("full"),
    "partial": N_("partial"),
    "unreadable": N_("unreadable"),
    "none": N_("no log"),
    "": N_("unknown"),
}
# How a host is covered (Store.hosts and the network sweep), as a reader says it.
HOST_COVERAGE_LABELS = {
    "agent": N_("agent"),
    "ssh": N_("SSH scan"),
    "network": N_("network sweep only"),
    "none": N_("none"),
}
EFFECT_LABELS = {
    "safe-to-take-down": N_("for taking down"),
    "keep": N_("for keeping"),
    "review": N_("needs review"),
    "insufficient-evidence": N_("evidence lacking"),
    "info": N_("for information"),
}


class Words:
    """Labels and sentences in one language. `Words(lang).verdict("keep")` -> "pertahankan"."""

    def __init__(self, lang: Lang, iso_days: bool = False) -> None:
        self.lang = lang
        self._ = lang._
        self.english = lang.code == "en"
        self.iso_days = iso_days and self.english  # a terminal in English: 2026-12-07

    def _label(self, labels: Mapping[str, str], code: str | None) -> str:
        if code is None:
            return ""
        label = labels.get(code)
        return self._(label) if label else code

    def verdict(self, code: str | None) -> str:
        return self._label(VERDICT_LABELS, code)

    def kind(self, code: str | None) -> str:
        return self._label(KIND_LABELS, code)

    def decision(self, code: str | None) -> str:
        return self._label(DECISION_LABELS, code)

    def coverage(self, code: str | None) -> str:
        return self._label(COVERAGE_LABELS, code or "")

    def host_coverage(self, code: str | None) -> str:
        return self._label(HOST_COVERAGE_LABELS, code)

    def effect(self, code: str | None) -> str:
        return self._label(EFFECT_LABELS, code)

    def status(self, word: str) -> str:
        label = T.STATUS_WORDS.get(word.replace(" ", "-"))
        return self._(label) if label else word

    # Stored sentences.

    def sentence(self, group: str, text: str, strict: bool = True) -> str:
        """`text`, stored in English from a template of `group`, in this language."""
        if self.english or not text:
            return text
        for template in _most_specific_first(group):
            m = template.pattern.fullmatch(text)
            if m:
                values = {name: self._value(name, value) for name, value in m.groupdict().items()}
                return self._(template.message).format(**values)
        if strict and self.lang.missing is not None:
            self.lang.missing.add(f"[{group}] {text}")
        return text

    def _value(self, name: str, value: str) -> str:
        kind = T.KINDS.get(name, "text")
        if kind == "date":
            return self.lang.date(value, "medium")
        if kind == "number":
            return self.lang.number(int(value))
        if kind == "money":
            return self.lang.money(int(value.replace(".", "")))
        if kind == "status":
            return self.status(value)
        if kind == "trend":
            return self._(T.TREND_WORDS.get(value, value))
        if kind.startswith("piece:"):
            return self.sentence(kind[6:], value, strict=False)
        if kind.startswith("list:"):
            return ", ".join(self.sentence(kind[5:], v, strict=False) for v in value.split(", "))
        if kind.startswith("join:"):
            parts = [self.sentence(kind[5:], v, strict=False) for v in value.split(" and ")]
            return format_list(parts, locale=self.lang.locale)
        return value

    def reason(self, reason: Mapping[str, str]) -> str:
        return self.sentence(reason["rule"], reason["text"])

    def finding(self, row: Mapping[str, Any]) -> str:
        return self.sentence(row["kind"], row["summary"])

    def summary(self, verdict: str, reasons: Iterable[Mapping[str, str]], stored: str = "") -> str:
        """A verdict's one-line summary: the reasons that decided it, as `verdict_for` wrote it."""
        if self.english and stored:
            return stored
        objects = [Reason(r["rule"], r["effect"], r["text"]) for r in reasons]
        return "; ".join(self.sentence(r.rule, r.text) for r in deciding_reasons(verdict, objects)[:3])

    # Dates as a table shows them.

    def day(self, value: str | date | datetime | None, empty: str = "-") -> str:
        """A day as a table shows it: `7 Des 2026`, or with iso_days `2026-12-07` (in the time zone)."""
        if not self.iso_days or value is None or value == "":
            return self.lang.date(value, "medium", empty=empty)
        return self.lang.local(value).strftime("%Y-%m-%d")

    def ago(self, value: str | None, now: datetime | None = None) -> str:
        """`3 hari lalu` from a stored timestamp."""
        if not value:
            return self._("never")
        then = datetime.fromisoformat(value.replace("Z", "+00:00"))
        days = ((now or datetime.now(UTC)) - then).days
        return self.sentence("ago", T.ago(days), strict=False)


@cache
def _most_specific_first(group: str) -> tuple[T.Text, ...]:
    """A group's templates, those with the most fixed words first: `... on {hosts} (last request {date})`
    must be tried before `... on {hosts}`, which would take the rest as the hosts."""
    return tuple(sorted(T.TEXTS.get(group, ()), key=lambda t: -len(T.PLACEHOLDER.sub("", t.message))))
