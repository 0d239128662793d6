"""A real Apache (Debian's apache2) for tests, started on loopback ports with its config in a temp dir.

    with Apache.write(tmp, body).start(port) as apache:
        ...

`body` goes at the end of a complete httpd.conf and holds the test's
`Listen` lines, `<VirtualHost>` blocks, `Alias`es, `Include`s...
The config has ServerRoot `tmp`, so relative `Include`s resolve under it.

Workers drop root (to www-data), so the files they serve must be reachable by
others. pytest resets its base temp dir to mode 0700 whenever any pytest run
starts on the machine, so docroots under `tmp_path` can turn 403 mid-test:
serve files from a `web_tmp()` directory instead (nginx workers, as nobody,
need the same).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from servers import ChildServer, wait_for_port

MODULE_DIR = "/usr/lib/apache2/modules"
# Modules every test config loads; tests may LoadModule more in their body.
MODULES = ("mpm_event", "authz_core", "authz_host", "alias", "mime", "dir", "proxy", "proxy_http", "setenvif")


def _worker_user() -> tuple[str, str]:
    for user, group in (("www-data", "www-data"), ("nobody", "nogroup")):
        try:
            pwd.getpwnam(user)
            return user, group
        except KeyError:
            continue
    return "nobody", "nogroup"


@contextmanager
def web_tmp(prefix: str = "ronda-web-") -> Iterator[Path]:
    """A temp dir outside pytest's (mode 0755 under /tmp) for files web server workers serve.

    Removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def let_others_traverse(path: Path) -> None:
    """Workers drop root; they must be able to walk down to the tmp docroots (x bit only, no listing)."""
    for p in [path, *path.parents]:
        mode = p.stat().st_mode
        if not mode & 0o001:
            p.chmod(mode | 0o001)


@dataclass
class Apache(ChildServer):
    conf: Path
    server_root: Path
    process: subprocess.Popen | None = None

    @classmethod
    def binary(cls) -> str:
        path = shutil.which("apache2", path=os.environ.get("PATH", "") + ":/usr/sbin") or "/usr/sbin/apache2"
        if not Path(path).exists():
            raise RuntimeError("apache2 is not installed: .ci/run installs it (apt-get install apache2)")
        return path

    @classmethod
    def write(cls, tmp: Path, body: str, modules: tuple[str, ...] = MODULES) -> Apache:
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "logs").mkdir(exist_ok=True)
        loads = "\n".join(f"LoadModule {m}_module {MODULE_DIR}/mod_{m}.so" for m in modules)
        user = ""
        if os.geteuid() == 0:
            u, g = _worker_user()
            user = f"User {u}\nGroup {g}"
            let_others_traverse(tmp)
        conf = tmp / "httpd.conf"
        conf.write_text(f"""ServerRoot {tmp}
{loads}
{user}
PidFile {tmp}/httpd.pid
ErrorLog {tmp}/logs/error.log
Mutex file:{tmp} default
ServerName localhost
TypesConfig /etc/mime.types
DirectoryIndex index.html index.php
LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{{Referer}}i\\" \\"%{{User-Agent}}i\\"" combined
LogFormat "%v:%p %h %l %u %t \\"%r\\" %>s %O \\"%{{Referer}}i\\" \\"%{{User-Agent}}i\\"" vhost_combined
<Directory />
    Require all granted
</Directory>
{body}
""")
        return cls(conf=conf, server_root=tmp)

    def start(self, *ports: int) -> Apache:
        self.process = subprocess.Popen(
            [self.binary(), "-f", str(self.conf), "-DFOREGROUND"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            for port in ports:
                wait_for_port(port)
        except TimeoutError:
            self.stop()
            out = self.process.stdout.read().decode() if self.process.stdout else ""
            log = self.server_root / "logs" / "error.log"
            raise RuntimeError(
                f"apache2 did not start: {out}{log.read_text() if log.exists() else ''}"
            ) from None
        return self
