"""lighttpd host conditions as the names users type.

`$HTTP["host"] == "a.go.id"` is a.go.id (lighttpd compares without the port);
a regex stands for the plainest names it matches: `^(www\\.)?a\\.go\\.id$` is a.go.id,
`(^|\\.)a\\.go\\.id$` is a.go.id and *.a.go.id, `^(a|b)\\.go\\.id$`-style alternations each
name; any other regex stays as `~regex`, which usage routing matches as a regex.
"""

from __future__ import annotations

import re

from ronda.agent.discovery.lighttpd_syntax import Condition
from ronda.agent.discovery.nginx_names import plain_name


def host_names(cond: Condition) -> tuple[list[str], list[str]]:
    """(names users type, the regular expression they come from) of a host condition."""
    value = cond.value.strip()
    if cond.op == "==":
        return [_without_port(value).lower()], []
    if cond.op == "=$":
        return (["*." + value.lstrip(".").lower()] if value.startswith(".") else [value.lower()]), []
    regex = "^" + re.escape(value) if cond.op == "=^" else value
    body = regex.removeprefix("^").removesuffix("$")
    names: list[str] = []
    subdomains = body.startswith(("(^|\\.)", "(.*\\.)?", "(.+\\.)?", "([^.]+\\.)?"))
    if subdomains:
        body = body.split(")?", 1)[1] if ")?" in body[:12] else body.split(")", 1)[1]
    alternatives = _alternatives(body)
    for alt in alternatives:
        name = plain_name("~^" + alt + "$")
        if not name:
            return ["~" + regex], [regex]
        names.append(name)
        if subdomains:
            names.append("*." + name)
    return list(dict.fromkeys(names)), [regex]


def _alternatives(body: str) -> list[str]:
    """ "(a\\.test|b\\.test)" or "a\\.test|b\\.test" -> both; anything else -> [body]."""
    inner = body[1:-1] if body.startswith("(") and body.endswith(")") and body.count("(") == 1 else body
    if "(" in inner or ")" in inner:
        return [body]
    return [a for a in inner.split("|") if a] or [body]


def _without_port(name: str) -> str:
    if name.startswith("["):
        return name.partition("]")[0] + "]"
    return name.rsplit(":", 1)[0] if name.count(":") == 1 else name
