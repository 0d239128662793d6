"""Access-log formats: from the server's own definition to a compiled bytes regex.

A format definition (nginx `log_format` body, Apache/Tomcat `LogFormat`
pattern) becomes one anchored regex per line. Only the fields usage needs are
captured — client address, day, status, user agent, virtual host and a *path
bucket* (which app prefix or monitor path the request path starts with) —
so that a whole buffer can go through `findall` and identical rows collapse
in a C-level Counter. The time of day is captured only by the slower detail
regex, used for the few lines whose exact time matters (first and last ones).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ronda.agent.usage.compiled import CompiledFormat
from ronda.agent.usage.jsonlog import compile_json
from ronda.errors import InputError

# Fields in the order of the key tuple the parser works with.
KEY_FIELDS = ("vhost", "prefix", "probe", "addr", "day", "status", "ua")

NGINX_BUILTIN = {
    "combined": '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"',
}
APACHE_BUILTIN = {
    "combined": '%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
    "common": '%h %l %u %t "%r" %>s %O',
    "vhost_combined": '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
    "referer": "%{Referer}i -> %U",
    "agent": "%{User-Agent}i",
}
BUILTIN = {"nginx": NGINX_BUILTIN, "apache": APACHE_BUILTIN, "tomcat": APACHE_BUILTIN}

_NGINX_ROLES = {
    "remote_addr": "addr",
    "realip_remote_addr": "addr",
    "binary_remote_addr": "addr",
    "time_local": "clf",
    "time_iso8601": "iso8601",
    "msec": "epoch",
    "request": "request",
    "request_uri": "uri",
    "uri": "uri",
    "document_uri": "uri",
    "status": "status",
    "http_user_agent": "ua",
    "host": "vhost",
    "server_name": "vhost",
    "http_host": "vhost",
}
_APACHE_ROLES = {
    "h": "addr",
    "a": "addr",
    "t": "clf",
    "r": "request",
    "U": "uri",
    "s": "status",
    "v": "vhost",
    "V": "vhost",
}
TIME_ROLES = {
    "clf": "clf",
    "clf_bare": "clf",
    "iso8601": "iso8601",
    "epoch": "epoch",
    "epoch_msec": "epoch",
    "epoch_usec": "epoch",
}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

_NGINX_TOKEN = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_APACHE_TOKEN = re.compile(r"%(?:[<>]|!?[\d,]+)*(?:\{([^}]*)\})?([a-zA-Z%])")


class FormatError(InputError, ValueError):
    """A format definition ronda cannot turn into a parser."""


@dataclass(frozen=True)
class Token:
    role: str  # addr, clf, iso8601, epoch, request, uri, status, ua, vhost, other, literal
    text: str = ""  # the literal text, for role "literal"


@dataclass(frozen=True)
class LogFormat:
    """A parsed format definition; `compile` specialises it for one log file's apps."""

    name: str
    tokens: tuple[Token, ...]
    json: bool = False  # Caddy's JSON lines

    @property
    def roles(self) -> set[str]:
        if self.json:
            return {"addr", "iso8601", "request", "status", "ua", "vhost"}
        return {t.role for t in self.tokens}

    @property
    def has_vhost(self) -> bool:
        return "vhost" in self.roles

    @property
    def time_kind(self) -> str:
        if self.json:
            return "epoch"
        for t in self.tokens:
            if t.role in TIME_ROLES:
                return TIME_ROLES[t.role]
        return ""

    def compile(self, prefixes: list[str], probes: list[str]) -> CompiledFormat:
        if self.json:
            return compile_json(prefixes, probes)
        return _compile(self, prefixes, probes)


def parse_definition(kind: str, name: str, definition: str | None) -> LogFormat:
    """The format `name` of a server `kind`, from its definition or the server's built-ins."""
    if kind == "caddy":
        if (definition or name or "json") != "json":
            raise FormatError(f"Caddy log format {name!r}: only the json encoder is read")
        return LogFormat(name=name or "json", tokens=(), json=True)
    if definition is None:
        definition = BUILTIN.get(kind, APACHE_BUILTIN).get(name or "combined")
        if definition is None:
            raise FormatError(f"unknown log format {name!r} (no definition found)")
    tokens = _tokens_nginx(definition) if kind == "nginx" else _tokens_apache(definition)
    fmt = LogFormat(name=name, tokens=tuple(tokens))
    if not fmt.time_kind:
        raise FormatError(f"log format {name!r} has no request time ronda can read")
    return fmt


def _tokens_nginx(definition: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    for m in _NGINX_TOKEN.finditer(definition):
        if m.start() > pos:
            tokens.append(Token("literal", definition[pos : m.start()]))
        var = m.group(1) or m.group(2)
        tokens.append(Token(_NGINX_ROLES.get(var, "other"), var))
        pos = m.end()
    if pos < len(definition):
        tokens.append(Token("literal", definition[pos:]))
    return tokens


def _tokens_apache(definition: str) -> list[Token]:
    # Config files write quotes as \" inside the LogFormat string; discovery may or may not unescape.
    definition = definition.replace('\\"', '"').replace("\\t", "\t")
    tokens: list[Token] = []
    pos = 0
    for m in _APACHE_TOKEN.finditer(definition):
        if m.start() > pos:
            tokens.append(Token("literal", definition[pos : m.start()]))
        arg, letter = m.group(1), m.group(2)
        pos = m.end()
        if letter == "%":
            tokens.append(Token("literal", "%"))
            continue
        role = _APACHE_ROLES.get(letter, "other")
        if letter == "i" and arg and arg.lower() == "user-agent":
            role = "ua"
        elif letter == "i" and arg and arg.lower() == "host":
            role = "vhost"
        elif letter == "a" and arg and arg != "c":
            role = "other"
        elif letter == "t" and arg is not None:
            spec = arg.removeprefix("begin:").removeprefix("end:")
            if spec == "sec":
                role = "epoch"
            elif spec in ("msec", "usec"):
                role = "epoch_" + spec
            elif spec in ("%d/%b/%Y:%H:%M:%S %z", ""):
                role = "clf_bare"
            else:
                role = "other"
        tokens.append(Token(role, letter))
    if pos < len(definition):
        tokens.append(Token("literal", definition[pos:]))
    return tokens


def _until(following: str, mode: str) -> bytes:
    """A field's regex: anything up to the literal character that follows it.

    The fast mode uses single-character classes, which the regex engine scans
    much faster but which could run past a line end; the caller checks that
    it matched every line and otherwise falls back to the safe mode. The lean
    mode accepts exactly what the fast mode accepts, with less work per line.
    """
    if following == "":
        return rb"[^\n]*?"
    if (
        mode == "lean"
    ):  # possessive: the class excludes the character that follows, so giving back never helps
        return b"[^" + re.escape(following.encode()) + b"]*+"
    if mode == "fast":
        return b"[^" + re.escape(following.encode()) + b"]*"
    if following == '"':
        # Servers escape quotes inside quoted fields (\" or \x22); allow backslash escapes.
        return rb'[^"\\\n]*(?:\\.[^"\\\n]*)*'
    return b"[^" + re.escape(following.encode()) + rb"\n]*"


def _alternation(items: list[str]) -> bytes:
    ordered = sorted(set(items), key=lambda s: (-len(s), s))
    return b"|".join(re.escape(s.encode()) for s in ordered)


def _compile(fmt: LogFormat, prefixes: list[str], probes: list[str]) -> CompiledFormat:
    try:
        fast, fields = _build(fmt, prefixes, probes, "fast")
        safe, _ = _build(fmt, prefixes, probes, "safe")
        detail, detail_fields = _build(fmt, prefixes, probes, "detail")
        lean, lean_fields = _build(fmt, prefixes, probes, "lean")
    except re.error as e:  # pragma: no cover - tokens are escaped; this guards future roles
        raise FormatError(f"log format {fmt.name!r}: {e}") from None
    return CompiledFormat(
        fast=fast,
        safe=safe,
        detail=detail,
        fields=tuple(fields),
        detail_fields=tuple(detail_fields),
        time_kind=fmt.time_kind,
        lean=lean,
        lean_fields=tuple(lean_fields),
    )


def _build(
    fmt: LogFormat, prefixes: list[str], probes: list[str], mode: str
) -> tuple[re.Pattern[bytes], list[str]]:
    out: list[bytes] = [b"^"]
    fields: list[str] = []
    used: set[str] = set()
    tokens = fmt.tokens
    clock = b"(" if mode == "detail" else b"(?:"

    def path_groups(rest: bytes) -> bytes:
        # A prefix group (longest app prefix the path starts with) then a probe group (monitor path).
        groups = b""
        if prefixes:
            groups += b"((?:" + _alternation(prefixes) + rb')(?=[/?#; "\n]|$)|)'
            fields.append("prefix")
        if probes:
            groups += b"((?:" + _alternation(probes) + rb')(?=[?#; "\n]|$)|)'
            fields.append("probe")
        return groups + rest

    for i, tok in enumerate(tokens):
        following = ""
        if i + 1 < len(tokens) and tokens[i + 1].role == "literal":
            following = tokens[i + 1].text[:1]
        role = tok.role
        if role == "literal":
            out.append(re.escape(tok.text.encode()))
            continue
        group = "time" if role in TIME_ROLES else "path" if role in ("request", "uri") else role
        if group in used:
            role = "other"  # a field that appears twice is captured once
        used.add(group)
        if role in ("clf", "clf_bare"):
            # Apache's %t prints its own brackets; nginx's $time_local does not.
            # Loose on purpose (dates are checked once per distinct day, times where they are read):
            # the regex engine is much faster on single-character classes.
            bracket = role == "clf" and tok.text == "t"
            open_, close = (rb"\[", rb"\]") if bracket else (b"", b"")
            end = "]" if bracket else following or " "
            nl = b"" if mode in ("fast", "lean") else b"\n"
            # possessive where the class excludes what follows: the closing bracket or literal
            day_rep = b"*+" if mode == "lean" else b"*"
            clock_rep = b"*+" if mode == "lean" and (bracket or following) else b"*"
            out.append(
                open_
                + b"([^:"
                + nl
                + b"]"
                + day_rep
                + b"):"
                + clock
                + b"[^"
                + re.escape(end.encode())
                + nl
                + b"]"
                + clock_rep
                + b")"
                + close
            )
            fields.extend(("day", "clock") if mode == "detail" else ("day",))
        elif role == "iso8601":
            out.append(rb"(\d{4}-\d\d-\d\d)T" + clock + rb"\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d))")
            fields.extend(("day", "clock") if mode == "detail" else ("day",))
        elif role == "epoch":
            # Seconds since the epoch: the "day" group holds the whole second; the parser makes it a date.
            out.append(rb"(\d+)(?:\.\d+)?")
            fields.append("day")
        elif role in ("epoch_msec", "epoch_usec"):
            out.append(rb"(\d+)\d{" + (b"3" if role == "epoch_msec" else b"6") + b"}")
            fields.append("day")
        elif role in ("request", "uri"):
            method = (
                (rb'[^ "]* ?' if mode in ("fast", "lean") else rb'[^ "\n]* ?') if role == "request" else b""
            )
            out.append(method + path_groups(_until(following, mode)))
        elif role == "status" and mode == "lean":
            # three digits, as \d{3}; rows of one class (below 400, 403/404, other errors) collapse
            out.append(rb"(?:40([34])|([4-9])\d\d|[0-3]\d\d)")
            fields.extend(("reject", "error"))
        elif role == "status":
            out.append(rb"(\d{3})")
            fields.append("status")
        elif role in ("addr", "ua", "vhost"):
            out.append(b"(" + _until(following, mode) + b")")
            fields.append(role)
        else:
            out.append(_until(following, mode))
    if len([f for f in fields if f != "clock"]) < 2:
        out.append(b"()")  # findall then always yields tuples
        fields.append("pad")
    out.append(b"\r?$")
    return re.compile(b"".join(out), re.MULTILINE), fields


def month_number(abbrev: str) -> int:
    return _MONTHS[abbrev]
