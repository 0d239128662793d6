"""Apps of one site share its log: an Alias from conf-enabled/ or a sub-app is told
apart by path prefix, and the log is not 'shared by several sites'."""

import textwrap
from pathlib import Path

from ronda.agent.host import LocalHost
from ronda.agent.snapshot import ScanOptions, scan


def write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text).lstrip())


def line(path: str, hour: int) -> str:
    return (
        f'10.0.0.{hour} - - [20/Nov/2026:{hour:02d}:00:00 +0000] "GET {path} HTTP/1.1" 200 10 "-" '
        '"Mozilla/5.0 (X11; Linux x86_64) Firefox/127.0"\n'
    )


def test_alias_from_another_file_is_split_by_prefix_with_full_coverage(tmp_path):
    write(
        tmp_path,
        "/etc/apache2/apache2.conf",
        """
        LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined
        IncludeOptional conf-enabled/*.conf
        IncludeOptional sites-enabled/*.conf
    """,
    )
    write(tmp_path, "/etc/apache2/conf-enabled/tool.conf", "Alias /tool /usr/share/tool\n")
    write(
        tmp_path,
        "/etc/apache2/sites-enabled/site.conf",
        """
        <VirtualHost *:80>
            ServerName site.example
            DocumentRoot /var/www/site
            CustomLog /var/log/apache2/site.log combined
        </VirtualHost>
    """,
    )
    write(
        tmp_path, "/var/log/apache2/site.log", line("/", 1) + line("/tool/index.php", 2) + line("/tool/", 3)
    )
    snapshot = scan(LocalHost(str(tmp_path)), ScanOptions(state_dir=tmp_path / "state"))
    apps = {a.path_prefix: a for a in snapshot.apps if a.kind == "apache"}
    assert apps["/tool"].parent_key == apps["/"].key
    assert apps["/"].usage.coverage == apps["/tool"].usage.coverage == "full"
    assert [d.human for d in apps["/"].usage.daily] == [1]
    assert [d.human for d in apps["/tool"].usage.daily] == [2]
