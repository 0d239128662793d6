"""`ronda reconcile`, `findings`, `candidates`, `explain`, `report`, `decide`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from click.decorators import FC

from ronda.collector import present
from ronda.collector.cli_common import (
    db_option,
    emit,
    filters_from,
    format_option,
    language,
    language_options,
    list_options,
    output_from,
)
from ronda.collector.output import output_file
from ronda.collector.reconcile.config import load_config
from ronda.collector.reconcile.decisions import DECISIONS, record_decision
from ronda.collector.reconcile.lookup import find_subject
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
@list_options("opd", "host", "since")
def findings(db: str, fmt: str, kinds: tuple[str, ...], include_resolved: bool, **options: Any) -> None:
    """Discrepancies between the declared inventory and what runs. --since: findings first
    seen since then (what is new this week: --since 7d)."""
    from ronda.collector.lists import findings_list

    out = output_from(fmt, options)
    filters = filters_from(dict(options, kinds=kinds))
    emit(lambda: findings_list(Store(db), filters, out, include_resolved), options["output"])


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
    emit(lambda: candidates_list(Store(db), filters_from(options, verdicts), out), options["output"])


@click.command()
@db_option
@format_option
@click.argument("app")
@click.option("--weeks", default=17, show_default=True, help="Weeks of usage in the chart.")
def explain(db: str, fmt: str, app: str, weeks: int) -> None:
    """The whole story of one app: what it is, where it runs, its usage,
    findings, verdict with reasons, and decisions. APP is a declared app id,
    HOST/APP_KEY, or a URL."""
    from ronda.collector.reconcile.story import story

    store = Store(db)
    click.echo(present.explain_text(story(store, find_subject(store, app), days=7 * weeks - 1), fmt, weeks))


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
    config = load_config(config_path)
    speaking = language(lang, tz)
    data = build_report(Store(db), opd=opd, stale_after_hours=config.stale_after_hours, pages=bool(html_file))
    if html_file:
        with output_file(html_file) as f:
            page = render_html(data, title=title, lang=speaking)
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
    store = Store(db)
    found = find_subject(store, app)
    target = find_subject(store, into).subject if into else ""
    row = record_decision(store, found, decision, reason, by, target, datetime.now(UTC))
    click.echo(
        f"recorded: {row['subject']} {row['decision']}"
        + (f" into {row['into']}" if row["into"] else "")
        + f" by {row['decided_by']} at {row['decided_at']}"
        + (f" (ronda's verdict: {row['verdict']})" if row["verdict"] else "")
    )


COMMANDS = (reconcile, findings, candidates, explain, report, decide)
