"""Bad Apache configs: every problem is a SourceError with its file (and line), and the rest is still found.

Tests run as root, who reads any file whatever its mode; the unreadable-file
case therefore runs discovery in a child process as `nobody` (setpriv), as an
unprivileged agent would meet a 0600 file.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from servers_apache import MODULE_DIR, web_tmp

from ronda.agent.discovery import apache
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.host import LocalHost

REPO = Path(__file__).resolve().parent.parent
CONF = "/etc/apache2/apache2.conf"
MAIN = """
    Listen 80
    LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
    IncludeOptional sites-enabled/*.conf
"""
GOOD = """
    <VirtualHost *:80>
        ServerName good.example
        DocumentRoot /var/www/good
        CustomLog /var/log/apache2/good.log common
    </VirtualHost>
"""


def plant(root: Path, files: dict[str, str]) -> Path:
    for path, text in {CONF: MAIN, "/etc/apache2/sites-enabled/00-good.conf": GOOD, **files}.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    return root


def discover(root: Path, **options):
    result = apache.discover(LocalHost(str(root)), DiscoveryOptions(**options))
    return result, {a.key for a in result.apps}


def errors(result):
    return [(e.path, e.line, e.message) for e in result.errors]


def test_include_loop(tmp_path):
    plant(
        tmp_path,
        {
            "/etc/apache2/sites-enabled/loop.conf": "Include /etc/apache2/snippets/a.conf\n",
            "/etc/apache2/snippets/a.conf": "ServerAlias ignored\nInclude /etc/apache2/snippets/b.conf\n",
            "/etc/apache2/snippets/b.conf": "Include /etc/apache2/snippets/a.conf\n",
        },
    )
    result, keys = discover(tmp_path)
    assert keys == {"apache:good.example:80/"}
    [(path, line, message)] = errors(result)
    assert (path, line) == ("/etc/apache2/snippets/b.conf", 1) and "include loop" in message


def test_broken_sections_keep_the_rest(tmp_path):
    plant(
        tmp_path,
        {
            "/etc/apache2/sites-enabled/broken.conf": """
        <VirtualHost *:80>
            ServerName broken.example
            DocumentRoot /var/www/broken
            </Directory>
        </VirtualHost>
        </VirtualHost>
        <VirtualHost *:80
        <VirtualHost *:80>
            ServerName unclosed.example
    """
        },
    )
    result, keys = discover(tmp_path)
    assert keys >= {"apache:good.example:80/", "apache:broken.example:80/"}
    found = errors(result)
    file = "/etc/apache2/sites-enabled/broken.conf"
    assert (file, 4, "</Directory> closes <VirtualHost> opened at line 1") in found
    assert (file, 6, "</VirtualHost> without matching <VirtualHost> section") in found
    assert any(e[:2] == (file, 7) and "without '>'" in e[2] for e in found)
    assert (file, 8, "<VirtualHost> is never closed") in found


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda d: (d / "dangling.conf").symlink_to("../sites-available/removed.conf"), "No such file"),
        (
            lambda d: (
                (d / "loop1.conf").symlink_to("loop2.conf"),
                (d / "loop2.conf").symlink_to("loop1.conf"),
            ),
            "symbolic links",
        ),
        (
            lambda d: (
                (d / "dir.conf").mkdir()
                or (d / "dir.conf" / "inner.conf").write_text(GOOD.replace("good.example", "inner.example"))
            ),
            None,
        ),
    ],
    ids=["dangling-symlink", "symlink-loop", "directory-is-included"],
)
def test_unreadable_includes(tmp_path, make, reason):
    plant(tmp_path, {})
    make(tmp_path / "etc/apache2/sites-enabled")
    result, keys = discover(tmp_path)
    assert "apache:good.example:80/" in keys
    if reason is None:  # httpd reads a directory's files recursively: so does ronda
        assert "apache:inner.example:80/" in keys and result.errors == []
    else:
        assert result.errors and all(reason in e.message and "sites-enabled" in e.path for e in result.errors)


def test_missing_include_and_undefined_variable(tmp_path):
    plant(
        tmp_path,
        {
            "/etc/apache2/sites-enabled/vars.conf": """
        Include /etc/apache2/not-there.conf
        IncludeOptional /etc/apache2/optional-not-there.conf
        <VirtualHost *:80>
            ServerName vars.example
            DocumentRoot ${UNDEFINED_ROOT}/vars
        </VirtualHost>
    """
        },
    )
    result, keys = discover(tmp_path)
    assert keys == {"apache:good.example:80/", "apache:vars.example:80/"}
    file = "/etc/apache2/sites-enabled/vars.conf"
    found = errors(result)
    assert len(found) == 2
    assert found[0][0] == "/etc/apache2/not-there.conf" and "included from " + file + ":1" in found[0][2]
    assert found[1] == (file, 5, "variable ${UNDEFINED_ROOT} is not defined")


def test_sparse_ten_gigabyte_config_is_refused_not_read(tmp_path):
    plant(tmp_path, {})
    with open(tmp_path / "etc/apache2/sites-enabled/huge.conf", "wb") as f:
        f.truncate(10 * 1024**3)
    result, keys = discover(tmp_path)
    assert keys == {"apache:good.example:80/"}
    [(path, _, message)] = errors(result)
    assert path.endswith("huge.conf") and "larger than" in message


def test_config_path_is_a_directory(tmp_path):
    plant(tmp_path, {})
    result, keys = discover(tmp_path, apache_conf="/etc/apache2")
    assert keys == set()
    assert errors(result) == [
        ("/etc/apache2", 0, "cannot read: /etc/apache2: is a directory, not a configuration file")
    ]


@pytest.mark.servers
def test_unreadable_file_for_an_unprivileged_agent():
    with web_tmp() as tmp:  # outside pytest's 0700 temp dir, so that nobody can walk down to the root
        _unreadable_file_for_an_unprivileged_agent(tmp)


def _unreadable_file_for_an_unprivileged_agent(tmp: Path):
    root = plant(tmp / "root", {"/etc/apache2/sites-enabled/secret.conf": GOOD.replace("good.", "secret.")})
    (root / "etc/apache2/sites-enabled/secret.conf").chmod(0o600)
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(REPO)!r})
        from ronda.agent.discovery import apache
        from ronda.agent.discovery.base import DiscoveryOptions
        from ronda.agent.host import LocalHost
        r = apache.discover(LocalHost({str(root)!r}), DiscoveryOptions(use_binaries=False))
        errors = [[e.path, e.message] for e in r.errors]
        print(json.dumps({{"keys": [a.key for a in r.apps], "errors": errors}}))
    """)
    done = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={"PATH": os.environ["PATH"]},
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["keys"] == ["apache:good.example:80/"]
    [[path, message]] = out["errors"]
    assert path == "/etc/apache2/sites-enabled/secret.conf" and "Permission denied" in message


@pytest.mark.servers
def test_a_config_the_real_apache_rejects_is_still_parsed(tmp_path):
    """apache2ctl -t fails on one bad line: its reason is reported with file:line, and the files
    are parsed."""
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"ServerRoot {tmp_path}\nLoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so\n"
        "Listen 127.0.0.1:8\nInclude sites/*.conf\n"
    )
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites/a.conf").write_text(GOOD)
    (tmp_path / "sites/b.conf").write_text(
        "<VirtualHost *:8>\nServerName typo.example\nDocumentRooot /var/www/typo\n</VirtualHost>\n"
    )
    result = apache.discover(LocalHost(), DiscoveryOptions(apache_conf=str(conf)))
    assert {a.primary_name for a in result.apps} == {"good.example", "typo.example"}
    [error] = result.errors
    assert (error.path, error.line) == (f"{tmp_path}/sites/b.conf", 3)
    assert "apache2ctl -t failed" in error.message and "Invalid command 'DocumentRooot'" in error.message
