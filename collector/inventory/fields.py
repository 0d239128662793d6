"""The declared inventory's columns: canonical English names, the aliases
(English and Indonesian, as SPBE catalogue exports and agencies' own
spreadsheets spell them) and the vocabularies of the enumerated columns."""

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
    combine: bool = False  # several columns may fill it together (a PIC's name, phone and e-mail)


# Column names as agencies write them, in English and Indonesian. Spaces, capitals and punctuation do not
# matter (header_key): `Nama Aplikasi`, `NAMA_APLIKASI`, `nama-aplikasi` and `NamaAplikasi` are one name.
FIELDS: tuple[Field, ...] = (
    Field(
        "app_id",
        "id",
        True,
        True,
        ("id", "application_id", "app_code", "kode_aplikasi", "kode", "kode_app", "id_app", "kode_sistem"),
        "id_aplikasi",
    ),
    Field(
        "name",
        "text",
        True,
        True,
        ("app_name", "application", "application_name", "nama", "aplikasi", "nama_app", "nama_sistem"),
        "nama_aplikasi",
    ),
    Field(
        "owner",
        "text",
        True,
        False,
        (
            "owner_agency",
            "agency",
            "organisation",
            "organization",
            "department",
            "opd",
            "nama_opd",
            "instansi",
            "nama_instansi",
            "instansi_pemilik",
            "perangkat_daerah",
            "skpd",
            "satker",
            "satuan_kerja",
            "dinas",
            "pemilik",
            "pemilik_aplikasi",
        ),
        "opd_pemilik",
    ),
    Field(
        "unit",
        "text",
        False,
        False,
        ("operating_unit", "division", "team", "unit_kerja", "pengelola", "bidang", "tim", "unit_teknis"),
        "unit_pengelola",
    ),
    Field(
        "contact",
        "text",
        False,
        False,
        (
            "contact_person",
            "contacts",
            "email",
            "contact_email",
            "phone",
            "person_in_charge",
            "responsible",
            "maintainer",
            "kontak",
            "narahubung",
            "pic",
            "nama_pic",
            "pic_kontak",
            "kontak_pic",
            "email_pic",
            "no_hp_pic",
            "penanggung_jawab",
            "pj",
            "cp",
            "no_hp",
            "nomor_hp",
            "hp",
            "telepon",
            "telp",
            "no_telp",
            "nomor_telepon",
            "whatsapp",
            "wa",
            "email_pengelola",
        ),
        "kontak",
        combine=True,
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
            "web_address",
            "website",
            "link",
            "homepage",
            "alamat",
            "alamat_url",
            "alamat_web",
            "alamat_website",
            "alamat_akses",
            "url_aplikasi",
            "url_akses",
            "tautan",
            "tautan_aplikasi",
            "domain_aplikasi",
            "nama_domain",
            "subdomain",
            "situs",
        ),
        "alamat_domain",
        combine=True,
    ),
    Field(
        "host",
        "text",
        False,
        False,
        (
            "declared_host",
            "server",
            "server_host",
            "hostname",
            "ip",
            "ip_address",
            "ip_server",
            "alamat_server",
            "nama_server",
            "lokasi_server",
            "host_server",
        ),
        "alamat_ip",
    ),
    Field(
        "root",
        "text",
        False,
        False,
        (
            "document_root",
            "docroot",
            "install_path",
            "install_dir",
            "path",
            "direktori",
            "folder",
            "lokasi_aplikasi",
            "lokasi_file",
            "path_aplikasi",
        ),
        "direktori_aplikasi",
    ),
    Field(
        "status",
        "status",
        True,
        True,
        ("app_status", "state", "status_operasional", "kondisi", "status_penggunaan"),
        "status_aplikasi",
    ),
    Field(
        "app_class",
        "class",
        False,
        False,
        ("class", "category", "kategori", "jenis", "kategori_aplikasi", "klasifikasi"),
        "jenis_aplikasi",
    ),
    Field(
        "superseded_by",
        "id_ref",
        False,
        False,
        ("replaced_by", "successor", "pengganti", "aplikasi_pengganti"),
        "digantikan_oleh",
    ),
    Field(
        "audience",
        "audience",
        False,
        False,
        ("users", "user_group", "layanan", "sasaran", "sifat_layanan", "pengguna", "target_pengguna"),
        "layanan",
    ),
    Field("platform", "text", False, False, ("platform_aplikasi", "jenis_platform"), "platform"),
    Field(
        "framework",
        "text",
        False,
        False,
        (
            "tech_stack",
            "technology",
            "programming_language",
            "kerangka_kerja",
            "teknologi",
            "bahasa_pemrograman",
        ),
        "framework",
    ),
    Field(
        "database",
        "text",
        False,
        False,
        ("db", "dbms", "database_engine", "basis_data_aplikasi", "jenis_database", "sistem_basis_data"),
        "basis_data",
    ),
    Field(
        "year_built",
        "year",
        False,
        False,
        (
            "year",
            "built",
            "year_developed",
            "tahun",
            "tahun_dibuat",
            "tahun_pembangunan",
            "tahun_pengembangan",
        ),
        "tahun_pembuatan",
    ),
    Field(
        "build_cost",
        "money",
        False,
        False,
        (
            "development_cost",
            "cost",
            "biaya_pembangunan",
            "biaya_pengembangan",
            "anggaran",
            "nilai_kontrak",
            "nilai_pengadaan",
        ),
        "nilai_pengembangan",
    ),
    Field(
        "annual_cost",
        "money",
        False,
        False,
        ("yearly_cost", "running_cost", "maintenance_cost", "biaya_pemeliharaan", "biaya_operasional"),
        "biaya_tahunan",
    ),
    Field(
        "depends_on",
        "ids",
        False,
        False,
        ("dependencies", "requires", "integrates_with", "bergantung_pada", "ketergantungan", "integrasi"),
        "bergantung_pada",
        combine=True,
    ),
    Field(
        "last_verified",
        "date",
        False,
        False,
        (
            "verified",
            "verified_at",
            "verified_on",
            "last_updated",
            "terakhir_diverifikasi",
            "tanggal_pemutakhiran",
            "tanggal_pembaruan",
            "terakhir_diperbarui",
        ),
        "tanggal_verifikasi",
    ),
)
BY_NAME = {f.name: f for f in FIELDS}


def header_key(text: str) -> str:
    """A column name without what spreadsheets vary: `Nama Aplikasi`, `NAMA_APLIKASI`, `nama-aplikasi`,
    `NamaAplikasi` and `"Nama Aplikasi*"` are one column."""
    return "".join(c for c in text.casefold() if c.isalnum())


def _aliases() -> dict[str, str]:
    found: dict[str, str] = {}
    for f in FIELDS:
        for alias in (f.name, f.indonesian, *f.aliases):
            key = header_key(alias)
            if found.setdefault(key, f.name) != f.name:
                raise AssertionError(f"column name {alias!r} is given to both {found[key]} and {f.name}")
    return found


ALIASES: dict[str, str] = _aliases()


def field_named(text: str) -> Field | None:
    """The field a column name (any alias, in any spelling) means."""
    name = ALIASES.get(header_key(text))
    return BY_NAME[name] if name else None


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
