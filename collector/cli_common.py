"""Options every collector command shares: `--db` and `--format`.

Both are accepted on the leaf command (`ronda scans hosts --format json`) and,
where a group lists something itself, on the group too (`ronda scans --format
json hosts`); the leaf wins, then the group, then the default.

Only the commands that fill a store (`serve`, `inventory import`) create one
where `--db` points to nothing; every other command refuses the path, so a
mistyped `--db` never answers from an empty new store.
"""

from __future__ import annotations

import os
from typing import Any

import click
from click.core import ParameterSource
from click.decorators import FC

from ronda.collector.output import FORMATS
from ronda.command import DATABASE_META
from ronda.errors import ConfigError
from ronda.paths import default_path

CREATES_STORE = "ronda.creates-store"  # ctx.meta key: this command may create the store


class StoreMissing(ConfigError):
    """A command that reads the store was given a path where there is none."""


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
    # A group's --db is only passed on: the command that runs checks it (a group listing on its own
    # calls require_store).
    if not ctx.meta.get(CREATES_STORE) and not isinstance(ctx.command, click.Group):
        require_store(value, ctx)
    return value


def require_store(path: str, ctx: click.Context | None = None) -> None:
    """Refuse a path where there is no database, naming where the path came from."""
    if path == ":memory:" or os.path.exists(path):
        return
    ctx = ctx or click.get_current_context()
    if ctx.get_parameter_source("db") not in (ParameterSource.DEFAULT, None):
        given = "given with --db"
    elif os.environ.get("RONDA_DB"):
        given = "from RONDA_DB"
    else:
        given = "the default; --db FILE or RONDA_DB names another"
    raise StoreMissing(
        f"no ronda database at {path} ({given}): check the path; "
        "`ronda serve` and `ronda inventory import` create one"
    )


def _creates_store(ctx: click.Context, param: click.Parameter, value: str) -> str:
    ctx.meta[CREATES_STORE] = True
    return _database(ctx, param, value)


def _db_option(f: FC, callback: Any, help: str) -> FC:
    return click.option(
        "--db",
        metavar="FILE",
        default=lambda: default_path("db"),
        callback=callback,
        show_default="$RONDA_DB, else /var/lib/ronda/ronda.db as root, else ~/.local/share/ronda/ronda.db",
        help=help,
    )(f)


def db_option(f: FC) -> FC:
    """--db for a command that reads or adds to an existing store: it refuses a path with no database."""
    return _db_option(f, _database, "The collector's SQLite database (it must exist).")


def creating_db_option(f: FC) -> FC:
    """--db for a command that fills a store: it creates the database when there is none."""
    return _db_option(f, _creates_store, "The collector's SQLite database (created if there is none).")


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
