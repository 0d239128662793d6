"""What both command-line programs (`ronda`, `ronda-agent`) share: their root group and log setup.

The root group is the one place where an error becomes what a user sees: a
`RondaError`, or an operational failure of the standard library (a locked
database, a full disk, a path that cannot be written), ends the command with
`PROGRAM: message` on stderr and the error's exit code (see ronda.errors).
The traceback is printed only with `-v` or `RONDA_DEBUG=1`. Any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import traceback
from typing import Any, NoReturn

import click
from click.decorators import FC

from ronda.errors import EXIT_FAILED, RondaError, operational_message

DATABASE_META = "ronda.database"  # ctx.meta key: the store a command opened, named in its errors


class RondaGroup(click.Group):
    """A click group that turns ronda's errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RondaError as e:
            _fail(ctx, e, str(e), e.exit_code)
        except BrokenPipeError:
            raise  # `ronda apps | head`: click ends quietly
        except (sqlite3.Error, OSError) as e:
            _fail(ctx, e, operational_message(e, ctx.meta.get(DATABASE_META)) or str(e), EXIT_FAILED)


def _fail(ctx: click.Context, error: BaseException, message: str, code: int) -> NoReturn:
    if ctx.params.get("verbose") or os.environ.get("RONDA_DEBUG", "") not in ("", "0"):
        traceback.print_exception(error, file=sys.stderr)
    click.echo(f"{ctx.find_root().info_name}: {message}", err=True)
    ctx.exit(code)


def verbose_option(f: FC) -> FC:
    return click.option(
        "-v",
        "--verbose",
        count=True,
        help="More log output (-vv for debug), and an error's traceback (as with RONDA_DEBUG=1).",
    )(f)


def setup_logging(verbose: int) -> None:
    logging.basicConfig(
        level=max(logging.WARNING - 10 * verbose, logging.DEBUG),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
