"""What every discovery source returns, and the options they share."""

from __future__ import annotations

from dataclasses import dataclass, field

from ronda.model import App, SourceError


@dataclass
class DiscoveryOptions:
    """Where to look. Empty values mean "the usual places for this distribution"."""

    nginx_conf: str = ""
    apache_conf: str = ""
    caddyfile: str = ""  # a Caddyfile or a Caddy JSON config
    tomcat_server_xml: str = ""  # CATALINA_BASE is the directory above its conf/
    lighttpd_conf: str = ""
    litespeed_conf: str = ""  # httpd_config.conf; $SERVER_ROOT is the directory above its conf/
    docker_socket: str = ""  # the Docker Engine API socket; empty: /var/run/docker.sock and the like
    # Ask the web server binary itself (nginx -T, apache2ctl -S) when it is installed.
    use_binaries: bool = True
    # Names from SOURCES to run (e.g. ("nginx",)); empty: all of them.
    sources: tuple[str, ...] = ()


@dataclass
class SourceResult:
    apps: list[App] = field(default_factory=list)
    errors: list[SourceError] = field(default_factory=list)
    # Access-log format definitions the apps' LogRef.format names refer to,
    # keyed "kind:name" (e.g. "nginx:main" -> the log_format string).
    log_formats: dict[str, str] = field(default_factory=dict)

    def error(self, source: str, message: str, path: str = "", line: int = 0) -> None:
        self.errors.append(SourceError(source=source, path=path, line=line, message=message))

    def extend(self, other: SourceResult) -> None:
        self.apps.extend(other.apps)
        self.errors.extend(other.errors)
        self.log_formats.update(other.log_formats)
