"""Canned queries: the questions operators ask, as read-only SQL with named parameters.

A parameter left empty takes its default (`coalesce(nullif(:days, ''), 90)`), so that each
query answers at once and the form shows what to change.
"""

from __future__ import annotations

from dataclasses import dataclass

from ronda.i18n import N_


@dataclass(frozen=True)
class Canned:
    title: str
    description: str
    sql: str


_NOW = "julianday('now')"

CANNED: dict[str, Canned] = {
    "candidates_of_opd": Canned(
        N_("Candidates of one OPD"),
        N_(
            "Apps safe to take down whose owner (OPD) contains the words you type, largest declared "
            "annual cost first."
        ),
        """SELECT subject, name, owner, hosts, last_human_request, coverage_start, annual_cost, summary,
       decision, decided_by, decided_at
FROM takedown_candidates
WHERE lower(owner) LIKE '%' || lower(trim(:opd)) || '%'
ORDER BY annual_cost IS NULL, annual_cost DESC, subject""",
    ),
    "idle_for_days": Canned(
        N_("Apps idle for N days"),
        N_(
            "Apps with no human visit for at least N days (90 when empty) whose access logs reach "
            "back that far, longest idle first, whatever their verdict."
        ),
        f"""SELECT subject, name, owner, hosts, verdict,
       CAST({_NOW} - julianday(coalesce(last_human_request, coverage_start)) AS INTEGER) AS days_idle,
       last_human_request, coverage_start, annual_cost, summary
FROM verdicts
WHERE coverage_start IS NOT NULL
  AND julianday(coverage_start) <= {_NOW} - coalesce(nullif(:days, ''), 90)
  AND (last_human_request IS NULL
       OR julianday(last_human_request) <= {_NOW} - coalesce(nullif(:days, ''), 90))
ORDER BY days_idle DESC, subject""",
    ),
    "hosts_not_reporting": Canned(
        N_("Servers not reporting"),
        N_(
            "Servers whose agent or SSH scan has sent nothing for N hours (48 when empty): their apps "
            "get no verdict until they report again."
        ),
        f"""SELECT h.hostname, a.agent_id, a.source, a.last_seen,
       round(({_NOW} - julianday(a.last_seen)) * 24, 1) AS hours_silent,
       (SELECT count(*) FROM apps p WHERE p.agent_id = a.agent_id AND p.present) AS apps
FROM agents a LEFT JOIN hosts h ON h.agent_id = a.agent_id
WHERE julianday(a.last_seen) < {_NOW} - coalesce(nullif(:hours, ''), 48) / 24.0
ORDER BY a.last_seen""",
    ),
    "unsupported_versions": Canned(
        N_("Apps running unsupported versions"),
        N_(
            "Apps whose product release is past its end of support: upgrade them, or take them down "
            "when nobody uses them."
        ),
        f"""SELECT coalesce(m.app_id, p.agent_id || '/' || p.app_key) AS subject, h.hostname, p.app_key,
       p.framework, p.framework_version,
       json_extract(p.detail, '$.framework.end_of_support') AS end_of_support,
       json_extract(p.detail, '$.framework.latest_in_cycle') AS latest_in_cycle,
       p.last_human_request, v.verdict
FROM apps p
LEFT JOIN hosts h ON h.agent_id = p.agent_id
LEFT JOIN matches m ON m.agent_id = p.agent_id AND m.app_key = p.app_key
LEFT JOIN verdicts v ON v.subject = coalesce(m.app_id, p.agent_id || '/' || p.app_key)
WHERE p.present AND julianday(json_extract(p.detail, '$.framework.end_of_support')) < {_NOW}
ORDER BY end_of_support, h.hostname, p.app_key""",
    ),
    "changes_since": Canned(
        N_("What changed since a date"),
        N_(
            "Findings opened and resolved, verdicts changed, decisions recorded, apps found or gone "
            "and inventory changes since a day (YYYY-MM-DD; the last 7 days when empty), newest first."
        ),
        """WITH since(day) AS (SELECT coalesce(nullif(trim(:since), ''), date('now', '-7 days')))
SELECT first_seen AS at, 'finding opened: ' || kind AS what, subject, summary AS detail
  FROM findings, since WHERE first_seen >= day
UNION ALL
SELECT resolved_at, 'finding resolved: ' || kind, subject, summary
  FROM findings, since WHERE resolved_at >= day
UNION ALL
SELECT v.since, 'verdict: ' || verdict, subject, v.summary FROM verdicts v, since WHERE v.since >= day
UNION ALL
SELECT decided_at, 'decision: ' || decision, subject, decided_by || ': ' || reason
  FROM decisions, since WHERE decided_at >= day
UNION ALL
SELECT p.first_seen, 'app found', p.agent_id || '/' || p.app_key, h.hostname
  FROM apps p LEFT JOIN hosts h USING (agent_id), since WHERE p.first_seen >= day
UNION ALL
SELECT p.last_seen, 'app gone', p.agent_id || '/' || p.app_key, h.hostname
  FROM apps p LEFT JOIN hosts h USING (agent_id), since WHERE NOT p.present AND p.last_seen >= day
UNION ALL
SELECT changed_at, 'inventory: ' || change, app_id, changes
  FROM inventory_history, since WHERE changed_at >= day
ORDER BY at DESC
LIMIT 1000""",
    ),
}
