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
import sys
from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource
from click.decorators import FC

from ronda.collector.listing import Filters, parse_since
from ronda.collector.lists import Output
from ronda.collector.output import FORMATS, output_file
from ronda.collector.scan_config import configured_timezone
from ronda.command import DATABASE_META
from ronda.errors import ConfigError
from ronda.i18n import Lang
from ronda.i18n import get as get_language
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


def language_options(f: FC) -> FC:
    """--lang and --tz: the language and time zone of what a person reads."""
    f = click.option(
        "--tz",
        "tz",
        metavar="ZONE",
        help="Time zone of dates and times: WIB, WITA, WIT, UTC or a name such as Asia/Makassar "
        "(default: $RONDA_TZ, else `timezone` in the collector config, else this host's zone).",
    )(f)
    return click.option(
        "--lang",
        "lang",
        metavar="id|en",
        help="Language: id (Bahasa Indonesia) or en (default: $RONDA_LANG, else the locale, else en).",
    )(f)


def language(lang: str | None, tz: str | None) -> Lang:
    """The language and time zone asked for: --tz, else $RONDA_TZ, else the collector config's
    `timezone`, else the host's (a LanguageError, exit 2, names the choices)."""
    configured = None if tz or os.environ.get("RONDA_TZ") else configured_timezone()
    return get_language(lang, tz, configured_timezone=configured)


_FILTER_OPTIONS: dict[str, Callable[[], Callable[[FC], FC]]] = {
    "opd": lambda: click.option(
        "--opd",
        "--owner",
        "owners",
        multiple=True,
        metavar="NAME",
        help="Only apps of this OPD (repeatable).",
    ),
    "host": lambda: click.option(
        "--host",
        "hosts",
        multiple=True,
        metavar="NAME",
        help="Only on this host: name or agent id (repeatable).",
    ),
    "since": lambda: click.option(
        "--since",
        metavar="WHEN",
        help="Only rows new since WHEN: 2026-11-01, or a span back from now: 30d, 2w, 12h.",
    ),
    "kind": lambda: click.option(
        "--kind", "kinds", multiple=True, metavar="KIND", help="Only this kind (repeatable)."
    ),
    "stale": lambda: click.option(
        "--stale", is_flag=True, help="Only hosts whose last report is older than the limit."
    ),
}


def list_options(*filters: str) -> Callable[[FC], FC]:
    """The filters, sort, limit, output file and language options of a list command."""

    def decorate(f: FC) -> FC:
        for name in reversed(filters):
            f = _FILTER_OPTIONS[name]()(f)
        f = click.option(
            "--sort", metavar="COLUMNS", help="Sort by these columns, comma-separated; -COLUMN descends."
        )(f)
        f = click.option("--limit", type=click.IntRange(min=0), help="At most this many rows.")(f)
        f = click.option(
            "--output",
            "-o",
            "output",
            metavar="FILE",
            help="Write to FILE instead of the terminal (xlsx needs it).",
        )(f)
        f = click.option(
            "--delimiter",
            metavar="CHAR",
            help="CSV delimiter (default: ';' where the language writes decimals with a comma, "
            "as Indonesian does, else ',').",
        )(f)
        f = click.option("--no-bom", is_flag=True, help="CSV without the byte-order mark spreadsheets need.")(
            f
        )
        return language_options(f)

    return decorate


def filters_from(options: dict[str, Any], verdicts: tuple[str, ...] = ()) -> Filters:
    """The filters given to a list command (a date --since cannot read is a FilterError, exit 2)."""
    since = parse_since(options.get("since"))
    return Filters(
        owners=tuple(options.get("owners") or ()),
        hosts=tuple(options.get("hosts") or ()),
        since=since,
        verdicts=tuple(verdicts),
        kinds=tuple(options.get("kinds") or ()),
        stale=bool(options.get("stale")),
        sort=tuple(s.strip() for s in (options.get("sort") or "").split(",") if s.strip()),
        limit=options.get("limit"),
    )


def output_from(fmt: str, options: dict[str, Any]) -> Output:
    delimiter = options.get("delimiter")
    if delimiter is not None and len(delimiter.replace("\\t", "\t")) != 1:
        raise click.BadParameter("give one character, or \\t for a tab", param_hint="--delimiter")
    return Output(
        fmt,
        language(options.get("lang"), options.get("tz")),
        delimiter.replace("\\t", "\t") if delimiter else None,
        not options.get("no_bom"),
    )


def emit(make: Callable[[], str | bytes], output: str | None) -> None:
    """Write what `make()` returns to --output (whole or not at all), or to the terminal."""
    data = make()
    if output:
        if isinstance(data, str):
            data = (data if not data or data.endswith("\n") else data + "\n").encode("utf-8")
        with output_file(output, binary=True) as f:
            f.write(data)
        click.echo(f"wrote {output}", err=True)
    elif isinstance(data, bytes):
        if sys.stdout.isatty():
            raise click.UsageError("XLSX is a binary file: give --output FILE.xlsx")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        click.echo(data)
