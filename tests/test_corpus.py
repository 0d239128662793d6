"""Discovery on configs in the shapes real projects publish and distributions install.

Each case under tests/corpus/ is a directory: `root/`, laid out like `/` and
read the way `ronda-agent scan --root` reads a server, and `expected.txt`,
which says in its comment lines which published pattern the config follows
(written for ronda in that shape, not copied) and then lists, one per line,
the apps a sysadmin would write down for that server, and the errors
`nginx -t` / `apachectl -t` would give. The list is checked exactly.

    # options: tomcat_server_xml=/opt/atlassian/confluence/conf/server.xml
    # secret: Kaltara-AJP-2024          (in the config; never in what ronda reports)
    nginx:cloud.example.org:443/ root=/var/www/nextcloud handler=127.0.0.1:9000
    error /etc/nginx/sites-enabled/sipd:7 unknown directive "servr_name"

Every nginx and Apache case is also loaded by the real nginx (`nginx -t`) or
httpd (`apache2 -t`) from a copy relocated under a temporary directory, so the
corpus holds configs these servers accept (or, for the broken ones, refuse).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ronda.agent.discovery import DiscoveryOptions, discover
from ronda.agent.discovery.nginx_config import BUNDLED_CONFS, DEFAULT_CONFS
from ronda.agent.host import LocalHost
from ronda.model import App

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.txt").is_file())
WEB_SERVERS = ("nginx", "apache", "caddy", "tomcat")
# Labels that say what an app serves, in the order an expected line lists them.
SHOWN_LABELS = ("upstream_servers", "handler", "redirect", "return", "backend")
# Absolute paths a relocated copy moves under its temporary directory (not /usr: modules live there).
_RELOCATED = re.compile(r"(?<![\w.:/$-])/(?:etc|var|opt|srv|home|run)/[^\s;\"'{}|]*")


def expected(case: str) -> tuple[list[str], DiscoveryOptions, list[str]]:
    """(the expected lines, the discovery options, the secrets the config holds)."""
    options: dict[str, str] = {}
    lines, secrets = [], []
    for line in (CORPUS / case / "expected.txt").read_text().splitlines():
        line = line.strip()
        if line.startswith("# options:"):
            options.update(item.split("=", 1) for item in line.split(":", 1)[1].split())
        elif line.startswith("# secret:"):
            secrets.append(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            lines.append(" ".join(line.split()))
    return sorted(lines), DiscoveryOptions(sources=WEB_SERVERS, use_binaries=False, **options), secrets


def describe(app: App) -> str:
    fields = [("root", app.root), ("upstream", app.upstream)]
    fields += [(name, app.labels.get(name, "")) for name in SHOWN_LABELS]
    return " ".join([app.key] + [f"{name}={value}" for name, value in fields if value])


@pytest.mark.parametrize("case", CASES)
def test_corpus_apps_are_what_a_sysadmin_would_list(case):
    want, options, secrets = expected(case)
    result = discover(LocalHost(str(CORPUS / case / "root")), options)
    found = [describe(a) for a in result.apps]
    found += [f"error {e.path}:{e.line} {e.message}" for e in result.errors]
    assert sorted(found) == want
    assert not [s for s in secrets if s in repr(result)]


def relocate(case: str, into: Path) -> Path:
    """A copy of the case's root under `into`, every absolute path in its configs moved there too."""
    copy = into / "root"
    shutil.copytree(CORPUS / case / "root", copy, symlinks=True)
    for path in copy.rglob("*"):
        if path.is_symlink() and os.readlink(path).startswith("/"):
            target = os.readlink(path)
            path.unlink()
            path.symlink_to(f"{copy}{target}")
        elif path.is_file() and not path.is_symlink() and path.suffix not in (".war", ".jar"):
            text = path.read_text()
            path.write_text(_RELOCATED.sub(lambda m: f"{copy}{m.group(0)}", text))
    return copy


def self_signed(cert: Path, key: Path) -> None:
    cert.parent.mkdir(parents=True, exist_ok=True)
    key.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-days", "2", "-subj", "/CN=corpus.test", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )


def _files_it_needs(copy: Path, conf_dir: Path, cert: str, key: str, opened: tuple[str, ...]) -> None:
    """Certificates the config names (made here, self-signed) and the directories of the files it opens."""
    pairs: dict[str, str] = {}
    for conf in conf_dir.rglob("*"):
        if not conf.is_file():
            continue
        text = conf.read_text()
        certs = re.findall(rf"{cert}\s+\"?([^\s;\"]+)", text)
        keys = re.findall(rf"{key}\s+\"?([^\s;\"]+)", text)
        pairs.update(zip(certs, keys, strict=True))
        for directive in opened:
            for path in re.findall(rf"{directive}\s+\"?([^\s;\"|]+)", text):
                if path.startswith(str(copy)):
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
    for c, k in pairs.items():
        if not Path(c).exists():
            self_signed(Path(c), Path(k))


def nginx_conf(case: str) -> str:
    """The case's nginx.conf as nginx would be started with it (a distribution's or a bundled one)."""
    return next((p for p in DEFAULT_CONFS + BUNDLED_CONFS if (CORPUS / case / "root" / p[1:]).exists()), "")


_OPENED_BY_NGINX = ("access_log", "error_log", "proxy_cache_path")
NGINX_CASES = [c for c in CASES if nginx_conf(c)]
APACHE_CASES = [c for c in CASES if (CORPUS / c / "root/etc/apache2/apache2.conf").exists()]


def _refused(case: str) -> bool:
    return any(line.startswith("error ") for line in expected(case)[0])


@pytest.mark.parametrize("case", NGINX_CASES)
@pytest.mark.servers
def test_nginx_accepts_the_corpus_config(case, tmp_path):
    copy = relocate(case, tmp_path)
    conf = copy / nginx_conf(case)[1:]
    prefix = conf.parent.parent if conf.parent.name == "conf" else copy  # nginx -p PREFIX, conf/nginx.conf
    _files_it_needs(copy, conf.parent, "ssl_certificate", "ssl_certificate_key", _OPENED_BY_NGINX)
    for directory in ("run", "var/log/nginx"):
        (copy / directory).mkdir(parents=True, exist_ok=True)
    # The account nginx's workers run as (gitlab-www, nginx...) need not exist on this machine.
    conf.write_text(re.sub(r"(?m)^user\s+[^;]+;", "user www-data;", conf.read_text()))
    done = subprocess.run(
        ["nginx", "-t", "-p", str(prefix), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    if _refused(case):
        assert done.returncode != 0, done.stderr
    else:
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("case", APACHE_CASES)
@pytest.mark.servers
def test_apache_accepts_the_corpus_config(case, tmp_path):
    copy = relocate(case, tmp_path)
    conf_dir = copy / "etc/apache2"
    _files_it_needs(copy, conf_dir, "SSLCertificateFile", "SSLCertificateKeyFile", ("CustomLog", "ErrorLog"))
    logs = copy / "var/log/apache2"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "APACHE_RUN_USER": "www-data",
        "APACHE_RUN_GROUP": "www-data",
        "APACHE_PID_FILE": str(copy / "run/apache2.pid"),
        "APACHE_RUN_DIR": str(copy / "run"),
        "APACHE_LOCK_DIR": str(copy / "run"),
        "APACHE_LOG_DIR": str(logs),
    }
    (copy / "run").mkdir(exist_ok=True)
    done = subprocess.run(
        ["apache2", "-t", "-d", str(conf_dir), "-f", str(conf_dir / "apache2.conf")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
