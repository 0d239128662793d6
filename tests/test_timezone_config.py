"""The time zone people read dates in, set once in the collector's config (`timezone = "WITA"` in
/etc/ronda/collector.toml, beside the scan settings, for a province in Kalimantan Timur), with
--tz and $RONDA_TZ still first: flag > environment > config > the host's own zone.

The fleet is naming_fleet's; the dates read are the report's "made at" line, which names the zone.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from ronda.collector.cli import cli
from ronda.collector.scan_config import ScanConfigError, load_scan_config
from ronda.i18n import choose_timezone

HOST = {"TZ": "UTC"}  # the server's own clock, as most collectors run


@pytest.mark.parametrize(
    "explicit, environ, configured, zone",
    [
        ("WIB", {"RONDA_TZ": "WIT", **HOST}, "WITA", "Asia/Jakarta"),  # the flag first
        (None, {"RONDA_TZ": "WIT", **HOST}, "WITA", "Asia/Jayapura"),  # then the environment
        (None, HOST, "WITA", "Asia/Makassar"),  # then the config
        (None, HOST, None, "UTC"),  # then the host
        (None, {"TZ": "Asia/Jakarta"}, "Asia/Makassar", "Asia/Makassar"),  # config over host zone
    ],
)
def test_precedence(explicit, environ, configured, zone):
    assert choose_timezone(explicit, environ, configured).key == zone


COLLECTOR_TOML = """# /etc/ronda/collector.toml
timezone = "{zone}"

[network]
scopes = ["10.20.0.0/16"]
"""


def test_the_config_file_names_a_zone_people_say(tmp_path):
    path = tmp_path / "collector.toml"
    path.write_text(COLLECTOR_TOML.format(zone="WITA"))
    assert load_scan_config(str(path)).timezone == "WITA"
    path.write_text(COLLECTOR_TOML.format(zone="Borneo/Samarinda"))
    with pytest.raises(ScanConfigError, match=re.escape(f"{path}:2: unknown time zone 'Borneo/Samarinda'")):
        load_scan_config(str(path))


def _made_at(db, env: dict[str, str], *args: str) -> str:
    out = db.parent / "laporan.html"
    result = CliRunner().invoke(
        cli, ["report", "--html", str(out), "--lang", "id", *args, "--db", str(db)], env=env
    )
    assert result.exit_code == 0, result.output
    return re.findall(r"pukul \d\d\.\d\d (\w+)", out.read_text())[0]


def test_report_and_lists_read_the_zone_from_the_config(fleet, tmp_path):
    config = tmp_path / "collector.toml"
    config.write_text(COLLECTOR_TOML.format(zone="WITA"))
    env = {"RONDA_CONFIG": str(config), "RONDA_TZ": "", **HOST}
    assert _made_at(fleet, env) == "WITA"
    assert _made_at(fleet, {**env, "RONDA_TZ": "WIT"}) == "WIT"
    assert _made_at(fleet, {**env, "RONDA_TZ": "WIT"}, "--tz", "WIB") == "WIB"
    assert _made_at(fleet, {**env, "RONDA_CONFIG": ""}) == "UTC"  # no config: the host's zone
    config.write_text(COLLECTOR_TOML.format(zone="Borneo/Samarinda"))
    refused = CliRunner().invoke(cli, ["apps", "--db", str(fleet)], env=env)
    assert refused.exit_code == 2 and "collector.toml:2: unknown time zone" in refused.output
