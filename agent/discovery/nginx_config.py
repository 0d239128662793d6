"""Load an nginx configuration through the host seam, includes spliced in place.

The text of each file comes from `nginx -T` when the binary is present (what
nginx itself loads), otherwise from the files. crossplane parses one file at a
time; includes are followed here so that every read goes through the Host and
include loops are caught.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import Any

import crossplane

from ronda.agent.discovery.shared import running_processes
from ronda.agent.host import CommandNotAvailable, Host, HostError

DEFAULT_CONFS = (
    "/etc/nginx/nginx.conf",
    "/usr/local/nginx/conf/nginx.conf",
    "/usr/local/etc/nginx/nginx.conf",
    "/opt/nginx/conf/nginx.conf",
)
# nginx builds that products bring along and run beside the system's own (GitLab's omnibus package).
BUNDLED_CONFS = ("/var/opt/gitlab/nginx/conf/nginx.conf",)
_FLAG = re.compile(r"(?:^|\s)-([cp])\s+(\S+)")
_DUMP_HEADER = re.compile(r"^# configuration file (.+):$", re.M)
_LOG_PREFIX = re.compile(r"^\S+ \S+ \[emerg\] \d+#\d+: ")  # "2026/01/02 03:04:05 [emerg] 12#12: "
_MAX_INCLUDE_DEPTH = 20
_MAX_FILE_BYTES = 8 * 1024 * 1024

Statement = dict[str, Any]


@dataclass
class LoadedConfig:
    main_file: str
    statements: list[Statement]
    files: list[str] = field(default_factory=list)
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, message)
    from_binary: bool = False


def find_main_conf(host: Host, explicit: str = "") -> str | None:
    if explicit:
        return explicit
    for path in DEFAULT_CONFS:
        if host.exists(path):
            return path
    return None


def main_confs(host: Host, explicit: str = "") -> list[str | None]:
    """Every nginx configuration on the host: the running masters' (-c, or -p PREFIX's conf/nginx.conf),
    the distribution's, and those of bundled builds. [None] when none is found (nginx -T may still know)."""
    if explicit:
        return [explicit]
    found: list[str] = []
    for proc in running_processes(host):
        line = " ".join(proc.cmdline)
        if not line.startswith("nginx: master process"):
            continue
        flags = dict(_FLAG.findall(line))
        conf = flags.get("c") or (posixpath.join(flags["p"], "conf/nginx.conf") if "p" in flags else "")
        if conf:
            found.append(conf if conf.startswith("/") else posixpath.join(flags.get("p", "/"), conf))
    default = find_main_conf(host)
    found += [default] if default else []
    found += [path for path in BUNDLED_CONFS if host.exists(path)]
    unique: dict[str, str] = {}
    for path in found:
        try:
            unique.setdefault(host.realpath(path), path)
        except HostError:
            unique.setdefault(path, path)
    return list(unique.values()) or [None]


def parse_dump(text: str) -> dict[str, str]:
    """Split `nginx -T` output into {file path: contents}."""
    files: dict[str, str] = {}
    matches = list(_DUMP_HEADER.finditer(text))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        files[m.group(1)] = text[m.end() + 1 : end]
    return files


def _dump_from_binary(host: Host, main: str | None) -> tuple[dict[str, str] | None, str]:
    argv = ["nginx", "-T"] + (["-c", main] if main else [])
    try:
        result = host.run(argv, timeout=30)
    except CommandNotAvailable:
        return None, ""
    except HostError as e:
        return None, str(e)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["no output"]
        reason = next((line for line in lines if "[emerg]" in line), lines[-1])
        reason = _LOG_PREFIX.sub("", reason)
        return None, f"nginx -T failed, parsing the files instead: {reason}"
    files = parse_dump(result.stdout)
    return (files or None), ("" if files else "nginx -T printed no configuration")


def load(host: Host, main: str | None, use_binary: bool = True) -> LoadedConfig | None:
    """Load a main nginx config with every include; None when nginx is not configured here."""
    dump, dump_error = (None, "")
    if use_binary and host.which("nginx"):
        dump, dump_error = _dump_from_binary(host, main)
        if dump and not main:
            main = next(iter(dump))
    if main is None:
        return None

    if dump is not None:

        def read(path: str) -> str:
            if path in dump:
                return dump[path]
            raise HostError(f"{path}: not in nginx -T output")

        def expand(pattern: str) -> list[str]:
            return sorted(p for p in dump if fnmatch(p, pattern))
    else:

        def read(path: str) -> str:
            if host.stat(path).size > _MAX_FILE_BYTES:
                raise HostError(f"{path}: larger than {_MAX_FILE_BYTES} bytes, not an nginx config")
            return host.read_text(path)

        def expand(pattern: str) -> list[str]:
            return host.glob(pattern)

    loaded = LoadedConfig(main_file=main, statements=[], from_binary=dump is not None)
    if dump_error:
        loaded.errors.append((main, 0, dump_error))
    conf_dir = posixpath.dirname(main)
    loaded.statements = _load_file(main, read, expand, conf_dir, loaded, stack=())
    return loaded


def _load_file(
    path: str,
    read: Callable[[str], str],
    expand: Callable[[str], list[str]],
    conf_dir: str,
    loaded: LoadedConfig,
    stack: tuple[str, ...],
) -> list[Statement]:
    try:
        text = read(path)
    except HostError as e:
        loaded.errors.append((path, 0, str(e)))
        return []
    loaded.files.append(path)
    payload = crossplane.parse_string(
        text, filename=path, single=True, check_ctx=False, check_args=False, catch_errors=True
    )
    for err in payload["errors"]:
        loaded.errors.append((path, err.get("line") or 0, err["error"]))
    parsed = payload["config"][0]["parsed"] if payload["config"] else []
    return _splice(parsed, path, read, expand, conf_dir, loaded, stack + (path,))


def _splice(
    statements: list[Statement],
    path: str,
    read: Callable[[str], str],
    expand: Callable[[str], list[str]],
    conf_dir: str,
    loaded: LoadedConfig,
    stack: tuple[str, ...],
) -> list[Statement]:
    out: list[Statement] = []
    for stmt in statements:
        stmt["file"] = path
        if stmt["directive"] == "include" and stmt.get("args"):
            pattern = stmt["args"][0]
            if not pattern.startswith("/"):
                pattern = posixpath.join(conf_dir, pattern)
            names = expand(pattern) if any(c in pattern for c in "*?[") else [pattern]
            for name in names:
                if name in stack:
                    loaded.errors.append((path, stmt["line"], f"include loop: {name} includes itself"))
                elif len(stack) >= _MAX_INCLUDE_DEPTH:
                    loaded.errors.append(
                        (path, stmt["line"], f"includes nested deeper than {_MAX_INCLUDE_DEPTH}")
                    )
                else:
                    out.extend(_load_file(name, read, expand, conf_dir, loaded, stack))
            continue
        if "block" in stmt:
            stmt["block"] = _splice(stmt["block"], path, read, expand, conf_dir, loaded, stack)
        out.append(stmt)
    return out
