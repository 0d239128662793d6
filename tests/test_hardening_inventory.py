"""An inventory file cannot exhaust the collector: a YAML alias bomb and JSON or YAML nested thousands
deep are refused whole with a clear error, in moments, through the real `ronda inventory import`;
inventories that use a few anchors (as hand-written YAML does for a shared owner block) still import.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.servers  # starts ronda's own commands as processes

BIN = Path(sys.executable).parent

# The classic "billion laughs" (9^9 strings once expanded) as the value of an inventory record.
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{','.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    + ["apps:", "  - id_aplikasi: APP-001", "    nama_aplikasi: *i"]
)
HOSTILE = {
    "yaml alias bomb": ("bomb.yaml", ALIAS_BOMB, "YAML aliases expand it to more than"),
    "deep json": ("deep.json", '{"apps": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested deeper than 32"),
    "deep yaml": ("deep.yaml", "apps:\n" + "- " * 5_000 + "x\n", "nested deeper than 32"),
}


def import_inventory(db: Path, path: Path) -> tuple[subprocess.CompletedProcess, float, int]:
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "ronda"), "inventory", "import", "--db", str(db), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return done, time.monotonic() - started, peak_kib


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_inventories_are_refused_quickly_with_a_clear_error(tmp_path, case):
    name, text, words = HOSTILE[case]
    path = tmp_path / name
    path.write_text(text)
    done, took, peak_kib = import_inventory(tmp_path / "ronda.db", path)
    assert done.returncode != 0
    assert words in done.stderr and "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert took < 15 and peak_kib < 512 * 1024


def test_a_hand_written_yaml_inventory_with_anchors_still_imports(tmp_path):
    path = tmp_path / "katalog.yaml"
    path.write_text(
        "pemilik_kominfo: &kominfo\n"
        "  opd_pemilik: Dinas Komunikasi dan Informatika\n  kontak: tik@example.go.id\n"
        "aplikasi:\n"
        "  - <<: *kominfo\n    id_aplikasi: APP-001\n    nama_aplikasi: SIPD\n"
        "    alamat_domain: sipd.example.go.id\n    status_aplikasi: aktif\n"
        "  - <<: *kominfo\n    id_aplikasi: APP-002\n    nama_aplikasi: Portal\n"
        "    alamat_domain: portal.example.go.id\n    status_aplikasi: aktif\n"
    )
    done, _, _ = import_inventory(tmp_path / "ronda.db", path)
    assert done.returncode == 0, done.stderr
