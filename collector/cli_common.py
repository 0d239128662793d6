"""Options every collector command shares: `--db` and `--format`.

Both are accepted on the leaf command (`ronda scans hosts --format json`) and,
where a group lists something itself, on the group too (`ronda scans --format
json hosts`); the leaf wins, then the group, then the default.
"""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource
from click.decorators import FC

from ronda.collector.output import FORMATS
from ronda.command import DATABASE_META
from ronda.paths import default_path


def _inherit(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """The value given to this command, else to a group above it, else the default."""
    if ctx.get_parameter_source(param.name or "") is ParameterSource.DEFAULT:
        parent = ctx.parent
        while parent is not None:
            if parent.get_parameter_source(param.name or "") not in (None, ParameterSource.DEFAULT):
                return parent.params[param.name]
            parent = parent.parent
    return value


def _database(ctx: click.Context, param: click.Parameter, value: str) -> str:
    value = _inherit(ctx, param, value)
    ctx.meta[DATABASE_META] = value
    return value


def db_option(f: FC) -> FC:
    return click.option(
        "--db",
        metavar="FILE",
        default=lambda: default_path("db"),
        callback=_database,
        show_default="$RONDA_DB, else /var/lib/ronda/ronda.db as root, else ~/.local/share/ronda/ronda.db",
        help="The collector's SQLite database.",
    )(f)


def format_option(f: FC) -> FC:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        callback=_inherit,
        show_default=True,
        help="Output format.",
    )(f)
