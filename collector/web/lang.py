"""The console's words in the reader's language: English messages, translated by a catalog.

The subset of the language API the console uses (`get`, `Lang._`, dates and money), with the
console's own Indonesian catalog.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

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


# The console's Indonesian catalog: English message -> translation.
INDONESIAN: dict[str, str] = json.loads((Path(__file__).parent / "id.json").read_text(encoding="utf-8"))
