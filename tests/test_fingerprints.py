"""Fingerprints: framework and exact version from files on disk.

Debian's own packages of web apps are fingerprinted where they are installed, and
the version found must equal the one dpkg reports for the package. Frameworks that
Debian does not package are laid out here as release trees: the version file at
its real path, with the statement the release ships (other files are stubs).
"""

# ruff: noqa: E501 (version files are quoted as the releases ship them)
from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from ronda.agent.host import LocalHost
from ronda.agent.inspect.fingerprints import fingerprint


def dpkg_version(package: str) -> str:
    return subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=True
    ).stdout


def upstream(version: str) -> str:
    """4:5.2.1+dfsg-1+deb12u1 -> 5.2.1"""
    version = re.sub(r"^\d+:", "", version)
    version = version.rsplit("-", 1)[0] if "-" in version else version
    return re.split(r"[+~]", version)[0]


@pytest.mark.parametrize(
    "package,root,name",
    [
        ("wordpress", "/usr/share/wordpress", "wordpress"),
        ("phpmyadmin", "/usr/share/phpmyadmin", "phpmyadmin"),
        ("roundcube-core", "/usr/share/roundcube", "roundcube"),
        (
            "roundcube-core",
            "/var/lib/roundcube/public_html",
            "roundcube",
        ),  # Debian's docroot: a front-controller folder
        ("mediawiki", "/usr/share/mediawiki", "mediawiki"),
    ],
)
@pytest.mark.servers
def test_debian_packaged_apps(package: str, root: str, name: str) -> None:
    found = fingerprint(LocalHost(), root)
    assert found is not None
    assert (found.name, found.version) == (name, upstream(dpkg_version(package)))
    assert Path(found.evidence_file).is_file() and found.evidence_file.startswith(
        ("/usr/share/", "/var/lib/")
    )


@pytest.mark.servers
def test_debian_dokuwiki_release_date() -> None:
    """Debian numbers DokuWiki 0.0.YYYYMMDD.x; DokuWiki itself says YYYY-MM-DDx "Name".

    Debian's 0.0.20220731.a-2 carries the upstream "b" hotfix (see its changelog), so the
    release date is compared, and the letter is the one DokuWiki's own VERSION file states.
    """
    found = fingerprint(LocalHost(), "/usr/share/dokuwiki")
    assert found is not None and found.name == "dokuwiki"
    date = re.search(r"(\d{8})", dpkg_version("dokuwiki")).group(1)
    assert found.version.startswith(f"{date[:4]}-{date[4:6]}-{date[6:]}")
    assert found.version == Path(found.evidence_file).read_text().split()[0]


@pytest.mark.servers
def test_laravel_app_on_debian_framework(tmp_path: Path) -> None:
    """A Laravel app whose vendored framework is Debian's php-laravel-framework file, served from public/."""
    app = tmp_path / "sipd"
    version_file = app / "vendor/laravel/framework/src/Illuminate/Foundation/Application.php"
    version_file.parent.mkdir(parents=True)
    version_file.write_bytes(Path("/usr/share/php/Illuminate/Foundation/Application.php").read_bytes())
    (app / "artisan").write_text("#!/usr/bin/env php\n<?php\n")
    (app / "public").mkdir()
    (app / "public/index.php").write_text("<?php require __DIR__.'/../vendor/autoload.php';\n")
    found = fingerprint(LocalHost(), str(app / "public"))
    assert found is not None
    assert (found.name, found.version) == ("laravel", upstream(dpkg_version("php-laravel-framework")))
    assert found.evidence_file == str(version_file)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# Release trees: the version statement exactly as each release ships it.
RELEASES = [
    (
        "codeigniter",
        "3.1.13",
        "",
        "system/core/CodeIgniter.php",
        {
            "index.php": "<?php\n$system_path = 'system';\n$application_folder = 'application';\n",
            "system/core/CodeIgniter.php": "<?php\ndefined('BASEPATH') OR exit('No direct script access allowed');\n"
            "/**\n * CodeIgniter Version\n *\n * @var\tstring\n *\n */\n"
            "\tconst CI_VERSION = '3.1.13';\n",
        },
    ),
    (
        "codeigniter",
        "2.2.6",
        "",
        "sys/core/CodeIgniter.php",
        {
            "index.php": "<?php\n\t$system_path = 'sys';\n",
            "sys/core/CodeIgniter.php": "<?php\n\tdefine('CI_VERSION', '2.2.6');\n",
        },
    ),
    (
        "codeigniter",
        "4.4.3",
        "public",
        "system/CodeIgniter.php",
        {
            "public/index.php": "<?php\n",
            "spark": "#!/usr/bin/env php\n",
            "system/CodeIgniter.php": "<?php\nnamespace CodeIgniter;\nclass CodeIgniter\n{\n"
            "    /**\n     * The current version of CodeIgniter Framework\n     */\n"
            "    public const CI_VERSION = '4.4.3';\n}\n",
        },
    ),
    (
        "codeigniter",
        "4.5.1",
        "public",
        "vendor/codeigniter4/framework/system/CodeIgniter.php",
        {
            "public/index.php": "<?php\n",
            "vendor/codeigniter4/framework/system/CodeIgniter.php": "<?php\nclass CodeIgniter {\n"
            "    final public const CI_VERSION = '4.5.1';\n}\n",
        },
    ),
    (
        "yii",
        "2.0.49.3",
        "web",
        "vendor/yiisoft/yii2/BaseYii.php",
        {
            "web/index.php": "<?php\n",
            "vendor/yiisoft/yii2/BaseYii.php": "<?php\nnamespace yii;\nclass BaseYii\n{\n"
            "    /**\n     * @return string the version of Yii framework\n     */\n"
            "    public static function getVersion()\n    {\n"
            "        return '2.0.49.3';\n    }\n}\n",
        },
    ),
    (
        "yii",
        "2.0.45",
        "frontend/web",
        "vendor/yiisoft/yii2/BaseYii.php",
        {  # the advanced template
            "frontend/web/index.php": "<?php\n",
            "vendor/yiisoft/yii2/BaseYii.php": "<?php\nclass BaseYii {\n public static function getVersion()\n {\n"
            "  return '2.0.45';\n }\n}\n",
        },
    ),
    (
        "joomla",
        "4.4.3",
        "",
        "libraries/src/Version.php",
        {
            "libraries/src/Version.php": "<?php\nnamespace Joomla\\CMS;\nfinal class Version\n{\n"
            "    public const PRODUCT = 'Joomla!';\n    public const MAJOR_VERSION = 4;\n"
            "    public const MINOR_VERSION = 4;\n    public const PATCH_VERSION = 3;\n"
            "    public const EXTRA_VERSION = '';\n}\n"
        },
    ),
    (
        "joomla",
        "3.10.12",
        "",
        "libraries/src/Version.php",
        {
            "libraries/src/Version.php": "<?php\nnamespace Joomla\\CMS;\nfinal class Version\n{\n"
            "\tconst PRODUCT = 'Joomla!';\n\tconst MAJOR_VERSION = 3;\n"
            "\tconst MINOR_VERSION = 10;\n\tconst PATCH_VERSION = 12;\n"
            "\tconst EXTRA_VERSION = '';\n}\n"
        },
    ),
    (
        "joomla",
        "2.5.28",
        "",
        "libraries/cms/version/version.php",
        {
            "libraries/cms/version/version.php": "<?php\nfinal class JVersion\n{\n\tpublic $PRODUCT = 'Joomla!';\n"
            "\tpublic $RELEASE = '2.5';\n\tpublic $DEV_LEVEL = '28';\n}\n"
        },
    ),
    (
        "joomla",
        "1.5.26",
        "",
        "libraries/joomla/version.php",
        {
            "libraries/joomla/version.php": "<?php\nclass JVersion\n{\n\tvar $PRODUCT = 'Joomla!';\n"
            "\tvar $RELEASE = '1.5';\n\tvar $DEV_LEVEL = '26';\n}\n"
        },
    ),
    (
        "drupal",
        "7.98",
        "",
        "modules/system/system.info",
        {
            "modules/system/system.info": "name = System\ndescription = Handles general site configuration.\n"
            "package = Core\ncore = 7.x\n\n; Information added by Drupal.org packaging "
            'script on 2023-06-07\nversion = "7.98"\nproject = "drupal"\n'
        },
    ),
    (
        "drupal",
        "10.1.6",
        "",
        "core/lib/Drupal.php",
        {
            "core/lib/Drupal.php": "<?php\nclass Drupal {\n  /**\n   * The current system version.\n   */\n"
            "  const VERSION = '10.1.6';\n}\n"
        },
    ),
    (
        "moodle",
        "4.1.6",
        "",
        "version.php",
        {
            "version.php": "<?php\n// MOODLE VERSION INFORMATION\ndefined('MOODLE_INTERNAL') || die();\n"
            "$version  = 2022112806.00;              // 20221128      = branching date YYYYMMDD - do not modify!\n"
            "$release  = '4.1.6 (Build: 20231009)'; // Human-friendly version name\n"
            "$branch   = '401';                     // This version's branch.\n"
            "$maturity = MATURITY_STABLE;             // This version's maturity level.\n"
        },
    ),
    (
        "mediawiki",
        "1.31.16",
        "",
        "includes/DefaultSettings.php",
        {
            "includes/DefaultSettings.php": "<?php\n/**\n * MediaWiki version number\n */\n$wgVersion = '1.31.16';\n"
        },
    ),
    (
        "phpmyadmin",
        "4.9.11",
        "",
        "libraries/classes/Config.php",
        {
            "libraries/classes/Config.php": "<?php\nnamespace PhpMyAdmin;\nclass Config {\n function checkSystem()\n {\n"
            "  $this->set('PMA_VERSION', '4.9.11');\n }\n}\n"
        },
    ),
    (
        "ojs",
        "3.3.0.13",
        "",
        "dbscripts/xml/version.xml",
        {
            "dbscripts/xml/version.xml": '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE version SYSTEM '
            '"../../lib/pkp/dtd/version.dtd">\n<version>\n\t<application>ojs2</application>\n'
            "\t<type>core</type>\n\t<release>3.3.0.13</release>\n\t<tag>3_3_0-13</tag>\n"
            "\t<date>2022-10-04</date>\n</version>\n"
        },
    ),
    (
        "laravel",
        "10.48.4",
        "public",
        "composer.lock",
        {
            "artisan": "#!/usr/bin/env php\n",
            "public/index.php": "<?php\n",
            "composer.lock": json.dumps(
                {
                    "packages": [
                        {"name": "brick/math", "version": "0.11.0"},
                        {"name": "laravel/framework", "version": "v10.48.4"},
                    ]
                }
            ),
        },
    ),
    (
        "express",
        "4.18.2",
        "",
        "node_modules/express/package.json",
        {
            "package.json": json.dumps(
                {"name": "layanan-api", "version": "1.4.0", "dependencies": {"express": "^4.18.2"}}
            ),
            "node_modules/express/package.json": json.dumps({"name": "express", "version": "4.18.2"}),
        },
    ),
    ("node", "", "", "package.json", {"package.json": json.dumps({"name": "worker", "version": "0.1.0"})}),
    ("php", "", "", "index.php", {"index.php": "<?php echo 'hi';\n", "style.css": "body{}"}),
    ("static", "", "", "index.html", {"index.html": "<h1>Pengumuman</h1>\n"}),
]


@pytest.mark.parametrize(
    "name,version,docroot,evidence,files",
    RELEASES,
    ids=[f"{r[0]}-{r[1] or 'generic'}-{r[3]}" for r in RELEASES],
)
def test_release_trees(
    tmp_path: Path, name: str, version: str, docroot: str, evidence: str, files: dict[str, str]
) -> None:
    root = _tree(tmp_path / "app", files)
    found = fingerprint(LocalHost(), str(root / docroot) if docroot else str(root))
    assert found is not None
    assert (found.name, found.version) == (name, version)
    assert found.evidence_file == str(root / evidence)


def test_same_tree_under_a_root_prefix(tmp_path: Path) -> None:
    """Through `--root` the evidence path is the path on the fingerprinted host, not on this machine."""
    _tree(tmp_path / "var/www/portal", {"wp-includes/version.php": "<?php\n$wp_version = '5.8.3';\n"})
    found = fingerprint(LocalHost(str(tmp_path)), "/var/www/portal")
    assert found is not None
    assert (found.name, found.version, found.evidence_file) == (
        "wordpress",
        "5.8.3",
        "/var/www/portal/wp-includes/version.php",
    )


@pytest.mark.parametrize(
    "manifest,name,version",
    [
        (
            "Manifest-Version: 1.0\r\nImplementation-Title: simpeg\r\nImplementation-Version: 2.3.1\r\n",
            "simpeg",
            "2.3.1",
        ),
        (
            "Manifest-Version: 1.0\r\nSpring-Boot-Version: 2.7.18\r\nImplementation-Title: e-off\r\n"  # noqa: ISC004
            "Implementation-Version: 1.0\r\n",
            "spring-boot",
            "2.7.18",
        ),
        ("Manifest-Version: 1.0\r\nCreated-By: Apache Maven\r\n", "java-webapp", ""),
    ],
)
def test_war_manifest(tmp_path: Path, manifest: str, name: str, version: str) -> None:
    war = tmp_path / "simpeg.war"
    with zipfile.ZipFile(war, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", manifest)
        z.writestr("WEB-INF/web.xml", "<web-app/>")
    found = fingerprint(LocalHost(), str(war))
    assert found is not None
    assert (found.name, found.version, found.language) == (name, version, "java")
    assert found.evidence_file == f"{war}!/META-INF/MANIFEST.MF"
    exploded = _tree(
        tmp_path / "exploded", {"META-INF/MANIFEST.MF": manifest, "WEB-INF/web.xml": "<web-app/>"}
    )
    found = fingerprint(LocalHost(), str(exploded))
    assert found is not None and (found.name, found.version) == (name, version)


@pytest.mark.parametrize(
    "upstream,root,name",
    [
        ("http://127.0.0.1:8080", "", "proxy"),
        ("unix:/run/php/php8.2-fpm.sock", "/srv/empty", "php"),
        ("", "", "unknown"),
    ],
)
def test_generic_apps_still_have_a_name(upstream: str, root: str, name: str) -> None:
    found = fingerprint(LocalHost(), root, upstream)
    assert found is not None and found.name == name
