"""Tomcat discovery against a real Tomcat (Debian's tomcat10) on loopback with two Hosts,
directory, WAR, versioned and nested webapps, a Context descriptor and server.xml Contexts whose
paths come from the JVM's -D flags (`${name}`, `${name:-default}`), behind a TLS proxy
(scheme="https"); layouts from fixture roots."""

import textwrap
import zipfile
from pathlib import Path

import pytest
from servers import free_port, http_get
from servers_apache import web_tmp
from servers_tomcat import Tomcat

from ronda.agent.discovery import tomcat
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.host import LocalHost
from ronda.agent.listeners import map_listeners

PATTERN = "%h %l %u %t &quot;%r&quot; %s %b %D &quot;%{User-Agent}i&quot;"


def webapp(base: Path, name: str, text: str) -> None:
    (base / name).mkdir(parents=True)
    (base / name / "index.html").write_text(text)


@pytest.fixture(scope="module")
def instance():
    with web_tmp("ronda-tomcat-") as tmp:
        yield from _instance(tmp)


def _instance(tmp: Path):
    http, ajp = free_port(), free_port()
    base = tmp / "base"
    apps = base / "webapps"
    for name, text in (
        ("ROOT", "root"),
        ("sipd", "sipd"),
        ("simpeg##2", "simpeg-v2"),
        ("dinkes#arsip", "arsip"),
    ):
        webapp(apps, name, text)
    with zipfile.ZipFile(apps / "laporan.war", "w") as war:
        war.writestr("index.html", "laporan")
        war.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nImplementation-Version: 3.1\n")
    webapp(tmp, "legacy-app", "legacy")
    webapp(tmp, "eoffice-app", "eoffice")
    webapp(tmp, "kepegawaian-app", "kepegawaian")
    webapp(base / "intranet-apps", "ROOT", "intranet")
    services = f"""
  <Service name="Catalina">
    <Connector port="{http}" address="127.0.0.1" protocol="HTTP/1.1" connectionTimeout="20000"
               scheme="https" secure="true" />
    <Connector port="{ajp}" address="127.0.0.1" protocol="AJP/1.3" secretRequired="false" />
    <Engine name="Catalina" defaultHost="localhost">
      <Valve className="org.apache.catalina.valves.AccessLogValve" directory="logs"
             prefix="engine_access" suffix=".log" pattern="common" />
      <Host name="localhost" appBase="webapps" unpackWARs="true" autoDeploy="false">
        <Valve className="org.apache.catalina.valves.AccessLogValve" directory="${{catalina.base}}/logs"
               prefix="localhost_access_log" suffix=".txt" pattern="{PATTERN}" buffered="false" />
        <Context path="${{ronda.eoffice.path}}" docBase="{tmp}/eoffice-app" />
        <Context path="${{ronda.kepegawaian.path:-/kepegawaian}}" docBase="{tmp}/kepegawaian-app" />
      </Host>
      <Host name="intranet.test" appBase="intranet-apps" autoDeploy="false">
        <Alias>www.intranet.test</Alias>
      </Host>
    </Engine>
  </Service>"""
    server = Tomcat.write(base, services)
    descriptors = base / "conf/Catalina/localhost"
    descriptors.mkdir(parents=True)
    (descriptors / "legacy.xml").write_text(
        f'<?xml version="1.0"?>\n<Context docBase="{tmp}/legacy-app" />\n'
    )
    with server.start(http, ajp, properties={"ronda.eoffice.path": "/eoffice"}):
        yield {"tmp": tmp, "base": base, "http": http, "ajp": ajp, "server_xml": server.server_xml}


@pytest.mark.servers
def test_tomcat_serves_every_webapp(instance):
    port = instance["http"]
    assert http_get(port, "/", "localhost") == (200, b"root")
    assert http_get(port, "/sipd/", "localhost") == (200, b"sipd")
    assert http_get(port, "/simpeg/", "localhost") == (200, b"simpeg-v2")
    assert http_get(port, "/dinkes/arsip/", "localhost") == (200, b"arsip")
    assert http_get(port, "/laporan/", "localhost") == (200, b"laporan")
    assert http_get(port, "/legacy/", "localhost") == (200, b"legacy")
    assert http_get(port, "/eoffice/", "localhost") == (200, b"eoffice")  # -Dronda.eoffice.path=/eoffice
    assert http_get(port, "/kepegawaian/", "localhost") == (200, b"kepegawaian")  # the default
    assert http_get(port, "/", "www.intranet.test") == (200, b"intranet")
    logs = list((instance["base"] / "logs").glob("localhost_access_log*.txt"))
    assert logs and "GET /sipd/ HTTP/1.1" in logs[0].read_text()


@pytest.mark.servers
def test_apps_of_a_real_tomcat(instance):
    base, port, ajp = instance["base"], instance["http"], instance["ajp"]
    result = tomcat.discover(LocalHost(), DiscoveryOptions(tomcat_server_xml=str(instance["server_xml"])))
    assert result.errors == []
    apps = {a.key: a for a in result.apps}
    local = f"tomcat:localhost:{port}"
    assert set(apps) == {
        f"{local}/",
        f"{local}/sipd",
        f"{local}/simpeg",
        f"{local}/dinkes/arsip",
        f"{local}/laporan",
        f"{local}/legacy",
        f"{local}/eoffice",
        f"{local}/kepegawaian",
        f"tomcat:intranet.test:{port}/",
    }
    root = apps[f"{local}/"]
    assert root.root == f"{base}/webapps/ROOT"
    # scheme="https": users reach it through a TLS proxy; the connector itself speaks plain HTTP
    assert [(a.address, a.port, a.default_server, a.tls) for a in root.listen] == [
        ("127.0.0.1", port, True, False)
    ]
    assert root.labels["ajp_ports"] == str(ajp)  # a label: keys must not depend on which port is lower
    lines = instance["server_xml"].read_text().splitlines()
    host_line = next(i for i, line in enumerate(lines, 1) if '<Host name="localhost"' in line)
    assert (root.config.file, root.config.line) == (str(instance["server_xml"]), host_line)
    [log] = root.access_logs
    assert log.path == f"{base}/logs/localhost_access_log*.txt"
    assert result.log_formats[f"tomcat:{log.format}"] == PATTERN.replace("&quot;", '"')

    assert apps[f"{local}/simpeg"].labels["version"] == "2"
    assert apps[f"{local}/dinkes/arsip"].root == f"{base}/webapps/dinkes#arsip"
    laporan = apps[f"{local}/laporan"]  # unpacked by Tomcat next to its WAR: one app
    assert (
        laporan.root == f"{base}/webapps/laporan" and laporan.labels["war"] == f"{base}/webapps/laporan.war"
    )
    assert apps[f"{local}/eoffice"].root == f"{instance['tmp']}/eoffice-app"
    assert apps[f"{local}/kepegawaian"].root == f"{instance['tmp']}/kepegawaian-app"
    legacy = apps[f"{local}/legacy"]
    assert legacy.root == f"{instance['tmp']}/legacy-app"
    assert (legacy.config.file, legacy.config.line) == (f"{base}/conf/Catalina/localhost/legacy.xml", 2)
    assert all(
        a.parent_key == f"{local}/" for k, a in apps.items() if k.startswith(local) and k != f"{local}/"
    )

    intranet = apps[f"tomcat:intranet.test:{port}/"]
    assert intranet.server_names == ["intranet.test", "www.intranet.test"]
    assert not intranet.listen[0].default_server and intranet.root == f"{base}/intranet-apps/ROOT"
    assert [(lr.path, lr.format) for lr in intranet.access_logs] == [
        (f"{base}/logs/engine_access*.log", "common")
    ]


@pytest.mark.servers
def test_the_jvm_listener_serves_tomcat_apps(instance):
    """The JVM's sockets are IPv6 ones (::ffff:127.0.0.1 for address="127.0.0.1"): still Tomcat's apps."""
    host = LocalHost()
    result = tomcat.discover(host, DiscoveryOptions(tomcat_server_xml=str(instance["server_xml"])))
    listeners, _ = map_listeners(host, result.apps)
    [http] = [lst for lst in listeners if lst.port == instance["http"]]
    assert f"tomcat:localhost:{instance['http']}/" in http.app_keys and not http.public


@pytest.mark.servers
def test_the_running_jvm_names_its_catalina_base(instance):
    assert any(i.base == str(instance["base"]) for i in tomcat.instances(LocalHost()))


def plant(root: Path, files: dict[str, str]) -> LocalHost:
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    return LocalHost(str(root))


SERVER_XML = """
    <?xml version="1.0" encoding="UTF-8"?>
    <Server port="-1" shutdown="SHUTDOWN">
      <Service name="Catalina">
        <Connector port="${port.http}" protocol="HTTP/1.1" />
        <Connector port="8443" protocol="org.apache.coyote.http11.Http11NioProtocol" SSLEnabled="true">
          <SSLHostConfig>
            <Certificate certificateKeystoreFile="conf/keystore.jks" certificateKeystorePassword="s3cret"
                         type="RSA" />
          </SSLHostConfig>
        </Connector>
        <Engine name="Catalina" defaultHost="localhost">
          <Host name="localhost" appBase="webapps">
            <Context path="/eoffice" docBase="/srv/eoffice" />
          </Host>
        </Engine>
      </Service>
    </Server>
"""


@pytest.mark.parametrize(
    "layout,server_xml,base",
    [
        ("debian", "/etc/tomcat9/server.xml", "/var/lib/tomcat9"),
        ("rhel", "/etc/tomcat/server.xml", "/usr/share/tomcat"),
        ("tarball", "/opt/tomcat/conf/server.xml", "/opt/tomcat"),
    ],
)
def test_layouts_from_a_root(tmp_path, layout, server_xml, base):
    conf = str(Path(server_xml).parent)
    host = plant(
        tmp_path,
        {
            server_xml: SERVER_XML,
            f"{conf}/catalina.properties": "port.http=8081\n",
            f"{base}/webapps/ROOT/index.jsp": "<% %>",
            f"{base}/webapps/siskeudes.war": "PK",
            f"{base}/webapps/docs/index.html": "docs",
        },
    )
    if conf != f"{base}/conf":  # packaged layouts link CATALINA_BASE/conf to /etc
        (tmp_path / base.lstrip("/") / "conf").symlink_to(conf)
    [found] = tomcat.instances(host)
    assert (found.server_xml, found.base) == (server_xml, base)
    result = tomcat.discover(host, DiscoveryOptions())
    assert result.errors == []
    apps = {a.key: a for a in result.apps}
    assert set(apps) == {
        "tomcat:localhost:8081/",
        "tomcat:localhost:8081/docs",
        "tomcat:localhost:8081/eoffice",
        "tomcat:localhost:8081/siskeudes",
    }
    vhost = apps["tomcat:localhost:8081/"]
    assert [(a.port, a.tls) for a in vhost.listen] == [(8081, False), (8443, True)]
    assert vhost.tls.file == f"{base}/conf/keystore.jks" and vhost.root == f"{base}/webapps/ROOT"
    assert apps["tomcat:localhost:8081/eoffice"].root == "/srv/eoffice"
    assert apps["tomcat:localhost:8081/siskeudes"].labels["war"] == f"{base}/webapps/siskeudes.war"
    assert "s3cret" not in repr(result)


def test_broken_server_xml_and_descriptor(tmp_path):
    host = plant(
        tmp_path,
        {
            "/opt/tomcat/conf/server.xml": "<Server><Service>"
            "<Engine name='Catalina' defaultHost='localhost'>\n"
            "<Host name='localhost' appBase='webapps'></Engine></Service></Server>\n",
            "/opt/app2/conf/server.xml": SERVER_XML.replace("${port.http}", "8082"),
            "/opt/app2/conf/Catalina/localhost/broken.xml": "<Context docBase='/srv/x'\n",
            "/opt/app2/webapps/ok/index.html": "ok",
        },
    )
    result = tomcat.discover(host, DiscoveryOptions(tomcat_server_xml="/opt/tomcat/conf/server.xml"))
    assert result.apps == []
    [error] = result.errors
    assert (error.path, error.line) == (
        "/opt/tomcat/conf/server.xml",
        2,
    ) and "mismatched tag" in error.message
    result = tomcat.discover(host, DiscoveryOptions(tomcat_server_xml="/opt/app2/conf/server.xml"))
    assert {a.key for a in result.apps} == {
        "tomcat:localhost:8082/",
        "tomcat:localhost:8082/eoffice",
        "tomcat:localhost:8082/ok",
    }
    [error] = result.errors
    assert error.path == "/opt/app2/conf/Catalina/localhost/broken.xml" and "not well-formed" in error.message
