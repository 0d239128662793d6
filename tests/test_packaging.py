"""What a wheel carries and where it goes: one top-level package `ronda`, every module of the checkout
inside it, the demo's sample fleet whole (dotfiles too) and the generated wire code."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from servers import building_from_the_checkout

pytestmark = pytest.mark.servers  # builds a wheel and installs it into a fresh virtual environment

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    with building_from_the_checkout():
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
            check=True,
            capture_output=True,
        )
    [built] = out.glob("ronda-*.whl")
    return built


def checkout_modules() -> set[str]:
    """Every file of the checkout's packages, as the wheel names it (agent/x.py is ronda/agent/x.py)."""
    names = set()
    for folder, prefix in [(ROOT / "agent", "ronda/agent"), (ROOT / "collector", "ronda/collector")]:
        names |= {
            f"{prefix}/{p.relative_to(folder).as_posix()}"
            for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
    kernel = ROOT / "ronda"
    names |= {
        f"ronda/{p.relative_to(kernel).as_posix()}"
        for p in kernel.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.relative_to(kernel).parts[0] not in ("agent", "collector")
    }
    return names


def test_wheel_holds_one_top_level_package_with_every_module_and_the_sample_fleet(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {n.split("/")[0] for n in names} == {"ronda", "ronda-0.1.0.dist-info"}
    assert checkout_modules() - names == set()
    assert {
        "ronda/wire/v1/ronda_pb2.py",
        "ronda/wire/v1/ronda_pb2_grpc.py",
        "ronda/agent/cli.py",
        "ronda/collector/cli.py",
        "ronda/collector/sample_fleet/web-dinkes/etc/hostname",
    } <= names


def test_installing_puts_exactly_ronda_into_site_packages(wheel, tmp_path):
    site = tmp_path / "site-packages"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    assert {p.name for p in site.iterdir()} == {"bin", "ronda", "ronda-0.1.0.dist-info"}
    entry_points = (site / "ronda-0.1.0.dist-info" / "entry_points.txt").read_text()
    assert "ronda = ronda.collector.cli:main" in entry_points
    assert "ronda-agent = ronda.agent.cli:main" in entry_points
