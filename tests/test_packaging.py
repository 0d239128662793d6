"""What a wheel carries: the demo's sample fleet whole (dotfiles too) and the generated wire code."""
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_carries_the_whole_sample_fleet_and_the_wire_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("ronda-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    fleet = ROOT / "collector" / "sample_fleet"
    expected = {f"collector/sample_fleet/{p.relative_to(fleet).as_posix()}" for p in fleet.rglob("*") if p.is_file()
                and "__pycache__" not in p.parts}
    assert expected - names == set()
    assert {"ronda_wire/v1/ronda_pb2.py", "ronda_wire/v1/ronda_pb2_grpc.py", "agent/cli.py",
            "collector/cli.py"} <= names
