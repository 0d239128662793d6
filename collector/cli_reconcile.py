"""`ronda reconcile`, `findings`, `candidates`, `explain`, `report`, `decide`."""

from __future__ import annotations

import json
from collections.abc import Callable
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
from ronda.collector.output import output_file, render
from ronda.collector.reconcile.config import load_config
from ronda.collector.reconcile.decisions import DECISIONS, record_decision
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


def _finding_kind_option(help: str) -> Callable[[FC], FC]:
    return click.option("--kind", "kinds", multiple=True, type=click.Choice(KINDS), help=help)


def _verdict_option(help: str) -> Callable[[FC], FC]:
    return click.option("--verdict", "verdicts", multiple=True, type=click.Choice(VERDICTS), help=help)


@click.command()
@db_option
@format_option
@_finding_kind_option("Only this kind (repeatable).")
@_verdict_option("Only findings on an app with this verdict (repeatable).")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved findings.")
@list_options("opd", "host", "since")
def findings(
    db: str,
    fmt: str,
    kinds: tuple[str, ...],
    verdicts: tuple[str, ...],
    include_resolved: bool,
    **options: Any,
) -> None:
    """Discrepancies between the declared inventory and what runs. --since: findings first
    seen since then (what is new this week: --since 7d).

    \b
      ronda findings --kind hidden --verdict safe-to-take-down
    """
    from ronda.collector.lists import findings_list

    out = output_from(fmt, options)
    filters = filters_from(dict(options, kinds=kinds), verdicts)
    emit(lambda: findings_list(Store(db), filters, out, include_resolved), options["output"])


@click.command()
@db_option
@format_option
@_verdict_option("Show these verdicts instead of safe-to-take-down (repeatable).")
@_finding_kind_option("Only apps with an open finding of this kind, such as hidden (repeatable).")
@list_options("opd", "host", "since")
def candidates(db: str, fmt: str, verdicts: tuple[str, ...], kinds: tuple[str, ...], **options: Any) -> None:
    """Apps ronda calls safe to take down, with the evidence and any decision. --since: verdicts
    reached since then.

    \b
      ronda candidates --opd Bappeda --lang id
      ronda candidates --kind hidden          (undeclared apps nobody uses)
      ronda candidates --verdict review --verdict insufficient-evidence --format csv -o tinjau.csv
    """
    from ronda.collector.lists import candidates_list

    filters = filters_from(dict(options, kinds=kinds), verdicts)
    out = output_from(fmt, options)
    emit(lambda: candidates_list(Store(db), filters, out), options["output"])


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
@click.option("--latest", is_flag=True, help="Only each app's latest decision (the one in force).")
@_verdict_option("Only decisions on an app whose verdict is now this (repeatable).")
@list_options("opd", "host", "since")
def decisions_(
    db: str,
    fmt: str,
    app: str | None,
    decision: str | None,
    by: str | None,
    latest: bool,
    verdicts: tuple[str, ...],
    **options: Any,
) -> None:
    """Decisions recorded with `ronda decide`, newest first: who decided what, when
    and why, with ronda's verdict then and now. --since: decided since then; --verdict: the
    verdict now (a take-down decided while the app is now in use: --decision take-down
    --verdict keep).

    \b
      ronda decisions --decision take-down --since 2026-01-01 --format csv
      ronda decisions --app APP-003
      ronda decisions --latest --opd "Dinas Kesehatan" --host web-dinkes --lang id
    """
    from ronda.collector.lists import decisions_list

    store = Store(db)
    subject = find_subject(store, app).subject if app else None
    out = output_from(fmt, options)
    filters = filters_from(options, verdicts)
    emit(lambda: decisions_list(store, filters, out, subject, decision, by, latest), options["output"])


COMMANDS = (reconcile, findings, candidates, explain, report, decide, decisions_)
