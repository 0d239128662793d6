"""`ronda inventory`: import, export, list, and pin or forbid matches."""

from __future__ import annotations

import sys

import click

from ronda.collector.cli_common import creating_db_option, db_option, format_option
from ronda.collector.inventory.db import declared_apps, import_apps, pins, preview_import, set_pin
from ronda.collector.inventory.export import export_text
from ronda.collector.inventory.fields import BY_NAME
from ronda.collector.inventory.model import InventoryError
from ronda.collector.inventory.parse import check_table, parse_map
from ronda.collector.inventory.read import FORMATS, decode, detect_format, parse_text
from ronda.collector.output import output_file, render
from ronda.collector.reconcile.lookup import NotFound, find_discovered
from ronda.collector.store import Store
from ronda.errors import InputError

SHOWN_PROBLEMS = 500


@click.group()
def inventory() -> None:
    """The declared inventory: import, export, pin matches."""


@inventory.command("import")
@creating_db_option
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=False))
@click.option(
    "--format", "file_format", type=click.Choice(FORMATS), help="File format (default: by extension)."
)
@click.option(
    "--encoding", default="", metavar="NAME", help="Text encoding (default: UTF-8, with or without BOM)."
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Read COLUMN as FIELD, for a column ronda does not recognise (repeatable): "
    "--map 'kolom saya=contact'. FIELD: " + ", ".join(BY_NAME) + ".",
)
@click.option("--dry-run", is_flag=True, help="Check the file and show what would change; change nothing.")
def import_(
    db: str, file: str, file_format: str | None, encoding: str, mapping: tuple[str, ...], dry_run: bool
) -> None:
    """Import a declared inventory (CSV, YAML or JSON). A bad file is refused whole,
    with every problem listed.

    Columns are recognised by their usual names in English and Indonesian, whatever
    their spaces, capitals and punctuation (`Nama Aplikasi`, `PIC Kontak`, `No. HP`);
    the summary says which column went to which field. Creates the database if needed.

    \b
      ronda inventory import katalog-spbe.csv
      ronda inventory import aplikasi.csv --map 'Penanggung Jawab Teknis=contact' --dry-run
    """
    overrides = parse_map(mapping)
    try:
        with open(file, "rb") as f:
            content = f.read()
    except OSError as e:
        raise InputError(f"cannot read {file}: {e.strerror or e}") from None
    fmt = detect_format(file, file_format or "")
    try:
        checked = check_table(parse_text(decode(content, file, encoding), file, fmt), mapping=overrides)
    except InventoryError as e:
        errors = [p for p in e.problems if not p.warning]
        for p in errors[:SHOWN_PROBLEMS]:
            click.echo(f"{file}: {p}", err=True)
        if len(errors) > SHOWN_PROBLEMS:
            click.echo(f"{file}: ... and {len(errors) - SHOWN_PROBLEMS} more", err=True)
        raise InputError(f"{len(errors)} problem(s) in {file}; nothing was imported") from None
    for w in checked.warnings:
        click.echo(f"{file}: warning: {w}", err=True)
    store = Store(db)
    imported = preview_import if dry_run else import_apps
    result = imported(store, checked.apps, file, fmt, content, columns=checked.columns)
    verb = "would import" if dry_run else "imported"
    click.echo(
        f"{verb} {result.records} apps from {file}: {len(result.added)} new, {len(result.updated)} updated, "
        f"{len(result.restored)} back in the inventory, {result.unchanged} unchanged, "
        f"{len(result.withdrawn)} withdrawn (no longer listed)"
    )
    for line in checked.columns.summary():
        click.echo(f"  {line}")
    for label, ids in (("withdrawn", result.withdrawn), ("updated", result.updated)):
        if ids:
            click.echo(f"  {label}: {', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''}")
    if not dry_run:
        click.echo("next: `ronda reconcile` to compare it with what runs")


@inventory.command()
@db_option
@click.argument("file", default="-", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    help="File format (default: by extension, CSV on stdout).",
)
@click.option(
    "--columns",
    type=click.Choice(["en", "id"]),
    default="en",
    show_default=True,
    help="Column names and values in English or Indonesian (SPBE catalogue style).",
)
@click.option("--all", "include_withdrawn", is_flag=True, help="Include apps withdrawn by a later import.")
def export(db: str, file: str, file_format: str | None, columns: str, include_withdrawn: bool) -> None:
    """Write the declared inventory back out (to FILE or stdout)."""
    fmt = file_format or (detect_format(file) if file != "-" else "csv")
    text = export_text(declared_apps(Store(db), include_withdrawn), fmt, columns)
    if file == "-":
        sys.stdout.write(text)
        return
    with output_file(file, newline="") as f:
        f.write(text)
    click.echo(f"wrote {file}", err=True)


@inventory.command("list")
@db_option
@format_option
@click.option("--all", "include_withdrawn", is_flag=True, help="Include apps withdrawn by a later import.")
def list_(db: str, fmt: str, include_withdrawn: bool) -> None:
    """The declared apps."""
    rows = [a.record() for a in declared_apps(Store(db), include_withdrawn)]
    columns = ["app_id", "name", "owner", "status", "app_class", "urls"] if fmt == "table" else None
    click.echo(render(rows, fmt, columns, empty="no inventory yet: `ronda inventory import FILE`"))


def _pin(db: str, app_id: str, target: str, action: str, reason: str, by: str) -> None:
    store = Store(db)
    if not store.query("SELECT 1 FROM inventory WHERE app_id=?", (app_id,)):
        raise NotFound(f"{app_id!r} is not a declared app id (see `ronda inventory list`)")
    found = find_discovered(store, target)
    set_pin(store, app_id, found.agent_id or "", found.app_key or "", action, reason, by)
    verb = {"link": "pinned", "forbid": "forbade", "clear": "cleared the pin between"}[action]
    click.echo(f"{verb} {app_id} and {found.subject}; it holds from the next `ronda reconcile`")


@inventory.command()
@db_option
@click.argument("app_id")
@click.argument("target")
@click.option("--reason", default="", help="Why (kept with the pin).")
@click.option("--by", default="", help="Who pins it.")
def link(db: str, app_id: str, target: str, reason: str, by: str) -> None:
    """Pin declared APP_ID to a discovered app, whatever the matching rules say
    (a backend behind its front included). Survives re-imports and re-scans.

    TARGET names one discovered app: HOST/APP_KEY, an APP_KEY one host has, a URL
    or part of a name (as `ronda explain` takes them)."""
    _pin(db, app_id, target, "link", reason, by)


@inventory.command()
@db_option
@click.argument("app_id")
@click.argument("target")
@click.option("--reason", default="", help="Why (kept with the pin).")
@click.option("--by", default="", help="Who forbids it.")
@click.option("--clear", is_flag=True, help="Remove a pin or forbid instead: back to the matching rules.")
def unlink(db: str, app_id: str, target: str, reason: str, by: str, clear: bool) -> None:
    """Forbid declared APP_ID from matching a discovered app, whatever the matching
    rules say. Survives re-imports and re-scans.

    TARGET names one discovered app: HOST/APP_KEY, an APP_KEY one host has, a URL
    or part of a name (as `ronda explain` takes them)."""
    _pin(db, app_id, target, "clear" if clear else "forbid", reason, by)


@inventory.command("pins")
@db_option
@format_option
def pins_(db: str, fmt: str) -> None:
    """Pinned and forbidden matches."""
    rows = pins(Store(db))
    click.echo(
        render(
            rows,
            fmt,
            ["app_id", "action", "hostname", "app_key", "decided_by", "created_at", "reason"],
            empty="no pins",
        )
    )
