"""Options every collector command shares: `--db` and `--format`.

Both are accepted on the leaf command (`ronda scans hosts --format json`) and,
where a group lists something itself, on the group too (`ronda scans --format
json hosts`); the leaf wins, then the group, then the default.
"""

from __future__ import annotations

from typing import Any

import click

from ronda.collector.output import FORMATS
from ronda.command import DATABASE_META
from ronda.paths import default_path


def _from_group(ctx: click.Context, name: str) -> Any:
    parent = ctx.parent
    while parent is not None:
        if parent.params.get(name) is not None:
            return parent.params[name]
        parent = parent.parent
    return None


def _database(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    value = value or _from_group(ctx, "db") or default_path("db")
    ctx.meta[DATABASE_META] = value
    return value


def _format(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    return value or _from_group(ctx, "fmt") or "table"


def db_option(f):
    return click.option(
        "--db",
        metavar="FILE",
        callback=_database,
        show_default="$RONDA_DB, else /var/lib/ronda/ronda.db as root, else ~/.local/share/ronda/ronda.db",
        help="The collector's SQLite database.",
    )(f)


def format_option(f):
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        callback=_format,
        show_default="table",
        help="Output format.",
    )(f)
