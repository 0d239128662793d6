"""Small helpers the web-server sources (Apache, nginx, Caddy, Tomcat) share."""

from __future__ import annotations

from ronda.agent.discovery.keys import assign_unique_keys
from ronda.agent.host import Host, HostError, ProcessInfo
from ronda.model import App
from ronda.scrub import without_userinfo

_REGEX_META = set(".^$*+?()[]{}|\\")
# What may follow a fixed path for it to be a whole segment: the end, a slash, or "anything".
_SEGMENT_ENDS = ("$", "/", "(/", "(?:/", "(.*", "(?:.*", ".*", "(.+", ".+", "(?:$|/)", "($|/)", "(/|$)")


# Where a proxied app's own static files live, served by the web server beside it: part of that app.
ASSET_DIRS = frozenset({"static", "staticfiles", "media", "assets", "packs", "public", "uploads"})


def is_asset_prefix(prefix: str) -> bool:
    """/static, /media, /packs...: the last segment names a proxied app's static files."""
    return prefix.rstrip("/").rsplit("/", 1)[-1].lower() in ASSET_DIRS


def running_processes(host: Host) -> list[ProcessInfo]:
    """The host's processes, or none where it cannot list them (a file tree, a refused SSH command)."""
    try:
        return host.processes()
    except HostError:
        return []


def without_credentials(text: str) -> str:
    """http://user:secret@backend/ -> http://backend/: upstream URLs may carry passwords, reports may not."""
    return without_userinfo(text)


def clean_prefix(path: str) -> str:
    """ "/sipd/" -> "/sipd"; "" and "/" -> "/"."""
    return "/" + path.strip("/") if path.strip("/") else "/"


def literal_prefix(regex: str) -> str:
    """The fixed path a URL regex starts with, in whole segments.

    ^/dokuwiki/sites/[^/]+$ -> /dokuwiki/sites; ^/app(.*) -> /app; ^/api/v[0-9]+/ -> /api;
    ^/conference-request/v1(\\/.*)?$ -> /conference-request/v1;
    \\.php$ -> "" (not anchored to a path).
    """
    text = regex.removeprefix("^")
    out: list[str] = []
    partial = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and not text[i + 1].isalnum():
            out.append(text[i + 1])
            i += 2
            continue
        if c in _REGEX_META:
            if c in "?*{" and out:
                out.pop()  # the previous character is optional or repeated
                partial = True
            break
        out.append(c)
        i += 1
    prefix = "".join(out)
    if not prefix.startswith("/"):
        return ""
    rest = text[i:].replace("\\/", "/")  # (\/.*)? is (/.*)?
    if partial or not (prefix.endswith("/") or rest.startswith(_SEGMENT_ENDS) or not rest):
        prefix = prefix.rsplit("/", 1)[0]  # the regex goes on inside this segment: keep the whole ones
    return clean_prefix(prefix)


def key_and_link(apps: list[App]) -> None:
    """Assign keys (and drop credentials from upstream URLs); each sub-app follows its server's
    whole-vhost app (prefix "/") in the list.

    The config file alone cannot tell: an Alias from Apache's conf-enabled/ or a
    location from an nginx snippet lives in another file than its server.
    """
    assign_unique_keys(apps)
    parent = ""
    for app in apps:
        app.upstream = without_credentials(app.upstream)
        app.labels = {k: without_credentials(v) for k, v in app.labels.items()}
        if app.path_prefix == "/":
            parent = app.key
        else:
            app.parent_key = parent
