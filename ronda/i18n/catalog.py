"""The message catalogs: extract what the code asks to be translated, merge it into each
language's .po file, compile .mo files, and say what is missing.

    python scripts/i18n.py            # after changing a message: update ronda.pot, every .po, every .mo
    python scripts/i18n.py --check    # exit 1 if a message lacks a translation or a file is stale

A message is any string literal passed to `_()`, `N_()` or `ngettext()` in the ronda package (the
agent aside: its output is for sysadmins and stays English).
"""

from __future__ import annotations

import ast
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from ronda import __version__
from ronda.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

PACKAGE = Path(__file__).resolve().parent.parent
SKIP = {"wire", "agent", "__pycache__", "sample_fleet"}
KEYWORDS = {"_": 1, "N_": 1, "gettext": 1, "ngettext": 2}  # name -> how many leading string arguments
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
HEADER = {
    "project": "ronda",
    "version": __version__,
    "copyright_holder": "the ronda authors",
    "last_translator": "the ronda authors",
}
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def _sources() -> Iterator[Path]:
    for directory, dirs, files in os.walk(PACKAGE, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in SKIP)
        yield from (Path(directory) / f for f in sorted(files) if f.endswith(".py"))


def _calls(source: bytes) -> Iterator[tuple[int, str | tuple[str, ...]]]:
    """(line, message) of each `_("...")`, `N_("...")`, `x._("...")`, `ngettext("...", "...", n)` in a
    module, f-strings included (Python's own parser reads them, where a tokenizer would not)."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        count = KEYWORDS.get(name)
        args = node.args[:count] if count else []
        literal = all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args)
        if count and len(args) == count and literal:
            strings = tuple(a.value for a in args)  # type: ignore[attr-defined]
            yield node.lineno, strings[0] if count == 1 else strings


def extract_messages() -> Catalog:
    """Every message the code asks for, with where it is asked."""
    catalog = Catalog(domain=DOMAIN, charset="utf-8")
    for name, value in HEADER.items():
        setattr(catalog, name, value)
    for path in _sources():
        where = str(path.relative_to(PACKAGE.parent))
        for line, message in sorted(_calls(path.read_bytes()), key=lambda m: m[0]):
            catalog.add(message, locations=[(where, line)])
    return catalog


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def _po_bytes(catalog: Catalog, **options: bool) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, **options)
    return out.getvalue()


def _mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def _texts(value: object) -> tuple[object, ...]:
    """A message's id or translation as a tuple: plural forms come as several."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def problems(language: str, template: Catalog | None = None) -> list[str]:
    """What keeps `language` from being complete: each message the code asks for that has no
    translation (or a fuzzy one, or one whose {placeholders} differ), and a stale .mo."""
    template = template or extract_messages()
    catalog = read_catalog(language)
    out = []
    for message in template:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        found = catalog.get(message.id)
        where = ", ".join(f"{p}:{n}" for p, n in message.locations[:2])
        if found is None or not found.string or (isinstance(found.string, tuple) and not all(found.string)):
            out.append(f"{language}: no translation for {key!r} ({where})")
        elif found.fuzzy:
            out.append(f"{language}: fuzzy translation for {key!r} ({where})")
        else:
            wanted = set().union(*(_placeholders(str(i)) for i in _texts(message.id)))
            if any(_placeholders(str(s)) - wanted for s in _texts(found.string)):
                out.append(f"{language}: {key!r} is translated with placeholders the code does not give")
    mo = po_path(language).with_suffix(".mo")
    if not mo.exists() or mo.read_bytes() != _mo_bytes(catalog):
        out.append(f"{language}: {mo.name} is older than {po_path(language).name}: run scripts/i18n.py")
    return out


def update() -> list[Path]:
    """Write ronda.pot from the code, merge it into every language's .po, compile each .mo."""
    template = extract_messages()
    written = []
    TEMPLATE.write_bytes(_po_bytes(template))
    written.append(TEMPLATE)
    for language in LANGUAGES:
        if language == "en":
            continue
        path = po_path(language)
        catalog = read_catalog(language) if path.exists() else Catalog(locale=language, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        for name, value in HEADER.items():
            setattr(catalog, name, value)
        catalog.language_team = f"{LANGUAGES[language]} (ronda)"
        catalog.fuzzy = False  # the header is kept up to date here, not by hand
        catalog.obsolete.clear()  # a message the code no longer asks for goes (git keeps its history)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_po_bytes(catalog))
        path.with_suffix(".mo").write_bytes(_mo_bytes(catalog))
        written += [path, path.with_suffix(".mo")]
    return written
