"""Options and helpers every collector command shares."""

from __future__ import annotations

import click

from ronda.collector.output import FORMATS
from ronda.collector.store import Store, StoreError, default_db_path
from ronda.i18n import Lang, LanguageError
from ronda.i18n import get as get_language


def db_option(f):
    return click.option(
        "--db",
        metavar="FILE",
        default=default_db_path,
        show_default="$RONDA_DB or a per-user path",
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


def language_options(f):
    """--lang and --tz: the language and time zone of what a person reads."""
    f = click.option(
        "--tz",
        "tz",
        metavar="ZONE",
        help="Time zone of dates and times: WIB, WITA, WIT, UTC or a name such as Asia/Makassar "
        "(default: $RONDA_TZ, else this host's zone).",
    )(f)
    return click.option(
        "--lang",
        "lang",
        metavar="id|en",
        help="Language: id (Bahasa Indonesia) or en (default: $RONDA_LANG, else the locale, else en).",
    )(f)


def language(lang: str | None, tz: str | None) -> Lang:
    try:
        return get_language(lang, tz)
    except LanguageError as e:
        raise click.BadParameter(str(e)) from None
