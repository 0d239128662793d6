"""Where a whole Apache server context sends its users, and what mod_rewrite proxies.

- mod_alias: `Redirect [status] / URL`, `RedirectPermanent / URL`, `RedirectTemp`,
  and `RedirectMatch [status] REGEX URL` when the regex matches every path.
- mod_rewrite: a `RewriteRule` matching every path to an absolute URL with
  `[R]` (Certbot's `RewriteRule ^ https://%{SERVER_NAME}%{REQUEST_URI}
  [END,NE,R=permanent]`, guarded only by conditions on the host name, port or
  scheme) redirects the whole context; `[P]` proxies to a backend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ronda.agent.discovery.apache_syntax import Directive

# Patterns that match every request path.
EVERY_PATH = frozenset(
    {
        "^",
        "^/",
        ".*",
        "^.*",
        "^.*$",
        "(.*)",
        "^(.*)",
        "^(.*)$",
        "/(.*)",
        "^/(.*)",
        "^/(.*)$",
        "^/?(.*)$",
        "^/.*",
    }
)
# RewriteCond tests that do not narrow which paths a rule applies to.
_WHOLE_SITE_TESTS = ("%{server_name}", "%{http_host}", "%{https}", "%{server_port}", "%{request_scheme}")
_STATUS_WORDS = {"permanent", "temp", "seeother", "gone"}
_FLAGS = re.compile(r"^\[(.*)\]$")


def redirect_target(d: Directive) -> str:
    """Where a mod_alias redirect sends every path of its context, or ""."""
    args = [a for a in d.args if a.lower() not in _STATUS_WORDS and not a.isdigit()]
    if len(args) < 2:
        return ""
    if d.key == "redirectmatch":
        return args[1] if args[0] in EVERY_PATH else ""
    return args[1] if args[0].rstrip("/") == "" else ""


@dataclass
class RewriteRule:
    pattern: str
    target: str
    proxy: bool  # [P]: the target is a backend
    redirect: bool  # [R] or an absolute URL: the client is sent there


def rewrite_rule(d: Directive) -> RewriteRule | None:
    if len(d.args) < 2:
        return None
    pattern, target = d.args[0], d.args[1]
    m = _FLAGS.match(d.arg(2))
    flags = {f.strip().split("=", 1)[0].lower() for f in m.group(1).split(",")} if m else set()
    absolute = re.match(r"^[a-z][a-z0-9+.-]*://", target, re.IGNORECASE) is not None
    if "p" in flags or "proxy" in flags:
        return RewriteRule(pattern, backend_of(target), True, False)
    if not absolute or not ({"r", "redirect"} & flags or not flags - {"l", "last", "end", "ne", "noescape"}):
        return None
    return RewriteRule(pattern, target, False, True)


def whole_site(conditions: list[Directive]) -> bool:
    """Do these RewriteConds leave every path of the site to the rule after them?"""
    return all(c.arg().lower().startswith(_WHOLE_SITE_TESTS) for c in conditions)


def backend_of(target: str) -> str:
    """A [P] target without its per-request parts: ws://localhost:8091%{REQUEST_URI} -> ws://localhost:8091."""
    cut = min((i for i in (target.find("$"), target.find("%{")) if i >= 0), default=len(target))
    return target[:cut]
