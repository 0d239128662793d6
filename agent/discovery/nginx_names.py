"""nginx server_name values as the names users type.

A regular-expression name (`~^(www\\.)?sipd\\.kaltara\\.go\\.id$`) stands for
the host names it matches; ronda reports the plainest of them (`sipd.kaltara.go.id`,
or `*.kaltara.go.id` for a captured first label) and keeps the expression in a label.
"""

from __future__ import annotations

import re

_HOSTNAME = re.compile(
    r"^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$", re.IGNORECASE
)
# A group or class that stands for one whole label at the start: (?<sub>.+)\.  [^.]+\.  \w+\.
_FIRST_LABEL = re.compile(
    r"^(\((\?(P?<\w+>|:))?)?(\.\+|\.\*|\[\^\.\]\+|\\w\+|\[[a-z0-9_\\-]+\]\+)\)?\\\.", re.IGNORECASE
)
_OPTIONAL_GROUP = re.compile(r"\((\?:)?[^()]*\)\?")


def plain_name(regex: str) -> str:
    """The host name a server_name regex stands for, or "" when it is not one name."""
    text = regex.removeprefix("~")
    text = text.lstrip("^").rstrip("$")
    wildcard = False
    m = _FIRST_LABEL.match(text)
    if m:
        wildcard, text = True, text[m.end() :]
    text = _OPTIONAL_GROUP.sub("", text)
    text = re.sub(r"\\([.\-])", r"\1", text)
    name = ("*." if wildcard else "") + text
    return name.lower() if _HOSTNAME.match(name) else ""


def server_names(args: list[str]) -> tuple[list[str], list[str]]:
    """(names as users reach them, the regular expressions among the originals)."""
    names: list[str] = []
    regexes: list[str] = []
    for arg in args:
        if not arg:
            continue
        if arg.startswith("~"):
            regexes.append(arg)
            arg = plain_name(arg) or arg
        if arg not in names:
            names.append(arg)
    return names, regexes
