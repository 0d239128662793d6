"""Inventory columns as agencies write them: every synonym of every field, in the spellings
spreadsheets produce (spaces, capitals, punctuation), columns placed with `--map`, the import
summary, and a file without a contact column, which must not make every app "unowned".

The shapes: SPBE catalogue exports (`id_aplikasi`, `opd_pemilik`), a Dinas's own sheet with
`PIC / Kontak`, `No. HP` and `Email PIC` side by side, an English register (`Application Name`,
`Owner Agency`), and a provincial list that has no contact column at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ronda.collector.cli import cli
from ronda.collector.inventory.db import declared_apps
from ronda.collector.inventory.fields import FIELDS, header_key
from ronda.collector.inventory.parse import load_inventory
from ronda.collector.reconcile.config import ReconcileConfig
from ronda.collector.reconcile.db import run_reconcile
from ronda.collector.store import Store

# A value each kind of field accepts, and what it reads back as.
SAMPLE = {
    "id": ("APP-9", "APP-9"),
    "text": ("Dinas Kominfo", "Dinas Kominfo"),
    "urls": ("https://simpeg.prov.example", ["https://simpeg.prov.example"]),
    "ids": ("APP-1", ["APP-1"]),
    "id_ref": ("APP-1", "APP-1"),
    "status": ("aktif", "active"),
    "class": ("umum", "common"),
    "audience": ("publik", "public"),
    "year": ("2019", 2019),
    "money": ("Rp 85.000.000", 85_000_000),
    "date": ("30/06/2025", "2025-06-30"),
}
BASE = {"app_id": "APP-9", "name": "SIMPEG", "owner": "BKD", "urls": "simpeg.prov.example", "status": "aktif"}


def spellings(alias: str) -> list[str]:
    """The column as spreadsheets write it: as listed, in title case with spaces, in capitals with
    dashes, and with a trailing `*` (the mark of a required column in a template)."""
    words = alias.split("_")
    return [alias, " ".join(w.capitalize() for w in words), "-".join(words).upper(), " ".join(words) + " *"]


# Every synonym once, in one of the spellings in turn: each spelling is met by every field.
SYNONYMS = [
    (f.name, alias) for f in FIELDS for alias in dict.fromkeys((f.name, f.indonesian, *f.aliases)) if alias
]
CASES = [(field, spellings(alias)[i % 4]) for i, (field, alias) in enumerate(SYNONYMS)]


def csv_text(columns: dict[str, str]) -> str:
    return ";".join(columns) + "\n" + ";".join(columns.values()) + "\n"


@pytest.mark.parametrize("field, column", CASES, ids=[f"{f}:{c}" for f, c in CASES])
def test_every_synonym_of_every_field_in_every_spelling(tmp_path, field, column):
    kind = next(f.kind for f in FIELDS if f.name == field)
    text, expected = SAMPLE[kind]
    columns = {name: value for name, value in BASE.items() if name != field}
    columns[column] = text
    path = tmp_path / "aplikasi.csv"
    path.write_text(csv_text(columns))
    apps, warnings = load_inventory(str(path))
    assert getattr(apps[0], field) == expected
    assert not [w for w in warnings if "not a column ronda knows" in w.message]


def test_no_synonym_is_given_to_two_fields():
    keys = [header_key(a) for f in FIELDS for a in dict.fromkeys((f.name, f.indonesian, *f.aliases)) if a]
    assert len(keys) == len(set(keys))


def run(*args: str):
    return CliRunner().invoke(cli, [*args])


def write(tmp_path: Path, text: str, name: str = "aplikasi.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


DINAS_SHEET = (
    "No.;Kode Aplikasi;Nama Aplikasi;Perangkat Daerah;PIC / Kontak;No. HP;Email PIC;URL;Status;Catatan\n"
    "1;APP-1;SIMPUS;Dinas Kesehatan;Budi Santoso;0812-3456-7890;budi@dinkes.example;simpus.example;aktif;\n"
    "2;APP-2;e-Surat;Dinas Kesehatan;;;;esurat.example;aktif;server lama\n"
)


def test_the_summary_names_every_column_and_contact_columns_combine(tmp_path):
    db = tmp_path / "ronda.db"
    result = run("inventory", "import", "--db", str(db), str(write(tmp_path, DINAS_SHEET)))
    assert result.exit_code == 0, result.output
    assert (
        "  columns: Kode Aplikasi -> app_id, Nama Aplikasi -> name, Perangkat Daerah -> owner, "
        "PIC / Kontak -> contact, No. HP -> contact, Email PIC -> contact, URL -> urls, Status -> status\n"
        "  kept as they are (exported back): No., Catatan\n"
    ) in result.stdout
    apps = {a.app_id: a for a in declared_apps(Store(db))}
    assert apps["APP-1"].contact == "Budi Santoso, 0812-3456-7890, budi@dinkes.example"
    assert apps["APP-2"].contact == "" and apps["APP-2"].extra == {"No.": "2", "Catatan": "server lama"}


def test_map_places_a_column_the_table_does_not_know(tmp_path):
    db = tmp_path / "ronda.db"
    sheet = "kode;nama;opd;kolom saya;alamat;status\nAPP-1;SIMPUS;Dinkes;Budi 0812;simpus.example;aktif\n"
    result = run(
        "inventory", "import", "--db", str(db), str(write(tmp_path, sheet)), "--map", "Kolom Saya=contact"
    )
    assert result.exit_code == 0, result.output
    assert "kolom saya -> contact (--map)" in result.stdout and "no contact column" not in result.output
    assert declared_apps(Store(db))[0].contact == "Budi 0812"


def test_map_wins_over_the_synonym_table(tmp_path):
    # Both `OPD` and `Instansi Induk` mean the owner; the operator says which one is.
    db = tmp_path / "ronda.db"
    sheet = (
        "id;nama;opd;instansi induk;kontak;url;status\nAPP-1;SIMPUS;UPT Puskesmas;Dinkes;b;s.example;aktif\n"
    )
    result = run(
        "inventory", "import", "--db", str(db), str(write(tmp_path, sheet)), "--map", "instansi induk=pemilik"
    )
    assert result.exit_code == 0, result.output
    assert (
        "column opd: also means owner, but --map gives owner to 'instansi induk': kept as is" in result.output
    )
    app = declared_apps(Store(db))[0]
    assert app.owner == "Dinkes" and app.extra == {"opd": "UPT Puskesmas"}


@pytest.mark.parametrize(
    "option, message",
    [
        ("kontak saya", "--map 'kontak saya': write COLUMN=FIELD, FIELD one of app_id, name"),
        ("kontak saya=telepon genggam", "--map 'kontak saya=telepon genggam': write COLUMN=FIELD"),
        (
            "tidak ada=contact",
            "column tidak ada: --map names a column the file does not have; it has: id, nama",
        ),
    ],
)
def test_a_bad_map_is_refused_and_says_what_would_do(tmp_path, option, message):
    db = tmp_path / "ronda.db"
    sheet = "id;nama;opd;url;status\nAPP-1;SIMPUS;Dinkes;s.example;aktif\n"
    result = run("inventory", "import", "--db", str(db), str(write(tmp_path, sheet)), "--map", option)
    assert result.exit_code == 2 and message in result.output, result.output


def findings_of(db: Path, kind: str) -> list[dict]:
    return Store(db).query("SELECT app_id, summary FROM findings WHERE kind = ? ORDER BY app_id", (kind,))


def test_a_file_without_a_contact_column_raises_no_unowned_and_says_so_once(tmp_path):
    # A province's list kept for budget purposes: id, name, agency, address, status, cost; no contact.
    db = tmp_path / "ronda.db"
    sheet = "id_aplikasi;nama_aplikasi;opd_pemilik;alamat_domain;status_aplikasi;biaya_tahunan\n" + "".join(
        f"APP-{i};Aplikasi {i};{'' if i == 3 else 'Bappeda'};a{i}.example;aktif;1000000\n"
        for i in range(1, 6)
    )
    result = run("inventory", "import", "--db", str(db), str(write(tmp_path, sheet)))
    assert result.exit_code == 0, result.output
    assert result.stderr.count("no contact column") == 1
    run_reconcile(Store(db), ReconcileConfig())
    assert findings_of(db, "unowned") == [{"app_id": "APP-3", "summary": "APP-3 Aplikasi 3: no owner agency"}]
    # The same apps from a file that has the column, empty for APP-2: now an empty contact says something.
    with_column = sheet.replace("biaya_tahunan\n", "biaya_tahunan;kontak\n", 1).replace(
        "1000000\n", "1000000;x\n"
    )
    with_column = with_column.replace("a2.example;aktif;1000000;x", "a2.example;aktif;1000000;")
    result = run("inventory", "import", "--db", str(db), str(write(tmp_path, with_column)))
    assert result.exit_code == 0 and "no contact column" not in result.output
    run_reconcile(Store(db), ReconcileConfig())
    open_unowned = [
        r["app_id"]
        for r in Store(db).query("SELECT app_id FROM findings WHERE kind='unowned' AND resolved_at IS NULL")
    ]
    assert sorted(open_unowned) == ["APP-2", "APP-3"]


def test_the_contact_column_of_the_issue_is_recognised(tmp_path):
    # `pic_kontak` made every app of an import "unowned" although every row but one names a person.
    sheet = (
        "id_aplikasi,nama_aplikasi,opd_pemilik,pic_kontak,alamat_domain,status_aplikasi\n"
        "APP-1,SIMPUS,Dinkes,Budi (0812-1111-2222),simpus.example,aktif\n"
        "APP-2,e-Surat,Dinkes,,esurat.example,aktif\n"
    )
    db = tmp_path / "ronda.db"
    assert run("inventory", "import", "--db", str(db), str(write(tmp_path, sheet))).exit_code == 0
    run_reconcile(Store(db), ReconcileConfig())
    assert [r["app_id"] for r in findings_of(db, "unowned")] == ["APP-2"]
