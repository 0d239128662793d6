"""`ronda web`: the console in a browser (the optional `web` extra: pip install 'ronda[web]')."""

from __future__ import annotations

import sys
from types import ModuleType

import click

from ronda.collector.cli_common import db_option, language, language_options, require_store
from ronda.collector.web.config import (
    WebConfig,
    WebConfigError,
    check,
    check_tls_files,
    load_web_config,
    with_options,
)
from ronda.collector.web.passwords import hash_password, weak_password
from ronda.errors import ConfigError


class WebExtraMissing(ConfigError):
    """`ronda web` needs the `web` extra, which this installation lacks."""


def _console_module() -> ModuleType:
    try:
        from ronda.collector.web import console
    except ImportError as e:
        raise WebExtraMissing(
            f"ronda web needs Datasette, which is not installed ({e.name}): pip install 'ronda[web]'"
        ) from None
    return console


@click.group(invoke_without_command=True, short_help="Browse, filter, explain and decide in a browser.")
@db_option
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Address to serve on [default: 127.0.0.1:8470, or listen in web.toml]. Off loopback, "
    "web.toml must configure a login and TLS (or a proxy that has them).",
)
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    help="Accounts, TLS and proxy settings (TOML; default $RONDA_WEB_CONFIG or /etc/ronda/web.toml).",
)
@click.option("--cert", metavar="FILE", help="Serve HTTPS with this certificate (PEM) ...")
@click.option("--key", metavar="FILE", help="... and its private key (PEM).")
@language_options
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Check web.toml and the options, say what they allow, and exit.",
)
@click.pass_context
def web(
    ctx: click.Context,
    db: str,
    listen: str | None,
    config_path: str | None,
    cert: str | None,
    key: str | None,
    lang: str | None,
    tz: str | None,
    check_only: bool,
) -> None:
    """Serve the store in a browser: the operators' views with facets by OPD,
    verdict, finding kind and server; questions ready to ask; a page per app
    with its evidence and usage chart; the report, live; and decisions,
    recorded by people who signed in.

    \b
    Read-only except for decisions, which go through the same checks as
    `ronda decide` and carry the name of whoever signed in. On a loopback
    address anyone on this machine may read without signing in; on any other
    address everyone signs in (accounts in web.toml, or a proxy's header), over
    TLS (--cert/--key, or a TLS proxy in front):
      ronda web                                   # http://127.0.0.1:8470/
      ronda web hash-password                     # a hash for web.toml's [accounts.NAME]
      ronda web --check --config /etc/ronda/web.toml
      ronda web --listen 0.0.0.0:8470 --cert web.pem --key web-key.pem
    """
    if ctx.invoked_subcommand is not None:
        return
    config = with_options(load_web_config(config_path), listen=listen, cert=cert, key=key)
    check(config)
    check_tls_files(config)
    if check_only:
        click.echo(_summary(config))
        return
    require_store(db, ctx)  # the group's --db is only checked by the command that runs
    module = _console_module()
    datasette = module.build_console(db, config, language(lang, tz))
    sock = module.bind(config)
    host, port = sock.getsockname()[:2]
    scheme = "https" if config.tls else "http"
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"ronda web on {scheme}://{shown}:{port}/ ({_who(config)}), database {db}", err=True)
    sys.stderr.flush()
    module.serve(datasette, config, sock)


def _who(config: WebConfig) -> str:
    return "anyone on this machine may read" if config.anonymous_read else "everyone signs in"


def _summary(config: WebConfig) -> str:
    """What a checked config allows, in one line."""
    signs_in = [f"{len(config.accounts)} password account(s)"] if config.accounts else []
    if config.proxy_user_header:
        signs_in.append(f"the proxy's {config.proxy_user_header} header")
    transport = (
        "HTTPS" if config.tls else "behind a TLS proxy" if config.proxied else "plain HTTP on loopback"
    )
    return f"web config fine: listen {config.listen}, {transport}, {_who(config)}; " + (
        "sign-in by " + " and ".join(signs_in) if signs_in else "nobody can sign in: read-only"
    )


@web.command("hash-password")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from standard input.")
def hash_password_command(from_stdin: bool) -> None:
    """Print the hash of a password for web.toml (`password_hash` of an
    [accounts.NAME] table). The password itself is never stored."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = weak_password(password)
    if problem:
        raise WebConfigError(problem)
    click.echo(hash_password(password))
