"""`ronda reconcile`, `findings`, `candidates`, `explain`, `report`, `decide`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from click.decorators import FC

from ronda.collector.cli_common import (
    db_option,
    emit,
    filters_from,
    format_option,
    language,
    language_options,
    list_options,
    open_store,
    output_from,
)
from ronda.collector.output import render
from ronda.collector.reconcile.config import ConfigError, load_config
from ronda.collector.reconcile.decisions import DECISIONS, DecisionError, record_decision
from ronda.collector.reconcile.lookup import NotFound, find_subject
from ronda.collector.reconcile.queries import (
    KINDS,
)
from ronda.collector.reconcile.verdicts import VERDICTS


def _config_option(f: FC) -> FC:
    return click.option(
        "--config",
        "config_path",
        metavar="FILE",
        help="Thresholds (TOML; default $RONDA_RECONCILE_CONFIG or /etc/ronda/reconcile.toml).",
    )(f)


@click.command()
@db_option
@_config_option
@format_option
def reconcile(db: str, config_path: str | None, fmt: str) -> None:
    """Hold the declared inventory against what the agents found; update
    findings and verdicts. Idempotent: this is what a schedule runs."""
    from ronda.collector.reconcile.db import run_reconcile

    try:
        config = load_config(config_path)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    summary = run_reconcile(open_store(db), config)
    if fmt != "table":
        click.echo(
            render(
                [
                    {
                        "run_id": summary.run_id,
                        "declared": summary.declared,
                        "discovered": summary.discovered,
                        "matched": summary.matched,
                        "findings_open": summary.findings_open,
                        "opened": summary.opened,
                        "resolved": summary.resolved,
                        **{f"findings_{k}": v for k, v in sorted(summary.counts.items())},
                        **{f"verdict_{k}": v for k, v in sorted(summary.verdicts.items())},
                    }
                ],
                fmt,
            )
        )
        return
    click.echo(
        f"reconciled {summary.declared} declared apps with {summary.discovered} discovered apps "
        f"({summary.matched} matched; {summary.unchanged} unchanged since the last run)"
    )
    click.echo(
        f"findings: {summary.findings_open} open ({summary.opened} new, {summary.resolved} resolved): "
        + (", ".join(f"{v} {k}" for k, v in sorted(summary.counts.items())) or "none")
    )
    click.echo("verdicts: " + (", ".join(f"{summary.verdicts.get(k, 0)} {k}" for k in VERDICTS)))


@click.command()
@db_option
@format_option
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS), help="Only this kind (repeatable).")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved findings.")
@list_options("opd", "host", "since")
def findings(db: str, fmt: str, kinds: tuple[str, ...], include_resolved: bool, **options: Any) -> None:
    """Discrepancies between the declared inventory and what runs. --since: findings first
    seen since then (what is new this week: --since 7d)."""
    from ronda.collector.lists import findings_list

    out = output_from(fmt, options)
    filters = filters_from(dict(options, kinds=kinds))
    emit(lambda: findings_list(open_store(db), filters, out, include_resolved), options["output"])


@click.command()
@db_option
@format_option
@click.option(
    "--verdict",
    "verdicts",
    multiple=True,
    type=click.Choice(VERDICTS),
    help="Show these verdicts instead of safe-to-take-down (repeatable).",
)
@list_options("opd", "host", "since")
def candidates(db: str, fmt: str, verdicts: tuple[str, ...], **options: Any) -> None:
    """Apps ronda calls safe to take down, with the evidence and any decision. --since: verdicts
    reached since then.

    \b
      ronda candidates --opd Bappeda --lang id
      ronda candidates --verdict review --verdict insufficient-evidence --format csv -o tinjau.csv
    """
    from ronda.collector.lists import candidates_list

    out = output_from(fmt, options)
    emit(lambda: candidates_list(open_store(db), filters_from(options, verdicts), out), options["output"])


@click.command()
@db_option
@format_option
@click.argument("app")
@click.option("--weeks", default=17, show_default=True, help="Weeks of usage in the chart.")
def explain(db: str, fmt: str, app: str, weeks: int) -> None:
    """The whole story of one app: what it is, where it runs, its usage,
    findings, verdict with reasons, and decisions. APP is a declared app id,
    HOST/APP_KEY, or a URL."""
    from ronda.collector.reconcile.narrate import narrate
    from ronda.collector.reconcile.story import story as build_story

    store = open_store(db)
    try:
        found = find_subject(store, app)
    except NotFound as e:
        raise click.ClickException(str(e)) from None
    data = build_story(store, found, days=7 * weeks - 1)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    elif fmt == "csv":
        rows = [{"section": "verdict", "key": "verdict", "value": (data["verdict"] or {}).get("verdict")}]
        for r in (data["verdict"] or {}).get("reasons", []):
            rows.append({"section": "reason", "key": r["effect"], "value": r["text"]})
        for k, v in ((data["verdict"] or {}).get("figures") or {}).items():
            rows.append(
                {
                    "section": "figure",
                    "key": k,
                    "value": json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v,
                }
            )
        for k, v in (data["declared"] or {}).items():
            rows.append({"section": "declared", "key": k, "value": v})
        for a in data["runs_on"]:
            rows.append({"section": "runs_on", "key": a["hostname"] or a["agent_id"], "value": a["app_key"]})
        for f in data["findings"]:
            rows.append({"section": "finding", "key": f["kind"], "value": f["summary"]})
        for u in data["usage"]:
            rows.append({"section": "usage", "key": u["date"], "value": u["human"]})
        click.echo(render(rows, "csv", ["section", "key", "value"]))
    else:
        click.echo("\n".join(narrate(data, weeks=weeks)))


@click.command()
@db_option
@click.option(
    "--html", "html_file", metavar="FILE", help="Write the report, one self-contained HTML page, here."
)
@click.option(
    "--approval",
    "approval_file",
    metavar="FILE",
    help="Write the approval sheet here: .html to print and sign (one sheet per OPD), "
    ".xlsx or .csv for the list `ronda decide --from FILE` reads back.",
)
@click.option("--opd", metavar="NAME", help="Only this OPD's apps (the declared owner, as in the inventory).")
@language_options
@click.option("--title", help="The report's title.")
@_config_option
def report(
    db: str,
    html_file: str | None,
    approval_file: str | None,
    opd: str | None,
    lang: str | None,
    tz: str | None,
    title: str | None,
    config_path: str | None,
) -> None:
    """The report for decision makers (one self-contained HTML page: no scripts, no external
    requests; printable on A4) and the approval sheet they sign.

    \b
      ronda report --html laporan.html --lang id --tz WITA
      ronda report --approval berita-acara.html --opd "Dinas Kesehatan"
      ronda report --approval keputusan.xlsx      # fill in, then: ronda decide --from keputusan.xlsx
    """
    from ronda.collector.report import build_report, render_html
    from ronda.collector.report.approval import write_approval

    if not html_file and not approval_file:
        raise click.UsageError("give --html FILE, --approval FILE, or both")
    try:
        config = load_config(config_path)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    speaking = language(lang, tz)
    store = open_store(db)
    data = build_report(store, opd=opd, stale_after_hours=config.stale_after_hours, pages=bool(html_file))
    if html_file:
        page = render_html(data, title=title, lang=speaking)
        with open(html_file, "w", encoding="utf-8") as f:
            f.write(page)
        click.echo(f"wrote {html_file} ({len(page.encode()) // 1024} KiB)")
    if approval_file:
        count = write_approval(data, approval_file, speaking)
        click.echo(f"wrote {approval_file} ({count} apps)")


@click.command()
@db_option
@click.argument("app")
@click.argument("decision", type=click.Choice(DECISIONS))
@click.option("--reason", required=True, help="Why: what makes the decision defensible later.")
@click.option("--by", "by", required=True, help="Who decided (name, role).")
@click.option("--into", default="", metavar="APP", help="For consolidate: the app that takes over.")
def decide(db: str, app: str, decision: str, reason: str, by: str, into: str) -> None:
    """Record a decision on APP (keep, take-down, consolidate). Decisions are
    appended with who, when and why; history is never overwritten."""
    store = open_store(db)
    try:
        found = find_subject(store, app)
        target = find_subject(store, into).subject if into else ""
        row = record_decision(store, found, decision, reason, by, target, datetime.now(UTC))
    except (NotFound, DecisionError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(
        f"recorded: {row['subject']} {row['decision']}"
        + (f" into {row['into']}" if row["into"] else "")
        + f" by {row['decided_by']} at {row['decided_at']}"
        + (f" (ronda's verdict: {row['verdict']})" if row["verdict"] else "")
    )


COMMANDS = (reconcile, findings, candidates, explain, report, decide)
