"""A small fleet for reconciliation tests: one host, three apps, an inventory with gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from ronda.collector.cli import cli
from ronda.model import App, DailyUsage, HostFacts, ListenAddress, Snapshot, Usage

NOW = datetime.now(UTC).replace(microsecond=0)
INVENTORY = (
    "app_id,name,owner,contact,urls,status,app_class,annual_cost\n"
    "APP-1,Portal,Dinas Kesehatan,humas@prov.example,https://portal.prov.example,active,specific,1000\n"
    "APP-2,Old mail,Dinas Kesehatan,,oldmail.prov.example,inactive,specific,5000\n"
    "APP-3,Gone app,BKD,bkd@prov.example,gone.prov.example,active,specific,\n"
)


def web_app(name: str, last_human_days: int | None, coverage_days: int = 200, port: int = 80) -> App:
    start = NOW - timedelta(days=coverage_days)
    human = NOW - timedelta(days=last_human_days) if last_human_days is not None else None
    daily = [
        DailyUsage(
            (NOW - timedelta(days=d)).strftime("%Y-%m-%d"),
            human=5 if human and d >= last_human_days else 0,
            bot=3,
        )
        for d in range(0, coverage_days, 7)
    ]
    return App(
        key=f"nginx:{name}:{port}/",
        kind="nginx",
        server_names=[name],
        listen=[ListenAddress("*", port)],
        root=f"/var/www/{name}",
        usage=Usage(
            coverage="full",
            coverage_start=start,
            coverage_end=NOW,
            last_request=NOW,
            last_human_request=human,
            daily=daily,
        ),
    )


def snapshot(seq: int, apps: list[App], agent: str = "agent-web1") -> Snapshot:
    return Snapshot(
        agent_id=agent,
        sequence=seq,
        report_id=f"r{seq}",
        collected_at=NOW,
        agent_version="test",
        host=HostFacts(hostname="web1", addresses=["10.0.0.5"]),
        apps=apps,
    )


FLEET = [
    web_app("portal.prov.example", 1),
    web_app("oldmail.prov.example", 150),
    web_app("forgotten.prov.example", 300),
]


def cli_run(db: Path, *args: str) -> str:
    result = CliRunner().invoke(
        cli,
        [args[0], *args[1:], "--db", str(db)]
        if args[0] != "inventory"
        else ["inventory", args[1], "--db", str(db), *args[2:]],
    )
    assert result.exit_code == 0, result.output
    return result.output
