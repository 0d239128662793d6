"""ronda: the collector server and the operator's commands.

Thin by design: parse arguments, call the library, print. Errors are
turned into one line and an exit code once, by the root group (ronda.command).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Any

import click

from ronda import __version__
from ronda.collector.cli_common import (
    creating_db_option,
    db_option,
    emit,
    filters_from,
    format_option,
    list_options,
    output_from,
)
from ronda.collector.cli_inventory import inventory
from ronda.collector.cli_reconcile import candidates, decide, decisions_, explain, findings, reconcile, report
from ronda.collector.cli_scan import scan, scans
from ronda.collector.cli_trust import agents, ca
from ronda.collector.cli_web import web
from ronda.collector.reconcile.verdicts import VERDICTS
from ronda.collector.store import Store
from ronda.command import RondaGroup, setup_logging, verbose_option

if TYPE_CHECKING:
    from ronda.collector.server import ServerConfig


@click.group("ronda", cls=RondaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ronda")
@verbose_option
def cli(verbose: int) -> None:
    """ronda finds every web app on your servers, who still uses it, and which
    ones are safe to switch off.

    \b
    Start here:
      ronda demo                         # a sample fleet, end to end, on this machine
      ronda serve --listen 0.0.0.0:7470 --cert c.pem --key k.pem --ca ca.pem
      ronda hosts                        # servers that reported
      ronda apps --format csv            # every app found

    \b
    Exit codes: 0 done, 1 failed (retry later), 2 refused (fix the config,
    option or input), 3 partial (`ronda scan ssh`: some hosts failed).
    Errors are one line on stderr; -v (or RONDA_DEBUG=1) adds the traceback.
    """
    setup_logging(verbose)


@cli.command()
@creating_db_option
@click.option(
    "--listen",
    default="127.0.0.1:7470",
    show_default=True,
    metavar="HOST:PORT",
    help="Address to serve gRPC on.",
)
@click.option("--insecure", is_flag=True, help="Plain text instead of TLS; loopback addresses only.")
@click.option("--cert", metavar="FILE", help="The collector's certificate (PEM).")
@click.option("--key", metavar="FILE", help="The private key of --cert (PEM).")
@click.option("--ca", metavar="FILE", help="CA (PEM) whose client certificates are required (mutual TLS).")
@click.option(
    "--approval",
    type=click.Choice(["auto", "manual"]),
    default="auto",
    show_default=True,
    help="manual: new agents wait for `ronda agents approve` before their snapshots are stored.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    help="Calls each process handles at once; others wait in line (--processes uses more cores).",
)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    help="Server processes sharing the port; one per CPU core serves the most agents.",
)
@click.option(
    "--allow-readable-key",
    is_flag=True,
    help="Use a --key file other users can read (refused otherwise: chmod 600 it).",
)
@click.option(
    "--receive-timeout",
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Time an admitted report has to arrive whole (plus a second per 64 KiB its agent declares); "
    "a slower call is cancelled and its agent retries.",
)
@click.option(
    "--max-connection-age",
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="Close each agent's connection after this long, between its calls (it connects again at once), "
    "so that agents spread over --processes again after a restart; 0 keeps connections open.",
)
def serve(
    db: str,
    listen: str,
    insecure: bool,
    cert: str | None,
    key: str | None,
    ca: str | None,
    approval: str,
    workers: int,
    processes: int,
    allow_readable_key: bool,
    receive_timeout: float,
    max_connection_age: float,
) -> None:
    """Receive snapshots from agents and store them in --db.

    With --ca, agents must show a client certificate from that CA (mutual TLS, recommended) and may
    only report as the agent id it names; without --ca, agents authenticate with a token from
    `ronda-agent enrol`. --insecure (plain text) is for loopback only.
    """
    # Imported here: gRPC and TLS take a tenth of a second to load, which the other commands do not need.
    from ronda.collector.server import CHECKPOINT_EVERY, ServerConfig, make_server, stop_gracefully
    from ronda.transport import TlsFiles

    config = ServerConfig(
        listen=listen,
        insecure=insecure,
        tls=TlsFiles(ca or "", cert or "", key or "", allow_readable_key),
        approval=approval,
        workers=workers,
        receive_timeout=receive_timeout,
        max_connection_age=max_connection_age,
    )
    if processes > 1:
        _serve_processes(db, config, processes)
        return
    store = Store(db, CHECKPOINT_EVERY)
    server, port = make_server(store, config)
    logging.getLogger("ronda").setLevel(min(logging.INFO, logging.getLogger().level))
    click.echo(
        f"ronda collector listening on {listen.rsplit(':', 1)[0]}:{port} "
        f"({'plain text' if insecure else 'TLS'}), database {db}",
        err=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    click.echo("stopping: finishing the calls in flight", err=True)
    stop_gracefully(server, grace=10)
    store.close()


def _serve_processes(db: str, config: ServerConfig, processes: int) -> None:
    from ronda.collector.multiserve import serve_processes

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    mode = "plain text" if config.insecure else "TLS"
    serve_processes(
        db,
        config,
        processes,
        stop,
        lambda port: click.echo(
            f"ronda collector listening on {config.listen.rsplit(':', 1)[0]}:{port} "
            f"({mode}, {processes} processes), database {db}",
            err=True,
        ),
    )
    click.echo("stopped: calls in flight finished", err=True)


@cli.command()
@db_option
@format_option
@list_options("host", "since", "stale")
def hosts(db: str, fmt: str, **options: Any) -> None:
    """Every host and how it is covered, with its app counts.

    \b
    coverage: agent    its agent reports
              ssh      the collector's SSH scan reads it (`ronda scan ssh`)
              network  only a network sweep found it: no agent, no SSH scan
              none     an SSH target that never answered
    last_seen: when it last answered that way; --stale: hosts whose last answer is older than the
    limit (`stale_after_hours` of the reconcile config, 48 by default); --since: hosts that
    answered since then.
    """
    from ronda.collector.lists import hosts_list
    from ronda.collector.reconcile.config import load_config

    stale_after = load_config(None).stale_after_hours
    out = output_from(fmt, options)
    emit(lambda: hosts_list(Store(db), filters_from(options), out, stale_after), options["output"])


@cli.command()
@db_option
@format_option
@click.option(
    "--all", "include_gone", is_flag=True, help="Include apps gone from their host's latest snapshot."
)
@click.option(
    "--verdict", "verdicts", multiple=True, type=click.Choice(VERDICTS), help="Only apps with this verdict."
)
@list_options("opd", "host", "since", "kind")
def apps(db: str, fmt: str, include_gone: bool, verdicts: tuple[str, ...], **options: Any) -> None:
    """Every app found on every host, with its declared owner (OPD), verdict and address.
    --since: apps first seen since then; --kind: nginx, apache, caddy, node...

    \b
      ronda apps --opd "Dinas Kesehatan" --format xlsx -o apps-dinkes.xlsx
      ronda apps --host web-01 --sort -last_human_request --limit 20
    """
    from ronda.collector.lists import apps_list

    out = output_from(fmt, options)
    emit(
        lambda: apps_list(Store(db), filters_from(options, verdicts), out, include_gone),
        options["output"],
    )


@cli.command(short_help="Run a sample fleet end to end on this machine.")
@click.option("--keep", metavar="DIR", help="Keep the demo's database and state in DIR.")
def demo(keep: str | None) -> None:
    """Run a sample fleet end to end: a collector on loopback, agents over
    sample servers, real gRPC, and what was found."""
    from ronda.collector.demo import run_demo

    run_demo(keep, echo=click.echo)


def main() -> None:
    cli(prog_name="ronda")


for _command in (
    ca,
    agents,
    inventory,
    reconcile,
    findings,
    candidates,
    explain,
    report,
    decide,
    decisions_,
    scan,
    scans,
    web,
):
    cli.add_command(_command)
