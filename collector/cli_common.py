"""Options and helpers every collector command shares."""

from __future__ import annotations

import click

from ronda.collector.output import FORMATS
from ronda.collector.store import Store, StoreError
from ronda.paths import default_path


def db_option(f):
    return click.option(
        "--db",
        metavar="FILE",
        default=lambda: default_path("db"),
        show_default="$RONDA_DB, else /var/lib/ronda/ronda.db as root, else ~/.local/share/ronda/ronda.db",
        help="The collector's SQLite database.",
    )(f)


def format_option(f):
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
