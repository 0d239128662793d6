"""Languages, time zones and locale-aware formatting for everything a person reads.

    lang = ronda.i18n.get("id", "WITA")
    lang._("Safe to take down")            -> "Aman dinonaktifkan"
    lang.datetime("2026-12-07T02:07:00Z")  -> "7 Desember 2026 pukul 10.07 WITA"
    lang.money(50_000_000)                 -> "Rp 50.000.000"

Messages live in gettext catalogs under `locale/<lang>/LC_MESSAGES/ronda.po`
(compiled to `ronda.mo` beside it by `python scripts/i18n.py`); dates, numbers
and money come from Babel's CLDR data. The CLI, the HTML report and the web
console all take their words from here.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_name
from babel.numbers import format_currency, format_decimal

from ronda.errors import ConfigError

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "ronda"
LANGUAGES = {"en": "English", "id": "Bahasa Indonesia"}
DEFAULT_LANGUAGE = "en"

# The zones of Indonesia by the names people use; these names are said in every language.
ZONE_NAMES = {"WIB": "Asia/Jakarta", "WITA": "Asia/Makassar", "WIT": "Asia/Jayapura"}
_ABBREVIATION = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Ujung_Pandang": "WITA",
    "Asia/Jayapura": "WIT",
}


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; it is translated where it is shown."""
    return message


class LanguageError(ConfigError):
    """A language or time zone ronda does not know (--lang, --tz, $RONDA_LANG, $RONDA_TZ)."""


def _language_of(value: str) -> str:
    """`id_ID.UTF-8`, `id-ID`, `in` (an old code for Indonesian) -> `id`."""
    code = value.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return "id" if code == "in" else code


def choose_language(explicit: str | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """--lang, else $RONDA_LANG, else the locale ($LC_ALL, $LC_MESSAGES, $LANG), else English.

    A language given explicitly that ronda does not speak is an error; one inherited from the
    locale falls back to English."""
    for value in (explicit, environ.get("RONDA_LANG")):
        if value:
            code = _language_of(value)
            if code not in LANGUAGES:
                raise LanguageError(
                    f"language {value!r} is not available; ronda speaks "
                    + ", ".join(f"{k} ({v})" for k, v in LANGUAGES.items())
                    + " (add one: see the README, 'Languages')"
                )
            return code
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            code = _language_of(value)
            return code if code in LANGUAGES else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def _host_zone(environ: Mapping[str, str]) -> str:
    tz = environ.get("TZ", "").lstrip(":")
    if tz:
        return tz
    try:
        name = Path("/etc/timezone").read_text().strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return "UTC"
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "UTC"


def choose_timezone(
    explicit: str | None = None, environ: Mapping[str, str] = os.environ, configured: str | None = None
) -> ZoneInfo:
    """--tz (WIB, WITA, WIT, or a tz database name such as Asia/Makassar), else $RONDA_TZ, else
    `configured` (the collector config's `timezone`), else the host's zone ($TZ, /etc/timezone,
    /etc/localtime), else UTC."""
    value = explicit or environ.get("RONDA_TZ") or configured or ""
    strict = bool(value)
    value = value or _host_zone(environ)
    name = ZONE_NAMES.get(value.strip().upper(), value.strip())
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if strict:
            raise LanguageError(
                f"unknown time zone {value!r}: use WIB, WITA, WIT, UTC or a name such as Asia/Makassar"
            ) from None
        return ZoneInfo("UTC")


def _moment(value: str | date | datetime) -> datetime | date:
    """A stored UTC timestamp (`2026-12-07T03:07:26Z`), a day (`2026-12-07`), or a date/datetime."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


@dataclass
class Lang:
    """One language in one time zone: its messages and its ways of writing dates, numbers and money."""

    code: str
    tz: tzinfo
    translations: gettext.NullTranslations
    locale: Locale = field(init=False)
    # Messages asked for that the catalog lacks (tests turn this on to find untranslated labels).
    missing: set[str] | None = None

    def __post_init__(self) -> None:
        self.locale = Locale.parse(self.code)

    def _(self, message: str) -> str:
        if self.missing is not None and self.code != DEFAULT_LANGUAGE and not self._has(message):
            self.missing.add(message)
        return self.translations.gettext(message)

    gettext = _

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if self.missing is not None and self.code != DEFAULT_LANGUAGE and not self._has((singular, 0)):
            self.missing.add(singular)
        return self.translations.ngettext(singular, plural, n)

    def _has(self, key: str | tuple[str, int]) -> bool:
        """Whether the catalog translates `key` (a translation may be the same word: `Server`, `NIP`)."""
        return key in getattr(self.translations, "_catalog", {})

    @property
    def zone(self) -> str:
        """The time zone as people say it: WIB, WITA, WIT, else its short name (UTC, GMT+09:00)."""
        key = getattr(self.tz, "key", "")
        if key in _ABBREVIATION:
            return _ABBREVIATION[key]
        if key in ("UTC", "Etc/UTC", "Etc/Universal", "Zulu"):
            return "UTC"
        return get_timezone_name(self.tz, "short", locale=self.locale, zone_variant="generic")

    def local(self, value: str | date | datetime) -> datetime | date:
        moment = _moment(value)
        return moment.astimezone(self.tz) if isinstance(moment, datetime) else moment

    def date(self, value: str | date | datetime | None, style: str = "long", empty: str = "-") -> str:
        """`7 Desember 2026` (long) or `7 Des 2026` (medium), in this time zone."""
        if value is None or value == "":
            return empty
        return format_date(self.local(value), style, locale=self.locale)

    def time(self, value: str | datetime) -> str:
        moment = self.local(value)
        if not isinstance(moment, datetime):
            raise ValueError(f"{value!r} is a day, not a time")
        return f"{format_time(moment, 'short', locale=self.locale)} {self.zone}"

    def datetime(self, value: str | datetime | None, style: str = "long", empty: str = "-") -> str:
        """`7 Desember 2026 pukul 10.07 WITA`; a bare day is written as a date."""
        if value is None or value == "":
            return empty
        moment = self.local(value)
        if not isinstance(moment, datetime):
            return self.date(moment, style)
        return self._("{date} at {time}").format(date=self.date(moment, style), time=self.time(moment))

    def number(self, value: float | int | None, empty: str = "-") -> str:
        return empty if value is None else format_decimal(value, locale=self.locale)

    def money(self, value: int | float | None, currency: str = "IDR", empty: str = "-") -> str:
        """`Rp 50.000.000` (id), `IDR 50,000,000` (en): whole rupiah, the symbol apart."""
        if value is None:
            return empty
        return format_currency(
            value, currency, format="¤\u00a0#,##0", currency_digits=False, locale=self.locale
        ).replace("\u00a0", " ")

    def bytes(self, value: int | None, empty: str = "-") -> str:
        if not value:
            return empty
        size, unit = float(value), "B"
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if size < 1024 or unit == "TiB":
                break
            size /= 1024
        return f"{format_decimal(round(size, 1 if size < 10 else 0), locale=self.locale)} {unit}"

    @property
    def list_separator(self) -> str:
        """What a spreadsheet in this locale splits CSV on: `;` where the decimal mark is a comma."""
        return ";" if self.locale.number_symbols["latn"]["decimal"] == "," else ","


@lru_cache(maxsize=16)
def _translations(code: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)


def get(
    language: str | None = None,
    timezone: str | None = None,
    environ: Mapping[str, str] = os.environ,
    configured_timezone: str | None = None,
) -> Lang:
    """The language and time zone to speak in: explicit choices first, then the environment, then
    the config file."""
    code = choose_language(language, environ)
    return Lang(code, choose_timezone(timezone, environ, configured_timezone), _translations(code))


__all__ = [
    "LANGUAGES",
    "ZONE_NAMES",
    "Lang",
    "LanguageError",
    "N_",
    "choose_language",
    "choose_timezone",
    "get",
]
