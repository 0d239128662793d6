"""Pull single literal values out of PHP, INI, dotenv and manifest text.

Every helper returns one named value and nothing around it, so that a config
file's secrets (which sit next to the values ronda wants) are never captured.
"""

from __future__ import annotations

import re

_STR = r"""(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")"""
_COMMENTS = re.compile(r"""/\*.*?\*/|(?<![:"'\w])//[^\n]*|^\s*#[^\n]*""", re.S | re.M)


def strip_php_comments(text: str) -> str:
    return _COMMENTS.sub("", text)


def _first(m: re.Match[str] | None) -> str | None:
    if not m:
        return None
    return next((g for g in m.groups() if g is not None), None)


def php_define(text: str, name: str) -> str | None:
    """define('NAME', 'value') / define("NAME", "value")."""
    return _first(re.search(rf"""define\s*\(\s*['"]{re.escape(name)}['"]\s*,\s*{_STR}""", text))


def php_const(text: str, name: str) -> str | None:
    """const NAME = 'value'; (class constants, any visibility), or a bare number."""
    m = re.search(rf"""\bconst\s+{re.escape(name)}\s*=\s*(?:{_STR}|(\d+))""", text)
    return _first(m)


def php_var(text: str, name: str) -> str | None:
    """$name = 'value'; also `var $name`, `public $name` (class properties)."""
    return _first(re.search(rf"""\${re.escape(name)}\s*=\s*{_STR}""", text))


def php_prop(text: str, obj: str, prop: str) -> str | None:
    """$obj->prop = 'value';"""
    return _first(re.search(rf"""\${re.escape(obj)}\s*->\s*{re.escape(prop)}\s*=\s*{_STR}""", text))


def php_array_item(text: str, key: str) -> str | None:
    """'key' => 'value' (the first one in `text`)."""
    return _first(re.search(rf"""['"]{re.escape(key)}['"]\s*=>\s*{_STR}""", text))


def php_array_assign(text: str, path: str, key: str) -> str | None:
    """$path['key'] = 'value'; with `path` like "db['default']"."""
    return _first(
        re.search(rf"""\${re.escape(path)}\s*\[\s*['"]{re.escape(key)}['"]\s*\]\s*=\s*{_STR}""", text)
    )


def dotenv(text: str, name: str) -> str | None:
    """NAME=value from a .env file (quotes stripped, inline comments dropped)."""
    m = re.search(rf"^\s*(?:export\s+)?{re.escape(name)}\s*=\s*(.*)$", text, re.M)
    if not m:
        return None
    value = m.group(1).strip()
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        return value[1:end] if end > 0 else value[1:]
    return value.split(" #", 1)[0].strip()


def ini_value(text: str, section: str, name: str) -> str | None:
    """name = value inside [section] of an INI file."""
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
        elif current == section and "=" in line and not line.startswith((";", "#")):
            k, _, v = line.partition("=")
            if k.strip() == name:
                v = v.strip()
                if v[:1] in ("'", '"') and v.endswith(v[0]) and len(v) > 1:
                    v = v[1:-1]
                return v.split(" ;", 1)[0].strip()
    return None


def manifest(text: str) -> dict[str, str]:
    """A JAR/WAR MANIFEST.MF as {header: value}, continuation lines joined."""
    fields: dict[str, str] = {}
    last = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(" ") and last:
            fields[last] += line[1:]
        elif ":" in line:
            last, _, value = line.partition(":")
            last = last.strip()
            fields[last] = value.strip()
    return fields
