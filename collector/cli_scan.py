"""`ronda scan network|ssh` and `ronda scans`: the commands a schedule runs, and their history.

Exit codes, for a systemd timer or cron to act on:
  0  done
  1  failed: nothing was scanned (nmap failed, every SSH host failed, the database is unusable)
  2  refused: bad options or config, a target outside the scopes, nmap not installed
  3  partial: some SSH hosts were scanned, others failed
Each scan prints one summary line on stdout; problems go to stderr.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click
from click.decorators import FC

from ronda.collector.cli_common import db_option, format_option, require_store
from ronda.collector.output import render
from ronda.collector.scan_config import ScanConfigError, load_scan_config
from ronda.collector.scans.records import open_ports, runs, ssh_targets
from ronda.collector.store import Store
from ronda.errors import EXIT_FAILED, EXIT_PARTIAL


def _config(f: FC) -> FC:
    return click.option(
        "--config",
        "config_path",
        metavar="FILE",
        help="Collector config (default $RONDA_CONFIG, else /etc/ronda/collector.toml if present).",
    )(f)


@click.group("scan")
def scan() -> None:
    """Sweep networks (nmap) or scan agentless hosts (SSH)."""


@scan.command("network")
@db_option
@_config
@click.option(
    "--targets", metavar="CIDR,...", help="Networks or addresses to sweep (inside the configured scopes)."
)
@click.option(
    "--ports", metavar="LIST", help="Ports to sweep, e.g. 80,443,8000-8090 (default: common web ports)."
)
def scan_network(db: str, config_path: str | None, targets: str | None, ports: str | None) -> None:
    """Sweep the configured scopes for web servers.

    Sweeps the scopes of the collector config, or --targets inside them.
    Finds hosts answering on web ports, with service, version and HTTP title;
    a host with web ports and neither agent nor SSH scan becomes an
    unmanaged-host finding. Exit codes: 0 done, 1 failed, 2 refused.
    """
    from ronda.collector.scans.network import run_network_scan

    config = load_scan_config(config_path)
    store = Store(db)
    try:
        summary = run_network_scan(store, config.network, targets, ports)
    finally:
        store.close()
    click.echo(summary.line)


@scan.command("ssh")
@db_option
@_config
@click.option(
    "--host",
    "hosts",
    metavar="NAME|ADDRESS",
    multiple=True,
    help="A configured host (by name or address), or an address; repeat for more. Default: all configured.",
)
@click.option("--user", metavar="USER", help="SSH user (overrides the config).")
@click.option("--key", metavar="FILE", help="Private key file (overrides the config).")
@click.option(
    "--known-hosts", metavar="FILE", help="known_hosts file with the hosts' keys (overrides the config)."
)
@click.option("--port", type=int, help="SSH port (overrides the config).")
@click.option(
    "--nginx-conf", metavar="FILE", help="nginx main config on the host (default: the usual places)."
)
@click.option(
    "--apache-conf", metavar="FILE", help="Apache main config on the host (default: the usual places)."
)
@click.option(
    "--state-dir", metavar="DIR", help="Per-host scan state (default: [ssh] state_dir, else next to --db)."
)
def scan_ssh(
    db: str,
    config_path: str | None,
    hosts: tuple[str, ...],
    user: str | None,
    key: str | None,
    known_hosts: str | None,
    port: int | None,
    nginx_conf: str | None,
    apache_conf: str | None,
    state_dir: str | None,
) -> None:
    """Scan hosts without an agent over SSH.

    Runs the agent's own discovery through SSH and stores the result as the
    host's snapshot (agent id ssh:NAME). Key authentication only; host keys
    must already be in the known_hosts file (unknown keys are refused, never
    added); only read-only commands run.
    Exit codes: 0 done, 1 every host failed, 2 refused, 3 some hosts failed.
    """
    from ronda.collector.scans.ssh_scan import default_state_root, run_ssh_scans

    config = load_scan_config(config_path)
    ssh = config.ssh
    targets = [ssh.target(h) for h in hosts] if hosts else [ssh.complete(h) for h in ssh.hosts]
    if not targets:
        raise ScanConfigError(
            "no SSH hosts to scan: list them as [[ssh.hosts]] in the collector config, or give --host"
        )
    overrides: dict[str, Any] = {
        "user": user,
        "key": key,
        "known_hosts": known_hosts,
        "port": port,
        "nginx_conf": nginx_conf,
        "apache_conf": apache_conf,
    }
    targets = [replace(t, **{k: v for k, v in overrides.items() if v is not None}) for t in targets]
    store = Store(db)
    try:
        report = run_ssh_scans(store, ssh, targets, state_dir or ssh.state_dir or default_state_root(db))
    finally:
        store.close()
    for outcome in report.failed:
        click.echo(f"error: {outcome.message}", err=True)
    click.echo(report.line)
    if report.failed:
        raise SystemExit(EXIT_FAILED if len(report.failed) == len(report.outcomes) else EXIT_PARTIAL)


@click.group("scans", invoke_without_command=True)
@db_option
@format_option
@click.option("--kind", type=click.Choice(["network", "ssh"]), help="Only runs of this kind.")
@click.option("--limit", type=int, default=50, show_default=True, help="How many runs, newest first.")
@click.pass_context
def scans(ctx: click.Context, db: str, fmt: str, kind: str | None, limit: int) -> None:
    """History of sweeps and SSH scans; hosts and ports seen.

    Without a subcommand: the runs, newest first.
    """
    if ctx.invoked_subcommand is None:
        require_store(db)
        runs_seen = runs(Store(db), kind, limit)
        click.echo(render(runs_seen, fmt, empty="no scan has run yet; try `ronda scan network`"))


@scans.command("hosts")
@db_option
@format_option
def scans_hosts(db: str, fmt: str) -> None:
    """When each host was last seen, and by which source.

    Every covered host and every swept address: last seen by its agent, by an
    SSH scan and by a network sweep, with its web ports.
    """
    from ronda.collector.scans.view import load_view, sightings

    click.echo(render(sightings(load_view(Store(db))), fmt, empty="no host seen yet"))


PORT_COLUMNS = [
    "address",
    "port",
    "service",
    "product",
    "version",
    "http_title",
    "web",
    "first_seen",
    "last_seen",
]


@scans.command("ports")
@db_option
@format_option
def scans_ports(db: str, fmt: str) -> None:
    """Open ports the sweeps found, with service and HTTP title."""
    click.echo(render(open_ports(Store(db)), fmt, PORT_COLUMNS, empty="no open port seen yet"))


@scans.command("ssh")
@db_option
@format_option
def scans_ssh(db: str, fmt: str) -> None:
    """SSH scan targets: last attempt, success and error."""
    click.echo(render(ssh_targets(Store(db)), fmt, empty="no SSH scan has run yet"))
