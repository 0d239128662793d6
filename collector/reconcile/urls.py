"""URL and host normalisation: what makes a declared address and a served one the same.

Scheme and host case, a leading `www.`, a trailing dot, default ports, and
trailing slashes do not matter; a path is a prefix, compared by segments.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
WEB_PORTS = frozenset({80, 443})
CATCH_ALL_NAMES = frozenset({"", "_", "localhost", "default", "default_server", "*"})
_HOST_RE = re.compile(r"^[a-z0-9_]([a-z0-9_\-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_\-]*[a-z0-9_])?)*$")
_SPLIT_RE = re.compile(r"[\s,;|]+")


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str  # lower case, no trailing dot, IPv6 without brackets
    port: int | None  # explicit, or the scheme's default; None when neither is given
    explicit_port: bool
    scheme: str  # "" when not given
    path: str  # "/" or "/a/b" (no trailing slash)

    @property
    def key(self) -> str:
        return host_key(self.host)

    def __str__(self) -> str:
        scheme = f"{self.scheme}://" if self.scheme else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.explicit_port else ""
        return f"{scheme}{host}{port}{'' if self.path == '/' else self.path}"


def host_key(host: str) -> str:
    """The comparable form of a host name: lower case, no trailing dot, no leading `www.`."""
    host = host.strip().lower().rstrip(".")
    return host[4:] if host.startswith("www.") and host.count(".") >= 2 else host


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def normalize_path(path: str) -> str:
    if (
        path[:1] == "/"
        and path[-1:] != "/"
        and "%" not in path
        and "//" not in path
        and "?" not in path
        and "#" not in path
        and path == path.lower()
    ):
        return path  # already normal: the usual case, and this runs for every app of a fleet
    path = unquote(path.split("?", 1)[0].split("#", 1)[0]).lower()
    path = re.sub(r"/{2,}", "/", path)
    path = path.rstrip("/")
    return path if path.startswith("/") else "/" + path


def path_within(path: str, prefix: str) -> bool:
    """`/sipd/laporan` is within `/sipd` and `/`; `/sipdx` is not within `/sipd`."""
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def split_urls(text: str) -> list[str]:
    return [part for part in _SPLIT_RE.split(text.strip()) if part]


# The usual shapes (`https://name/path`, `name:8080`), in lower case, parsed without urllib.
_PLAIN = re.compile(
    r"^(?:(https?)://)?([a-z0-9_](?:[a-z0-9_\-.]*[a-z0-9_])?)\.?(?::(\d{1,5}))?(/[a-z0-9_\-./~]*)?$"
)


def parse_endpoint(text: str) -> Endpoint:
    """A URL, a bare domain (`sipd.example.go.id/sipd`), or an address (`10.1.2.3:8080`).

    Raises ValueError if the text is none of these."""
    m = _PLAIN.match(text.strip().lower())
    if m and ".." not in m.group(2) and (m.group(3) is None or 0 < int(m.group(3)) < 65536):
        scheme, host, port, path = m.group(1) or "", m.group(2), m.group(3), m.group(4) or "/"
        path = path.rstrip("/") or "/" if "//" not in path else normalize_path(path)
        if port is not None:
            return Endpoint(host, int(port), True, scheme, path)
        return Endpoint(host, DEFAULT_PORTS[scheme] if scheme else None, False, scheme, path)
    raw = text.strip()
    if not raw:
        raise ValueError("empty address")
    candidate = raw if "://" in raw else "//" + raw
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"{raw!r} is not a URL or domain ({e})") from None
    scheme = parts.scheme.lower()
    if scheme and scheme not in DEFAULT_PORTS:
        raise ValueError(f"{raw!r}: scheme {scheme!r} is not http or https")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"{raw!r} has no host name")
    if not is_address(host):
        try:
            host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host
        except UnicodeError:
            raise ValueError(f"{raw!r}: {host!r} is not a valid host name") from None
        if not _HOST_RE.match(host):
            raise ValueError(f"{raw!r}: {host!r} is not a valid host name")
    if parts.username or parts.password:
        raise ValueError(f"{raw!r}: addresses must not carry a user name or password")
    if port is None and scheme:
        return Endpoint(host, DEFAULT_PORTS[scheme], False, scheme, normalize_path(parts.path))
    return Endpoint(host, port, port is not None, scheme, normalize_path(parts.path))


@dataclass(frozen=True, slots=True)
class ServerName:
    """One `server_name`/`ServerAlias` entry as a matcher."""

    kind: str  # exact, suffix (`*.x`, `.x`), prefix (`x.*`), regex, catch-all
    value: str

    def matches(self, key: str) -> bool:
        if self.kind == "exact":
            return key == self.value
        if self.kind == "suffix":
            return key.endswith("." + self.value) or key == self.value
        if self.kind == "prefix":
            return key.startswith(self.value + ".")
        if self.kind == "regex":
            try:
                return re.fullmatch(self.value, key) is not None
            except re.error:
                return False
        return False


def server_name(name: str) -> ServerName:
    text = name.strip().lower().rstrip(".")
    if text in CATCH_ALL_NAMES:
        return ServerName("catch-all", text)
    if text.startswith("~"):
        return ServerName("regex", text[1:].lstrip("^").rstrip("$"))
    if text.startswith("*."):
        return ServerName("suffix", host_key(text[2:]))
    if text.startswith("."):
        return ServerName("suffix", host_key(text[1:]))
    if text.endswith(".*"):
        return ServerName("prefix", text[:-2])
    return ServerName("exact", host_key(text.split(":", 1)[0]))


WILDCARD_ADDRESSES = frozenset({"*", "", "0.0.0.0", "::", "[::]", "*:*"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
