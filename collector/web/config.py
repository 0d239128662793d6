"""`ronda web`'s settings: /etc/ronda/web.toml (or --config, $RONDA_WEB_CONFIG), options over it.

    listen = "0.0.0.0:8470"
    cert = "/etc/ronda/web.pem"          # TLS served by ronda web itself ...
    key = "/etc/ronda/web-key.pem"
    behind_proxy = false                 # ... or a reverse proxy in front terminates TLS
    trusted_proxies = ["127.0.0.1", "::1"]
    proxy_user_header = ""               # e.g. "X-Remote-User": the proxy signs people in
    login_required = false               # true: no anonymous reading, even on loopback
    session_hours = 8

    [accounts.budi]
    name = "Budi Santoso, Kabid Aptika"  # what a decision records as its author
    password_hash = "pbkdf2_sha256$600000$..."   # `ronda web hash-password`

The rules that keep it safe (`check`): on a loopback address the console may be
read without signing in; on any other address, or behind a proxy, everyone
signs in (a password account or the proxy's authenticated header), and the
traffic is TLS, served by ronda itself or by the proxy.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass, field, replace
from typing import Any

from ronda.collector.web.passwords import is_hash
from ronda.errors import ConfigError
from ronda.tomlfile import TomlFile, find_config
from ronda.transport import TransportError, is_loopback, split_address

DEFAULT_PATH = "/etc/ronda/web.toml"
DEFAULT_LISTEN = "127.0.0.1:8470"


class WebConfigError(ConfigError):
    """web.toml or an option of `ronda web` is refused: unreadable, or unsafe as given."""


@dataclass(frozen=True)
class Account:
    username: str
    name: str
    password_hash: str


@dataclass(frozen=True)
class WebConfig:
    listen: str = DEFAULT_LISTEN
    cert: str = ""
    key: str = ""
    behind_proxy: bool = False
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    proxy_user_header: str = ""
    login_required: bool = False
    session_hours: int = 8
    accounts: dict[str, Account] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return split_address(self.listen, allow_zero=True)[0]

    @property
    def port(self) -> int:
        return split_address(self.listen, allow_zero=True)[1]

    @property
    def tls(self) -> bool:
        return bool(self.cert)

    @property
    def proxied(self) -> bool:
        return self.behind_proxy or bool(self.proxy_user_header)

    @property
    def anonymous_read(self) -> bool:
        """Whether a visitor who has not signed in may read: only on loopback with nothing in front."""
        return is_loopback(self.host) and not self.proxied and not self.login_required

    @property
    def can_sign_in(self) -> bool:
        return bool(self.accounts or self.proxy_user_header)

    @property
    def secure_cookies(self) -> bool:
        return self.tls or self.proxied

    def trusts(self, peer: str | None) -> bool:
        """Whether a request from `peer` (the TCP client's address) comes from a trusted proxy."""
        if not peer:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        for entry in self.trusted_proxies:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False


_SETTINGS = {
    "listen": str,
    "cert": str,
    "key": str,
    "behind_proxy": bool,
    "trusted_proxies": list[str],
    "proxy_user_header": str,
    "login_required": bool,
    "session_hours": int,
    "accounts": dict,
}
_ACCOUNT = {"name": str, "password_hash": str}


def load_web_config(path: str | None = None) -> WebConfig:
    """`path`, else $RONDA_WEB_CONFIG, else /etc/ronda/web.toml if it exists, else defaults."""
    path = find_config(path, "RONDA_WEB_CONFIG", DEFAULT_PATH)
    if not path:
        return WebConfig()
    file = TomlFile.read(path, "web config", WebConfigError)
    values: dict[str, Any] = file.settings(file.data, _SETTINGS)
    accounts = {}
    for username, table in (values.pop("accounts", None) or {}).items():
        if not isinstance(table, dict):
            file.problem("an account must be a table ([accounts.NAME])", "accounts", username)
            continue
        account = file.settings(table, _ACCOUNT, "accounts", username)
        stored = account.get("password_hash", "")
        if not is_hash(stored):
            file.problem(
                "password_hash must be a hash from `ronda web hash-password` (pbkdf2_sha256$...), "
                "never the password itself",
                "accounts",
                username,
                "password_hash",
            )
            continue
        accounts[username] = Account(username, account.get("name") or username, stored)
    for name in ("listen",):
        if name in values:
            try:
                split_address(values[name], allow_zero=True)
            except TransportError as e:
                file.problem(str(e), name)
    if values.get("session_hours", 1) < 1:
        file.problem("session_hours must be at least 1", "session_hours")
    file.check()
    if "trusted_proxies" in values:
        values["trusted_proxies"] = tuple(values["trusted_proxies"])
    return WebConfig(**values, accounts=accounts)


def with_options(config: WebConfig, **options: Any) -> WebConfig:
    """The config with each option that was given (not None) put over the file's value."""
    return replace(config, **{k: v for k, v in options.items() if v is not None})


def check(config: WebConfig) -> None:
    """Refuse a setup that would expose the console: see the module's docstring."""
    try:
        split_address(config.listen, allow_zero=True)
    except TransportError as e:
        raise WebConfigError(str(e)) from None
    if bool(config.cert) != bool(config.key):
        raise WebConfigError("--cert and --key go together: give both (PEM files) or neither")
    if config.tls and config.proxied:
        raise WebConfigError("choose TLS served by ronda web (--cert/--key) or a proxy in front, not both")
    if config.proxy_user_header and not config.trusted_proxies:
        raise WebConfigError("proxy_user_header needs trusted_proxies: the addresses of the proxy")
    where = config.listen
    if is_loopback(config.host) and not config.proxied:
        return
    if not config.can_sign_in:
        raise WebConfigError(
            f"refusing to serve the console on {where} without a login: off loopback everyone signs in. "
            "Add [accounts.NAME] with a password_hash (`ronda web hash-password`) to web.toml, or set "
            "proxy_user_header when a reverse proxy authenticates people; or listen on 127.0.0.1"
        )
    if not (config.tls or config.proxied):
        raise WebConfigError(
            f"refusing to serve the console on {where} in plain text: passwords and sessions would "
            "cross the network readable. Give --cert and --key (PEM), or put a TLS proxy in front "
            "and set behind_proxy = true"
        )


def check_tls_files(config: WebConfig) -> None:
    """Refuse --cert/--key that cannot serve HTTPS (unreadable, not PEM, a key of another
    certificate) before anything starts."""
    if not config.tls:
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(config.cert, config.key)
    except ssl.SSLError:
        reason = "they are not a PEM certificate and the private key that belongs to it"
    except OSError as e:
        reason = f"{e.filename or config.cert}: {e.strerror or e}"
    else:
        return
    raise WebConfigError(f"cannot serve HTTPS with {config.cert} and {config.key}: {reason}")
