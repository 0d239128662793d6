"""Importing declared inventories: good files in every accepted shape; bad files
refused whole, every problem named by line and column, the store unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ronda.collector.cli import cli
from ronda.collector.inventory.db import declared_apps
from ronda.collector.inventory.model import InventoryError
from ronda.collector.inventory.parse import load_inventory
from ronda.collector.store import Store

HEADER_ID = (
    "id_aplikasi,nama_aplikasi,opd_pemilik,kontak,alamat_domain,status_aplikasi,jenis_aplikasi,"
    "tahun_pembuatan,nilai_pengembangan,tanggal_verifikasi\n"
)
GOOD_ID = HEADER_ID + (
    "APP-1,Portal Dinkes,Dinas Kesehatan,humas@prov.example,https://dinkes.prov.example,aktif,khusus,2016,"
    "85000000,2025-06-30\n"
    "APP-2,LAPOR,Diskominfo,lapor@prov.example,lapor.prov.example www.lapor.prov.example,"
    "tidak aktif,umum,2021,400000000,30/06/2025\n"
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def import_cli(db: Path, path: Path, *extra: str):
    return CliRunner().invoke(cli, ["inventory", "import", "--db", str(db), str(path), *extra])


@pytest.mark.parametrize(
    "name, content",
    [
        ("indonesian.csv", GOOD_ID),
        (
            "english.csv",
            "app_id,name,owner,contact,urls,status,app_class,year_built,build_cost,last_verified\n"
            "APP-1,Portal Dinkes,Dinas Kesehatan,humas@prov.example,https://dinkes.prov.example,active,"
            "specific,2016,85000000,2025-06-30\n"
            'APP-2,LAPOR,Diskominfo,lapor@prov.example,"lapor.prov.example, www.lapor.prov.example",'
            "inactive,shared,2021,Rp 400.000.000,2025-06-30\n",
        ),
        (
            "spreadsheet.csv",
            "\ufeff"
            + GOOD_ID.replace(",", ";")
            .replace("400000000", "Rp 400.000.000,00")
            .replace("85000000", "85.000.000")
            .replace("\n", "\r\n"),
        ),
        ("excel-hint.csv", "sep=;\n" + GOOD_ID.replace(",", ";")),
        ("header-case.csv", GOOD_ID.replace("id_aplikasi,nama_aplikasi", "ID Aplikasi,Nama Aplikasi")),
        (
            "yaml.yaml",
            "aplikasi:\n"
            "  - {id_aplikasi: APP-1, nama_aplikasi: Portal Dinkes, opd_pemilik: Dinas Kesehatan,\n"
            "     kontak: humas@prov.example, alamat_domain: https://dinkes.prov.example,\n"
            "     status_aplikasi: aktif, jenis_aplikasi: khusus, tahun_pembuatan: 2016,\n"
            "     nilai_pengembangan: 85000000, tanggal_verifikasi: 2025-06-30}\n"
            "  - id_aplikasi: APP-2\n    nama_aplikasi: LAPOR\n    opd_pemilik: Diskominfo\n"
            "    kontak: lapor@prov.example\n"
            "    alamat_domain: [lapor.prov.example, www.lapor.prov.example]\n"
            "    status_aplikasi: tidak aktif\n    jenis_aplikasi: umum\n    tahun_pembuatan: 2021\n"
            "    nilai_pengembangan: 400000000\n    tanggal_verifikasi: 30/06/2025\n",
        ),
        (
            "json.json",
            json.dumps(
                [
                    {
                        "app_id": "APP-1",
                        "name": "Portal Dinkes",
                        "owner": "Dinas Kesehatan",
                        "contact": "humas@prov.example",
                        "urls": ["https://dinkes.prov.example"],
                        "status": "active",
                        "app_class": "specific",
                        "year_built": 2016,
                        "build_cost": 85000000,
                        "last_verified": "2025-06-30",
                    },
                    {
                        "app_id": "APP-2",
                        "name": "LAPOR",
                        "owner": "Diskominfo",
                        "contact": "lapor@prov.example",
                        "urls": "lapor.prov.example www.lapor.prov.example",
                        "status": "inactive",
                        "app_class": "common",
                        "year_built": 2021,
                        "build_cost": 400000000,
                        "last_verified": "2025-06-30",
                    },
                ],
                indent=2,
            ),
        ),
    ],
)
def test_accepted_shapes_give_the_same_apps(tmp_path, name, content):
    apps, _ = load_inventory(str(write(tmp_path, name, content)))
    assert [
        (a.app_id, a.name, a.status, a.app_class, a.urls, a.year_built, a.build_cost, a.last_verified)
        for a in apps
    ] == [
        (
            "APP-1",
            "Portal Dinkes",
            "active",
            "specific",
            ["https://dinkes.prov.example"],
            2016,
            85_000_000,
            "2025-06-30",
        ),
        (
            "APP-2",
            "LAPOR",
            "inactive",
            "common",
            ["lapor.prov.example", "www.lapor.prov.example"],
            2021,
            400_000_000,
            "2025-06-30",
        ),
    ]


def test_utf16_from_a_spreadsheet(tmp_path):
    apps, _ = load_inventory(str(write(tmp_path, "u16.csv", GOOD_ID.replace(",", "\t").encode("utf-16"))))
    assert [a.app_id for a in apps] == ["APP-1", "APP-2"]


def test_the_sample_inventory_imports(tmp_path):
    apps, warnings = load_inventory(
        str(Path(__file__).parent.parent / "collector/sample_fleet/inventory.csv")
    )
    assert len(apps) >= 8 and all(a.owner for a in apps)


def test_unknown_columns_are_kept_and_reported_as_warnings(tmp_path):
    apps, warnings = load_inventory(
        str(
            write(
                tmp_path,
                "x.csv",
                GOOD_ID.replace("\n", ",x\n", 1)
                .replace("2025-06-30\n", "2025-06-30,a\n")
                .replace("30/06/2025\n", "30/06/2025,b\n")
                .replace("tanggal_verifikasi,x", "tanggal_verifikasi,catatan"),
            )
        )
    )
    assert [a.extra for a in apps] == [{"catatan": "a"}, {"catatan": "b"}]
    assert any(w.warning and w.column == "catatan" for w in warnings)


BAD = [
    (
        "missing columns",
        "x.csv",
        "id_aplikasi,opd_pemilik,alamat_domain\nAPP-1,Dinas,a.example\n",
        [
            "column name: required column is missing (any of: nama_aplikasi",
            "column status: required column is missing",
        ],
    ),
    (
        "duplicate ids",
        "x.csv",
        GOOD_ID + GOOD_ID.splitlines()[1].replace("Portal", "Lain") + "\n",
        ["line 4, column id_aplikasi: app id 'APP-1' is also on line 2"],
    ),
    (
        "bad dates",
        "x.csv",
        GOOD_ID.replace("2025-06-30", "31/02/2025").replace("30/06/2025", "kemarin"),
        [
            "line 2, column tanggal_verifikasi: '31/02/2025' is not a date",
            "line 3, column tanggal_verifikasi: 'kemarin' is not a date",
        ],
    ),
    (
        "a date in the future",
        "x.csv",
        GOOD_ID.replace("2025-06-30", "2999-01-01"),
        ["line 2, column tanggal_verifikasi: 2999-01-01 is in the future"],
    ),
    (
        "bad encoding",
        "x.csv",
        GOOD_ID.encode().replace(b"Portal Dinkes", b"Portal Dinkes \x96 Provinsi"),
        ["line 2: byte 0x96", "not valid utf-8", "--encoding cp1252"],
    ),
    (
        "BOM and semicolons with mistakes",
        "x.csv",
        "\ufeff"
        + GOOD_ID.replace(",", ";")
        .replace("2016", "20x6")
        .replace("tidak aktif", "setengah aktif")
        .replace("\n", "\r\n"),
        [
            "line 2, column tahun_pembuatan: '20x6' is not a year",
            "line 3, column status_aplikasi: 'setengah aktif' is not a known status",
        ],
    ),
    (
        "every problem at once",
        "x.csv",
        HEADER_ID + ",,Dinas,,http://ba!d.example,aktif,khusus,1800,banyak,2025-01-01\n",
        [
            "line 2, column id_aplikasi: must not be empty",
            "line 2, column nama_aplikasi: must not be empty",
            "line 2, column alamat_domain:",
            "line 2, column tahun_pembuatan: '1800' is not a year",
            "line 2, column nilai_pengembangan: 'banyak' is not an amount",
        ],
    ),
    (
        "a row with too many fields",
        "x.csv",
        GOOD_ID + "APP-3,X,Y,,z.example,aktif,khusus,2020,1,2025-01-01,extra\n",
        ["line 4: has 11 fields but the header has 10"],
    ),
    (
        "two columns meaning the same",
        "x.csv",
        GOOD_ID.replace("kontak", "app_id"),
        ["column app_id: means the same as column 'id_aplikasi'"],
    ),
    (
        "an xlsx saved as .csv",
        "x.csv",
        b"PK\x03\x04rest-of-a-zip",
        ["spreadsheet (.xlsx/.ods), not a text file"],
    ),
    ("empty", "x.csv", "", ["the file is empty"]),
    ("yaml syntax", "x.yaml", "apps:\n  - id: A\n    name: [unclosed\n", ["line 4", "YAML syntax"]),
    (
        "json syntax",
        "x.json",
        '[\n {"app_id": "A",\n  "name": "B"\n  "status": "aktif"}\n]',
        ["line 4: JSON syntax"],
    ),
    (
        "json record problems by line",
        "x.json",
        '[\n {"app_id": "A", "name": "B", "owner": "", "urls": "", "status": "aktif"},\n'
        ' {"app_id": "C", "name": "D", "owner": "", "urls": "", "status": "hidup"}\n]',
        ["line 3, column status: 'hidup' is not a known status"],
    ),
]


@pytest.mark.parametrize("case, name, content, messages", BAD, ids=[b[0] for b in BAD])
def test_bad_inventories_are_refused_whole_and_change_nothing(tmp_path, case, name, content, messages):
    db = tmp_path / "ronda.db"
    assert import_cli(db, write(tmp_path, "first.csv", GOOD_ID)).exit_code == 0
    before = Store(db).dump()
    result = import_cli(db, write(tmp_path, name, content))
    assert result.exit_code == 2  # refused input: fix the file, don't retry
    for message in messages:
        assert message in result.output, result.output
    assert "nothing was imported" in result.output
    assert Store(db).dump() == before


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    content = HEADER_ID + "".join(
        f"APP-{i},N,O,,a{i}.example,aktif,khusus,19{i}0,1,2025-01-01\n" for i in range(3)
    )
    with pytest.raises(InventoryError) as e:
        load_inventory(str(write(tmp_path, "x.csv", content)))
    assert [p.line for p in e.value.problems if not p.warning] == [2, 3, 4]


def test_cp1252_imports_with_the_encoding_named(tmp_path):
    db = tmp_path / "ronda.db"
    path = write(
        tmp_path, "x.csv", GOOD_ID.encode().replace(b"Portal Dinkes", b"Portal Dinkes \x96 Provinsi")
    )
    result = import_cli(db, path, "--encoding", "cp1252")
    assert result.exit_code == 0, result.output
    assert declared_apps(Store(db))[0].name == "Portal Dinkes \u2013 Provinsi"


def test_dry_run_changes_nothing(tmp_path):
    db = tmp_path / "ronda.db"
    before = Store(db).dump()
    result = import_cli(db, write(tmp_path, "x.csv", GOOD_ID), "--dry-run")
    assert result.exit_code == 0 and "would import 2 apps" in result.output
    assert Store(db).dump() == before
