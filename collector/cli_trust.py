"""`ronda ca ...` (certificates) and `ronda agents ...` (identities): thin over collector.trust."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import click
from click.decorators import FC

from ronda.collector.cli_common import db_option, format_option
from ronda.collector.output import render
from ronda.collector.store import Store
from ronda.paths import default_path

if TYPE_CHECKING:
    from ronda.collector.trust.registry import Registry


def _ca_dir_option(f: FC) -> FC:
    return click.option(
        "--dir",
        "ca_dir",
        metavar="DIR",
        default=lambda: default_path("ca"),
        show_default="$RONDA_CA_DIR, else /var/lib/ronda/ca as root, else ~/.local/share/ronda/ca",
        help="Where the CA's files live.",
    )(f)


def _registry(db: str) -> Registry:
    from ronda.collector.trust.registry import Registry

    return Registry(Store(db))


@click.group("ca")
def ca() -> None:
    """A small certificate authority for mutual TLS between agents and the collector.

    \b
      ronda ca init                                      # once: ca.pem + ca-key.pem (keep the key safe)
      ronda ca issue-collector collector.example.go.id --san 10.0.0.5
      ronda ca issue-agent web01.example.go.id --out /tmp/web01   # one per server
    Then: ronda serve --cert C.pem --key C-key.pem --ca ca.pem (agents must show a certificate),
    and on each server: ronda-agent run --ca ca.pem --cert web01.pem --key web01-key.pem
    """


@ca.command("init")
@_ca_dir_option
@click.option("--name", default="ronda CA", show_default=True, help="The CA's subject name.")
@click.option("--days", default=3650, show_default=True, help="Validity in days.")
@click.option("--force", is_flag=True, help="Replace an existing CA (its certificates stop being trusted).")
def ca_init(ca_dir: str, name: str, days: int, force: bool) -> None:
    """Create the CA (its key is written 0600)."""
    from ronda.collector.trust.ca import init_ca

    issued = init_ca(ca_dir, name, days, force)
    click.echo(
        f"CA certificate {issued.cert} (give it to agents and the collector as --ca)\n"
        f"CA key         {issued.key} (0600; keep it off the collector if you can)"
    )


@ca.command("issue-collector")
@_ca_dir_option
@click.argument("name")
@click.option(
    "--san", multiple=True, metavar="DNS|IP", help="Another name or address agents use (repeatable)."
)
@click.option(
    "--out", metavar="DIR", default=".", show_default=True, help="Where to write NAME.pem and NAME-key.pem."
)
@click.option("--days", default=825, show_default=True, help="Validity in days.")
def ca_issue_collector(ca_dir: str, name: str, san: tuple[str, ...], out: str, days: int) -> None:
    """A server certificate for `ronda serve`; NAME (and each --san) must be what agents connect to."""
    from ronda.collector.trust.ca import issue_collector

    issued = issue_collector(ca_dir, name, list(san), out, days)
    click.echo(
        f"certificate {issued.cert}\nkey         {issued.key} (0600)\nvalid until {issued.not_after:%Y-%m-%d}"
    )


@ca.command("issue-agent")
@_ca_dir_option
@click.argument("agent_id")
@click.option(
    "--out", metavar="DIR", default=".", show_default=True, help="Where to write ID.pem and ID-key.pem."
)
@click.option("--days", default=825, show_default=True, help="Validity in days.")
def ca_issue_agent(ca_dir: str, agent_id: str, out: str, days: int) -> None:
    """A client certificate for one agent: it may report only as AGENT_ID."""
    from ronda.collector.trust.ca import issue_agent

    issued = issue_agent(ca_dir, agent_id, out, days)
    click.echo(
        f"certificate {issued.cert}\nkey         {issued.key} (0600)\n"
        f"valid until {issued.not_after:%Y-%m-%d}\n"
        f"the agent reports as {agent_id} (ronda-agent takes the id from --cert)"
    )


@click.group("agents")
def agents() -> None:
    """Agent identities: list, approve (with `ronda serve --approval manual`), revoke, enrol.

    \b
      ronda agents list                     # status, last report, suspected clones
      ronda agents approve web01            # admit a pending (or re-admit a revoked) agent
      ronda agents revoke web01             # refused from its next call on
      ronda agents enrolment-secret --ttl 1h --uses 20    # for `ronda-agent enrol` (token mode)
    """


@agents.command("list")
@db_option
@format_option
def agents_list(db: str, fmt: str) -> None:
    """Every agent the collector knows, pending ones first."""
    rows = _registry(db).agents()
    click.echo(
        render(
            rows,
            fmt,
            ["agent_id", "status", "method", "hostname", "last_seen", "last_sequence", "clone_of"],
            empty="no agent has reported or enrolled yet",
        )
    )


@agents.command("approve")
@db_option
@click.argument("agent_id")
def agents_approve(db: str, agent_id: str) -> None:
    """Admit AGENT_ID (pending, revoked, or not seen yet)."""
    previous = _registry(db).approve(agent_id)
    click.echo(f"agent {agent_id}: {previous} -> approved")


@agents.command("revoke")
@db_option
@click.argument("agent_id")
@click.option("--reason", default="", help="Why (kept with the agent's record).")
def agents_revoke(db: str, agent_id: str, reason: str) -> None:
    """Refuse AGENT_ID from its next call on; its current certificate or token stays refused for good."""
    previous = _registry(db).revoke(agent_id, reason)
    click.echo(f"agent {agent_id}: {previous} -> revoked")


@agents.command("clones")
@db_option
@format_option
def agents_clones(db: str, fmt: str) -> None:
    """Agents that report the same machine id: cloned machines, kept apart."""
    click.echo(render(_registry(db).clones(), fmt, empty="no two agents share a machine id"))


@agents.command("events")
@db_option
@click.argument("agent_id", required=False)
@format_option
def agents_events(db: str, agent_id: str | None, fmt: str) -> None:
    """Refusals, enrolments, approvals and revocations, newest first."""
    click.echo(render(_registry(db).events(agent_id), fmt, empty="no identity events"))


_DURATION = re.compile(r"^(\d+)([smhd])$")


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text.strip())
    if not m:
        raise click.BadParameter(f"{text!r}: expected a number and s, m, h or d (e.g. 30m, 1h, 7d)")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
    return timedelta(**{unit: int(m.group(1))})


@agents.command("enrolment-secret")
@db_option
@click.option("--ttl", default="1h", show_default=True, help="How long the secret works (30m, 1h, 7d).")
@click.option("--uses", default=1, show_default=True, help="How many agents may enrol with it.")
@click.option("--label", default="", help="A note for `ronda agents secrets` (e.g. the batch of servers).")
def agents_secret(db: str, ttl: str, uses: int, label: str) -> None:
    """Make an enrolment secret (printed once; the collector keeps only its hash)."""
    secret = _registry(db).create_secret(parse_duration(ttl), uses, label)
    click.echo(secret)
    click.echo(
        f"valid for {ttl}, {uses} use(s). On each server: write it to a file readable by root only, then\n"
        "  ronda-agent enrol --collector HOST:PORT --ca ca.pem --secret-file FILE",
        err=True,
    )


@agents.command("secrets")
@db_option
@format_option
def agents_secrets(db: str, fmt: str) -> None:
    """Enrolment secrets made so far (never the secrets themselves)."""
    click.echo(render(_registry(db).secrets(), fmt, empty="no enrolment secrets"))
