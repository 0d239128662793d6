"""ronda-agent: scan this server's web apps and report them to a ronda collector."""

from __future__ import annotations

import logging
import signal
import threading

import click
from click.decorators import FC

from ronda import __version__
from ronda.agent.config import AgentConfig, AgentConfigError, load_config, unknown_sources
from ronda.agent.enrol import enrol, read_secret, save_token
from ronda.agent.host import LocalHost
from ronda.agent.progress import TerminalProgress
from ronda.agent.render import snapshot_text
from ronda.agent.runner import Agent, lower_priority, scan_options
from ronda.agent.snapshot import default_agent_id, scan
from ronda.agent.state import state_dir_for
from ronda.command import RondaGroup, setup_logging, verbose_option
from ronda.convert import message_to_json, snapshot_to_wire
from ronda.transport import TlsFiles


@click.group("ronda-agent", cls=RondaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ronda-agent")
@verbose_option
def cli(verbose: int) -> None:
    """Discover the web apps on this server and report them to a ronda collector.

    \b
    Try it without a collector:
      ronda-agent scan                      # what runs here, as a table
      ronda-agent scan --json               # the snapshot a collector would get
      ronda-agent scan --root /srv/copy-of-a-server
    Report to a collector:
      ronda-agent run --once --collector collector:7470 --ca ca.pem --cert me.pem --key me-key.pem
      ronda-agent run --config /etc/ronda/agent.toml      # keep reporting

    \b
    Exit codes: 0 done, 1 failed (the collector unreachable or refusing:
    retry later), 2 refused (fix the config or the options).
    Errors are one line on stderr; -v (or RONDA_DEBUG=1) adds the traceback.
    """
    setup_logging(verbose)


def _split_sources(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    problem = unknown_sources(names)
    if problem:
        raise click.BadParameter(problem)
    return names


def _discovery_flags(f: FC) -> FC:
    f = click.option(
        "--scan-timeout",
        type=click.IntRange(min=1),
        metavar="SECONDS",
        help="Stop reading after this long; unfinished sources are reported and the snapshot still "
        "goes out (default: 600; `run` also reads scan_timeout_seconds from its config).",
    )(f)
    f = click.option(
        "--sources",
        metavar="LIST",
        callback=_split_sources,
        help="Discovery sources to run, comma-separated (default: all: "
        "nginx,apache,caddy,lighttpd,litespeed,tomcat,node,docker,systemd).",
    )(f)
    f = click.option("--apache-conf", metavar="FILE", help="Apache main config (default: the usual places).")(
        f
    )
    f = click.option("--nginx-conf", metavar="FILE", help="nginx main config (default: the usual places).")(f)
    f = click.option(
        "--root",
        metavar="DIR",
        type=click.Path(exists=True, file_okay=False),
        help="Read a server laid out under DIR instead of this machine (e.g. a copy or a fixture).",
    )(f)
    return f


@cli.command("scan", short_help="Scan this host and print what was found.")
@_discovery_flags
@click.option(
    "--state-dir",
    metavar="DIR",
    help="Keep log offsets and daily counts here between scans (default: read every log from the start).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table: what a person reads; json: the snapshot as a collector gets it "
    "(protobuf JSON, proto field names).",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
def scan_command(
    root: str | None,
    nginx_conf: str | None,
    apache_conf: str | None,
    sources: list[str] | None,
    scan_timeout: int | None,
    state_dir: str | None,
    fmt: str,
    as_json: bool,
) -> None:
    """Scan this host once and print what was found: apps, what they are,
    and who still uses them, then the processes that listen but serve no app
    ronda found (a web server ronda cannot read stays visible). Needs no collector."""
    config = AgentConfig(
        root=root or "", nginx_conf=nginx_conf or "", apache_conf=apache_conf or "", sources=sources or []
    )
    if scan_timeout is not None:
        config.scan_timeout_seconds = scan_timeout
    options = scan_options(config, state_dir=state_dir)
    progress = TerminalProgress()
    options.progress = progress
    try:
        snapshot = scan(LocalHost(root), options)
    finally:
        progress.finish()
    if as_json or fmt == "json":
        click.echo(message_to_json(snapshot_to_wire(snapshot)))
    else:
        click.echo(snapshot_text(snapshot))


@cli.command("run", short_help="Report to a collector, once or on an interval.")
@click.option(
    "--config", "config_path", metavar="FILE", help="TOML config (default /etc/ronda/agent.toml if present)."
)
@click.option("--once", is_flag=True, help="Scan and send one snapshot, then exit.")
@click.option("--collector", metavar="HOST:PORT", help="Collector address (overrides the config).")
@click.option(
    "--insecure", is_flag=True, default=None, help="Plain text instead of TLS; loopback collectors only."
)
@click.option("--ca", metavar="FILE", help="CA certificate (PEM) that signed the collector's certificate.")
@click.option("--cert", metavar="FILE", help="This agent's client certificate (PEM), for mutual TLS.")
@click.option("--key", metavar="FILE", help="The private key of --cert (PEM).")
@click.option(
    "--allow-readable-key",
    is_flag=True,
    default=None,
    help="Use a --key file other users can read (refused otherwise: chmod 600 it).",
)
@click.option("--state-dir", metavar="DIR", help="Where the agent keeps its state [env RONDA_STATE_DIR].")
@click.option("--agent-id", metavar="ID", help="Agent id (default: the machine id).")
@_discovery_flags
def run_command(
    config_path: str | None,
    once: bool,
    collector: str | None,
    insecure: bool | None,
    ca: str | None,
    cert: str | None,
    key: str | None,
    allow_readable_key: bool | None,
    state_dir: str | None,
    agent_id: str | None,
    root: str | None,
    nginx_conf: str | None,
    apache_conf: str | None,
    sources: list[str] | None,
    scan_timeout: int | None,
) -> None:
    """Report to a collector: once (--once) or every interval until stopped."""
    config = load_config(
        config_path,
        collector=collector,
        insecure=insecure,
        ca=ca,
        cert=cert,
        key=key,
        allow_readable_key=allow_readable_key,
        state_dir=state_dir,
        agent_id=agent_id,
        root=root,
        nginx_conf=nginx_conf,
        apache_conf=apache_conf,
        sources=sources,
        scan_timeout_seconds=scan_timeout,
    )
    if root is not None and state_dir is None:  # a tree under --root is not this machine's agent
        config.state_dir = state_dir_for(config.state_dir, root)
    agent = Agent(config)
    logging.getLogger("ronda").setLevel(min(logging.getLogger().level, logging.INFO))
    try:
        if once:
            ack = agent.report_once()
            click.echo(
                f"sent snapshot {ack.sequence} to {config.collector}"
                + (" (already received)" if ack.duplicate else "")
            )
            return
        lower_priority()
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        agent.run_forever(stop)
    finally:
        agent.close()


@cli.command("enrol")
@click.option(
    "--config", "config_path", metavar="FILE", help="TOML config (default /etc/ronda/agent.toml if present)."
)
@click.option("--collector", metavar="HOST:PORT", help="Collector address (overrides the config).")
@click.option(
    "--insecure", is_flag=True, default=None, help="Plain text instead of TLS; loopback collectors only."
)
@click.option("--ca", metavar="FILE", help="CA certificate (PEM) that signed the collector's certificate.")
@click.option(
    "--secret-file",
    required=True,
    metavar="FILE",
    help="File holding the enrolment secret from `ronda agents enrolment-secret` ('-': standard input).",
)
@click.option("--state-dir", metavar="DIR", help="Where the token is kept (0600) [env RONDA_STATE_DIR].")
@click.option("--agent-id", metavar="ID", help="Agent id to enrol as (default: the machine id).")
@click.option(
    "--root",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False),
    help="Read the machine id under DIR instead of this machine.",
)
def enrol_command(
    config_path: str | None,
    collector: str | None,
    insecure: bool | None,
    ca: str | None,
    secret_file: str,
    state_dir: str | None,
    agent_id: str | None,
    root: str | None,
) -> None:
    """Trade an enrolment secret for this agent's own token (collectors without client certificates).

    The secret is read from a file, never from the command line (where other users could see it).
    """
    from ronda.agent.facts import collect_facts

    config = load_config(
        config_path,
        collector=collector,
        insecure=insecure,
        ca=ca,
        state_dir=state_dir,
        agent_id=agent_id,
        root=root,
    )
    if root is not None and state_dir is None:
        config.state_dir = state_dir_for(config.state_dir, root)
    if not config.collector:
        raise AgentConfigError(
            "no collector address: give --collector HOST:PORT or set collector in the config"
        )
    facts, _ = collect_facts(LocalHost(config.root or None))
    wanted = config.agent_id or default_agent_id(facts.machine_id, facts.hostname)
    token = enrol(
        config.collector,
        config.insecure,
        TlsFiles(config.ca),
        read_secret(secret_file),
        wanted,
        facts.machine_id,
        facts.hostname,
    )
    path = save_token(config.state_dir or state_dir_for("", config.root), token)
    click.echo(
        f"enrolled as {token.agent_id} ({token.status}); token kept in {path}"
        + (
            "; an operator must approve it: ronda agents approve " + token.agent_id
            if token.status == "pending"
            else ""
        )
    )


def main() -> None:
    cli(prog_name="ronda-agent")
