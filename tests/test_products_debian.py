"""Debian's own packages of web apps, identified where Debian installs them: the product, and its exact
version against the package's own (`dpkg-query`'s version, upstream part), read the way a scan reads
them (dpkg's database as files, the app's files, catalina.jar for Tomcat)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ronda.agent.host import LocalHost
from ronda.agent.inspect.fingerprints import fingerprint
from ronda.agent.inspect.identify import identify
from ronda.agent.inspect.packages import PackageIndex, upstream_version
from ronda.model import App, ConfigLocation

pytestmark = pytest.mark.servers  # runs dpkg-query, rpm and rpmbuild


def dpkg_query(*args: str) -> str:
    return subprocess.run(["dpkg-query", *args], capture_output=True, text=True, check=True).stdout


def upstream(package: str) -> str:
    """4:5.2.1+dfsg-1+deb12u1 -> 5.2.1, computed independently of ronda's own helper."""
    version = re.sub(r"^\d+:", "", dpkg_query("-W", "-f", "${Version}", package))
    return re.split(r"[+~]", version.rsplit("-", 1)[0])[0]


def identified(root: str, kind: str = "nginx", config: str = "/etc/nginx/nginx.conf") -> App:
    host = LocalHost()
    app = App(kind=kind, root=root, config=ConfigLocation(config, 1), framework=fingerprint(host, root))
    identify(host, [app], PackageIndex(host), [])
    return app


# (package, the app root a web server config points at, product)
PACKAGED = [
    ("zabbix-frontend-php", "/usr/share/zabbix", "zabbix"),
    ("icingaweb2", "/usr/share/icingaweb2/public", "icingaweb2"),
    ("adminer", "/usr/share/adminer", "adminer"),
    ("postfixadmin", "/usr/share/postfixadmin/public", "postfixadmin"),
    ("tt-rss", "/usr/share/tt-rss/www", "tt-rss"),
    ("mediawiki", "/usr/share/mediawiki", "mediawiki"),
    ("roundcube-core", "/var/lib/roundcube/public_html", "roundcube"),
    ("phpmyadmin", "/usr/share/phpmyadmin", "phpmyadmin"),
    ("wordpress", "/usr/share/wordpress", "wordpress"),
    ("cacti", "/usr/share/cacti/site", "cacti"),
    ("phpldapadmin", "/usr/share/phpldapadmin/htdocs", "phpldapadmin"),
    ("phpsysinfo", "/usr/share/phpsysinfo", "phpsysinfo"),
    ("ganglia-webfrontend", "/usr/share/ganglia-webfrontend", "ganglia-web"),
]


@pytest.mark.parametrize("package,root,product", PACKAGED, ids=[p[0] for p in PACKAGED])
def test_packaged_app(package: str, root: str, product: str) -> None:
    fw = identified(root).framework
    assert (fw.name, fw.version) == (product, upstream(package))
    assert fw.package == f"dpkg:{package}"
    assert fw.package_version == dpkg_query("-W", "-f", "${Version}", package)
    assert fw.evidence_kind in ("file", "package") and Path(fw.evidence_file).is_file()


@pytest.mark.parametrize("package,root,product", PACKAGED, ids=[p[0] for p in PACKAGED])
def test_package_owner_is_dpkgs_own_answer(package: str, root: str, product: str) -> None:
    """Reading dpkg's files gives the package `dpkg-query --search` names for the app's directory."""
    real = str(Path(root).resolve())
    owners = {o.strip() for o in dpkg_query("--search", real).split(":", 1)[0].split(",")}
    assert package in owners
    assert PackageIndex(LocalHost()).owner(root).name == package  # asked with dpkg-query
    assert PackageIndex(LocalHost(), commands=False).owner(root).name == package  # read as files


def test_a_directory_packages_only_create_has_no_owner() -> None:
    """/var/www/html is listed by apache2 (and lighttpd) but holds none of their files."""
    for commands in (True, False):
        assert PackageIndex(LocalHost(), commands=commands).owner("/var/www/html") is None


def test_dokuwiki_keeps_its_own_version_over_debians_renumbering() -> None:
    """Debian numbers DokuWiki 0.0.20220731.a; DokuWiki says 2022-07-31b (the hotfix Debian carries)."""
    fw = identified("/usr/share/dokuwiki").framework
    date = re.search(r"(\d{8})", dpkg_query("-W", "-f", "${Version}", "dokuwiki")).group(1)
    assert fw.name == "dokuwiki" and fw.version.startswith(f"{date[:4]}-{date[4:6]}-{date[6:]}")
    assert fw.package == "dpkg:dokuwiki" and fw.evidence_file == "/usr/share/dokuwiki/VERSION"


def test_tomcat_itself_from_its_catalina_jar() -> None:
    """Debian's tomcat10 serves ROOT from /var/lib/tomcat10/webapps: that app is Tomcat itself."""
    app = identified("/var/lib/tomcat10/webapps/ROOT", "tomcat", "/var/lib/tomcat10/conf/server.xml")
    fw = app.framework
    assert (fw.name, fw.version) == ("tomcat", upstream("tomcat10"))
    assert fw.evidence_file.startswith("/usr/share/tomcat10/lib/catalina.jar!/")
    assert fw.package.startswith("dpkg:") and fw.release_cycle == "10.1"


def test_laravel_app_on_the_distributions_framework(tmp_path: Path) -> None:
    """An app with artisan and no vendored framework runs on Debian's php-laravel-framework
    (/usr/share/php/Illuminate): Laravel, at that package's version, which is past its support."""
    (tmp_path / "artisan").write_text(
        "#!/usr/bin/env php\n<?php\nrequire '/usr/share/php/Illuminate/autoload.php';\n"
    )
    (tmp_path / "public").mkdir()
    (tmp_path / "public/index.php").write_text("<?php\n")
    fw = identified(str(tmp_path / "public")).framework
    assert (fw.name, fw.version) == ("laravel", upstream("php-laravel-framework"))
    assert fw.evidence_file == "/usr/share/php/Illuminate/Foundation/Application.php"
    assert fw.release_cycle == "8" and fw.end_of_support == "2023-01-24"


def test_express_app_on_debians_node_express(tmp_path: Path) -> None:
    """A Node app whose node_modules/express is Debian's node-express."""
    (tmp_path / "package.json").write_text('{"name": "api", "dependencies": {"express": "^4.17.0"}}')
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules/express").symlink_to("/usr/share/nodejs/express")
    fw = identified(str(tmp_path)).framework
    assert (fw.name, fw.version, fw.evidence_kind) == ("express", upstream("node-express"), "manifest")


def test_django_project_on_debians_python3_django(tmp_path: Path) -> None:
    """A Django project whose environment holds Debian's python3-django (its egg-info PKG-INFO)."""
    (tmp_path / "manage.py").write_text("#!/usr/bin/env python3\n")
    site = tmp_path / "venv/lib/python3.11/site-packages"
    site.mkdir(parents=True)
    egg = next(Path("/usr/lib/python3/dist-packages").glob("Django-*.egg-info"))
    (site / egg.name).symlink_to(egg)
    fw = identified(str(tmp_path)).framework
    assert (fw.name, fw.version) == ("django", upstream("python3-django"))
    assert fw.release_cycle == "3.2" and fw.end_of_support == "2024-04-01"


def test_upstream_version_matches_the_tests_own_reading() -> None:
    for package in ("phpmyadmin", "zabbix-frontend-php", "tomcat10", "tt-rss"):
        full = dpkg_query("-W", "-f", "${Version}", package)
        assert upstream_version(full) == upstream(package)


def test_a_package_never_renames_another_product(tmp_path: Path) -> None:
    """A WordPress copy that happens to sit in a directory a package owns stays WordPress; the package
    is still shown."""
    wp = tmp_path / "var/lib/wp"
    (wp / "wp-includes").mkdir(parents=True)
    (wp / "wp-includes/version.php").write_text("<?php\n$wp_version = '6.4.3';\n")
    dpkg = tmp_path / "var/lib/dpkg"
    (dpkg / "info").mkdir(parents=True)
    (dpkg / "status").write_text(
        "Package: zabbix-frontend-php\nStatus: install ok installed\nVersion: 1:6.0.14+dfsg-1\n"
    )
    (dpkg / "info/zabbix-frontend-php.list").write_text("/var/lib/wp\n/var/lib/wp/zabbix.php\n")
    host = LocalHost(str(tmp_path))
    app = App(kind="nginx", root="/var/lib/wp", framework=fingerprint(host, "/var/lib/wp"))
    identify(host, [app], PackageIndex(host), [])
    fw = app.framework
    assert (fw.name, fw.version, fw.evidence_kind) == ("wordpress", "6.4.3", "file")
    assert (fw.package, fw.package_version) == ("dpkg:zabbix-frontend-php", "1:6.0.14+dfsg-1")
