"""A real Caddy (Debian's caddy) for tests, on loopback ports with its Caddyfile in a temp dir.

    with Caddy.write(tmp, sites).start(port) as caddy: ...

`sites` is the Caddyfile's site blocks; the global options keep Caddy off the
network and out of the home directory: no admin endpoint, no HTTP->HTTPS
redirect listener, storage under `tmp`, every site bound to 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from servers import ChildServer, wait_for_port


@dataclass
class Caddy(ChildServer):
    config: Path
    home: Path
    process: subprocess.Popen | None = None

    @classmethod
    def binary(cls) -> str:
        path = shutil.which("caddy") or "/usr/bin/caddy"
        if not Path(path).exists():
            raise RuntimeError("caddy is not installed: .ci/run installs it (apt-get install caddy)")
        return path

    @classmethod
    def write(cls, tmp: Path, sites: str, options: str = "") -> Caddy:
        tmp.mkdir(parents=True, exist_ok=True)
        config = tmp / "Caddyfile"
        config.write_text(f"""{{
\tadmin off
\tauto_https disable_redirects
\tskip_install_trust
\tstorage file_system {tmp}/data
\tdefault_bind 127.0.0.1
{options}
}}

{sites}
""")
        return cls(config=config, home=tmp)

    def start(self, *ports: int) -> Caddy:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / "xdg-data"),
            "XDG_CONFIG_HOME": str(self.home / "xdg-config"),
        }
        output = self.home / "caddy.out"  # a file, not a pipe nobody drains: Caddy logs every request there
        with open(output, "wb") as out:
            self.process = subprocess.Popen(
                [self.binary(), "run", "--config", str(self.config), "--adapter", "caddyfile"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.home,
            )
        try:
            for port in ports:
                wait_for_port(port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"caddy did not start: {output.read_text()[-2000:]}") from None
        return self
