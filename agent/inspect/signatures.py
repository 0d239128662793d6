"""Product signatures: one data file (`products.toml`) says how to recognise each product, and this engine
applies it. Adding a product is a row in the file (and a row in its table test), not code.

A row names the product and its evidence: version files (a path under the app's directory and a regex
whose capture groups, joined with dots, are the version), marker files (that identify the product without
a version), the names of its OS packages (dpkg, rpm) and of its manifest packages (composer, npm, maven,
pypi), and its support cycles with their end-of-support dates. The file is read once and checked whole:
a bad row raises SignatureError naming the row and the problem.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources

from ronda.agent.inspect.files import Files
from ronda.errors import ConfigError

KINDS = ("app", "framework", "server")  # checked in this order: products before what they are built with
ECOSYSTEMS = ("dpkg", "rpm", "composer", "npm", "maven", "pypi")
LANGUAGES = ("php", "javascript", "java", "python", "ruby", "go", "perl", "c", "html", "")
_NAME = re.compile(r"[a-z0-9][a-z0-9.+-]*")
_CYCLE = re.compile(r"\d+(\.\d+)*")
_KEYS = {"name", "title", "kind", "language", "files", "markers", "support", "package_version", *ECOSYSTEMS}
_FILE_KEYS = {"path", "regex", "listing"}
_SUPPORT_KEYS = {"source", "taken", "releases", "note"}


class SignatureError(ConfigError):
    """The data file holds a row the engine cannot use."""


@dataclass(frozen=True)
class VersionFile:
    path: str  # relative to the app's directory; "" with `listing` means the directory itself
    pattern: re.Pattern[str]
    listing: bool = False  # match the names of the entries of `path` instead of its content


@dataclass(frozen=True)
class Release:
    cycle: str
    end: date | None  # None: no end of support announced when the data was taken
    latest: str = ""


@dataclass(frozen=True)
class Support:
    source: str
    taken: date
    releases: tuple[Release, ...]
    note: str = ""


@dataclass(frozen=True)
class Product:
    name: str
    title: str
    kind: str
    language: str
    files: tuple[VersionFile, ...] = ()
    markers: tuple[str, ...] = ()
    packages: dict[str, tuple[str, ...]] = field(default_factory=dict)  # ecosystem -> names
    support: Support | None = None
    trust_package_version: bool = True  # False: the distribution renumbers it; keep the product's own


@dataclass(frozen=True, eq=False)
class Catalogue:
    products: tuple[Product, ...]
    by_name: dict[str, Product]
    by_package: dict[tuple[str, str], Product]  # (ecosystem, package name) -> product

    def product_of(self, ecosystem: str, package: str) -> Product | None:
        """The product a package name means. A Maven name without its group (":spring-boot", all a
        bundled jar's file name tells) matches by artifact id."""
        if ecosystem == "maven" and package.startswith(":"):
            return self.by_artifact.get(package[1:].lower())
        return self.by_package.get((ecosystem, package.lower()))

    @property
    def by_artifact(self) -> dict[str, Product]:
        return _artifacts(self)


@cache
def catalogue() -> Catalogue:
    """The products of ronda's own data file, loaded and checked once."""
    text = resources.files("ronda.agent.inspect").joinpath("products.toml").read_text("utf-8")
    return load(text)


@cache
def _artifacts(c: Catalogue) -> dict[str, Product]:
    return {n.split(":", 1)[1]: p for (e, n), p in c.by_package.items() if e == "maven"}


def load(text: str) -> Catalogue:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SignatureError(f"products.toml is not valid TOML: {e}") from None
    rows = data.get("product")
    if not isinstance(rows, list) or not rows:
        raise SignatureError("products.toml has no [[product]] rows")
    products = [_product(row, i) for i, row in enumerate(rows)]
    by_name: dict[str, Product] = {}
    by_package: dict[tuple[str, str], Product] = {}
    for p in products:
        if p.name in by_name:
            raise SignatureError(f"product {p.name!r} appears twice")
        by_name[p.name] = p
        for ecosystem, names in p.packages.items():
            for n in names:
                key = (ecosystem, n.lower())
                if key in by_package:
                    raise SignatureError(
                        f"{ecosystem} package {n!r} is claimed by {by_package[key].name} and {p.name}"
                    )
                by_package[key] = p
    ordered = tuple(sorted(products, key=lambda p: KINDS.index(p.kind)))  # stable: file order within a kind
    return Catalogue(ordered, by_name, by_package)


def _product(row: object, i: int) -> Product:
    if not isinstance(row, dict):
        raise SignatureError(f"product row {i + 1} is not a table")
    where = f"product {row.get('name', f'row {i + 1}')!r}"
    unknown = set(row) - _KEYS
    if unknown:
        raise SignatureError(f"{where}: unknown keys {sorted(unknown)}")
    name = row.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SignatureError(f"{where}: name must be lower-case letters, digits and .+-")
    kind = row.get("kind", "app")
    if kind not in KINDS:
        raise SignatureError(f"{where}: kind must be one of {KINDS}")
    language = row.get("language", "")
    if language not in LANGUAGES:
        raise SignatureError(f"{where}: language {language!r} is not one of {LANGUAGES}")
    markers = tuple(_relative(m, where) for m in _list(row, "markers", where, str))
    files = tuple(_version_file(f, where, bool(markers)) for f in _list(row, "files", where, dict))
    packages = {e: tuple(_list(row, e, where, str)) for e in ECOSYSTEMS if row.get(e)}
    if not (files or markers or packages):
        raise SignatureError(f"{where}: no evidence (files, markers or package names)")
    if row.get("package_version", "use") not in ("use", "ignore"):
        raise SignatureError(f"{where}: package_version must be use or ignore")
    support = _support(row["support"], where) if "support" in row else None
    title = str(row.get("title") or name)
    trust = row.get("package_version", "use") == "use"
    return Product(name, title, kind, language, files, markers, packages, support, trust)


def _list(row: dict, key: str, where: str, item: type) -> list:
    value = row.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
        raise SignatureError(f"{where}: {key} must be a list of {item.__name__}")
    return value


def _relative(path: object, where: str, absolute_ok: bool = False) -> str:
    if not isinstance(path, str) or ".." in path.split("/") or (path.startswith("/") and not absolute_ok):
        raise SignatureError(f"{where}: {path!r} must be a path relative to the app's directory")
    return path


def _version_file(entry: dict, where: str, has_markers: bool) -> VersionFile:
    unknown = set(entry) - _FILE_KEYS
    if unknown:
        raise SignatureError(f"{where}: unknown keys {sorted(unknown)} in files")
    listing = "listing" in entry
    source = entry.get("listing") if listing else entry.get("regex")
    if not isinstance(source, str):
        raise SignatureError(f"{where}: each files entry needs a regex (or a listing regex)")
    try:
        pattern = re.compile(source, re.M)
    except re.error as e:
        raise SignatureError(f"{where}: bad regex {source!r}: {e}") from None
    if pattern.groups < 1:
        raise SignatureError(f"{where}: regex {source!r} has no group to capture the version")
    # an absolute path (a framework the distribution installs) could match any app: only behind markers
    path = _relative(entry.get("path", ""), where, absolute_ok=has_markers and not listing)
    if not path and not listing:
        raise SignatureError(f"{where}: a files entry with a regex needs a path")
    return VersionFile(path, pattern, listing)


def _support(value: object, where: str) -> Support:
    if not isinstance(value, dict) or set(value) - _SUPPORT_KEYS:
        raise SignatureError(f"{where}: support takes only {sorted(_SUPPORT_KEYS)}")
    source, taken, releases = value.get("source"), value.get("taken"), value.get("releases")
    if not isinstance(source, str) or not source.startswith("https://"):
        raise SignatureError(f"{where}: support.source must be the https:// address the dates come from")
    if not isinstance(taken, date):
        raise SignatureError(f"{where}: support.taken must be the date the data was taken (YYYY-MM-DD)")
    if not isinstance(releases, dict) or not releases:
        raise SignatureError(f"{where}: support.releases must map release cycles to end dates")
    out = []
    for cycle, end in releases.items():
        latest = ""
        if isinstance(end, dict):
            latest, end = str(end.get("latest", "")), end.get("end")
        if not _CYCLE.fullmatch(cycle):
            raise SignatureError(f"{where}: release cycle {cycle!r} is not a version prefix like 6.4")
        if end is not False and not isinstance(end, date):
            raise SignatureError(f"{where}: cycle {cycle}: end must be a date or false (none announced)")
        if latest and not latest.startswith(cycle):
            raise SignatureError(f"{where}: cycle {cycle}: latest {latest} is not of that cycle")
        out.append(Release(cycle, end or None, latest))
    return Support(source, taken, tuple(out), str(value.get("note", "")))


@dataclass(frozen=True)
class Match:
    product: Product
    version: str
    evidence: str  # the file the version (or the product) was read from
    # A version file outside the app (a framework the distribution installs): what to say when the
    # app's own manifests do not name a version either.
    shared: tuple[str, str] | None = None  # (version, file)


def match_files(product: Product, f: Files, names: set[str] | None = None) -> Match | None:
    """The product and its version from the version files under `f`'s directory; with markers, only when
    they all exist (and then the product without a version when no version file says more).

    `names`, the entries of the directory when the caller listed it, spares a look at every path whose
    first component is not there (over SSH each look is a round trip)."""

    def absent(rel: str) -> bool:
        return names is not None and not rel.startswith("/") and rel.split("/", 1)[0] not in names

    if any(absent(m) for m in product.markers) or not all(f.kind(m) for m in product.markers):
        return None
    shared = None
    for vf in product.files:
        if vf.path and absent(vf.path):
            continue
        if vf.listing:
            for n in f.listdir(vf.path, limit=500):
                m = vf.pattern.fullmatch(n)
                if m:
                    return Match(product, _joined(m), f.path(posixpath.join(vf.path, n)))
            continue
        text = f.text(vf.path)  # an absolute path stays absolute (posixpath.join)
        m = vf.pattern.search(text) if text is not None else None
        if m and _joined(m):
            if not vf.path.startswith("/"):
                return Match(product, _joined(m), f.path(vf.path))
            shared = shared or (_joined(m), vf.path)
    if product.markers:
        return Match(product, "", f.path(product.markers[0]), shared)
    return None


def _joined(m: re.Match[str]) -> str:
    return ".".join(g.strip() for g in m.groups() if g and g.strip())
