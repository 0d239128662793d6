"""DiscoveryOptions.sources runs only the named sources (tests on a live host with packaged
web servers use it to look at the servers they started and nothing else)."""

from pathlib import Path

from ronda.agent.discovery import SOURCES, DiscoveryOptions, discover
from ronda.agent.host import LocalHost


def test_sources_option_limits_discovery(tmp_path: Path):
    conf = tmp_path / "etc/nginx/nginx.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("events {}\nhttp { server { listen 8080; server_name only.test; } }\n")
    host = LocalHost(str(tmp_path))
    assert [a.key for a in discover(host, DiscoveryOptions(sources=("nginx",))).apps] == [
        "nginx:only.test:8080/"
    ]
    others = tuple(name for name in SOURCES if name != "nginx")
    assert discover(host, DiscoveryOptions(sources=others)).apps == []
