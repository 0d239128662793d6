"""A CA, a collector certificate and agent certificates made with `ronda ca`, and a collector over them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ronda import model
from ronda.collector.server import ServerConfig, make_server, stop_gracefully
from ronda.collector.store import Store
from ronda.collector.trust.ca import init_ca, issue_agent, issue_collector
from ronda.transport import TlsFiles


@dataclass
class Pki:
    dir: Path

    @property
    def ca(self) -> str:
        return str(self.dir / "ca" / "ca.pem")

    def agent(self, agent_id: str) -> TlsFiles:
        issued = issue_agent(self.dir / "ca", agent_id, self.dir / "agents")
        return TlsFiles(self.ca, str(issued.cert), str(issued.key))

    @property
    def collector(self) -> TlsFiles:
        return TlsFiles(self.ca, str(self.dir / "localhost.pem"), str(self.dir / "localhost-key.pem"))


def make_pki(directory: Path) -> Pki:
    init_ca(directory / "ca")
    issue_collector(directory / "ca", "localhost", ["127.0.0.1"], directory)
    return Pki(directory)


class Collector:
    """A collector on a loopback port over a real SQLite file; stop() drains it."""

    def __init__(self, db: Path, config: ServerConfig) -> None:
        self.store = Store(db)
        self.server, self.port = make_server(self.store, config)
        self.address = f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_gracefully(self.server, grace=2)
        self.store.close()

    def count(self, table: str) -> int:
        return self.store.query(f"SELECT count(*) AS n FROM {table}")[0]["n"]


def snapshot(
    agent_id: str = "web01",
    sequence: int = 1,
    machine_id: str | None = None,
    apps: int = 2,
    report_id: str | None = None,
) -> model.Snapshot:
    return model.Snapshot(
        agent_id=agent_id,
        sequence=sequence,
        report_id=report_id or f"{agent_id}-r{sequence}",
        collected_at=datetime.now(UTC),
        host=model.HostFacts(
            hostname=agent_id, machine_id=machine_id if machine_id is not None else f"m-{agent_id}"
        ),
        apps=[
            model.App(
                key=f"nginx:site{i}.test:80/",
                kind="nginx",
                server_names=[f"site{i}.test"],
                listen=[model.ListenAddress("*", 80)],
                root=f"/var/www/{i}",
                usage=model.Usage("full", daily=[model.DailyUsage("2026-11-01", human=i + sequence)]),
            )
            for i in range(apps)
        ],
    )
