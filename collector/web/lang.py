"""The console's words in the reader's language: English messages, translated by a catalog.

The subset of the language API the console uses (`get`, `Lang._`, dates and money), with the
console's own Indonesian catalog.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ronda.errors import ConfigError

LANGUAGES = {"en": "English", "id": "Bahasa Indonesia"}
_MONTHS_ID = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"]


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; it is translated where it is shown."""
    return message


class LanguageError(ConfigError):
    """A language ronda does not speak."""


@dataclass(frozen=True)
class Lang:
    code: str

    def _(self, message: str) -> str:
        return INDONESIAN.get(message, message) if self.code == "id" else message

    def date(self, value: str | date | datetime | None, style: str = "medium", empty: str = "-") -> str:
        if not value:
            return empty
        if isinstance(value, str):
            value = (
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                if len(value) > 10
                else (date.fromisoformat(value))
            )
        day = value.date() if isinstance(value, datetime) else value
        if self.code == "id":
            return f"{day.day} {_MONTHS_ID[day.month - 1]} {day.year}"
        return day.strftime("%d %b %Y").lstrip("0")

    def datetime(self, value: str | None, empty: str = "-") -> str:
        if not value:
            return empty
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        return f"{self.date(moment)} {moment.strftime('%H:%M')} UTC"

    def number(self, value: int | float | None, empty: str = "-") -> str:
        if value is None:
            return empty
        text = f"{value:,}"
        return text.replace(",", ".") if self.code == "id" else text

    def money(self, value: int | float | None, empty: str = "-") -> str:
        if value is None:
            return empty
        return ("Rp " if self.code == "id" else "IDR ") + self.number(int(value))


def get(language: str | None = None, environ: Mapping[str, str] = os.environ) -> Lang:
    """--lang, else $RONDA_LANG, else the locale, else English."""
    for value in (language, environ.get("RONDA_LANG")):
        if value:
            code = value.split(".")[0].split("_")[0].split("-")[0].lower()
            if code not in LANGUAGES:
                raise LanguageError(
                    f"language {value!r} is not available; ronda speaks "
                    + ", ".join(f"{k} ({v})" for k, v in LANGUAGES.items())
                )
            return Lang(code)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            code = value.split(".")[0].split("_")[0].lower()
            return Lang(code if code in LANGUAGES else "en")
    return Lang("en")


INDONESIAN: dict[str, str] = {
    "App": "Aplikasi",
    "Declared id": "Id terdaftar",
    "Name": "Nama",
    "Owner (OPD)": "Pemilik (OPD)",
    "Unit": "Unit",
    "Contact": "Kontak",
    "Servers": "Server",
    "Server": "Server",
    "Verdict": "Rekomendasi",
    "Why": "Alasan",
    "Last human visit": "Kunjungan manusia terakhir",
    "Last request": "Permintaan terakhir",
    "Log coverage": "Cakupan log",
    "Logs since": "Log sejak",
    "Human requests in the idle window": "Permintaan manusia dalam periode pemantauan",
    "Annual cost": "Biaya tahunan",
    "Build cost": "Biaya pembangunan",
    "Evidence": "Bukti",
    "Verdict since": "Rekomendasi sejak",
    "Decision": "Keputusan",
    "Decided by": "Diputuskan oleh",
    "Decided at": "Diputuskan pada",
    "Reason for the decision": "Alasan keputusan",
    "Reason": "Alasan",
    "Consolidated into": "Digabungkan ke",
    "Days idle": "Hari tidak dipakai",
    "First seen": "Pertama terlihat",
    "Last seen": "Terakhir terlihat",
    "App key": "Kunci aplikasi",
    "Agent": "Agen",
    "Server names": "Nama server",
    "Listens on": "Mendengar di",
    "Path": "Path",
    "Document root": "Direktori dokumen",
    "Backend": "Backend",
    "Product": "Produk",
    "Version": "Versi",
    "Support ended": "Dukungan berakhir",
    "Latest release of its line": "Rilis terbaru di jalurnya",
    "Status": "Status",
    "Operating system": "Sistem operasi",
    "OS version": "Versi OS",
    "Addresses": "Alamat",
    "Reported by": "Dilaporkan oleh",
    "Still there": "Masih ada",
    "Detail": "Rincian",
    "Hours without a report": "Jam tanpa laporan",
    "When": "Waktu",
    "What changed": "Apa yang berubah",
    "Trend": "Tren",
    "Declared URLs": "URL terdaftar",
    "Class": "Kelas",
    "Finding": "Temuan",
    "Web server": "Web server",
    "Scan": "Pemindaian",
    "Safe to take down": "Aman dinonaktifkan",
    "Apps with no human use for the whole idle window, with access logs that cover it. Largest declared annual cost first. ronda recommends; people decide: open an app to see its evidence and record a decision.": "Aplikasi yang tidak dipakai manusia selama seluruh periode pemantauan, dengan log akses yang mencakupnya. Biaya tahunan terbesar lebih dulu. ronda merekomendasikan; manusia yang memutuskan: buka aplikasi untuk melihat buktinya dan mencatat keputusan.",
    "Idle apps": "Aplikasi tidak dipakai",
    "No human use for the idle window (90 days unless configured), with logs covering it.": "Tidak dipakai manusia selama periode pemantauan (90 hari kecuali diatur lain), dengan log yang mencakupnya.",
    "Hidden apps": "Aplikasi tersembunyi",
    "Running and reachable, but matching no app in the declared inventory.": "Berjalan dan dapat diakses, tetapi tidak cocok dengan aplikasi mana pun di inventaris terdaftar.",
    "Open findings": "Temuan terbuka",
    "Every discrepancy between the declared inventory and what runs, as of the latest reconcile.": "Setiap ketidaksesuaian antara inventaris terdaftar dan yang berjalan, per rekonsiliasi terakhir.",
    "Verdicts": "Rekomendasi",
    "ronda's recommendation for every app, declared or found, with the reasons and figures behind it.": "Rekomendasi ronda untuk setiap aplikasi, terdaftar maupun ditemukan, dengan alasan dan angka di baliknya.",
    "Decisions": "Keputusan",
    "The latest decision people recorded on each app.": "Keputusan terakhir yang dicatat untuk setiap aplikasi.",
    "Decision history": "Riwayat keputusan",
    "Every decision ever recorded, with who, when and why; never changed afterwards.": "Setiap keputusan yang pernah dicatat, dengan siapa, kapan dan mengapa; tidak pernah diubah sesudahnya.",
    "Declared inventory": "Inventaris terdaftar",
    "The apps the agencies declared (the SPBE catalogue or the province's spreadsheet).": "Aplikasi yang didaftarkan OPD (katalog SPBE atau spreadsheet provinsi).",
    "Servers that reported, by an agent or an SSH scan.": "Server yang melapor, lewat agen atau pemindaian SSH.",
    "Discovered apps": "Aplikasi ditemukan",
    "Every app found on every server, including those gone from their server's latest snapshot.": "Setiap aplikasi yang ditemukan di setiap server, termasuk yang tidak ada lagi di laporan terbaru servernya.",
    "Finding history": "Riwayat temuan",
    "Every finding ever opened, including those resolved.": "Setiap temuan yang pernah dibuka, termasuk yang sudah selesai.",
    "Hosts seen by network sweeps": "Host yang terlihat oleh pemindaian jaringan",
    "Addresses where `ronda scan network` found open ports.": "Alamat tempat `ronda scan network` menemukan port terbuka.",
    "Scans": "Pemindaian",
    "Network sweeps and SSH scans, with what each found or why it failed.": "Pemindaian jaringan dan SSH, dengan apa yang ditemukan atau mengapa gagal.",
    "Listening ports": "Port yang mendengar",
    "Processes listening on TCP ports, and the apps they serve.": "Proses yang mendengar di port TCP, dan aplikasi yang dilayaninya.",
    "Discovery errors": "Galat penemuan",
    "What a server's discovery could not read (a missing include, an unreadable log).": "Apa yang tidak dapat dibaca saat penemuan di server (include yang hilang, log yang tidak terbaca).",
    "Inventory changes": "Perubahan inventaris",
    "Every change an inventory import made, field by field.": "Setiap perubahan dari impor inventaris, per kolom.",
    "Reconcile runs": "Rekonsiliasi",
    "When the declared inventory was last held against what runs, and what changed.": "Kapan inventaris terdaftar terakhir dicocokkan dengan yang berjalan, dan apa yang berubah.",
    "Agents": "Agen",
    "Every agent that reported: how it proved who it is, and whether it is approved.": "Setiap agen yang melapor: bagaimana ia membuktikan identitasnya, dan apakah sudah disetujui.",
    "Report for decision makers": "Laporan untuk pengambil keputusan",
    "Sign in": "Masuk",
    "What runs on the province's servers, who still uses it, and what is safe to take down.": "Apa yang berjalan di server provinsi, siapa yang masih memakainya, dan apa yang aman dinonaktifkan.",
    "This console has no accounts: add them to web.toml.": "Konsol ini belum punya akun: tambahkan di web.toml.",
    "Too many failed attempts: wait a quarter of an hour, then try again.": "Terlalu banyak percobaan gagal: tunggu seperempat jam, lalu coba lagi.",
    "Wrong user name or password.": "Nama pengguna atau kata sandi salah.",
    "Sign in to record a decision.": "Masuk untuk mencatat keputusan.",
    "The reason is too long: keep it under 2,000 characters.": "Alasan terlalu panjang: paling banyak 2.000 karakter.",
    "Recorded: {decision} by {by}.": "Tercatat: {decision} oleh {by}.",
    "Candidates of one OPD": "Kandidat satu OPD",
    "Apps safe to take down whose owner (OPD) contains the words you type, largest declared annual cost first.": "Aplikasi yang aman dinonaktifkan dengan pemilik (OPD) yang memuat kata yang Anda ketik, biaya tahunan terbesar lebih dulu.",
    "Apps idle for N days": "Aplikasi tidak dipakai selama N hari",
    "Apps with no human visit for at least N days (90 when empty) whose access logs reach back that far, longest idle first, whatever their verdict.": "Aplikasi tanpa kunjungan manusia selama sedikitnya N hari (90 bila kosong) yang log aksesnya mencakup masa itu, yang paling lama tidak dipakai lebih dulu, apa pun rekomendasinya.",
    "Servers not reporting": "Server yang tidak melapor",
    "Servers whose agent or SSH scan has sent nothing for N hours (48 when empty): their apps get no verdict until they report again.": "Server yang agen atau pemindaian SSH-nya tidak mengirim apa pun selama N jam (48 bila kosong): aplikasinya tidak mendapat rekomendasi sampai melapor lagi.",
    "Apps running unsupported versions": "Aplikasi dengan versi yang tidak didukung",
    "Apps whose product release is past its end of support: upgrade them, or take them down when nobody uses them.": "Aplikasi yang rilis produknya sudah melewati akhir dukungan: perbarui, atau nonaktifkan bila tidak ada yang memakai.",
    "What changed since a date": "Apa yang berubah sejak suatu tanggal",
    "Findings opened and resolved, verdicts changed, decisions recorded, apps found or gone and inventory changes since a day (YYYY-MM-DD; the last 7 days when empty), newest first.": "Temuan yang dibuka dan selesai, rekomendasi yang berubah, keputusan yang dicatat, aplikasi yang ditemukan atau hilang dan perubahan inventaris sejak suatu hari (YYYY-MM-DD; 7 hari terakhir bila kosong), yang terbaru lebih dulu.",
    "Start here": "Mulai dari sini",
    "Questions": "Pertanyaan",
    "Every table, and your own SQL": "Semua tabel, dan SQL Anda sendiri",
    "Record a decision": "Catat keputusan",
    "Reason (what makes the decision defensible later)": "Alasan (yang membuat keputusan dapat dipertanggungjawabkan kelak)",
    "For consolidate: the app that takes over (id, HOST/APP_KEY or URL)": "Untuk gabungkan: aplikasi yang mengambil alih (id, HOST/APP_KEY atau URL)",
    "Record the decision": "Catat keputusan ini",
    "as {name}": "sebagai {name}",
    "Decisions are recorded by signed-in people; this console has no accounts (see web.toml), so it is read-only.": "Keputusan dicatat oleh orang yang sudah masuk; konsol ini belum punya akun (lihat web.toml), jadi hanya bisa dibaca.",
    "User name": "Nama pengguna",
    "Password": "Kata sandi",
    "Signing in lets you record decisions; what you decide carries your name.": "Dengan masuk, Anda dapat mencatat keputusan; keputusan Anda tercatat atas nama Anda.",
    "safe to take down": "aman dinonaktifkan",
    "review": "tinjau",
    "keep": "pertahankan",
    "insufficient evidence": "bukti belum cukup",
    "take down": "nonaktifkan",
    "consolidate": "gabungkan",
}
