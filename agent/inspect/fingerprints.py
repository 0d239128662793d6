"""What an app root is: framework or product and its exact version, read from known files.

Each probe checks a handful of known paths (never walks a tree) and returns a
Framework whose evidence_file is the file the version came from.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable

from ronda.agent.host import Host
from ronda.agent.inspect.files import Files
from ronda.agent.inspect.java import from_manifest, war_fingerprint
from ronda.agent.inspect.literals import manifest, php_const, php_define, php_var
from ronda.model import Framework

# Front-controller folders: the framework's files live one or two levels up.
FRONT_DIRS = ("public", "web", "webroot", "public_html", "htdocs", "html", "www")
_YII_APP_DIRS = ("frontend", "backend", "api")
GENERIC = ("php", "static", "proxy")

Probe = Callable[[Files], Framework | None]


def _fw(name: str, version: str | None, evidence: str, language: str = "php") -> Framework:
    return Framework(name=name, version=(version or "").strip(), evidence_file=evidence, language=language)


def wordpress(f: Files) -> Framework | None:
    text = f.text("wp-includes/version.php")
    if text is None:
        return None
    return _fw("wordpress", php_var(text, "wp_version"), f.path("wp-includes/version.php"))


def joomla(f: Files) -> Framework | None:
    for rel in (
        "libraries/src/Version.php",
        "libraries/cms/version/version.php",
        "libraries/joomla/version.php",
    ):
        text = f.text(rel)
        if text is None or "Joomla" not in text and "JVersion" not in text:
            continue
        major = php_const(text, "MAJOR_VERSION")
        if major:
            parts = [major, php_const(text, "MINOR_VERSION") or "0", php_const(text, "PATCH_VERSION") or "0"]
            extra = php_const(text, "EXTRA_VERSION") or ""
            version = ".".join(parts) + (f"-{extra}" if extra else "")
        else:
            release = php_const(text, "RELEASE") or php_var(text, "RELEASE")
            level = php_const(text, "DEV_LEVEL") or php_var(text, "DEV_LEVEL")
            version = f"{release}.{level}" if release and level else release or ""
        return _fw("joomla", version, f.path(rel))
    return None


def drupal(f: Files) -> Framework | None:
    text = f.text("core/lib/Drupal.php")
    if text is not None:
        return _fw("drupal", php_const(text, "VERSION"), f.path("core/lib/Drupal.php"))
    text = f.text("modules/system/system.info")
    if text is not None:
        m = re.search(r"""^version\s*=\s*["']?([^"'\s]+)""", text, re.M)
        if m:
            return _fw("drupal", m.group(1), f.path("modules/system/system.info"))
    for rel in ("includes/bootstrap.inc", "modules/system/system.module"):  # Drupal 7 from git, Drupal 6
        text = f.text(rel)
        if text is not None and "drupal" in text.lower() and php_define(text, "VERSION"):
            return _fw("drupal", php_define(text, "VERSION"), f.path(rel))
    return None


def moodle(f: Files) -> Framework | None:
    text = f.text("version.php")
    if text is None or "$maturity" not in text:
        return None
    release = php_var(text, "release") or ""
    return _fw("moodle", release.split(" ")[0], f.path("version.php"))


def mediawiki(f: Files) -> Framework | None:
    text = f.text("includes/Defines.php")
    if text is not None and php_define(text, "MW_VERSION"):
        return _fw("mediawiki", php_define(text, "MW_VERSION"), f.path("includes/Defines.php"))
    text = f.text("includes/DefaultSettings.php", limit=2 * 1024 * 1024)
    if text is not None and php_var(text, "wgVersion"):
        return _fw("mediawiki", php_var(text, "wgVersion"), f.path("includes/DefaultSettings.php"))
    return None


def phpmyadmin(f: Files) -> Framework | None:
    text = f.text("libraries/classes/Version.php")
    if text is not None and "PhpMyAdmin" in text:
        return _fw("phpmyadmin", php_const(text, "VERSION"), f.path("libraries/classes/Version.php"))
    for rel in ("libraries/classes/Config.php", "libraries/Config.php", "libraries/Config.class.php"):  # 4.x
        m = re.search(r"""['"]PMA_VERSION['"]\s*,\s*['"]([^'"]+)""", f.text(rel) or "")
        if m:
            return _fw("phpmyadmin", m.group(1), f.path(rel))
    names = f.listdir("", limit=200) if f.is_file("ChangeLog") or f.is_dir("libraries") else []
    for name in names:
        if name.startswith("RELEASE-DATE-"):
            return _fw("phpmyadmin", name[len("RELEASE-DATE-") :], f.path(name))
    return None


def dokuwiki(f: Files) -> Framework | None:
    if not f.is_file("doku.php"):
        return None
    text = f.text("VERSION", limit=256)
    version = text.strip().split(" ")[0] if text else ""
    return _fw("dokuwiki", version, f.path("VERSION") if text else f.path("doku.php"))


def roundcube(f: Files) -> Framework | None:
    text = f.text("program/include/iniset.php")
    if text is None:
        return None
    return _fw("roundcube", php_define(text, "RCMAIL_VERSION"), f.path("program/include/iniset.php"))


def pkp(f: Files) -> Framework | None:
    """OJS, and its siblings OMP and OPS, which share the PKP layout."""
    text = f.text("dbscripts/xml/version.xml")
    if text is None:
        return None
    app = re.search(r"<application>\s*([^<\s]+)", text)
    release = re.search(r"<release>\s*([^<\s]+)", text)
    name = {"ojs2": "ojs", "omp": "omp", "ops": "ops"}.get(app.group(1) if app else "", "ojs")
    return _fw(name, release.group(1) if release else "", f.path("dbscripts/xml/version.xml"))


def laravel(f: Files) -> Framework | None:
    rel = "vendor/laravel/framework/src/Illuminate/Foundation/Application.php"
    text = f.text(rel)
    if text is not None and php_const(text, "VERSION"):
        return _fw("laravel", php_const(text, "VERSION"), f.path(rel))
    if not f.is_file("artisan"):
        return None
    version = _composer_lock_version(f, "laravel/framework")
    if version is not None:
        return _fw("laravel", version, f.path("composer.lock"))
    return _fw("laravel", "", f.path("artisan"))


def codeigniter(f: Files) -> Framework | None:
    for rel in ("system/CodeIgniter.php", "vendor/codeigniter4/framework/system/CodeIgniter.php"):
        text = f.text(rel)
        if text is not None and php_const(text, "CI_VERSION"):
            return _fw("codeigniter", php_const(text, "CI_VERSION"), f.path(rel))
    system = "system"
    index = f.text("index.php", limit=64 * 1024)
    if index is not None:  # CodeIgniter 3 lets index.php move the system folder
        system = (php_var(index, "system_path") or "system").rstrip("/")
    rel = posixpath.join(system, "core/CodeIgniter.php")
    text = f.text(rel)
    version = (php_const(text, "CI_VERSION") or php_define(text, "CI_VERSION")) if text else None  # 3.x, 2.x
    return _fw("codeigniter", version, f.path(rel)) if version else None


def yii(f: Files) -> Framework | None:
    for rel in ("vendor/yiisoft/yii2/BaseYii.php", "framework/YiiBase.php"):
        text = f.text(rel)
        m = re.search(r"function\s+getVersion\s*\(\s*\)[^{]*\{\s*return\s*['\"]([^'\"]+)", text or "")
        if m:
            return _fw("yii", m.group(1), f.path(rel))
    return None


def node(f: Files) -> Framework | None:
    text = f.text("package.json")
    if text is None:
        return None
    try:
        package = json.loads(text)
    except ValueError:
        return _fw("node", "", f.path("package.json"), "javascript")
    deps = {**(package.get("devDependencies") or {}), **(package.get("dependencies") or {})}
    for dep in ("next", "nuxt", "@nestjs/core", "express", "fastify", "koa", "@hapi/hapi", "@sveltejs/kit"):
        if dep not in deps:
            continue
        name = dep.removeprefix("@").replace("/core", "").replace("/", "-")
        installed = f.text(f"node_modules/{dep}/package.json", limit=64 * 1024)
        try:
            version = json.loads(installed).get("version", "") if installed else ""
        except ValueError:
            version = ""
        if version:
            return _fw(name, version, f.path(f"node_modules/{dep}/package.json"), "javascript")
        spec = str(deps[dep]).lstrip("^~=v")
        exact = spec if re.fullmatch(r"\d+(\.\d+){0,2}", spec) else ""
        return _fw(name, exact, f.path("package.json"), "javascript")
    return _fw("node", "", f.path("package.json"), "javascript")


def java_webapp(f: Files) -> Framework | None:
    text = f.text("META-INF/MANIFEST.MF", limit=64 * 1024)
    if text is None:
        return (
            _fw("java-webapp", "", f.path("WEB-INF/web.xml"), "java")
            if f.is_file("WEB-INF/web.xml")
            else None
        )
    return from_manifest(manifest(text), f.path("META-INF/MANIFEST.MF"))


# Order matters: products before the frameworks they may be built with.
PROBES: tuple[Probe, ...] = (
    wordpress,
    joomla,
    drupal,
    moodle,
    mediawiki,
    phpmyadmin,
    dokuwiki,
    roundcube,
    pkp,
    laravel,
    codeigniter,
    yii,
    java_webapp,
    node,
)
# Probes that need the project directory above a front-controller folder.
_PROJECT_PROBES: tuple[Probe, ...] = (laravel, codeigniter, yii, moodle, drupal, roundcube)


def _composer_lock_version(f: Files, package: str) -> str | None:
    text = f.text("composer.lock", limit=8 * 1024 * 1024)
    if text is None:
        return None
    try:
        lock = json.loads(text)
    except ValueError:
        return None
    for entry in lock.get("packages") or []:
        if isinstance(entry, dict) and entry.get("name") == package:
            return str(entry.get("version", "")).lstrip("v")
    return None


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
