"""What an app root is: product or framework and its exact version, from evidence on disk.

The product signatures (products.toml) are tried first, then the manifests the app's own tooling wrote
(composer, npm, Maven, Python), then the few probes the data cannot express. Each checks a handful of
known paths (never walks a tree) and returns a Framework whose evidence_file is the file the version (or
the product) was read from. Which OS package owns the app is added by `identify`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from ronda.agent.host import Host
from ronda.agent.inspect.files import Files
from ronda.agent.inspect.java import from_manifest, war_fingerprint
from ronda.agent.inspect.literals import manifest, php_const, php_define, php_var
from ronda.agent.inspect.manifests import best_product, components
from ronda.agent.inspect.signatures import catalogue, match_files
from ronda.model import Framework

# Front-controller folders: the framework's files live one or two levels up.
FRONT_DIRS = ("public", "web", "webroot", "public_html", "htdocs", "html", "www")
_YII_APP_DIRS = ("frontend", "backend", "api")

Probe = Callable[[Files], Framework | None]


def _fw(name: str, version: str | None, evidence: str, language: str = "php", kind: str = "") -> Framework:
    return Framework(
        name=name,
        version=(version or "").strip(),
        evidence_file=evidence,
        language=language,
        evidence_kind=kind,
    )


def from_signatures(f: Files) -> Framework | None:
    """The first product of the data file whose files match; its version from the manifests when the
    files name the product without one (a Laravel app with `artisan` and only a composer.lock)."""
    names = set(f.listdir("", limit=5000))
    found = next((m for p in catalogue().products if (m := match_files(p, f, names))), None)
    if found and found.version:
        return _fw(found.product.name, found.version, found.evidence, found.product.language, "file")
    best = best_product(components(f, names), found.product if found else None)
    if best and (best[1].version or not found):
        product, c = best
        return _fw(product.name, c.version, c.evidence, product.language, "manifest")
    if found:
        version, evidence = found.shared or ("", found.evidence)
        return _fw(found.product.name, version, evidence, found.product.language, "file")
    return None


def codeigniter_moved_system(f: Files) -> Framework | None:
    """CodeIgniter 2 and 3 let index.php move the system folder ($system_path)."""
    index = f.text("index.php", limit=64 * 1024)
    if index is None:
        return None
    system = (php_var(index, "system_path") or "system").rstrip("/")
    rel = posixpath.join(system, "core/CodeIgniter.php")
    text = f.text(rel)
    version = (php_const(text, "CI_VERSION") or php_define(text, "CI_VERSION")) if text else None
    return _fw("codeigniter", version, f.path(rel), "php", "file") if version else None


# Yii 1.1's index.php names the framework it boots: `$yii=dirname(__FILE__).'/../yii/framework/yii.php';`
# (what `yiic webapp` writes), `__DIR__ . '/...'`, or an absolute path.
_YII_BOOTSTRAP = re.compile(
    r"""\$yii\s*=\s*(?P<here>(?:dirname\s*\(\s*__FILE__\s*\)|__DIR__)\s*\.\s*)?"""
    r"""(['"])(?P<path>[^'"]+\.php)\2"""
)


def yii1_framework_elsewhere(f: Files) -> Framework | None:
    """Yii 1.1 with its framework outside the app root: a release unpacked beside the apps (often shared
    by several), its version read from that framework's YiiBase.php as products.toml reads it."""
    index = f.text("index.php", limit=64 * 1024)
    found = _YII_BOOTSTRAP.search(index) if index else None
    if not found:
        return None
    bootstrap = found.group("path").lstrip("/") if found.group("here") else found.group("path")
    rel = posixpath.join(posixpath.dirname(bootstrap), "YiiBase.php")
    text = f.text(rel)
    yii = catalogue().by_name["yii"]
    pattern = next(vf.pattern for vf in yii.files if vf.path == "framework/YiiBase.php")
    m = pattern.search(text) if text else None
    return _fw("yii", m.group(1), f.path(rel), "php", "file") if m else None


def java_webapp(f: Files) -> Framework | None:
    text = f.text("META-INF/MANIFEST.MF", limit=64 * 1024)
    if text is None:
        return (
            _fw("java-webapp", "", f.path("WEB-INF/web.xml"), "java")
            if f.is_file("WEB-INF/web.xml")
            else None
        )
    return from_manifest(manifest(text), f.path("META-INF/MANIFEST.MF"))


def node(f: Files) -> Framework | None:
    """An app with a package.json but no framework ronda knows."""
    return _fw("node", "", f.path("package.json"), "javascript") if f.is_file("package.json") else None


# After the data file: what it cannot express.
PROBES: tuple[Probe, ...] = (
    from_signatures,
    codeigniter_moved_system,
    yii1_framework_elsewhere,
    java_webapp,
    node,
)
# The project directories above a front-controller folder hold no Java or Node app of their own.
_PROJECT_PROBES: tuple[Probe, ...] = (from_signatures, codeigniter_moved_system)


def project_dirs(root: str) -> list[str]:
    """The root, and for a front-controller folder the project directories above it."""
    dirs = [root]
    parent = posixpath.dirname(root.rstrip("/"))
    if posixpath.basename(root.rstrip("/")) in FRONT_DIRS and parent and parent != root:
        dirs.append(parent)
        if posixpath.basename(parent) in _YII_APP_DIRS:
            dirs.append(posixpath.dirname(parent))
    return dirs


def fingerprint(
    host: Host, root: str, upstream: str = "", specific_only: bool = False, files: list[Files] | None = None
) -> Framework | None:
    """The framework of the app served from `root` (a directory, or a .war file).

    `specific_only` leaves out the generic answers (php, static, proxy): used
    when looking for apps of their own in a docroot's subdirectories.
    Problems met (unreadable files, loops) are appended to `files` when given.
    """
    seen: list[Files] = files if files is not None else []
    if root.endswith((".war", ".jar")):
        return war_fingerprint(host, root, seen)
    if root:
        for i, base in enumerate(project_dirs(root)):
            f = Files(host, base)
            seen.append(f)
            for probe in PROBES if i == 0 else _PROJECT_PROBES:
                found = probe(f)
                if found:
                    return found
    if specific_only:
        return None
    return generic(host, root, upstream, seen)


def generic(host: Host, root: str, upstream: str, seen: list[Files]) -> Framework:
    if not root:
        return _fw("proxy" if upstream else "unknown", "", "", "")
    if upstream and not upstream.startswith(
        ("http://", "https://", "grpc://", "grpcs://", "ws://", "wss://")
    ):
        return _fw("php", "", "", "php")  # fastcgi_pass / fcgi:// to PHP-FPM
    f = Files(host, root)
    seen.append(f)
    names = f.listdir("", limit=500)
    php = next((n for n in names if n.endswith(".php")), "")
    if php or f.is_file("composer.json"):
        return _fw("php", "", f.path(php or "composer.json"), "php")
    if upstream:
        return _fw("proxy", "", "", "")
    index = next((n for n in ("index.html", "index.htm") if n in names), "")
    return _fw("static", "", f.path(index) if index else "", "html")
