"""Who is asking: password accounts (a signed, expiring session cookie), a trusted proxy's header,
or nobody; and the brake on guessing passwords."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from datasette.utils import baseconv

from ronda.collector.web.config import Account, WebConfig
from ronda.collector.web.passwords import verify_password

HEADER_MAX = 200  # an authenticated user's name from a proxy header, at most


def actor(account: Account) -> dict[str, str]:
    return {"id": account.username, "name": account.name, "via": "password"}


def display_name(who: dict[str, Any]) -> str:
    """How a decision names its author: `Budi Santoso (budi)`, or the id alone."""
    ident, name = str(who.get("id", "")), str(who.get("name") or "")
    return f"{name} ({ident})" if name and name != ident else ident


def proxy_actor(config: WebConfig, headers: dict[str, str], peer: str | None) -> dict[str, str] | None:
    """The user a trusted reverse proxy vouches for in `proxy_user_header`, or None.

    The header counts only on a connection from one of `trusted_proxies`: anybody else could
    send it too."""
    if not config.proxy_user_header or not config.trusts(peer):
        return None
    value = headers.get(config.proxy_user_header.lower(), "").strip()
    if not value or len(value) > HEADER_MAX or not value.isprintable():
        return None
    return {"id": value, "name": value, "via": "proxy"}


def check_password(config: WebConfig, username: str, password: str) -> Account | None:
    account = config.accounts.get(username)
    if account is None:
        # As slow as a wrong password, so that timing tells nobody which accounts exist.
        verify_password(password, _DUMMY_HASH)
        return None
    return account if verify_password(password, account.password_hash) else None


def session_cookie_value(sign: Any, who: dict[str, str], hours: int) -> str:
    """What Datasette's own cookie reader (`ds_actor`) accepts: the actor, and when it expires."""
    expires = baseconv.base62.encode(int(time.time()) + hours * 3600)
    return sign({"a": who, "e": expires}, "actor")


class Throttle:
    """At most `attempts` failed sign-ins per user name and per client address in `window` seconds."""

    def __init__(self, attempts: int = 5, window: float = 900.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] < now - self.window:
            failures.popleft()
        return failures

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.attempts for k in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


_DUMMY_HASH = (
    "pbkdf2_sha256$600000$00000000000000000000000000000000$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)
