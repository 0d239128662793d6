"""A real Tomcat (Debian's tomcat10) for tests: CATALINA_BASE in a temp dir, CATALINA_HOME from the package.

    with Tomcat.write(base, services).start(port) as tomcat: ...

`services` is the <Service> elements of server.xml (Connectors on loopback
ports, Engine, Hosts); the shutdown port is off, so stop() ends the JVM by
signal. The JVM needs a few seconds to start: put all of a test module's apps
in one instance (a module-scoped fixture).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from servers import ChildServer, wait_for_port

CATALINA_HOME = Path("/usr/share/tomcat10")
PACKAGE_CONF = Path("/etc/tomcat10")


@dataclass
class Tomcat(ChildServer):
    base: Path
    process: subprocess.Popen | None = None
    stop_timeout = 30.0  # the JVM takes its time

    @property
    def server_xml(self) -> Path:
        return self.base / "conf" / "server.xml"

    @classmethod
    def write(cls, base: Path, services: str) -> Tomcat:
        if not (CATALINA_HOME / "bin" / "catalina.sh").exists():
            raise RuntimeError("tomcat10 is not installed: .ci/run installs it (apt-get install tomcat10)")
        for d in ("conf", "webapps", "logs", "work", "temp"):
            (base / d).mkdir(parents=True, exist_ok=True)
        for name in ("web.xml", "catalina.properties", "logging.properties", "context.xml"):
            shutil.copy(PACKAGE_CONF / name, base / "conf" / name)
        (base / "conf" / "server.xml").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
{services}
</Server>
""")
        return cls(base=base)

    def start(self, *ports: int, timeout: float = 90.0, properties: dict[str, str] | None = None) -> Tomcat:
        """Run it until `ports` listen and every webapp is deployed; `properties` are -D flags of the JVM."""
        flags = "".join(f" -D{name}={value}" for name, value in (properties or {}).items())
        env = {
            "PATH": os.environ.get("PATH", ""),
            "CATALINA_HOME": str(CATALINA_HOME),
            "CATALINA_BASE": str(self.base),
            "CATALINA_TMPDIR": str(self.base / "temp"),
            # small and quick to start: a test JVM serves a handful of requests
            "JAVA_OPTS": "-Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto "
            "-Djava.awt.headless=true -Djava.security.egd=file:/dev/urandom" + flags,
        }
        output = self.base / "logs" / "catalina.out"
        with open(output, "wb") as out:
            self.process = subprocess.Popen(
                [str(CATALINA_HOME / "bin" / "catalina.sh"), "run"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.base,
            )
        try:
            for port in ports:
                wait_for_port(port, timeout=timeout)
            # Connectors bind before the webapps are deployed: ready is when Tomcat says so.
            deadline = time.monotonic() + timeout
            while "Server startup in" not in output.read_text(errors="replace"):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise TimeoutError
                time.sleep(0.1)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"tomcat did not start: {output.read_text()[-3000:]}") from None
        return self
