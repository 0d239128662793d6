"""Secrets in app configs never reach the snapshot, its errors, or the agent's log.

A host tree with one app of each kind, each config holding a password, a user
name, keys and tokens the way those apps really keep them (plus a certificate
file that also holds its private key, a PM2 dump whose environment has API keys,
and a Docker container whose labels carry credentials). Everything ronda reports
is rendered to JSON and searched for every planted value.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from certs import self_signed
from servers_apps import DockerApiFixture

from ronda.agent.discovery import DiscoveryOptions, discover
from ronda.agent.host import LocalHost
from ronda.agent.inspect import inspect_apps
from ronda.agent.listeners import map_listeners
from ronda.convert import message_to_json, snapshot_to_wire
from ronda.model import Snapshot

SECRETS = {
    "wp_user": "wpadmin_u7731",
    "wp_pass": "Wp-Pa55-x81!",
    "wp_auth_key": "k9#Lq@authkeyWP",
    "lv_user": "laravel_u552",
    "lv_pass": "Lv-Pa55-0xZ",
    "lv_app_key": "base64:QUJDREVGR0hJSktMTU5PUFFSU1Q=",
    "lv_aws": "AKIAZZSECRETKEY123",
    "ci_user": "ci_u9912",
    "ci_pass": "Ci3-Pa55-Qw",
    "dr_user": "drupal_u301",
    "dr_pass": "Dr-Pa55-7yT",
    "dr_salt": "drupal-hash-salt-8aa8",
    "mo_user": "moodle_u44",
    "mo_pass": "Mo-Pa55-kK",
    "jo_user": "joomla_u12",
    "jo_pass": "Jo-Pa55-pP",
    "jo_secret": "joomlaSecretZX9",
    "mw_user": "wiki_u88",
    "mw_pass": "Mw-Pa55-rR",
    "mw_key": "mwSecretKey4242",
    "rc_user": "rc_u55",
    "rc_pass": "Rc-Pa55-dsn",
    "rc_des": "rcDesKey-24chars-abcdefg",
    "ojs_user": "ojs_u21",
    "ojs_pass": "Ojs-Pa55-i",
    "ojs_salt": "ojsSaltQQ12",
    "yii_user": "yii_u3",
    "yii_pass": "Yii-Pa55-w",
    "node_user": "node_u5",
    "node_pass": "Node-Pa55-url",
    "pm2_token": "ghp_pm2TokenABC123",
    "pm2_pass": "Pm2-Env-Pa55",
    "docker_auth": "admin:$apr1$dockerhash$XyZ",
    "ci4_pass": "Ci4-Pa55-env",
}
S = SECRETS


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def plant(root: Path) -> dict[str, str]:
    """App trees with their configs; returns the docroot of each app."""
    apps = {
        "wp": "/var/www/wp",
        "lv": "/var/www/laravel/public",
        "ci": "/var/www/ci3",
        "dr": "/var/www/drupal",
        "mo": "/var/www/moodle",
        "jo": "/var/www/joomla",
        "mw": "/var/www/wiki",
        "rc": "/var/www/mail",
        "ojs": "/var/www/ojs",
        "yii": "/var/www/yii/web",
        "ci4": "/var/www/ci4/public",
    }
    _write(root, "/var/www/wp/wp-includes/version.php", "<?php\n$wp_version = '6.4.2';\n")
    _write(
        root,
        "/var/www/wp/wp-config.php",
        f"""<?php
define( 'DB_NAME', 'wp_portal' );
define( 'DB_USER', '{S["wp_user"]}' );
define( 'DB_PASSWORD', '{S["wp_pass"]}' );
define( 'DB_HOST', '{S["wp_user"]}:{S["wp_pass"]}@db1.internal' );
define( 'AUTH_KEY', '{S["wp_auth_key"]}' );
""",
    )
    _write(root, "/var/www/laravel/artisan", "#!/usr/bin/env php\n")
    _write(root, "/var/www/laravel/public/index.php", "<?php\n")
    _write(
        root,
        "/var/www/laravel/vendor/laravel/framework/src/Illuminate/Foundation/Application.php",
        "<?php\nclass Application {\n    const VERSION = '10.48.4';\n}\n",
    )
    _write(
        root,
        "/var/www/laravel/.env",
        f"""APP_NAME=Sipd
APP_KEY={S["lv_app_key"]}
DB_CONNECTION=pgsql
DB_HOST=127.0.0.1
DB_DATABASE=sipd
DB_USERNAME={S["lv_user"]}
DB_PASSWORD="{S["lv_pass"]}"
AWS_SECRET_ACCESS_KEY={S["lv_aws"]}
""",
    )
    _write(root, "/var/www/ci3/system/core/CodeIgniter.php", "<?php\nconst CI_VERSION = '3.1.13';\n")
    _write(
        root,
        "/var/www/ci3/application/config/database.php",
        f"""<?php
$active_group = 'default';
$db['default']['hostname'] = 'localhost';
$db['default']['username'] = '{S["ci_user"]}';
$db['default']['password'] = '{S["ci_pass"]}';
$db['default']['database'] = 'simpeg';
$db['default']['dbdriver'] = 'mysqli';
""",
    )
    _write(
        root,
        "/var/www/ci4/system/CodeIgniter.php",
        "<?php\nclass CodeIgniter {\n public const CI_VERSION = '4.4.3';\n}\n",
    )
    _write(
        root,
        "/var/www/ci4/.env",
        f"""CI_ENVIRONMENT = production
database.default.hostname = db4.internal
database.default.database = ci4app
database.default.username = {S["ci_user"]}
database.default.password = {S["ci4_pass"]}
database.default.DBDriver = MySQLi
""",
    )
    _write(
        root, "/var/www/drupal/core/lib/Drupal.php", "<?php\nclass Drupal {\n  const VERSION = '10.1.6';\n}\n"
    )
    _write(
        root,
        "/var/www/drupal/sites/default/settings.php",
        f"""<?php
// $databases['default']['default'] = ['database' => 'example', 'password' => 'example-only'];
$databases['default']['default'] = array (
  'database' => 'drupal_dinas',
  'username' => '{S["dr_user"]}',
  'password' => '{S["dr_pass"]}',
  'host' => 'localhost',
  'port' => '3306',
  'driver' => 'mysql',
  'prefix' => '',
);
$settings['hash_salt'] = '{S["dr_salt"]}';
""",
    )
    _write(
        root,
        "/var/www/moodle/version.php",
        "<?php\n$version  = 2022112806.00;\n$release  = '4.1.6 (Build: 20231009)';\n"
        "$maturity = MATURITY_STABLE;\n",
    )
    _write(
        root,
        "/var/www/moodle/config.php",
        f"""<?php
unset($CFG);
global $CFG;
$CFG = new stdClass();
$CFG->dbtype    = 'pgsql';
$CFG->dblibrary = 'native';
$CFG->dbhost    = 'localhost';
$CFG->dbname    = 'moodle';
$CFG->dbuser    = '{S["mo_user"]}';
$CFG->dbpass    = '{S["mo_pass"]}';
""",
    )
    _write(
        root,
        "/var/www/joomla/libraries/src/Version.php",
        "<?php\nfinal class Version {\n public const PRODUCT = 'Joomla!';\n"
        " public const MAJOR_VERSION = 4;\n public const MINOR_VERSION = 4;\n"
        " public const PATCH_VERSION = 3;\n}\n",
    )
    _write(
        root,
        "/var/www/joomla/configuration.php",
        f"""<?php
class JConfig {{
	public $dbtype = 'mysqli';
	public $host = 'localhost';
	public $user = '{S["jo_user"]}';
	public $password = '{S["jo_pass"]}';
	public $db = 'joomla_bkd';
	public $secret = '{S["jo_secret"]}';
}}
""",
    )
    _write(root, "/var/www/wiki/includes/Defines.php", "<?php\ndefine( 'MW_VERSION', '1.39.6' );\n")
    _write(
        root,
        "/var/www/wiki/LocalSettings.php",
        f"""<?php
$wgDBtype = "mysql";
$wgDBserver = "localhost";
$wgDBname = "wiki_dinas";
$wgDBuser = "{S["mw_user"]}";
$wgDBpassword = "{S["mw_pass"]}";
$wgSecretKey = "{S["mw_key"]}";
""",
    )
    _write(root, "/var/www/mail/program/include/iniset.php", "<?php\ndefine('RCMAIL_VERSION', '1.6.5');\n")
    _write(
        root,
        "/var/www/mail/config/config.inc.php",
        f"""<?php
$config = [];
$config['db_dsnw'] = 'pgsql://{S["rc_user"]}:{S["rc_pass"]}@db.internal:5432/roundcube';
$config['des_key'] = '{S["rc_des"]}';
""",
    )
    _write(
        root,
        "/var/www/ojs/dbscripts/xml/version.xml",
        "<version><application>ojs2</application><release>3.3.0.13</release></version>\n",
    )
    _write(
        root,
        "/var/www/ojs/config.inc.php",
        f"""; <?php exit(); // DO NOT DELETE ?>
[database]
driver = mysqli
host = localhost
username = {S["ojs_user"]}
password = {S["ojs_pass"]}
name = ojs_jurnal
[security]
salt = "{S["ojs_salt"]}"
""",
    )
    _write(
        root,
        "/var/www/yii/vendor/yiisoft/yii2/BaseYii.php",
        "<?php\nclass BaseYii {\n public static function getVersion()\n {\n  return '2.0.49.3';\n }\n}\n",
    )
    _write(
        root,
        "/var/www/yii/config/db.php",
        f"""<?php
return [
    'class' => 'yii\\db\\Connection',
    'dsn' => 'mysql:host=localhost;dbname=yii_perizinan',
    'username' => '{S["yii_user"]}',
    'password' => '{S["yii_pass"]}',
];
""",
    )
    return apps


def test_no_secret_leaves_the_host(tmp_path: Path, caplog) -> None:
    root = tmp_path / "host"
    apps = plant(root)
    cert, key, _ = self_signed(tmp_path / "tls", "portal.test", ["portal.test"])
    private_key = key.read_text()
    _write(root, "/etc/ssl/private/portal-combined.pem", cert.read_text() + private_key)
    _write(root, "/etc/ssl/private/only-key.pem", private_key)  # misconfigured: a key where a cert should be
    servers = "\n".join(
        f"""server {{ listen 80; server_name {name}.test; root {docroot}; }}"""
        for name, docroot in apps.items()
    )
    _write(
        root,
        "/etc/nginx/nginx.conf",
        f"""events {{}}
http {{
    {servers}
    server {{ listen 443 ssl; server_name portal.test; root /var/www/wp;
             ssl_certificate /etc/ssl/private/portal-combined.pem; ssl_certificate_key /etc/ssl/k.pem; }}
    server {{ listen 8443 ssl; server_name broken.test; root /var/www/wp;
             ssl_certificate /etc/ssl/private/only-key.pem;
             ssl_certificate_key /etc/ssl/private/only-key.pem; }}
}}
""",
    )
    _write(
        root,
        "/srv/api/package.json",
        json.dumps({"name": "api-perizinan", "dependencies": {"express": "4.18.2"}}),
    )
    _write(
        root,
        "/srv/api/.env",
        f"DATABASE_URL=mysql://{S['node_user']}:{S['node_pass']}@db.internal:3306/perizinan\n",
    )
    _write(
        root,
        "/root/.pm2/dump.pm2",
        json.dumps(
            [
                {
                    "name": "api-perizinan",
                    "pm_cwd": "/srv/api",
                    "pm_exec_path": "/srv/api/server.js",
                    "status": "online",
                    "args": ["--token", S["pm2_token"]],
                    "env": {"PORT": "3000", "GITHUB_TOKEN": S["pm2_token"], "DB_PASSWORD": S["pm2_pass"]},
                }
            ]
        ),
    )
    containers = [
        {
            "Id": "4f1c2e3d4b5a" + "0" * 52,
            "Names": ["/sipd-web"],
            "Image": "nginx:1.25",
            "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}],
            "Labels": {
                "com.docker.compose.project": "sipd",
                "traefik.http.middlewares.auth.basicauth.users": S["docker_auth"],
            },
            "State": "running",
        }
    ]
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="ronda")  # whatever level an earlier CLI test left on it
    with DockerApiFixture(root / "var/run/docker.sock", containers):
        host = LocalHost(str(root))
        result = discover(host, DiscoveryOptions())
        inspect_apps(host, result)
    listeners, errors = map_listeners(host, result.apps)
    snapshot = Snapshot(
        agent_id="web01", sequence=1, apps=result.apps, listeners=listeners, errors=result.errors + errors
    )
    text = message_to_json(snapshot_to_wire(snapshot))

    # the inspection did its job: the databases and the certificate are there, without their secrets
    databases = {
        a.server_names[0]: (a.database.engine, a.database.name, a.database.host)
        for a in result.apps
        if a.database
    }
    assert databases == {
        "wp.test": ("mysql", "wp_portal", "db1.internal"),
        "portal.test": ("mysql", "wp_portal", "db1.internal"),
        "broken.test": ("mysql", "wp_portal", "db1.internal"),
        "lv.test": ("pgsql", "sipd", "127.0.0.1"),
        "ci.test": ("mysql", "simpeg", "localhost"),
        "ci4.test": ("mysql", "ci4app", "db4.internal"),
        "dr.test": ("mysql", "drupal_dinas", "localhost"),
        "mo.test": ("pgsql", "moodle", "localhost"),
        "jo.test": ("mysql", "joomla_bkd", "localhost"),
        "mw.test": ("mysql", "wiki_dinas", "localhost"),
        "rc.test": ("pgsql", "roundcube", "db.internal:5432"),
        "ojs.test": ("mysql", "ojs_jurnal", "localhost"),
        "yii.test": ("mysql", "yii_perizinan", "localhost"),
        "api-perizinan": ("mysql", "perizinan", "db.internal:3306"),
    }
    assert any(a.tls and a.tls.not_after for a in result.apps)
    assert any(e.source == "tls" and e.path == "/etc/ssl/private/only-key.pem" for e in snapshot.errors)
    assert any(a.kind == "docker" and a.labels.get("compose_project") == "sipd" for a in result.apps)

    key_body = "".join(private_key.splitlines()[1:-1])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert any(r.name == "ronda.inspect" for r in caplog.records)  # the log was captured
    for where, haystack in (("snapshot", text), ("log", logged)):
        for name, secret in SECRETS.items():
            assert secret not in haystack, f"{name} leaked into the {where}"
        assert "PRIVATE KEY" not in haystack and key_body[:40] not in haystack, f"private key in the {where}"
