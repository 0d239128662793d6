"""Ask an installed Apache what it loads: its files, virtual hosts, defines and modules.

One run of `apache2ctl -t -D DUMP_INCLUDES -D DUMP_VHOSTS -D DUMP_RUN_CFG
-D DUMP_MODULES` (what `-S` and `-M` print, together). apache2ctl/apachectl
come first because they export Debian's envvars the config needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ronda.agent.discovery.apache_config import module_name
from ronda.agent.host import CommandNotAvailable, Host, HostError

COMMANDS = ("apache2ctl", "apachectl", "httpd", "apache2")
_DUMP_FLAGS = ("-t", "-D", "DUMP_INCLUDES", "-D", "DUMP_VHOSTS", "-D", "DUMP_RUN_CFG", "-D", "DUMP_MODULES")
_LOCATION = r"\((?P<file>.+):(?P<line>\d+)\)$"
_SINGLE = re.compile(r"^(?P<addr>\S+:\d+|\S+)\s+(?P<name>\S+) " + _LOCATION)
_NAMEVHOST = re.compile(r"^\s+(?:default server|port (?P<port>\d+) namevhost) (?P<name>\S+) " + _LOCATION)
_ALIAS = re.compile(r"^\s+(?:wild )?alias (?P<name>\S+)$")
_INCLUDED = re.compile(r"^\s+\((?:\*|\d+)\) (?P<file>/.+)$")
_RUN_CFG = re.compile(r'^(?P<key>ServerRoot|Main DocumentRoot): "(?P<value>.*)"$')
_DEFINE = re.compile(r"^Define: (?P<name>[^=\s]+)(?:=(?P<value>.*))?$")
_MODULE = re.compile(r"^ (?P<name>\w+) \((?:static|shared)\)$")


@dataclass
class BinaryVhost:
    address: str
    port: int
    name: str
    file: str
    line: int
    aliases: list[str] = field(default_factory=list)
    default: bool = False


@dataclass
class BinaryFacts:
    command: str
    main_file: str = ""
    server_root: str = ""
    main_docroot: str = ""
    defines: dict[str, str] = field(default_factory=dict)
    modules: set[str] | None = None
    files: list[str] = field(default_factory=list)
    vhosts: list[BinaryVhost] = field(default_factory=list)


def ask(host: Host, main: str = "") -> tuple[BinaryFacts | None, str]:
    """(facts, "") when an Apache binary answered; (None, why not) otherwise ("" when none is installed)."""
    command = next((c for c in COMMANDS if host.which(c)), None)
    if command is None:
        return None, ""
    argv = [command, *(["-f", main] if main else []), *_DUMP_FLAGS]
    try:
        result = host.run(argv, timeout=30)
    except CommandNotAvailable:
        return None, ""
    except HostError as e:
        return None, f"{command}: {e}"
    if result.returncode != 0:
        return (
            None,
            f"{command} -t failed, parsing the files instead: {_failure(result.stderr + result.stdout)}",
        )
    facts = parse_dump(result.stdout + "\n" + result.stderr, command)
    if not facts.files:
        return None, f"{command} printed no configuration files"
    return facts, ""


def _failure(output: str) -> str:
    """httpd's reason: "AH00526: Syntax error on line N of FILE:" and the line after it, nothing more."""
    lines = [x.strip() for x in output.splitlines() if x.strip()] or ["no output"]
    for i, line in enumerate(lines):
        if "Syntax error" in line:
            return " ".join(lines[i : i + 2])[:300]
    return next((x for x in lines if x.startswith("AH0")), lines[-1])[:300]


def parse_dump(text: str, command: str = "") -> BinaryFacts:
    facts = BinaryFacts(command=command)
    section = ""
    current_addr = ""
    defaults: set[tuple[str, int]] = set()
    for line in text.splitlines():
        if line.startswith("Included configuration files:"):
            section = "includes"
            continue
        if line.startswith("VirtualHost configuration:"):
            section = "vhosts"
            continue
        if line.startswith("Loaded Modules:"):
            section = "modules"
            facts.modules = set()
            continue
        if m := _RUN_CFG.match(line):
            section = ""
            if m["key"] == "ServerRoot":
                facts.server_root = m["value"]
            else:
                facts.main_docroot = m["value"]
            continue
        if m := _DEFINE.match(line):
            if not m["name"].startswith("DUMP_"):
                facts.defines[m["name"]] = m["value"] or ""
            continue
        if section == "includes" and (m := _INCLUDED.match(line)):
            facts.files.append(m["file"])
            if line.lstrip().startswith("(*)"):
                facts.main_file = facts.main_file or m["file"]
        elif section == "modules" and (m := _MODULE.match(line)):
            assert facts.modules is not None
            facts.modules.add(module_name(m["name"]))
        elif section == "vhosts":
            _vhost_line(line, facts, defaults, current_addr)
            if line and not line[0].isspace():
                current_addr = line.split()[0]
    for vhost in facts.vhosts:
        vhost.default = vhost.default or (vhost.file, vhost.line) in defaults
    return facts


def _vhost_line(line: str, facts: BinaryFacts, defaults: set[tuple[str, int]], current_addr: str) -> None:
    if m := _SINGLE.match(line):
        address, port = split_address(m["addr"])
        facts.vhosts.append(BinaryVhost(address, port, m["name"], m["file"], int(m["line"]), default=True))
    elif m := _NAMEVHOST.match(line):
        if not m["port"]:
            defaults.add((m["file"], int(m["line"])))
            return
        address, port = split_address(current_addr)
        facts.vhosts.append(
            BinaryVhost(address, port or int(m["port"]), m["name"], m["file"], int(m["line"]))
        )
    elif (m := _ALIAS.match(line)) and facts.vhosts:
        facts.vhosts[-1].aliases.append(m["name"])


def split_address(spec: str) -> tuple[str, int]:
    """ "*:80" -> ("*", 80); "[::1]:8080" -> ("::1", 8080); "_default_" -> ("*", 0)."""
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest.lstrip(":")
    elif spec.count(":") == 1:
        host, _, port = spec.partition(":")
    elif spec.count(":") > 1:  # a bare IPv6 address
        host, port = spec, ""
    else:
        host, port = (spec, "") if not spec.isdigit() else ("*", spec)
    if host in ("_default_", ""):
        host = "*"
    return host, int(port) if port.isdigit() else 0
