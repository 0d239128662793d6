"""Packages an app declares or bundles, from the manifests its own tooling wrote: composer
(`vendor/composer/installed.json` v1 and v2, `composer.lock`), npm (`package.json` with the installed
package or `package-lock.json`, `yarn.lock`, `pnpm-lock.yaml`: top-level packages only), Java
(`META-INF/MANIFEST.MF`, `META-INF/maven/**/pom.properties` and bundled jars, in a directory or inside
a .war/.jar), and Python (`*.dist-info/METADATA`, or a distribution's `*.egg-info/PKG-INFO`, in the
app's virtual environment; `requirements.txt`).

Every read is bounded; a manifest that does not parse is skipped (and reported through Files).
"""

from __future__ import annotations

import json
import posixpath
import re
import zipfile
from dataclasses import dataclass

from ronda.agent.host import HostError
from ronda.agent.inspect.files import Files, Problem, reason
from ronda.agent.inspect.literals import manifest
from ronda.agent.inspect.signatures import Product, catalogue

MAX_MANIFEST = 8 * 1024 * 1024
MAX_MEMBER = 256 * 1024
MAX_MEMBERS = 20_000
VENVS = ("venv", ".venv", "env", "virtualenv")
_JAR = re.compile(r"(?P<name>.+?)-(?P<version>\d[\w.]*?)(?:\.RELEASE|\.Final)?\.jar")
SERVER_INFO = "org/apache/catalina/util/ServerInfo.properties"
# MANIFEST.MF headers that name a product outright
_HEADERS = {
    "Spring-Boot-Version": "org.springframework.boot:spring-boot",
    "Jenkins-Version": "org.jenkins-ci.main:jenkins-war",
}


@dataclass(frozen=True)
class Component:
    ecosystem: str  # composer, npm, maven, pypi
    name: str  # maven: groupId:artifactId, or :artifactId when only a jar's file name tells
    version: str
    evidence: str


def components(f: Files, names: set[str] | None = None) -> list[Component]:
    """Everything the manifests under `f`'s directory name, in the order they were found. With `names`
    (the directory's entries), only the kinds of manifest whose files are there are looked for."""
    if names is None:
        names = set(f.listdir("", limit=5000))
    found = []
    if names & {"vendor", "composer.lock"}:
        found += composer(f)
    if "package.json" in names:
        found += npm(f)
    if names & {"META-INF", "WEB-INF", "BOOT-INF", "lib"}:
        found += java_dir(f)
    if names & {*VENVS, "requirements.txt"}:
        found += python(f)
    return found


def best_product(listed: list[Component], only: Product | None = None) -> tuple[Product, Component] | None:
    """The product the components name that comes first in the data file (apps before frameworks),
    with a component that states its version when there is one; `only` limits it to that product."""
    products = catalogue().products
    best = None
    for c in listed:
        product = catalogue().product_of(c.ecosystem, c.name)
        if product is None or (only is not None and product is not only):
            continue
        rank = (products.index(product), not c.version)
        if best is None or rank < best[0]:
            best = (rank, product, c)
    return (best[1], best[2]) if best else None


def composer(f: Files) -> list[Component]:
    for rel in ("vendor/composer/installed.json", "composer.lock"):
        data = _json(f, rel)
        if data is None:
            continue
        if isinstance(data, list):  # v1 is a bare list
            entries = data
        elif isinstance(data, dict):
            entries = data.get("packages") or []
        else:
            continue
        if isinstance(data, dict) and rel == "composer.lock":
            entries = entries + (data.get("packages-dev") or [])
        found = [
            Component("composer", str(e["name"]).lower(), _v(e.get("version")), f.path(rel))
            for e in entries
            if isinstance(e, dict) and isinstance(e.get("name"), str)
        ]
        if found:
            return found
    return []


def npm(f: Files) -> list[Component]:
    package = _json(f, "package.json", limit=1024 * 1024)
    if not isinstance(package, dict):
        return []
    deps = {**_dict(package.get("devDependencies")), **_dict(package.get("dependencies"))}
    locks: dict[str, object] = {}
    out = []
    for dep, spec in deps.items():
        installed = _json(f, f"node_modules/{dep}/package.json", limit=256 * 1024)
        if isinstance(installed, dict) and installed.get("version"):
            out.append(
                Component("npm", dep, str(installed["version"]), f.path(f"node_modules/{dep}/package.json"))
            )
            continue
        version, evidence = _locked(f, dep, locks)
        if not version:
            exact = str(spec).lstrip("^~=v")
            version, evidence = (
                (exact, "package.json") if re.fullmatch(r"\d+(\.\d+){0,2}", exact) else ("", "")
            )
        out.append(Component("npm", dep, version, f.path(evidence or "package.json")))
    return out


def _locked(f: Files, dep: str, cache: dict[str, object]) -> tuple[str, str]:
    """The version a lock file pins for top-level `dep`, and that lock file."""
    if "package-lock.json" not in cache:
        cache["package-lock.json"] = _json(f, "package-lock.json")
    lock = cache["package-lock.json"]
    if isinstance(lock, dict):
        entry = _dict(lock.get("packages")).get(f"node_modules/{dep}") or _dict(lock.get("dependencies")).get(
            dep
        )
        if isinstance(entry, dict) and entry.get("version"):
            return str(entry["version"]), "package-lock.json"
    for rel, pattern in (
        ("yarn.lock", rf'^"?{re.escape(dep)}@[^\n]*:\n(?:[ \t]+[^\n]*\n)*?[ \t]+version:?\s+"?([^"\s]+)'),
        (
            "pnpm-lock.yaml",
            rf"^\s+'?{re.escape(dep)}'?:\s*\n\s+specifier:[^\n]*\n\s+version:\s+'?([\d][^'\s(]*)",
        ),
        ("pnpm-lock.yaml", rf"^\s+'?{re.escape(dep)}'?:\s+'?(\d[^'\s(]*)"),
    ):
        if rel not in cache:
            cache[rel] = f.text(rel, limit=MAX_MANIFEST)
        text = cache[rel]
        m = re.search(pattern, text, re.M) if isinstance(text, str) else None
        if m:
            return m.group(1), rel
    return "", ""


def java_dir(f: Files) -> list[Component]:
    """An exploded web app or an unpacked distribution: its manifest, Maven properties and jars."""
    out = []
    text = f.text("META-INF/MANIFEST.MF", limit=64 * 1024)
    if text is not None:
        out += from_headers(manifest(text), f.path("META-INF/MANIFEST.MF"))
    for path in _glob(f, "META-INF/maven/*/*/pom.properties"):
        rel = posixpath.relpath(path, f.base)
        out += from_pom(f.text(rel, limit=64 * 1024) or "", path)
    for lib in ("WEB-INF/lib", "BOOT-INF/lib", "lib"):
        out += from_jar_names(f.listdir(lib, limit=2000), f.path(lib))
    return out


def java_archive(f: Files) -> list[Component]:
    """A .war or .jar file: the same evidence read from inside it, bounded."""
    path = f.base
    try:
        with f.host.open_binary(path) as raw, zipfile.ZipFile(raw) as archive:
            names = archive.namelist()[:MAX_MEMBERS]
            out: list[Component] = []
            for name in names:
                if name == "META-INF/MANIFEST.MF":
                    out += from_headers(manifest(_member(archive, name)), f"{path}!/{name}")
                elif name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                    out += from_pom(_member(archive, name), f"{path}!/{name}")
                elif name == SERVER_INFO:
                    out += from_server_info(_member(archive, name), f"{path}!/{name}")
            for lib in ("WEB-INF/lib/", "BOOT-INF/lib/"):
                jars = [posixpath.basename(n) for n in names if n.startswith(lib) and n.endswith(".jar")]
                out += from_jar_names(jars, f"{path}!/{lib.rstrip('/')}")
            return out
    except HostError as e:
        f.problems.append(Problem(path, reason(e, path)))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        f.problems.append(Problem(path, f"not a readable Java archive ({type(e).__name__})"))
    return []


def from_headers(fields: dict[str, str], evidence: str) -> list[Component]:
    return [
        Component("maven", name, fields[header], evidence)
        for header, name in _HEADERS.items()
        if fields.get(header)
    ]


def from_pom(text: str, evidence: str) -> list[Component]:
    props = _properties(text)
    if props.get("groupId") and props.get("artifactId") and props.get("version"):
        return [Component("maven", f"{props['groupId']}:{props['artifactId']}", props["version"], evidence)]
    return []


def from_server_info(text: str, evidence: str) -> list[Component]:
    """Tomcat's own version, from catalina.jar: server.info=Apache Tomcat/10.1.60 (Debian)."""
    m = re.search(r"/(\d[\w.-]*)", _properties(text).get("server.info", ""))
    return [Component("maven", "org.apache.tomcat:tomcat", m.group(1), evidence)] if m else []


def from_jar_names(names: list[str], where: str) -> list[Component]:
    out = []
    for n in names:
        m = _JAR.fullmatch(n)
        if m:
            out.append(Component("maven", f":{m['name']}", m["version"], f"{where}/{n}"))
    return out


def python(f: Files) -> list[Component]:
    out = []
    metadata = [
        path
        for venv in VENVS
        for pattern in ("*.dist-info/METADATA", "*.egg-info/PKG-INFO")  # wheels; distributions' eggs
        for path in _glob(f, f"{venv}/lib/python3*/site-packages/{pattern}")
    ]
    for meta in metadata:
        text = f.text(posixpath.relpath(meta, f.base), limit=16 * 1024) or ""
        name = re.search(r"^Name:\s*(\S+)", text, re.M)
        version = re.search(r"^Version:\s*(\S+)", text, re.M)
        if name and version:
            out.append(Component("pypi", _pep503(name.group(1)), version.group(1), meta))
    requirements = f.text("requirements.txt", limit=256 * 1024)
    for m in re.finditer(
        r"^\s*([A-Za-z0-9][\w.-]*)\s*(?:\[[^\]]*\])?\s*==\s*([\w.]+)", requirements or "", re.M
    ):
        out.append(Component("pypi", _pep503(m.group(1)), m.group(2), f.path("requirements.txt")))
    return out


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _glob(f: Files, pattern: str) -> list[str]:
    try:
        return sorted(f.host.glob(posixpath.join(f.base, pattern)))[:200]
    except HostError:
        return []


def _member(archive: zipfile.ZipFile, name: str) -> str:
    with archive.open(name) as member:
        return member.read(MAX_MEMBER).decode("utf-8", "replace")


def _properties(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def _json(f: Files, rel: str, limit: int = MAX_MANIFEST) -> object:
    text = f.text(rel, limit=limit)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        f.problems.append(Problem(f.path(rel), "not valid JSON"))
        return None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _v(version: object) -> str:
    return str(version or "").lstrip("v")
