"""Apache access logs: CustomLog/TransferLog to LogRefs, LogFormat definitions to named formats.

Every LogRef names its format; the definitions go to
`SourceResult.log_formats["apache:NAME"]`. A format written inline in a
CustomLog gets a synthetic name `inline-<hash>` so that it has a definition too.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
from dataclasses import dataclass, field

from ronda.agent.discovery.apache_syntax import Directive
from ronda.model import LogRef

# httpd's documented nicknames, for configs that use them without defining them.
STANDARD_FORMATS = {
    "common": '%h %l %u %t "%r" %>s %b',
    "combined": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"',
    "vhost_combined": '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
    "combinedio": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %I %O',
    "referer": "%{Referer}i -> %U",
    "agent": "%{User-agent}i",
}
_DEFAULT = "common"  # TransferLog without a default LogFormat writes the Common Log Format
_TAKES_VALUE = {"rotatelogs": {"-L", "-p", "-n"}, "cronolog": {"-H", "-P", "-S", "-l", "-z"}}


@dataclass
class LogConfig:
    """The logging directives of one server context (the main server or a vhost)."""

    formats: dict[str, str] = field(default_factory=dict)  # nickname -> definition
    default_format: str = ""  # LogFormat with no nickname: TransferLog's format
    logs: list[tuple[str, str, Directive]] = field(default_factory=list)  # (path spec, format spec, where)

    def add(self, d: Directive) -> None:
        key = d.key
        if key == "logformat" and d.args:
            if len(d.args) > 1:
                self.formats[d.args[1]] = d.args[0]
            else:
                self.default_format = d.args[0]
        elif key == "customlog" and d.args:
            self.logs.append((d.args[0], d.arg(1), d))
        elif key == "transferlog" and d.args:
            self.logs.append((d.args[0], "", d))


def resolve(
    server: LogConfig, main: LogConfig, server_root: str, log_formats: dict[str, str]
) -> list[LogRef]:
    """The LogRefs of one server: its own logs, or the main server's when it has none."""
    own = bool(server.logs)
    context = server if own else main
    formats = {**main.formats, **server.formats} if own else main.formats
    default = (server.default_format or main.default_format) if own else main.default_format
    refs = []
    for path_spec, format_spec, _ in context.logs:
        path = log_path(path_spec, server_root)
        if not path:
            continue
        refs.append(LogRef(path=path, format=_format_name(format_spec, formats, default, log_formats)))
    return refs


def _format_name(spec: str, formats: dict[str, str], default: str, log_formats: dict[str, str]) -> str:
    if not spec:  # TransferLog
        if not default:
            log_formats[f"apache:{_DEFAULT}"] = STANDARD_FORMATS[_DEFAULT]
            return _DEFAULT
        spec = default
    elif spec in formats:
        definition = formats[spec]
        known = log_formats.get(f"apache:{spec}")
        if known is None or known == definition:
            log_formats[f"apache:{spec}"] = definition
            return spec
        spec = definition  # a vhost redefines the nickname: keep both apart
    elif spec in STANDARD_FORMATS:
        log_formats.setdefault(f"apache:{spec}", STANDARD_FORMATS[spec])
        return spec
    name = "inline-" + hashlib.sha1(spec.encode()).hexdigest()[:8]
    log_formats[f"apache:{name}"] = spec
    return name


def log_path(spec: str, server_root: str) -> str:
    """The file a CustomLog writes; for piped logs, the file rotatelogs/cronolog writes (strftime -> *)."""
    if spec.startswith("syslog:"):
        return ""
    if spec.startswith("|"):
        return _piped_path(spec.lstrip("|$").strip(), server_root)
    return spec if spec.startswith("/") else posixpath.join(server_root, spec)


def _piped_path(command: str, server_root: str) -> str:
    try:
        words = shlex.split(command)
    except ValueError:
        return ""
    if not words:
        return ""
    program = posixpath.basename(words[0])
    if program not in _TAKES_VALUE:
        return ""
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            skip = word in _TAKES_VALUE[program]
            continue
        path = re.sub(r"%[A-Za-z%]", "*", word)
        return path if path.startswith("/") else posixpath.join(server_root, path)
    return ""
