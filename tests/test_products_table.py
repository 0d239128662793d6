"""Every product of products.toml, recognised from a small tree in that product's real layout.

Each row lays out what a release (or its package, or its manifests) puts on disk, at the real paths
and with the statement the release ships: the version file, the marker files, the manifest a
composer/npm/Maven/pip install writes, or dpkg's database when only the package says what it is.
Other files are stubs. The fixture is a host root (a directory laid out like `/`), read through
`--root`, so the evidence paths are the paths on that host.
"""

# ruff: noqa: E501 (version statements are quoted as the releases ship them)
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from ronda.agent.host import LocalHost
from ronda.agent.inspect.fingerprints import fingerprint
from ronda.agent.inspect.identify import identify
from ronda.agent.inspect.packages import PackageIndex
from ronda.agent.inspect.signatures import SignatureError, catalogue, load
from ronda.model import App, ConfigLocation

APP = "/srv/app"


def dpkg(package: str, version: str, paths: list[str]) -> dict[str, str]:
    """dpkg's database as dpkg writes it: the status stanza and the package's file list."""
    return {
        "/var/lib/dpkg/status": f"Package: {package}\nStatus: install ok installed\nPriority: optional\n"
        f"Architecture: all\nVersion: {version}\nDescription: packaged app\n",
        f"/var/lib/dpkg/info/{package}.list": "\n".join(["/.", *paths]) + "\n",
    }


def composer_lock(*packages: tuple[str, str]) -> dict[str, str]:
    return {
        f"{APP}/composer.lock": json.dumps(
            {
                "_readme": ["This file locks the dependencies"],
                "content-hash": "0" * 32,
                "packages": [{"name": n, "version": v, "type": "library"} for n, v in packages],
                "packages-dev": [],
            }
        )
    }


def npm_app(package: str, version: str) -> dict[str, str]:
    return {
        f"{APP}/package.json": json.dumps(
            {"name": "layanan", "version": "1.0.0", "dependencies": {package: f"^{version}"}}
        ),
        f"{APP}/node_modules/{package}/package.json": json.dumps({"name": package, "version": version}),
    }


def dist_info(name: str, version: str) -> dict[str, str]:
    return {
        f"{APP}/venv/lib/python3.11/site-packages/{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: x\n",
    }


def pom(group: str, artifact: str, version: str) -> dict[str, str]:
    return {
        f"{APP}/META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nCreated-By: Maven JAR Plugin 3.3.0\r\n",
        f"{APP}/META-INF/maven/{group}/{artifact}/pom.properties": f"#Created by Apache Maven 3.9.6\nartifactId={artifact}\ngroupId={group}\nversion={version}\n",
        f"{APP}/WEB-INF/web.xml": "<web-app/>\n",
    }


def php(rel: str, text: str, **more: str) -> dict[str, str]:
    return {
        f"{APP}/{rel}": f"<?php\n{text}\n",
        **{f"{APP}/{k.replace('__', '/').replace('_DOT_', '.')}": v for k, v in more.items()},
    }


# (product, version, evidence kind, app root, files); the root is APP unless given
ROWS: list[tuple[str, str, str, str, dict[str, str]]] = [
    (
        "wordpress",
        "6.4.3",
        "file",
        APP,
        php("wp-includes/version.php", "$wp_version = '6.4.3';\n$wp_db_version = 56657;"),
    ),
    (
        "joomla",
        "5.0.2",
        "file",
        APP,
        php(
            "libraries/src/Version.php",
            "final class Version {\n    public const MAJOR_VERSION = 5;\n    public const MINOR_VERSION = 0;\n    public const PATCH_VERSION = 2;\n    public const EXTRA_VERSION = '';\n}",
        ),
    ),
    (
        "drupal",
        "10.2.2",
        "file",
        f"{APP}/web",
        {
            **php("web/core/lib/Drupal.php", "class Drupal {\n  const VERSION = '10.2.2';\n}"),
            f"{APP}/web/index.php": "<?php\n",
        },
    ),
    (
        "moodle",
        "4.3.2",
        "file",
        APP,
        php(
            "version.php",
            "$version  = 2023100902.00;\n$release  = '4.3.2+ (Build: 20240112)';\n$branch   = '403';\n$maturity = MATURITY_STABLE;",
        ),
    ),
    ("mediawiki", "1.41.0", "file", APP, php("includes/Defines.php", "define( 'MW_VERSION', '1.41.0' );")),
    (
        "phpmyadmin",
        "5.2.1",
        "file",
        APP,
        php(
            "libraries/classes/Version.php",
            "declare(strict_types=1);\nnamespace PhpMyAdmin;\nfinal class Version\n{\n    public const VERSION = '5.2.1' . VERSION_SUFFIX;\n}",
        ),
    ),
    (
        "dokuwiki",
        "2024-02-06a",
        "file",
        APP,
        {f"{APP}/doku.php": "<?php\n", f"{APP}/VERSION": '2024-02-06a "Kaos"\n'},
    ),
    (
        "roundcube",
        "1.6.6",
        "file",
        APP,
        php("program/include/iniset.php", "define('RCMAIL_VERSION', '1.6.6');"),
    ),
    (
        "ojs",
        "3.4.0.4",
        "file",
        APP,
        {
            f"{APP}/dbscripts/xml/version.xml": "<version>\n\t<application>ojs2</application>\n\t<type>core</type>\n\t<release>3.4.0.4</release>\n</version>\n"
        },
    ),
    (
        "omp",
        "3.3.0.15",
        "file",
        APP,
        {
            f"{APP}/dbscripts/xml/version.xml": "<version>\n\t<application>omp</application>\n\t<release>3.3.0.15</release>\n</version>\n"
        },
    ),
    (
        "ops",
        "3.4.0.3",
        "file",
        APP,
        {
            f"{APP}/dbscripts/xml/version.xml": "<version>\n\t<application>ops</application>\n\t<release>3.4.0.3</release>\n</version>\n"
        },
    ),
    (
        "slims",
        "9.6.1",
        "file",
        APP,
        php(
            "sysconfig.inc.php",
            "define('SENAYAN_VERSION', 'SLiMS 9 (Bulian)');\ndefine('SENAYAN_VERSION_TAG', 'v9.6.1');",
        ),
    ),
    (
        "opensid",
        "2312.0.0",
        "file",
        APP,
        php("donjo-app/helpers/opensid_helper.php", "define('VERSION', '2312.0.0');"),
    ),
    (
        "nextcloud",
        "28.0.2",
        "file",
        APP,
        {
            **php(
                "version.php",
                "$OC_Version = [28, 0, 2, 1];\n$OC_VersionString = '28.0.2';\n$OC_Edition = '';\n$OC_Channel = 'stable';\n$vendor = 'nextcloud';",
            ),
            f"{APP}/occ": "#!/usr/bin/env php\n",
        },
    ),
    (
        "owncloud",
        "10.13.4",
        "file",
        APP,
        {
            **php(
                "version.php",
                "$OC_Version = [10, 13, 4, 3];\n$OC_VersionString = '10.13.4';\n$vendor = 'owncloud';",
            ),
            f"{APP}/occ": "#!/usr/bin/env php\n",
        },
    ),
    ("glpi", "10.0.12", "file", APP, php("inc/define.php", "define('GLPI_VERSION', '10.0.12');")),
    ("phpbb", "3.3.11", "file", APP, php("includes/constants.php", "define('PHPBB_VERSION', '3.3.11');")),
    (
        "matomo",
        "5.0.2",
        "file",
        APP,
        php("core/Version.php", "namespace Piwik;\nfinal class Version\n{\n    const VERSION = '5.0.2';\n}"),
    ),
    ("adminer", "4.8.1", "file", APP, {f"{APP}/adminer-4.8.1-mysql.php": "<?php\n"}),
    (
        "sogo",
        "5.8.0",
        "package",
        "/usr/lib/GNUstep/SOGo/WebServerResources",
        {
            "/usr/lib/GNUstep/SOGo/WebServerResources/generic.js": "",
            **dpkg(
                "sogo",
                "5.8.0-2+deb12u4",
                [
                    "/usr/lib/GNUstep/SOGo",
                    "/usr/lib/GNUstep/SOGo/WebServerResources",
                    "/usr/lib/GNUstep/SOGo/WebServerResources/generic.js",
                ],
            ),
        },
    ),
    (
        "zabbix",
        "7.0.0",
        "file",
        APP,
        php(
            "include/defines.inc.php",
            "define('ZABBIX_VERSION',\t\t'7.0.0');\ndefine('ZABBIX_API_VERSION',\t'7.0.0');",
        ),
    ),
    (
        "icingaweb2",
        "2.12.1",
        "file",
        f"{APP}/public",
        {
            **php(
                "library/Icinga/Application/Version.php",
                "namespace Icinga\\Application;\nclass Version\n{\n    const VERSION = '2.12.1';\n}",
            ),
            f"{APP}/application/controllers/IndexController.php": "<?php\n",
            f"{APP}/modules/setup/module.info": "Module: setup\n",
            f"{APP}/public/index.php": "<?php\n",
        },
    ),
    (
        "nagios",
        "4.4.14",
        "file",
        APP,
        {**php("main.php", "$this_version = '4.4.14';"), f"{APP}/side.php": "<?php\n"},
    ),
    ("cacti", "1.2.26", "file", APP, {f"{APP}/include/cacti_version": "1.2.26\n"}),
    (
        "librenms",
        "24.1.0",
        "file",
        APP,
        {
            **php(
                "LibreNMS/Util/Version.php",
                "namespace LibreNMS\\Util;\nclass Version\n{\n    public const VERSION = '24.1.0';\n}",
            ),
            f"{APP}/lnms": "#!/usr/bin/env php\n",
        },
    ),
    (
        "grafana",
        "10.3.1",
        "file",
        APP,
        {f"{APP}/VERSION": "10.3.1\n", f"{APP}/conf/defaults.ini": "app_mode = production\n"},
    ),
    (
        "jenkins",
        "2.440.1",
        "manifest",
        f"{APP}/jenkins.war",
        {},
    ),  # built below: a war with its pom.properties
    ("keycloak", "24.0.1", "file", APP, {f"{APP}/version.txt": "Keycloak - Version 24.0.1\n"}),
    (
        "gitlab",
        "16.8.1",
        "file",
        f"{APP}/public",
        {
            f"{APP}/VERSION": "16.8.1\n",
            f"{APP}/config/gitlab.yml.example": "production:\n",
            f"{APP}/public/robots.txt": "",
        },
    ),
    ("gitea", "", "file", APP, {f"{APP}/custom/conf/app.ini": "APP_NAME = Gitea\n"}),
    (
        "odoo",
        "17.0.0",
        "file",
        APP,
        {
            f"{APP}/odoo/release.py": "RELEASE_LEVELS = [ALPHA, BETA, RELEASE_CANDIDATE, FINAL] = ['alpha', 'beta', 'candidate', 'final']\nversion_info = (17, 0, 0, FINAL, 0, '')\n",
            f"{APP}/odoo-bin": "#!/usr/bin/env python3\n",
        },
    ),
    (
        "redmine",
        "5.1.1",
        "file",
        f"{APP}/public",
        {
            f"{APP}/lib/redmine/version.rb": "module Redmine\n  module VERSION\n    MAJOR = 5\n    MINOR = 1\n    TINY  = 1\n",
            f"{APP}/public/dispatch.fcgi": "",
        },
    ),
    ("mattermost", "", "file", APP, {f"{APP}/bin/mattermost": "", f"{APP}/config/config.json": "{}\n"}),
    (
        "postfixadmin",
        "3.3.13",
        "file",
        f"{APP}/public",
        {
            **php("config.inc.php", "$CONF['version'] = '3.3.13';"),
            f"{APP}/functions.inc.php": "<?php\n",
            f"{APP}/public/index.php": "<?php\n",
        },
    ),
    (
        "tt-rss",
        "21.02",
        "file",
        APP,
        {
            f"{APP}/version_static.txt": "21.02\n",
            f"{APP}/backend.php": "<?php\n",
            f"{APP}/opml.php": "<?php\n",
        },
    ),
    (
        "phpldapadmin",
        "1.2.6.7",
        "file",
        f"{APP}/htdocs",
        {f"{APP}/VERSION": "RELEASE-1.2.6.7\n", f"{APP}/htdocs/index.php": "<?php\n"},
    ),
    (
        "phpsysinfo",
        "3.4.3",
        "file",
        APP,
        php("read_config.php", "if (!defined('PSI_VERSION')) {\n    define('PSI_VERSION', '3.4.3');\n}"),
    ),
    (
        "ganglia-web",
        "3.7.5",
        "file",
        APP,
        {
            **php("version.php", '$GLOBALS["ganglia_version"] = "3.7.5";'),
            f"{APP}/cluster_view.php": "<?php\n",
        },
    ),
    (
        "limesurvey",
        "6.4.4",
        "file",
        APP,
        php("application/config/version.php", "$config['versionnumber'] = '6.4.4';"),
    ),
    (
        "prestashop",
        "8.1.3",
        "file",
        APP,
        php("app/AppKernel.php", "class AppKernel extends Kernel\n{\n    const VERSION = '8.1.3';\n}"),
    ),
    (
        "magento",
        "2.4.6-p3",
        "manifest",
        APP,
        composer_lock(
            ("magento/magento2-base", "2.4.6-p3"), ("magento/product-community-edition", "2.4.6-p3")
        ),
    ),
    (
        "typo3",
        "12.4.10",
        "file",
        APP,
        php(
            "typo3/sysext/core/Classes/Information/Typo3Version.php",
            "final class Typo3Version\n{\n    protected const VERSION = '12.4.10';\n}",
        ),
    ),
    (
        "opencart",
        "4.0.2.3",
        "file",
        APP,
        {
            **php("index.php", "// Version\ndefine('VERSION', '4.0.2.3');"),
            f"{APP}/system/startup.php": "<?php\n",
            f"{APP}/catalog/index.php": "<?php\n",
        },
    ),
    (
        "mantisbt",
        "2.26.0",
        "file",
        APP,
        php("core/constant_inc.php", "define( 'MANTIS_VERSION', '2.26.0' );"),
    ),
    (
        "dolibarr",
        "18.0.4",
        "file",
        APP,
        php(
            "filefunc.inc.php",
            "if (!defined('DOL_APPLICATION_TITLE')) define('DOL_APPLICATION_TITLE', 'Dolibarr');\ndefine('DOL_VERSION', '18.0.4');",
        ),
    ),
    (
        "suitecrm",
        "7.14.2",
        "file",
        APP,
        php(
            "suitecrm_version.php",
            "if (!defined('sugarEntry') || !sugarEntry) { die('Not A Valid Entry Point'); }\n$suitecrm_version = '7.14.2';",
        ),
    ),
    ("dspace", "7.6.1", "manifest", APP, pom("org.dspace", "dspace-server-webapp", "7.6.1")),
    (
        "laravel",
        "10.48.4",
        "file",
        f"{APP}/public",
        {
            **php(
                "vendor/laravel/framework/src/Illuminate/Foundation/Application.php",
                "class Application extends Container\n{\n    const VERSION = '10.48.4';\n}",
            ),
            f"{APP}/artisan": "#!/usr/bin/env php\n",
            f"{APP}/public/index.php": "<?php\n",
        },
    ),
    (
        "lumen",
        "10.0.2",
        "file",
        f"{APP}/public",
        {
            **php(
                "vendor/laravel/lumen-framework/src/Application.php",
                "class Application extends Container\n{\n    public function version()\n    {\n        return 'Lumen (10.0.2) (Laravel Components ^10.0)';\n    }\n}",
            ),
            f"{APP}/public/index.php": "<?php\n",
        },
    ),
    (
        "codeigniter",
        "4.4.5",
        "file",
        f"{APP}/public",
        {
            **php(
                "system/CodeIgniter.php", "class CodeIgniter\n{\n    public const CI_VERSION = '4.4.5';\n}"
            ),
            f"{APP}/public/index.php": "<?php\n",
        },
    ),
    (
        "yii",
        "2.0.49.3",
        "file",
        f"{APP}/web",
        {
            **php(
                "vendor/yiisoft/yii2/BaseYii.php",
                "class BaseYii\n{\n    public static function getVersion()\n    {\n        return '2.0.49.3';\n    }\n}",
            ),
            f"{APP}/web/index.php": "<?php\n",
        },
    ),
    (
        "symfony",
        "6.4.3",
        "file",
        f"{APP}/public",
        {
            **php(
                "vendor/symfony/http-kernel/Kernel.php",
                "abstract class Kernel implements KernelInterface\n{\n    public const VERSION = '6.4.3';\n}",
            ),
            f"{APP}/bin/console": "#!/usr/bin/env php\n",
            f"{APP}/public/index.php": "<?php\n",
        },
    ),
    (
        "cakephp",
        "4.5.3",
        "file",
        f"{APP}/webroot",
        {
            f"{APP}/vendor/cakephp/cakephp/VERSION.txt": "////////////////////////////////////////////////////////////////////////////////////////////////////\n// +--------------------------------------------------------------------------------------------+ //\n// CakePHP Version\n//\n// Holds a static string representing the current version of CakePHP\n// +--------------------------------------------------------------------------------------------+ //\n////////////////////////////////////////////////////////////////////////////////////////////////////\n4.5.3\n",
            f"{APP}/webroot/index.php": "<?php\n",
        },
    ),
    (
        "slim",
        "4.12.0",
        "file",
        f"{APP}/public",
        {
            **php(
                "vendor/slim/slim/Slim/App.php",
                "class App extends RouteCollectorProxy implements RequestHandlerInterface\n{\n    public const VERSION = '4.12.0';\n}",
            ),
            f"{APP}/public/index.php": "<?php\n",
        },
    ),
    (
        "django",
        "4.2.9",
        "manifest",
        APP,
        {**dist_info("Django", "4.2.9"), f"{APP}/manage.py": "#!/usr/bin/env python\n"},
    ),
    (
        "flask",
        "3.0.1",
        "manifest",
        APP,
        {**dist_info("Flask", "3.0.1"), f"{APP}/wsgi.py": "from app import app\n"},
    ),
    (
        "fastapi",
        "0.109.0",
        "manifest",
        APP,
        {f"{APP}/requirements.txt": "fastapi==0.109.0\nuvicorn[standard]==0.27.0\n"},
    ),
    ("next", "14.1.0", "manifest", APP, npm_app("next", "14.1.0")),
    ("nuxt", "3.10.0", "manifest", APP, npm_app("nuxt", "3.10.0")),
    ("nestjs", "10.3.1", "manifest", APP, npm_app("@nestjs/core", "10.3.1")),
    ("sveltekit", "2.5.0", "manifest", APP, npm_app("@sveltejs/kit", "2.5.0")),
    ("express", "4.18.2", "manifest", APP, npm_app("express", "4.18.2")),
    ("fastify", "4.26.0", "manifest", APP, npm_app("fastify", "4.26.0")),
    ("koa", "2.15.0", "manifest", APP, npm_app("koa", "2.15.0")),
    ("hapi", "21.3.3", "manifest", APP, npm_app("@hapi/hapi", "21.3.3")),
    (
        "spring-boot",
        "3.2.2",
        "manifest",
        APP,
        {
            **pom("id.go.provinsi", "simpeg", "1.4.0"),
            f"{APP}/WEB-INF/lib/spring-boot-3.2.2.jar": "",
            f"{APP}/WEB-INF/lib/spring-core-6.1.3.jar": "",
        },
    ),
    (
        "struts",
        "2.5.33",
        "manifest",
        APP,
        {**pom("id.go.provinsi", "eoffice", "2.0"), f"{APP}/WEB-INF/lib/struts2-core-2.5.33.jar": ""},
    ),
    (
        "tomcat",
        "9.0.85",
        "file",
        "/opt/tomcat",
        {
            "/opt/tomcat/RELEASE-NOTES": "                     Apache Tomcat Version 9.0.85\n                            Release Notes\n",
            "/opt/tomcat/lib/catalina.jar": "",
        },
    ),
]


def _lay_out(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def _jenkins_war(root: Path) -> None:
    war = root / APP.lstrip("/") / "jenkins.war"
    war.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(war, "w") as z:
        z.writestr(
            "META-INF/MANIFEST.MF",
            "Manifest-Version: 1.0\r\nMain-Class: executable.Main\r\nJenkins-Version: 2.440.1\r\n",
        )
        z.writestr(
            "META-INF/maven/org.jenkins-ci.main/jenkins-war/pom.properties",
            "artifactId=jenkins-war\ngroupId=org.jenkins-ci.main\nversion=2.440.1\n",
        )
        z.writestr("WEB-INF/web.xml", "<web-app/>")


def test_every_product_has_a_row() -> None:
    assert sorted(r[0] for r in ROWS) == sorted(p.name for p in catalogue().products)
    assert len(ROWS) >= 60


@pytest.mark.parametrize("name,version,kind,root,files", ROWS, ids=[r[0] for r in ROWS])
def test_product_from_its_own_layout(
    tmp_path: Path, name: str, version: str, kind: str, root: str, files: dict[str, str]
) -> None:
    _lay_out(tmp_path, files)
    if name == "jenkins":
        _jenkins_war(tmp_path)
    host = LocalHost(str(tmp_path))
    app = App(
        kind="nginx",
        root=root,
        config=ConfigLocation("/etc/nginx/nginx.conf", 1),
        framework=fingerprint(host, root),
    )
    identify(host, [app], PackageIndex(host), [])
    fw = app.framework
    assert (fw.name, fw.version, fw.evidence_kind) == (name, version, kind)
    product = catalogue().by_name[name]
    assert fw.language == product.language
    if kind == "file":
        assert (tmp_path / fw.evidence_file.lstrip("/")).exists(), fw.evidence_file
    if kind == "manifest":
        assert fw.evidence_file.split("!/")[0].startswith(APP)


# Yii 1.1's YiiBase.php as the release ships it (tabs, `array()`, the version in getVersion()).
YII1_BASE = (
    "<?php\n/**\n * YiiBase class file.\n */\n"
    "defined('YII_BEGIN_TIME') or define('YII_BEGIN_TIME',microtime(true));\n"
    "class YiiBase\n{\n\tpublic static $classMap=array();\n\tprivate static $_app;\n\n"
    "\t/**\n\t * @return string the version of Yii framework\n\t */\n"
    "\tpublic static function getVersion()\n\t{\n\t\treturn '1.1.29';\n\t}\n}\n"
)
YII1_APP = {
    "protected/config/main.php": "<?php\nreturn array(\n\t'name'=>'SIMPEG',\n);\n",
    "assets/.keep": "",
}


def _yii1_index(bootstrap: str) -> str:
    """index.php as `yiic webapp` writes it; `bootstrap` is the expression naming yii.php."""
    return (
        "<?php\n\n// change the following paths if necessary\n"
        f"$yii={bootstrap};\n$config=dirname(__FILE__).'/protected/config/main.php';\n\n"
        "require_once($yii);\nYii::createWebApplication($config)->run();\n"
    )


@pytest.mark.parametrize(
    "root, files, evidence",
    [
        pytest.param(  # an app handed over as one zip: the framework inside the docroot, beside protected/
            "/var/www/html/simpeg",
            {
                "/var/www/html/simpeg/index.php": _yii1_index("dirname(__FILE__).'/framework/yii.php'"),
                "/var/www/html/simpeg/framework/YiiBase.php": YII1_BASE,
                "/var/www/html/simpeg/framework/yii.php": "<?php\nrequire(dirname(__FILE__).'/YiiBase.php');\n",
                **{f"/var/www/html/simpeg/{k}": v for k, v in YII1_APP.items()},
            },
            "/var/www/html/simpeg/framework/YiiBase.php",
            id="framework-inside-the-app",
        ),
        pytest.param(  # `yiic webapp`: the release unpacked once beside the apps, shared by them
            "/var/www/simpeg",
            {
                "/var/www/simpeg/index.php": _yii1_index("dirname(__FILE__).'/../yii/framework/yii.php'"),
                "/var/www/yii/framework/YiiBase.php": YII1_BASE,
                **{f"/var/www/simpeg/{k}": v for k, v in YII1_APP.items()},
            },
            "/var/www/yii/framework/YiiBase.php",
            id="release-beside-the-apps",
        ),
        pytest.param(  # an index.php edited by hand to a release under /opt, booting the lighter yiilite.php
            "/var/www/simpeg",
            {
                "/var/www/simpeg/index.php": _yii1_index("'/opt/yii-1.1.29/framework/yiilite.php'"),
                "/opt/yii-1.1.29/framework/YiiBase.php": YII1_BASE,
                **{f"/var/www/simpeg/{k}": v for k, v in YII1_APP.items()},
            },
            "/opt/yii-1.1.29/framework/YiiBase.php",
            id="absolute-path-to-a-release",
        ),
    ],
)
def test_yii1_in_the_layouts_yii1_apps_use(
    tmp_path: Path, root: str, files: dict[str, str], evidence: str
) -> None:
    """Yii 1.1 (framework/YiiBase.php), beside Yii 2's row above: still common in Indonesian government
    apps of the 2010s."""
    _lay_out(tmp_path, files)
    host = LocalHost(str(tmp_path))
    app = App(kind="apache", root=root, config=ConfigLocation("/etc/apache2/apache2.conf", 1))
    app.framework = fingerprint(host, root)
    identify(host, [app], PackageIndex(host), [])
    fw = app.framework
    assert (fw.name, fw.version, fw.evidence_kind, fw.evidence_file) == ("yii", "1.1.29", "file", evidence)


GOOD = """
[[product]]
name = "sipd"
files = [{ path = "VERSION", regex = '^(\\d+\\.\\d+)' }]
"""


@pytest.mark.parametrize(
    "row,problem",
    [
        ('name = "Bad Name"\nmarkers = ["x"]', "name must be lower-case"),
        ('name = "a"', "no evidence"),
        ('name = "a"\nkind = "library"\nmarkers = ["x"]', "kind must be one of"),
        ('name = "a"\nfiles = [{ path = "v", regex = "[" }]', "bad regex"),
        ('name = "a"\nfiles = [{ path = "v", regex = "\\\\d+" }]', "no group to capture"),
        ('name = "a"\nfiles = [{ path = "/usr/share/a/v", regex = "(x)" }]', "relative to the app"),
        ('name = "a"\nmarkers = ["../etc/passwd"]', "relative to the app"),
        ('name = "a"\nmarkers = ["x"]\nhomepage = "https://a"', "unknown keys"),
        ('name = "a"\ndpkg = ["wordpress"]', "claimed by"),
        ('name = "sipd"\nmarkers = ["y"]', "appears twice"),
        (
            'name = "a"\nmarkers = ["x"]\nsupport = { source = "http://a", taken = 2026-01-01, releases = { "1" = false } }',
            "https://",
        ),
        (
            'name = "a"\nmarkers = ["x"]\nsupport = { source = "https://a", taken = "2026", releases = { "1" = false } }',
            "taken must be",
        ),
        (
            'name = "a"\nmarkers = ["x"]\nsupport = { source = "https://a", taken = 2026-01-01, releases = { "one" = false } }',
            "not a version prefix",
        ),
        (
            'name = "a"\nmarkers = ["x"]\nsupport = { source = "https://a", taken = 2026-01-01, releases = { "1" = "soon" } }',
            "date or false",
        ),
        (
            'name = "a"\nmarkers = ["x"]\nsupport = { source = "https://a", taken = 2026-01-01, releases = { "1" = { end = false, latest = "2.0" } } }',
            "not of that cycle",
        ),
    ],
)
def test_a_bad_row_fails_loudly(row: str, problem: str) -> None:
    """The data file is checked whole when loaded: a bad row names itself and what is wrong."""
    text = GOOD + '\n[[product]]\nname = "wp"\ndpkg = ["wordpress"]\n' + "\n[[product]]\n" + row + "\n"
    with pytest.raises(SignatureError, match=problem):
        load(text)


def test_the_good_rows_load() -> None:
    assert [p.name for p in load(GOOD).products] == ["sipd"]
