"""What each app is, with everything that already says so: after `fingerprint` read the app's own files
and manifests, the OS package that owns its files names the product and its version, a Tomcat app
without a product of its own is Tomcat itself, and the product's support data places the version in
its release cycle (end of support, newest release of the cycle)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import replace

from ronda.agent.host import Host
from ronda.agent.inspect.eol import standing
from ronda.agent.inspect.files import Files
from ronda.agent.inspect.manifests import SERVER_INFO, java_archive
from ronda.agent.inspect.packages import PackageIndex
from ronda.agent.inspect.signatures import KINDS, Product, catalogue
from ronda.model import App, Framework

# Names that say only what kind of thing serves the app, not which product it is.
GENERIC = frozenset({"", "php", "static", "proxy", "unknown", "java-webapp", "node"})
_TOMCAT_DIR = re.compile(r"tomcat\d*")


def identify(host: Host, apps: list[App], packages: PackageIndex, problems: list[Files]) -> None:
    """Complete each app's framework in place (apps without one are left alone)."""
    packages.prepare([a.root for a in apps if a.root])
    servers: dict[str, Framework | None] = {}
    for app in apps:
        if app.framework is None or app.framework.name == "redirect":
            continue
        fw = app.framework
        if app.root:
            fw = with_package(fw, packages, app.root)
        if app.kind == "tomcat" and fw.name in GENERIC:
            home = tomcat_home(host, app)
            if home not in servers:
                servers[home] = tomcat_version(host, home, packages, problems) if home else None
            fw = servers[home] or fw
        app.framework = with_support(fw)


def with_package(fw: Framework, packages: PackageIndex, root: str) -> Framework:
    owner = packages.owner(root)
    if owner is None:
        return fw
    fw = replace(fw, package=f"{owner.system}:{owner.name}", package_version=owner.version)
    product = catalogue().product_of(owner.system, owner.name)
    if product is None or not _package_wins(fw, product):
        return fw
    if fw.name == product.name and (not product.trust_package_version or fw.version == owner.upstream):
        return fw  # the product's own statement agrees, or is the one to keep
    return replace(
        fw,
        name=product.name,
        version=owner.upstream if product.trust_package_version else "",
        evidence_file=owner.database,
        evidence_kind="package",
        language=product.language or fw.language,
    )


def _package_wins(fw: Framework, product: Product) -> bool:
    """The package's product replaces a generic name or what it is built with, never another product."""
    if fw.name in GENERIC or fw.name == product.name:
        return True
    found = catalogue().by_name.get(fw.name)
    return found is None or KINDS.index(found.kind) > KINDS.index(product.kind)


def with_support(fw: Framework) -> Framework:
    product = catalogue().by_name.get(fw.name)
    s = standing(product, fw.version) if product else None
    if s is None:
        return fw
    return replace(
        fw,
        release_cycle=s.cycle,
        end_of_support=s.end_of_support.isoformat() if s.end_of_support else "",
        latest_in_cycle=s.latest,
        support_source=s.source,
    )


def tomcat_home(host: Host, app: App) -> str:
    """The CATALINA_HOME of a Tomcat app's instance: its base when that holds lib/catalina.jar (a
    tarball install), else the distribution's /usr/share/tomcatN for a base named tomcatN."""
    conf = app.config.file
    if not conf:
        return ""
    base = posixpath.dirname(posixpath.dirname(conf))  # .../conf/server.xml -> the instance's base
    candidates = [base]
    for part in (*base.split("/"), *conf.split("/")):
        if _TOMCAT_DIR.fullmatch(part):
            candidates.append(f"/usr/share/{part}")
    for home in candidates:
        if Files(host, home).is_file("lib/catalina.jar"):
            return home
    return ""


def tomcat_version(host: Host, home: str, packages: PackageIndex, problems: list[Files]) -> Framework | None:
    """Tomcat's own version, from ServerInfo.properties inside its catalina.jar."""
    jar = Files(host, posixpath.join(home, "lib/catalina.jar"))
    problems.append(jar)
    info = next((c for c in java_archive(jar) if c.evidence.endswith(SERVER_INFO)), None)
    if info is None:
        return None
    fw = Framework("tomcat", info.version, info.evidence, "java", "manifest")
    owner = packages.owner(jar.base)
    return replace(fw, package=f"{owner.system}:{owner.name}", package_version=owner.version) if owner else fw
