"""What the console shows of the store: which tables and views, under which titles, with which
column labels, facets and sort. Every text is an English message the language catalog translates.

Only the tables and views named in SHOWN are listed; every other table (those that hold wire
bytes, digests, credentials' hashes, and any a later migration adds) is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from ronda.i18n import N_


@dataclass(frozen=True)
class Shown:
    title: str
    description: str
    facets: tuple[str, ...] = ()
    sort: str = ""  # ascending by this column ...
    sort_desc: str = ""  # ... or descending
    label_column: str = ""
    columns: tuple[str, ...] = ()  # what the start page's link shows first (`_col`); all when empty


# In the order of the start page: the operators' views first.
ENTRY_POINTS = ("takedown_candidates", "idle_apps", "hidden_apps", "findings_open", "verdicts")

SHOWN: dict[str, Shown] = {
    "takedown_candidates": Shown(
        N_("Safe to take down"),
        N_(
            "Apps with no human use for the whole idle window, with access logs that cover it. "
            "Largest declared annual cost first. ronda recommends; people decide: open an app to "
            "see its evidence and record a decision."
        ),
        facets=("owner", "hosts", "decision"),
        sort_desc="annual_cost",
        columns=(
            "subject",
            "name",
            "owner",
            "hosts",
            "last_human_request",
            "coverage_start",
            "annual_cost",
            "summary",
            "decision",
            "decided_by",
        ),
    ),
    "idle_apps": Shown(
        N_("Idle apps"),
        N_("No human use for the idle window (90 days unless configured), with logs covering it."),
        facets=("owner", "verdict", "hosts"),
        sort_desc="idle_days",
        columns=(
            "subject",
            "name",
            "owner",
            "hosts",
            "idle_days",
            "last_human_request",
            "verdict",
            "summary",
        ),
    ),
    "hidden_apps": Shown(
        N_("Hidden apps"),
        N_("Running and reachable, but matching no app in the declared inventory."),
        facets=("hostname", "verdict", "kind"),
        sort="hostname",
    ),
    "findings_open": Shown(
        N_("Open findings"),
        N_("Every discrepancy between the declared inventory and what runs, as of the latest reconcile."),
        facets=("kind", "hostname"),
        sort_desc="first_seen",
    ),
    "verdicts": Shown(
        N_("Verdicts"),
        N_(
            "ronda's recommendation for every app, declared or found, with the reasons and figures behind it."
        ),
        facets=("verdict", "owner", "hosts"),
        sort_desc="annual_cost",
        label_column="name",
        columns=(
            "subject",
            "name",
            "owner",
            "hosts",
            "verdict",
            "summary",
            "last_human_request",
            "coverage_start",
            "annual_cost",
        ),
    ),
    "latest_decisions": Shown(
        N_("Decisions"),
        N_("The latest decision people recorded on each app."),
        facets=("decision", "decided_by"),
        sort_desc="decided_at",
    ),
    "decisions": Shown(
        N_("Decision history"),
        N_("Every decision ever recorded, with who, when and why; never changed afterwards."),
        facets=("decision", "decided_by"),
        sort_desc="decision_id",
    ),
    "inventory": Shown(
        N_("Declared inventory"),
        N_("The apps the agencies declared (the SPBE catalogue or the province's spreadsheet)."),
        facets=("owner", "status", "app_class"),
        sort_desc="annual_cost",
        label_column="name",
    ),
    "hosts": Shown(
        N_("Servers"),
        N_("Servers that reported, by an agent or an SSH scan."),
        facets=("os_name", "source"),
        sort="hostname",
        label_column="hostname",
    ),
    "apps": Shown(
        N_("Discovered apps"),
        N_("Every app found on every server, including those gone from their server's latest snapshot."),
        facets=("kind", "framework", "present"),
        sort="app_key",
    ),
    "findings": Shown(
        N_("Finding history"),
        N_("Every finding ever opened, including those resolved."),
        facets=("kind",),
        sort_desc="finding_id",
    ),
    "network_hosts": Shown(
        N_("Hosts seen by network sweeps"),
        N_("Addresses where `ronda scan network` found open ports."),
        sort="address",
    ),
    "scan_runs": Shown(
        N_("Scans"),
        N_("Network sweeps and SSH scans, with what each found or why it failed."),
        facets=("kind", "status"),
        sort_desc="scan_id",
    ),
    "listeners": Shown(
        N_("Listening ports"),
        N_("Processes listening on TCP ports, and the apps they serve."),
        facets=("public", "process"),
    ),
    "source_errors": Shown(
        N_("Discovery errors"),
        N_("What a server's discovery could not read (a missing include, an unreadable log)."),
        facets=("source",),
    ),
    "inventory_history": Shown(
        N_("Inventory changes"),
        N_("Every change an inventory import made, field by field."),
        facets=("change",),
        sort_desc="changed_at",
    ),
    "reconcile_runs": Shown(
        N_("Reconcile runs"),
        N_("When the declared inventory was last held against what runs, and what changed."),
        sort_desc="run_id",
    ),
    "agent_identities": Shown(
        N_("Agents"),
        N_("Every agent that reported: how it proved who it is, and whether it is approved."),
        facets=("status", "method"),
    ),
}

# Tables nobody may read through the console, not even signed in: they hold credentials' hashes.
DENIED = ("agent_tokens", "enrolment_secrets", "revoked_credentials")
# Columns read as NULL by any query, canned or typed: hashes of agents' credentials.
BLANKED = {("agent_identities", "credential")} | {
    ("agent_tokens", "token_hash"),
    ("enrolment_secrets", "secret_hash"),
    ("revoked_credentials", "fingerprint"),
}

COLUMNS = {
    "subject": N_("App"),
    "app_id": N_("Declared id"),
    "name": N_("Name"),
    "owner": N_("Owner (OPD)"),
    "unit": N_("Unit"),
    "contact": N_("Contact"),
    "hosts": N_("Servers"),
    "hostname": N_("Server"),
    "verdict": N_("Verdict"),
    "summary": N_("Why"),
    "last_human_request": N_("Last human visit"),
    "last_request": N_("Last request"),
    "coverage": N_("Log coverage"),
    "coverage_start": N_("Logs since"),
    "human_requests": N_("Human requests in the idle window"),
    "annual_cost": N_("Annual cost"),
    "build_cost": N_("Build cost"),
    "reasons": N_("Evidence"),
    "since": N_("Verdict since"),
    "decision": N_("Decision"),
    "decided_by": N_("Decided by"),
    "decided_at": N_("Decided at"),
    "decision_reason": N_("Reason for the decision"),
    "reason": N_("Reason"),
    "into_subject": N_("Consolidated into"),
    "idle_days": N_("Days idle"),
    "days_idle": N_("Days idle"),
    "first_seen": N_("First seen"),
    "last_seen": N_("Last seen"),
    "app_key": N_("App key"),
    "agent_id": N_("Agent"),
    "server_names": N_("Server names"),
    "listen": N_("Listens on"),
    "path_prefix": N_("Path"),
    "root": N_("Document root"),
    "upstream": N_("Backend"),
    "framework": N_("Product"),
    "framework_version": N_("Version"),
    "end_of_support": N_("Support ended"),
    "latest_in_cycle": N_("Latest release of its line"),
    "status": N_("Status"),
    "os_name": N_("Operating system"),
    "os_version": N_("OS version"),
    "addresses": N_("Addresses"),
    "source": N_("Reported by"),
    "present": N_("Still there"),
    "detail": N_("Detail"),
    "hours_silent": N_("Hours without a report"),
    "at": N_("When"),
    "what": N_("What changed"),
    "trend": N_("Trend"),
    "urls": N_("Declared URLs"),
    "app_class": N_("Class"),
}
TABLE_COLUMNS = {
    ("findings_open", "kind"): N_("Finding"),
    ("findings", "kind"): N_("Finding"),
    ("hidden_apps", "kind"): N_("Web server"),
    ("apps", "kind"): N_("Web server"),
    ("scan_runs", "kind"): N_("Scan"),
}


def label(table: str, column: str) -> str | None:
    """The untranslated label of a column of `table`, or None to show its name as it is."""
    return TABLE_COLUMNS.get((table, column)) or COLUMNS.get(column)


# The messages the templates (templates/*.html) ask for with `ronda._(...)`, named here so that the
# catalog tooling, which reads Python, finds them; tests/test_web_console.py checks the two agree.
TEMPLATE_MESSAGES = (
    N_("Decision"),
    N_(
        "Decisions are recorded by signed-in people; this console has no accounts (see web.toml), "
        "so it is read-only."
    ),
    N_("Every table, and your own SQL"),
    N_("For consolidate: the app that takes over (id, HOST/APP_KEY or URL)"),
    N_("Password"),
    N_("Questions"),
    N_("Reason (what makes the decision defensible later)"),
    N_("Record a decision"),
    N_("Record it anyway: the reason above says why it was decided against ronda's evidence"),
    N_("Record the decision"),
    N_("Report for decision makers"),
    N_("Sign in to record a decision."),
    N_("Sign in"),
    N_("Signing in lets you record decisions; what you decide carries your name."),
    N_("Start here"),
    N_("User name"),
    N_("Verdicts"),
    N_("as {name}"),
)
