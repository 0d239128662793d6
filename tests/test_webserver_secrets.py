"""Passwords, keys and tokens written into web server configs never reach what discovery returns:
not the apps, their labels or upstreams, nor the error messages of broken lines."""

import textwrap
from pathlib import Path

import pytest

from ronda.agent.discovery import apache, caddy, nginx, tomcat
from ronda.agent.discovery.base import DiscoveryOptions
from ronda.agent.host import LocalHost

SECRET = "hunter2-Zq8"

CONFIGS = {
    "apache": {
        "/etc/apache2/apache2.conf": f"""
            Listen 80
            Define DB_PASSWORD {SECRET}
            <VirtualHost *:80>
                ServerName sipd.example
                SetEnv DB_PASSWORD {SECRET}
                ProxyPass /api http://svc:{SECRET}@10.0.0.1:8080/
                <Directory "/var/www/{SECRET}" AuthPass={SECRET}
                SSLCertificateKeyFile /etc/ssl/private/{SECRET}.key
            </VirtualHost>
        """,
    },
    "nginx": {
        "/etc/nginx/nginx.conf": f"""
            events {{}}
            http {{
                upstream pool {{ server 10.0.0.2:8080; }}
                server {{
                    listen 80;
                    server_name sipd.example;
                    location /api/ {{ proxy_pass http://svc:{SECRET}@pool/; }}
                    location / {{ fastcgi_param DB_PASSWORD {SECRET}; fastcgi_pass unix:/run/php.sock; }}
                    ssl_certificate_key /etc/ssl/private/{SECRET}.key;
                }}
            }}
        """,
    },
    "caddy": {
        "/etc/caddy/Caddyfile": f"""
            sipd.example {{
                basicauth {{
                    admin {SECRET}
                }}
                reverse_proxy /api/* 10.0.0.3:8080 {{
                    header_up Authorization "Bearer {SECRET}"
                }}
                {SECRET} {SECRET}
            }}
        """,
    },
    "tomcat": {
        "/opt/tomcat/conf/server.xml": f"""
            <Server port="-1">
              <Service name="Catalina">
                <Connector port="8443" SSLEnabled="true" keystoreFile="conf/ks.jks" keystorePass="{SECRET}" />
                <Engine name="Catalina" defaultHost="localhost">
                  <Host name="localhost" appBase="webapps">
                    <Context path="/eoffice" docBase="/srv/eoffice">
                      <Resource name="jdbc/db" password="{SECRET}" url="jdbc:mysql://u:{SECRET}@db/x" />
                    </Context>
                  </Host>
                </Engine>
              </Service>
            </Server>
        """,
        "/opt/tomcat/conf/Catalina/localhost/simpeg.xml": (
            f'<Context docBase="/srv/simpeg"><Environment name="token" value="{SECRET}" /></Context>'
        ),
    },
}
SOURCES = {
    "apache": apache.discover,
    "nginx": nginx.discover,
    "caddy": caddy.discover,
    "tomcat": tomcat.discover,
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_no_secret_in_what_discovery_returns(tmp_path: Path, name: str):
    for path, text in CONFIGS[name].items():
        target = tmp_path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    result = SOURCES[name](LocalHost(str(tmp_path)), DiscoveryOptions())
    assert result.apps, "the config must still yield its apps"
    assert SECRET not in repr(result)
