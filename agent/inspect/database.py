"""Which database an app uses (engine, name, host), from the config files it keeps.

Only those three values are ever captured, each by a pattern that matches the
one setting; user names, passwords, keys and DSN credentials are never read
into a result, a log line or an error message.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from ronda.agent.host import Host
from ronda.agent.inspect.files import Files
from ronda.agent.inspect.fingerprints import project_dirs
from ronda.agent.inspect.literals import (
    dotenv,
    ini_value,
    php_array_assign,
    php_array_item,
    php_define,
    php_prop,
    php_var,
    strip_php_comments,
)
from ronda.model import App, Database

_ENGINES = {
    "mysqli": "mysql",
    "mysql": "mysql",
    "pdo_mysql": "mysql",
    "mariadb": "mysql",
    "mysqlpdo": "mysql",
    "pgsql": "pgsql",
    "postgres": "pgsql",
    "postgresql": "pgsql",
    "postgre": "pgsql",
    "pdo_pgsql": "pgsql",
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
    "pdo_sqlite": "sqlite",
    "sqlsrv": "sqlsrv",
    "mssql": "sqlsrv",
    "oci8": "oracle",
    "oci": "oracle",
    "oracle": "oracle",
    "mongodb": "mongodb",
    "redis": "redis",
}
_INCLUDE = re.compile(r"""\b(?:include|require)(?:_once)?\s*\(?\s*['"]([^'"$]+\.php)['"]""")
_MAX_INCLUDES = 6


class _Config:
    """A PHP config file and the files it includes by literal path, as (path, code-without-comments)."""

    def __init__(self, files: Files, rel: str) -> None:
        self.parts: list[tuple[str, str]] = []
        self._add(files, files.path(rel), depth=0)

    def _add(self, files: Files, path: str, depth: int) -> None:
        if depth > 2 or len(self.parts) >= _MAX_INCLUDES or any(p == path for p, _ in self.parts):
            return
        text = Files(files.host, path, files.problems).text("")
        if text is None:
            return
        code = strip_php_comments(text)
        self.parts.append((path, code))
        for target in _INCLUDE.findall(code):
            full = target if target.startswith("/") else posixpath.join(posixpath.dirname(path), target)
            self._add(files, posixpath.normpath(full), depth + 1)

    def find(self, pick: Callable[[str], str | None]) -> tuple[str | None, str]:
        for path, code in self.parts:
            value = pick(code)
            if value is not None:
                if value.startswith("$"):  # `'host' => $dbserver`: a variable set in an included file
                    return self.find(functools.partial(php_var, name=value[1:]))
                return value, path
        return None, ""


def _db(engine: str | None, name: str | None, host: str | None, evidence: str) -> Database | None:
    if not (engine or name):
        return None
    return Database(
        engine=normalise_engine(engine or ""),
        name=_clean(name),
        host=_clean_host(host),
        evidence_file=evidence,
    )


def normalise_engine(engine: str) -> str:
    key = engine.strip().lower().split("\\")[-1]
    return _ENGINES.get(key, key)


def _clean(value: str | None) -> str:
    return (value or "").strip()[:200]


def _clean_host(host: str | None) -> str:
    """A host never carries credentials, even when a config writes user:pass@host."""
    return _clean(host).rpartition("@")[2]


def from_url(url: str, evidence: str) -> Database | None:
    """mysql://user:pass@host:3306/name -> engine, host, name (the credentials are dropped here)."""
    scheme, sep, rest = url.strip().partition("://")
    if sep and "@" in rest:
        # the credentials end at the last @: a password may hold / and @ (urlsplit would end it at a /)
        rest = rest.rpartition("@")[2]
    try:
        parts = urlsplit(f"{scheme}{sep}{rest}")
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme:
        return None
    host = (parts.hostname or "") + (f":{port}" if port else "")
    name = parts.path[1:] if parts.scheme.startswith("sqlite") else parts.path.lstrip("/")
    return _db(parts.scheme, name, host, evidence)


def from_pdo_dsn(dsn: str, evidence: str) -> Database | None:
    """mysql:host=localhost;dbname=app (Yii, plain PDO)."""
    engine, _, rest = dsn.partition(":")
    params = dict(p.split("=", 1) for p in rest.split(";") if "=" in p)
    if engine.startswith("sqlite"):
        return _db(engine, rest, "", evidence)
    return _db(
        engine,
        params.get("dbname") or params.get("database"),
        params.get("host") or params.get("server"),
        evidence,
    )


def _with_var(pick: Callable[[str, str], str | None], name: str) -> Callable[[str], str | None]:
    """Match a setting whose value may be a literal or a $variable."""

    def find(code: str) -> str | None:
        value = pick(code, name)
        if value is None:
            m = re.search(rf"""['"]{re.escape(name)}['"]\s*\]?\s*=>?\s*(\$\w+)""", code)
            value = m.group(1) if m else None
        return value

    return find


# -- per framework ---------------------------------------------------------------------------------


def wordpress(f: Files, app: App) -> Database | None:
    candidates = ["wp-config.php", "../wp-config.php"]
    names = [n.lower() for n in app.server_names if n and not n.startswith(("~", "*"))]
    candidates += [f"/etc/wordpress/config-{n}.php" for n in names[:5]] + [
        "/etc/wordpress/config-default.php"
    ]
    for rel in candidates:
        config = _Config(f, rel)
        name, path = config.find(lambda c: php_define(c, "DB_NAME"))
        if name is not None:
            host, _ = config.find(lambda c: php_define(c, "DB_HOST"))
            return _db("mysql", name, host, path)
    return None


def laravel(f: Files, app: App) -> Database | None:
    text = f.text(".env", limit=256 * 1024)
    if text is None:
        return None
    url = dotenv(text, "DATABASE_URL") or dotenv(text, "DB_URL")
    if url:
        return from_url(url, f.path(".env"))
    return _db(
        dotenv(text, "DB_CONNECTION"), dotenv(text, "DB_DATABASE"), dotenv(text, "DB_HOST"), f.path(".env")
    )


def codeigniter(f: Files, app: App) -> Database | None:
    env = f.text(".env", limit=256 * 1024)
    if env and dotenv(env, "database.default.database") is not None:
        return _db(
            dotenv(env, "database.default.DBDriver") or "mysqli",
            dotenv(env, "database.default.database"),
            dotenv(env, "database.default.hostname"),
            f.path(".env"),
        )
    config = _Config(f, "app/Config/Database.php")  # CodeIgniter 4
    for path, code in config.parts:
        m = re.search(r"\$default\s*=\s*\[(.*?)\];", code, re.S)
        if m:
            return _db(
                php_array_item(m.group(1), "DBDriver"),
                php_array_item(m.group(1), "database"),
                php_array_item(m.group(1), "hostname"),
                path,
            )
    config = _Config(f, "application/config/database.php")  # CodeIgniter 3
    group, _ = config.find(lambda c: php_var(c, "active_group"))
    group = group or "default"
    for path, code in config.parts:
        m = re.search(
            rf"""\$db\[['"]{re.escape(group)}['"]\]\s*=\s*(?:array\s*\(|\[)(.*?)(?:\);|\];)""", code, re.S
        )
        body = m.group(1) if m else ""
        name = php_array_item(body, "database") or php_array_assign(code, f"db['{group}']", "database")
        if name is not None:
            engine = php_array_item(body, "dbdriver") or php_array_assign(code, f"db['{group}']", "dbdriver")
            host = php_array_item(body, "hostname") or php_array_assign(code, f"db['{group}']", "hostname")
            return _db(engine or "mysqli", name, host, path)
    return None


def yii(f: Files, app: App) -> Database | None:
    for rel in ("config/db.php", "common/config/main-local.php", "config/main-local.php", "config/web.php"):
        config = _Config(f, rel)
        dsn, path = config.find(lambda c: php_array_item(c, "dsn") or php_array_item(c, "connectionString"))
        if dsn:
            return from_pdo_dsn(dsn, path)
    return None


def drupal(f: Files, app: App) -> Database | None:
    config = _Config(f, "sites/default/settings.php")
    for path, code in config.parts:
        m = re.search(
            r"""\$databases\s*\[\s*['"]default['"]\s*\]\s*\[\s*['"]default['"]\s*\]\s*=\s*(?:array\s*\(|\[)"""
            r"(.*?)(?:\);|\];)",
            code,
            re.S,
        )
        if m:
            body = m.group(1)
            return _db(
                php_array_item(body, "driver"),
                php_array_item(body, "database"),
                php_array_item(body, "host"),
                path,
            )
        m = re.search(r"""\$db_url\s*=\s*['"]([^'"]+)""", code)  # Drupal 6
        if m:
            return from_url(m.group(1), path)
    return None


def moodle(f: Files, app: App) -> Database | None:
    config = _Config(f, "config.php")
    name, path = config.find(lambda c: php_prop(c, "CFG", "dbname"))
    if name is None:
        return None
    engine, _ = config.find(lambda c: php_prop(c, "CFG", "dbtype"))
    host, _ = config.find(lambda c: php_prop(c, "CFG", "dbhost"))
    return _db(engine, name, host, path)


def _from_php_vars(
    config: _Config, name_var: str, engine_var: str, host_var: str, default_engine: str = ""
) -> Database | None:
    """Database name, engine and host from plain PHP variables (``$db = 'x';``)."""
    name, path = config.find(lambda c: php_var(c, name_var))
    if name is None:
        return None
    engine = config.find(lambda c: php_var(c, engine_var))[0] or default_engine
    return _db(engine, name, config.find(lambda c: php_var(c, host_var))[0], path)


def joomla(f: Files, app: App) -> Database | None:
    return _from_php_vars(_Config(f, "configuration.php"), "db", "dbtype", "host")


def mediawiki(f: Files, app: App) -> Database | None:
    return _from_php_vars(_Config(f, "LocalSettings.php"), "wgDBname", "wgDBtype", "wgDBserver", "mysql")


def roundcube(f: Files, app: App) -> Database | None:
    config = _Config(f, "config/config.inc.php")
    dsn, path = config.find(lambda c: php_array_assign(c, "config", "db_dsnw"))
    if dsn and "$" not in dsn:
        return from_url(dsn, path)
    return _from_php_vars(config, "dbname", "dbtype", "dbserver")  # Debian's dbconfig-common include


def phpmyadmin(f: Files, app: App) -> Database | None:
    """phpMyAdmin manages a server rather than owning a database: its engine and host."""
    rel = "config.inc.php"
    vendor = f.text("libraries/vendor_config.php", limit=64 * 1024)
    m = re.search(r"""['"]configFile['"]\s*=>\s*['"]([^'"]+)""", vendor or "")
    if not f.is_file(rel) and m:
        rel = m.group(1)
    config = _Config(f, rel)
    host, path = config.find(_with_var(lambda c, k: php_array_assign(c, "cfg['Servers'][$i]", k), "host"))
    return Database(engine="mysql", host=_clean_host(host), evidence_file=path) if host is not None else None


def pkp(f: Files, app: App) -> Database | None:
    text = f.text("config.inc.php", limit=256 * 1024)
    if text is None:
        return None
    return _db(
        ini_value(text, "database", "driver"),
        ini_value(text, "database", "name"),
        ini_value(text, "database", "host"),
        f.path("config.inc.php"),
    )


def node(f: Files, app: App) -> Database | None:
    text = f.text(".env", limit=256 * 1024)
    if text is None:
        return None
    url = dotenv(text, "DATABASE_URL") or dotenv(text, "MONGODB_URI") or dotenv(text, "MONGO_URL")
    if url:
        return from_url(url, f.path(".env"))
    return _db(
        dotenv(text, "DB_CONNECTION") or dotenv(text, "DB_DIALECT") or dotenv(text, "DB_TYPE"),
        dotenv(text, "DB_DATABASE") or dotenv(text, "DB_NAME"),
        dotenv(text, "DB_HOST"),
        f.path(".env"),
    )


HANDLERS: dict[str, Callable[[Files, App], Database | None]] = {
    "wordpress": wordpress,
    "laravel": laravel,
    "codeigniter": codeigniter,
    "yii": yii,
    "drupal": drupal,
    "moodle": moodle,
    "joomla": joomla,
    "mediawiki": mediawiki,
    "roundcube": roundcube,
    "phpmyadmin": phpmyadmin,
    "ojs": pkp,
    "omp": pkp,
    "ops": pkp,
}
_NODE_NAMES = ("node", "next", "nuxt", "nestjs", "express", "fastify", "koa", "hapi-hapi", "sveltejs-kit")


def find_database(host: Host, app: App, problems: list[Files]) -> Database | None:
    """The database `app` names in its config, looked up in the project directories of its root."""
    framework = app.framework.name if app.framework else ""
    handler = HANDLERS.get(framework) or (node if framework in _NODE_NAMES else None)
    if handler is None or not app.root or app.root.endswith((".war", ".jar")):
        return None
    for base in project_dirs(app.root):
        f = Files(host, base)
        problems.append(f)
        found = handler(f, app)
        if found:
            return found
    return None
