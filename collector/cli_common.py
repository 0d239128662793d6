"""Options and helpers every collector command shares."""

from __future__ import annotations

import click
from click.decorators import FC

from ronda.collector.output import FORMATS
from ronda.collector.store import Store, StoreError, default_db_path


def db_option(f: FC) -> FC:
    return click.option(
        "--db",
        metavar="FILE",
        default=default_db_path,
        show_default="$RONDA_DB or a per-user path",
        help="The collector's SQLite database.",
    )(f)


def format_option(f: FC) -> FC:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )(f)


def open_store(path: str, checkpoint_every: float | None = None) -> Store:
    try:
        return Store(path, checkpoint_every)
    except StoreError as e:
        raise click.ClickException(str(e)) from None
