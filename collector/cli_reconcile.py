"""`ronda reconcile`, `findings`, `candidates`, `explain`, `report`, `decide`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from click.decorators import FC

from ronda.collector import present
from ronda.collector.cli_common import db_option, format_option
from ronda.collector.output import output_file, render
from ronda.collector.reconcile.config import load_config
from ronda.collector.reconcile.decisions import DECISIONS, decision_rows, record_decision
from ronda.collector.reconcile.lookup import find_subject, find_subjects
from ronda.collector.reconcile.queries import KINDS
from ronda.collector.reconcile.verdicts import VERDICTS
from ronda.collector.store import Store


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

    config = load_config(config_path)
    click.echo(present.reconcile_text(run_reconcile(Store(db), config), fmt))


@click.command()
@db_option
@format_option
@click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS), help="Only this kind (repeatable).")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved findings.")
def findings(db: str, fmt: str, kinds: tuple[str, ...], include_resolved: bool) -> None:
    """Discrepancies between the declared inventory and what runs."""
    click.echo(present.findings_text(Store(db), fmt, kinds, include_resolved))


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
def candidates(db: str, fmt: str, verdicts: tuple[str, ...]) -> None:
    """Apps ronda calls safe to take down, with the evidence and any decision."""
    click.echo(present.candidates_text(Store(db), fmt, verdicts or ("safe-to-take-down",)))


@click.command()
@db_option
@format_option
@click.argument("app")
@click.option("--weeks", default=17, show_default=True, help="Weeks of usage in the chart.")
def explain(db: str, fmt: str, app: str, weeks: int) -> None:
    """The whole story of one app: what it is, where it runs, its usage,
    findings, verdict with reasons, and decisions.

    \b
    APP is whatever names it (`ronda candidates` and every list print one):
      APP-003                               a declared app id
      web-dinkes/nginx:simpus.example:80/   HOST/APP_KEY
      nginx:simpus.example:80/              an app key, when one host has it
      https://simpus.example/pasien         a URL: every app serving it, front and back
      simpus                                part of a name, when it names one app
    """
    from ronda.collector.reconcile.story import story

    store = Store(db)
    named = find_subjects(store, app)
    subjects = named.subjects() if named.rule == "url" else [find_subject(store, app)]
    stories = [story(store, found, days=7 * weeks - 1) for found in subjects]
    if len(stories) == 1:
        click.echo(present.explain_text(stories[0], fmt, weeks))
        return
    if fmt == "json":
        click.echo(json.dumps(stories, indent=2, ensure_ascii=False, default=str))
        return
    served = [{"role": f.role, "app": f.app or "-", "explain": f.typed, "name": f.name} for f in named.found]
    click.echo(f"{app} is served by:\n" + render(served, "table", ["role", "app", "explain", "name"]))
    for one in stories:
        click.echo("\n" + present.explain_text(one, fmt, weeks))


@click.command()
@db_option
@click.option(
    "--html", "html_file", required=True, metavar="FILE", help="Write a self-contained HTML page here."
)
@click.option("--title", default="ronda: web apps, their use, and what can be taken down", show_default=False)
def report(db: str, html_file: str, title: str) -> None:
    """A self-contained HTML report for decision makers (no external assets)."""
    from ronda.collector.report import build_report, render_html

    with output_file(html_file) as f:
        page = render_html(build_report(Store(db)), title=title)
        f.write(page)
    click.echo(f"wrote {html_file} ({len(page.encode()) // 1024} KiB)")


@click.command()
@db_option
@click.argument("app", required=False)
@click.argument("decision", required=False, type=click.Choice(DECISIONS))
@click.option("--reason", default="", help="Why: what makes the decision defensible later.")
@click.option("--by", "by", default="", help="Who decided (name, role).")
@click.option("--into", default="", metavar="APP", help="For consolidate: the app that takes over.")
@click.option(
    "--force",
    is_flag=True,
    help="Record a take-down that ronda's evidence argues against (people used it in the idle window, "
    "its verdict is keep, or it has none yet); --reason says why.",
)
@click.option(
    "--from",
    "sheet",
    metavar="FILE",
    help="Record the decisions of a signed approval sheet (XLSX or CSV from `ronda report --approval`): "
    "all of them, or none if any row is wrong.",
)
def decide(
    db: str,
    app: str | None,
    decision: str | None,
    reason: str,
    by: str,
    into: str,
    force: bool,
    sheet: str | None,
) -> None:
    """Record a decision on APP (keep, take-down, consolidate), or those of a
    signed sheet. Decisions are appended with who, when and why; history is
    never overwritten.

    A take-down is refused when ronda's evidence argues against it: its verdict
    is keep, people used the app inside the idle window, or it has no verdict
    yet. --force records it anyway, with the reason.

    \b
      ronda decide APP-003 take-down --reason "diganti e-Office" --by "Kadis Kominfo"
      ronda decide APP-004 consolidate --into APP-020 --reason "..." --by "..."
      ronda decide --from keputusan.xlsx      # the sheet of `ronda report --approval`, signed
    """
    store = Store(db)
    if sheet:
        if app or decision:
            raise click.UsageError("give either APP DECISION or --from FILE, not both")
        _decide_sheet(store, sheet, force)
        return
    if not app or not decision:
        raise click.UsageError("give APP and DECISION (keep, take-down, consolidate), or --from FILE")
    if not reason.strip() or not by.strip():
        raise click.UsageError("a decision needs --reason (why) and --by (who decided)")
    found = find_subject(store, app)
    target = find_subject(store, into).subject if into else ""
    click.echo(
        _recorded(record_decision(store, found, decision, reason, by, target, datetime.now(UTC), force))
    )


def _recorded(row: dict[str, Any]) -> str:
    return (
        f"recorded: {row['subject']} {row['decision']}"
        + (f" into {row['into']}" if row["into"] else "")
        + f" by {row['decided_by']} at {row['decided_at']}"
        + (f" (ronda's verdict: {row['verdict']})" if row["verdict"] else "")
        + (f"; forced: {row['forced']}" if row["forced"] else "")
    )


def _decide_sheet(store: Store, sheet: str, force: bool) -> None:
    from ronda.collector.reconcile.batch import BatchError, record_sheet

    try:
        batch = record_sheet(store, sheet, force)
    except BatchError as e:
        for problem in e.problems:
            click.echo(f"{sheet}: {problem}", err=True)
        raise
    for row in batch.recorded:
        click.echo(_recorded(row))
    left = f"; {batch.undecided} rows without a decision left for later" if batch.undecided else ""
    click.echo(f"{len(batch.recorded)} decisions recorded from {sheet}{left}")


@click.command("decisions")
@db_option
@format_option
@click.option("--app", metavar="APP", help="Only the decisions on this app (any name `explain` takes).")
@click.option("--decision", type=click.Choice(DECISIONS), help="Only this decision.")
@click.option("--by", metavar="TEXT", help="Only decisions by someone whose name holds TEXT.")
@click.option("--since", metavar="DATE", help="Only decisions made on or after DATE (YYYY-MM-DD).")
@click.option("--latest", is_flag=True, help="Only each app's latest decision (the one in force).")
def decisions_(
    db: str, fmt: str, app: str | None, decision: str | None, by: str | None, since: str | None, latest: bool
) -> None:
    """Decisions recorded with `ronda decide`, newest first: who decided what, when
    and why, with ronda's verdict then and now.

    \b
      ronda decisions --decision take-down --since 2026-01-01 --format csv
      ronda decisions --app APP-003
    """
    store = Store(db)
    subject = find_subject(store, app).subject if app else None
    if since and not _is_date(since):
        raise click.BadParameter(f"{since!r} is not a date (YYYY-MM-DD)", param_hint="--since")
    rows = decision_rows(store, subject, decision, by, since, latest)
    columns = [
        "decided_at",
        *(("app",) if fmt == "table" else ("subject", "app")),
        "name",
        "decision",
        "into",
        "decided_by",
        "reason",
        "verdict_then",
        "verdict_now",
    ]
    if fmt == "table":
        for r in rows:
            r["decided_at"] = r["decided_at"][:16].replace("T", " ")
    click.echo(
        render(
            rows, fmt, columns, empty="no decisions yet: `ronda decide APP DECISION --reason ... --by ...`"
        )
    )


def _is_date(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


COMMANDS = (reconcile, findings, candidates, explain, report, decide, decisions_)
