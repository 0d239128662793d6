"""Realistic snapshots for the ingest benchmark: 100 apps, 90 days of daily usage each.

Consecutive snapshots of one agent differ as they do in the field: today's
counts grow on the apps whose logs grow (monitors reach them all, people some),
process figures move on the apps that run processes, everything else stays the
same. With `changed_only`, each app's usage holds only the days that changed
since the agent's previous snapshot, as an agent sends once the collector holds
that one: today's counts of the apps whose logs grew, nothing of the others.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from ronda import model
from ronda.convert import snapshot_to_wire
from ronda.wire.v1 import ronda_pb2 as pb

APPS = 100
DAYS = 90


def make_snapshot(
    agent_id: str,
    sequence: int,
    apps: int = APPS,
    days: int = DAYS,
    seed: int = 0,
    busy: float = 1.0,
    changed_only: bool = False,
) -> model.Snapshot:
    """`busy`: the share of apps whose logs grow between snapshots (monitors and bots reach most apps,
    so 1.0 is the realistic default); the others are byte-for-byte the same as in the last snapshot.
    `changed_only`: the days changed since snapshot `sequence - 1` alone, relative to it."""
    rng = random.Random(f"{agent_id}:{seed}")
    today = date(2026, 11, 20)
    used = set(rng.sample(range(apps), k=apps * 3 // 10))
    with_processes = set(rng.sample(range(apps), k=apps // 3))
    moving = set(rng.sample(range(apps), k=round(apps * busy)))
    used &= moving
    with_processes &= moving
    app_list = []
    for i in range(apps):
        name = f"app{i}.{agent_id}.go.id"
        daily = []
        for d in range(days):
            day = today - timedelta(days=days - 1 - d)
            base = rng.randrange(0, 500) if i in used else 0
            growing = i in moving and d == days - 1  # today's counts of an app whose log grows
            human = base + (sequence if growing and i in used else 0)
            entry = model.DailyUsage(
                day.isoformat(),
                human=human,
                bot=rng.randrange(0, 200),
                monitor=96 + (sequence if growing else 0),
                error=rng.randrange(0, 20),
                scanner=rng.randrange(0, 5),
                human_clients=human // 7,
            )
            if growing or not changed_only:
                daily.append(entry)
        processes = []
        resources = None
        if i in with_processes:
            processes = [
                model.ProcessRef(
                    pid=1000 + i,
                    name="php-fpm8.2",
                    user="www-data",
                    unit="php8.2-fpm.service",
                    cpu_seconds=12.5 + sequence * 0.25,
                    rss_bytes=48_000_000 + sequence * 4096,
                    role=f"php-fpm pool app{i}",
                )
            ]
            resources = model.Resources(
                processes=processes,
                cpu_seconds=12.5 + sequence * 0.25,
                rss_bytes=48_000_000 + sequence * 4096,
                disk_bytes=180_000_000,
                file_count=5400,
            )
        first = datetime(2026, 8, 22, tzinfo=UTC)
        app_list.append(
            model.App(
                key=f"nginx:{name}:443/",
                kind="nginx",
                server_names=[name, "www." + name],
                listen=[model.ListenAddress("*", 443, tls=True), model.ListenAddress("*", 80)],
                root=f"/srv/www/app{i}/public",
                config=model.ConfigLocation(f"/etc/nginx/sites-enabled/app{i}.conf", 3),
                access_logs=[model.LogRef(f"/var/log/nginx/app{i}.access.log", "combined")],
                framework=model.Framework(
                    "laravel", "10.48.4", f"/srv/www/app{i}/vendor/composer/installed.json", "php"
                ),
                resources=resources,
                usage=model.Usage(
                    "full",
                    coverage_start=first,
                    coverage_end=datetime(2026, 11, 20, tzinfo=UTC),
                    last_request=datetime(2026, 11, 20, 8, tzinfo=UTC),
                    daily=daily,
                    logs=[
                        model.LogSource(
                            f"/var/log/nginx/app{i}.access.log",
                            "combined",
                            "ok",
                            lines=120_000 + (sequence if i in moving else 0),
                        )
                    ],
                ),
                labels={"opd": f"dinas-{i % 17}"},
            )
        )
    return model.Snapshot(
        agent_id=agent_id,
        sequence=sequence,
        report_id=str(uuid.uuid4()),
        collected_at=datetime.now(UTC),
        agent_version="0.1.0",
        source="agent",
        host=model.HostFacts(
            machine_id=uuid.uuid5(uuid.NAMESPACE_DNS, agent_id).hex,
            hostname=agent_id,
            os_name="Debian GNU/Linux",
            os_version="12",
            cpu_count=4,
            memory_total_bytes=8 << 30,
            memory_used_bytes=(3 << 30) + sequence,
        ),
        apps=app_list,
        listeners=[
            model.Listener("tcp", "0.0.0.0", 443, public=True),
            model.Listener("tcp", "0.0.0.0", 80, public=True),
        ],
        interval_seconds=900,
        usage_base=sequence - 1 if changed_only else 0,
    )


def large_snapshot(agent_id: str, size: int) -> pb.Snapshot:
    """A wire snapshot of about `size` bytes: a fleet-like host's 100 apps with 90 days of usage, repeated."""
    message = snapshot_to_wire(make_snapshot(agent_id, 1, apps=100, days=90))
    base = list(message.apps)
    copy = 0
    while message.ByteSize() < size:
        copy += 1
        for app in base:
            clone = message.apps.add()
            clone.CopyFrom(app)
            clone.key = f"{app.key}{copy}"
    return message
