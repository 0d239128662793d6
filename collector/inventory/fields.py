"""The declared inventory's columns: canonical English names, the aliases
(English and Indonesian, as SPBE catalogue exports spell them) and the
vocabularies of the enumerated columns."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # text, id, urls, ids, status, class, audience, year, money, date
    required: bool = False  # the column must exist
    value_required: bool = False
    aliases: tuple[str, ...] = ()
    indonesian: str = ""  # the column name `export --columns id` writes


FIELDS: tuple[Field, ...] = (
    Field(
        "app_id", "id", True, True, ("id", "application_id", "kode_aplikasi", "kode", "id_app"), "id_aplikasi"
    ),
    Field(
        "name", "text", True, True, ("app_name", "application", "application_name", "nama"), "nama_aplikasi"
    ),
    Field(
        "owner",
        "text",
        True,
        False,
        ("owner_agency", "agency", "opd", "instansi", "instansi_pemilik", "perangkat_daerah", "pemilik"),
        "opd_pemilik",
    ),
    Field(
        "unit",
        "text",
        False,
        False,
        ("operating_unit", "unit_kerja", "pengelola", "bidang"),
        "unit_pengelola",
    ),
    Field(
        "contact", "text", False, False, ("kontak", "email", "narahubung", "pic", "contact_person"), "kontak"
    ),
    Field(
        "urls",
        "urls",
        True,
        False,
        (
            "url",
            "domain",
            "domains",
            "address",
            "alamat",
            "alamat_url",
            "url_aplikasi",
            "tautan",
            "domain_aplikasi",
        ),
        "alamat_domain",
    ),
    Field(
        "host",
        "text",
        False,
        False,
        ("declared_host", "server", "ip", "ip_address", "ip_server", "hostname", "server_host"),
        "alamat_ip",
    ),
    Field(
        "root",
        "text",
        False,
        False,
        ("document_root", "docroot", "install_path", "direktori", "lokasi_aplikasi"),
        "direktori_aplikasi",
    ),
    Field("status", "status", True, True, ("app_status", "state"), "status_aplikasi"),
    Field(
        "app_class",
        "class",
        False,
        False,
        ("class", "category", "kategori", "jenis", "kategori_aplikasi"),
        "jenis_aplikasi",
    ),
    Field(
        "superseded_by", "id_ref", False, False, ("replaced_by", "successor", "pengganti"), "digantikan_oleh"
    ),
    Field(
        "audience",
        "audience",
        False,
        False,
        ("users", "layanan", "sasaran", "sifat_layanan", "pengguna"),
        "layanan",
    ),
    Field("platform", "text", False, False, ("platform_aplikasi",), "platform"),
    Field("framework", "text", False, False, ("kerangka_kerja", "teknologi"), "framework"),
    Field("database", "text", False, False, ("db", "dbms", "basis_data_aplikasi"), "basis_data"),
    Field("year_built", "year", False, False, ("year", "built", "tahun", "tahun_dibuat"), "tahun_pembuatan"),
    Field(
        "build_cost",
        "money",
        False,
        False,
        ("development_cost", "cost", "biaya_pembangunan", "anggaran", "nilai_kontrak"),
        "nilai_pengembangan",
    ),
    Field(
        "annual_cost",
        "money",
        False,
        False,
        ("yearly_cost", "running_cost", "biaya_pemeliharaan", "biaya_operasional"),
        "biaya_tahunan",
    ),
    Field(
        "depends_on",
        "ids",
        False,
        False,
        ("dependencies", "requires", "bergantung_pada", "ketergantungan"),
        "bergantung_pada",
    ),
    Field(
        "last_verified",
        "date",
        False,
        False,
        ("verified", "verified_at", "verified_on", "terakhir_diverifikasi", "tanggal_pemutakhiran"),
        "tanggal_verifikasi",
    ),
)
BY_NAME = {f.name: f for f in FIELDS}


def header_key(text: str) -> str:
    """`Nama Aplikasi`, `nama-aplikasi` and `NAMA_APLIKASI` are one column."""
    text = text.strip().strip("\ufeff").strip('"').strip().lower()
    return re.sub(r"[\s\-./]+", "_", text).strip("_")


ALIASES: dict[str, str] = {}
for _f in FIELDS:
    for _a in (_f.name, _f.indonesian, *_f.aliases):
        if _a:
            ALIASES[header_key(_a)] = _f.name

# Declared status: what the values mean, whatever language the spreadsheet speaks.
STATUS = {
    "active": (
        "active",
        "aktif",
        "berjalan",
        "digunakan",
        "operational",
        "operasional",
        "production",
        "live",
        "produksi",
    ),
    "inactive": (
        "inactive",
        "tidak aktif",
        "nonaktif",
        "non aktif",
        "tidak digunakan",
        "suspended",
        "mati",
        "off",
    ),
    "in-development": (
        "in development",
        "development",
        "dev",
        "dalam pengembangan",
        "pengembangan",
        "pembangunan",
        "dikembangkan",
        "uji coba",
        "trial",
        "pilot",
    ),
    "retired": (
        "retired",
        "pensiun",
        "dihentikan",
        "decommissioned",
        "ditutup",
        "dihapus",
        "archived",
        "diarsipkan",
    ),
}
APP_CLASS = {
    "common": ("common", "shared", "common/shared", "umum", "bersama", "pakai bersama", "aplikasi umum"),
    "specific": ("specific", "agency-specific", "agency specific", "khusus", "aplikasi khusus", "sektoral"),
}
AUDIENCE = {
    "public": ("public", "publik", "external", "eksternal", "masyarakat", "layanan publik"),
    "internal": ("internal", "intern", "pegawai", "administrasi pemerintahan", "internal pemerintah"),
}
VOCABULARIES = {"status": STATUS, "class": APP_CLASS, "audience": AUDIENCE}


def vocabulary_key(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def lookup(kind: str, text: str) -> str | None:
    key = vocabulary_key(text)
    for canonical, words in VOCABULARIES[kind].items():
        if key == canonical or key in (vocabulary_key(w) for w in words):
            return canonical
    return None


def accepted(kind: str) -> str:
    return ", ".join(
        f"{c} ({'/'.join(w for w in words if w != c)[:60]})" for c, words in VOCABULARIES[kind].items()
    )
