"""The rows of the list commands (hosts, apps, findings, candidates), filtered, in the reader's
language, and written in the format asked for.

Codes and timestamps stay as stored in CSV, JSON and XLSX (what scripts and `ronda decide --from`
read), sentences are in the reader's language; a terminal table shows labels and local dates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ronda.collector.listing import Fields, Filters, app_url, apply
from ronda.collector.output import render, to_xlsx
from ronda.collector.reconcile.decisions import decision_rows
from ronda.collector.reconcile.model import iso
from ronda.collector.reconcile.queries import (
    AppNames,
    candidate_rows,
    candidate_table,
    expand,
    finding_rows,
    text_table,
)
from ronda.collector.scans.view import load_view, sightings
from ronda.collector.store import Store
from ronda.collector.words import HOST_COVERAGE_LABELS, Words
from ronda.i18n import N_, Lang

# Column headers of a terminal table in languages other than English (which shows the column names).
HEADERS = {
    "agent_id": N_("agent"),
    "hostname": N_("host"),
    "fqdn": N_("full name"),
    "addresses": N_("addresses"),
    "os_name": N_("system"),
    "os_version": N_("version"),
    "source": N_("seen by"),
    "coverage": N_("covered by"),
    "last_seen": N_("last seen"),
    "sequence": N_("sequence"),
    "apps": N_("apps"),
    "errors": N_("errors"),
    "stale": N_("stale"),
    "app_key": N_("app key"),
    "listen": N_("listens on"),
    "root": N_("root"),
    "upstream": N_("backend"),
    "framework": N_("framework"),
    "last_human_request": N_("last human visit"),
    "owner": N_("owner (OPD)"),
    "verdict": N_("verdict"),
    "url": N_("address"),
    "kind": N_("kind"),
    "subject": N_("app"),
    "summary": N_("summary"),
    "first_seen": N_("first seen"),
    "resolved_at": N_("resolved"),
    "app": N_("app"),
    "name": N_("name"),
    "hosts": N_("servers"),
    "last_human": N_("last human visit"),
    "logs_since": N_("logs since"),
    "decision": N_("decision"),
    "decided_at": N_("decided"),
    "decided_by": N_("decided by"),
    "reason": N_("reason"),
    "into": N_("into"),
    "verdict_then": N_("verdict then"),
    "verdict_now": N_("verdict now"),
}
HOST_COLUMNS = [
    "agent_id",
    "hostname",
    "fqdn",
    "addresses",
    "os_name",
    "os_version",
    "source",
    "coverage",
    "last_seen",
    "sequence",
    "apps",
    "errors",
]  # fmt: skip  (what Store.hosts gives for each host)
HOST_TABLE = [
    "hostname",
    "agent_id",
    "coverage",
    "last_seen",
    "stale",
    "os_name",
    "os_version",
    "apps",
    "errors",
]
APP_TABLE = ["hostname", "app_key", "listen", "root", "upstream", "framework", "last_human_request"]
FINDING_TABLE = ["kind", "subject", "hostname", "summary", "first_seen", "last_seen"]
CANDIDATE_TABLE = ["app", "name", "owner", "hosts", "last_human", "logs_since", "decision", "summary"]
HOST_FIELDS = Fields(host=("hostname", "agent_id", "fqdn"), since="last_seen")
APP_FIELDS = Fields(
    owner="owner", host=("hostname", "agent_id"), since="first_seen", verdict="verdict", kind="kind"
)
FINDING_FIELDS = Fields(
    owner="owner", host=("hostname", "agent_id"), since="first_seen", verdict="verdict", kind="kind"
)
NO_CANDIDATES = N_("no candidates (run `ronda reconcile` first)")
CANDIDATE_FIELDS = Fields(
    owner="owner", host=("hosts", "agent_id"), since="since", verdict="verdict", kind="findings"
)


@dataclass(frozen=True)
class Output:
    """How to write a list: the format, the reader's language, and the CSV delimiter and BOM."""

    fmt: str
    lang: Lang
    delimiter: str | None = None  # None: the reader's locale decides
    bom: bool = True

    @property
    def words(self) -> Words:
        return Words(self.lang, iso_days=True)


def host_rows(store: Store, stale_after_hours: int = 48, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every host and how it is covered (`Store.hosts`), with the addresses only a network sweep found
    (coverage `network`: no agent or SSH scan claims them, the unmanaged-host rule)."""
    stale_before = iso((now or datetime.now(UTC)) - timedelta(hours=stale_after_hours)) or ""
    rows = store.hosts()
    for row in rows:
        row["addresses"] = json.loads(row["addresses"] or "[]")
        row["source"] = row.get("source") or "agent"
    if store.query("SELECT 1 FROM network_ports WHERE open LIMIT 1"):
        rows += [
            {
                **dict.fromkeys(HOST_COLUMNS),
                "hostname": seen["host"],
                "addresses": seen["addresses"],
                "source": "network",
                "coverage": "network",
                "last_seen": seen["network_last_seen"],
                "apps": 0,
                "errors": 0,
            }
            for seen in sightings(load_view(store))
            if seen["covered_by"] == "none"
        ]
    for row in rows:
        row["stale"] = (row["last_seen"] or "") < stale_before
    return sorted(rows, key=lambda r: (r["hostname"] or "", r["agent_id"] or ""))


def app_rows(store: Store, include_gone: bool = False) -> list[dict[str, Any]]:
    """Every app, with the declared app it belongs to (its owner) and its verdict."""
    rows = store.apps(include_gone)
    declared = {
        (r["agent_id"], r["app_key"]): r
        for r in store.query(
            "SELECT m.agent_id, m.app_key, m.app_id, i.owner "
            "FROM matches m LEFT JOIN inventory i USING (app_id)"
        )
    }
    verdicts = {r["subject"]: r["verdict"] for r in store.query("SELECT subject, verdict FROM verdicts")}
    for row in rows:
        row["server_names"] = json.loads(row["server_names"])
        row["listen"] = json.loads(row["listen"])
        match = declared.get((row["agent_id"], row["app_key"]))
        row["app_id"] = match["app_id"] if match else None
        row["owner"] = (match["owner"] if match else None) or ""
        row["verdict"] = verdicts.get(row["app_id"] or f"{row['agent_id']}/{row['app_key']}")
        row["url"] = app_url(row["server_names"], row["listen"], row["path_prefix"])
    return rows


def findings_rows(
    store: Store, kinds: Sequence[str] = (), include_resolved: bool = False
) -> list[dict[str, Any]]:
    rows = finding_rows(store, kinds, include_resolved)
    owners = {r["app_id"]: r["owner"] for r in store.query("SELECT app_id, owner FROM inventory")}
    verdicts = {r["subject"]: r["verdict"] for r in store.query("SELECT subject, verdict FROM verdicts")}
    for r in rows:
        r["detail"] = json.loads(r["detail"])
        r["owner"] = owners.get(r["app_id"], "") or ""
        r["verdict"] = verdicts.get(r["subject"])  # the subject's verdict; none for hosts and listeners
    return rows


def candidates_rows(store: Store, verdicts: Sequence[str]) -> list[dict[str, Any]]:
    rows = [expand(r) for r in candidate_rows(store, verdicts)]
    names = AppNames.of(store)
    findings: dict[str, list[str]] = {}
    for f in store.query(
        "SELECT DISTINCT subject, kind FROM findings WHERE resolved_at IS NULL ORDER BY kind"
    ):
        findings.setdefault(f["subject"], []).append(f["kind"])
    for r in rows:
        r["app"] = names.name(r)  # what `ronda explain` takes
        r["findings"] = findings.get(r["subject"], [])  # the kinds of its open findings (--kind)
    return rows


def _localized(rows: list[dict[str, Any]], out: Output) -> list[dict[str, Any]]:
    """Sentences in the reader's language, in every format; in a table, labels and local days too."""
    words = out.words
    table = out.fmt == "table"
    shown = []
    for row in rows:
        row = dict(row)
        if "reasons" in row and isinstance(row["reasons"], list):
            if "verdict" in row:
                row["summary"] = words.summary(row["verdict"], row["reasons"], row.get("summary", ""))
            row["reasons"] = [dict(r, text=words.reason(r)) for r in row["reasons"]]
        elif "summary" in row and "kind" in row:
            row["summary"] = words.finding(row)
        if table:
            for key in (
                "first_seen",
                "last_seen",
                "resolved_at",
                "last_human_request",
                "since",
                "decided_at",
            ):
                if row.get(key):
                    row[key] = words.day(row[key])
            if row.get("verdict"):
                row["verdict"] = words.verdict(row["verdict"])
            if "kind" in row and "summary" in row:
                row["kind"] = words.kind(row["kind"])
            if "stale" in row:
                row["stale"] = words._("stale") if row["stale"] else ""
            if row.get("coverage") in HOST_COVERAGE_LABELS:
                row["coverage"] = words.host_coverage(row["coverage"])
        shown.append(row)
    return shown


def write(
    rows: list[dict[str, Any]],
    out: Output,
    table_columns: Sequence[str],
    empty: str,
    money: Sequence[str] = ("annual_cost", "build_cost"),
) -> str | bytes:
    """The rows in `out.fmt`: text for table, CSV and JSON, bytes for XLSX."""
    rows = _localized(rows, out)
    if out.fmt == "xlsx":
        columns = list(rows[0]) if rows else list(table_columns)
        return to_xlsx(rows, columns, out.lang, money=money)
    if out.fmt == "table":
        # English shows the column names --sort takes; other languages their words for them.
        english = out.lang.code == "en"
        headers = [
            c.upper() if english or c not in HEADERS else out.lang._(HEADERS[c]).upper()
            for c in table_columns
        ]
        return render(rows, "table", table_columns, out.lang._(empty), headers)
    delimiter = out.delimiter or out.lang.list_separator
    return render(rows, out.fmt, None, empty, delimiter=delimiter, bom=out.bom)


def hosts_list(store: Store, filters: Filters, out: Output, stale_after_hours: int = 48) -> str | bytes:
    rows = apply(host_rows(store, stale_after_hours), filters, HOST_FIELDS)
    return write(rows, out, HOST_TABLE, N_("no host has reported yet; start agents with `ronda-agent run`"))


def apps_list(store: Store, filters: Filters, out: Output, include_gone: bool = False) -> str | bytes:
    rows = apply(app_rows(store, include_gone), filters, APP_FIELDS)
    if out.fmt == "table":
        names = AppNames.of(store)
        for row in rows:
            row["root"] = row["root"] or ""
            row["app_key"] = names.key(row["agent_id"], row["app_key"])  # what `ronda explain` takes
    return write(rows, out, APP_TABLE, N_("no apps yet"))


def findings_list(store: Store, filters: Filters, out: Output, include_resolved: bool = False) -> str | bytes:
    rows = apply(findings_rows(store, filters.kinds, include_resolved), filters, FINDING_FIELDS)
    columns = FINDING_TABLE + (["resolved_at"] if include_resolved else [])
    if out.fmt == "table":
        names = AppNames.of(store)
        for r in rows:
            r["subject"] = names.name(r)  # what `ronda explain` takes
    return write(rows, out, columns, N_("no findings: run `ronda reconcile` after importing an inventory"))


def candidates_list(store: Store, filters: Filters, out: Output) -> str | bytes:
    verdicts = filters.verdicts or ("safe-to-take-down",)
    plain = out.lang.code == "en" and out.lang.zone == "UTC" and filters == Filters(verdicts=filters.verdicts)
    if out.fmt == "table" and plain:
        cells = candidate_table(store, verdicts)  # straight from SQL: a fleet can have tens of thousands
        return text_table(CANDIDATE_TABLE, cells) if cells else out.lang._(NO_CANDIDATES)
    rows = apply(
        candidates_rows(store, filters.verdicts or ("safe-to-take-down",)), filters, CANDIDATE_FIELDS
    )
    if out.fmt == "table":
        words = out.words
        for r in rows:
            r["last_human"] = words.day(r["figures"]["last_human_request"], empty=words._("never"))
            r["logs_since"] = words.day(r["figures"]["coverage_start"])
            r["decision"] = f"{words.decision(r['decision'])} ({r['decided_by']})" if r["decision"] else ""
    return write(rows, out, CANDIDATE_TABLE, NO_CANDIDATES)


DECISION_TABLE = [
    "decided_at",
    "app",
    "name",
    "decision",
    "into",
    "decided_by",
    "reason",
    "verdict_then",
    "verdict_now",
]
DECISION_FIELDS = Fields(owner="owner", host=("hosts", "agent_id"), since="decided_at", verdict="verdict_now")


def decisions_list(
    store: Store,
    filters: Filters,
    out: Output,
    subject: str | None = None,
    decision: str | None = None,
    by: str | None = None,
    latest: bool = False,
) -> str | bytes:
    rows = apply(decision_rows(store, subject, decision, by, latest), filters, DECISION_FIELDS)
    return write(
        rows, out, DECISION_TABLE, N_("no decisions yet: `ronda decide APP DECISION --reason ... --by ...`")
    )
