"""A real lighttpd (Debian's lighttpd) for tests, on loopback ports with its config in a temp dir.

    with Lighttpd.write(tmp, body).start(port) as server: ...

`body` follows the global settings: `server.port`, `$SERVER["socket"]`,
`$HTTP["host"]` blocks, `include`s... The config loads the modules the tests
use and keeps lighttpd's pid, upload and error files under `tmp`. lighttpd keeps the
user it is started as (no server.username), so it can write its logs under `tmp`.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from servers import ChildServer, wait_for_port

MODULES = ("mod_access", "mod_alias", "mod_accesslog", "mod_proxy", "mod_fastcgi", "mod_redirect")


@dataclass
class Lighttpd(ChildServer):
    conf: Path
    home: Path
    process: subprocess.Popen | None = None

    @classmethod
    def binary(cls) -> str:
        path = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
        if not Path(path).exists():
            raise RuntimeError("lighttpd is not installed: .ci/run installs it (apt-get install lighttpd)")
        return path

    @classmethod
    def write(cls, tmp: Path, body: str, modules: tuple[str, ...] = MODULES) -> Lighttpd:
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "uploads").mkdir(exist_ok=True)
        listed = ", ".join(f'"{m}"' for m in modules)
        conf = tmp / "lighttpd.conf"
        conf.write_text(f"""server.modules = ( {listed} )
server.pid-file = "{tmp}/lighttpd.pid"
server.errorlog = "{tmp}/error.log"
server.upload-dirs = ( "{tmp}/uploads" )
index-file.names = ( "index.html" )
{body}
""")
        return cls(conf=conf, home=tmp)

    def check(self) -> None:
        """lighttpd -tt: the config parses and its modules load."""
        done = subprocess.run([self.binary(), "-tt", "-f", str(self.conf)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"lighttpd rejects the config: {done.stderr.strip()}")

    def start(self, *ports: int) -> Lighttpd:
        output = self.home / "lighttpd.out"
        with open(output, "wb") as out:
            self.process = subprocess.Popen(
                [self.binary(), "-D", "-f", str(self.conf)], stdout=out, stderr=subprocess.STDOUT
            )
        try:
            for port in ports:
                wait_for_port(port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"lighttpd did not start: {output.read_text()[-2000:]}") from None
        return self
