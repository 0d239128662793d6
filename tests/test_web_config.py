"""`ronda web`'s settings and the rules that keep the console from being exposed: where it may
listen without a login, when TLS is required, what web.toml refuses, password hashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from certs import self_signed
from click.testing import CliRunner
from web_visitor import BUDI

from ronda.collector.cli import cli
from ronda.collector.web.auth import Throttle, display_name, proxy_actor
from ronda.collector.web.config import WebConfig, WebConfigError, check, load_web_config
from ronda.collector.web.passwords import hash_password, is_hash, verify_password, weak_password

ACCOUNTS = {"budi": BUDI}


@pytest.mark.parametrize(
    "config",
    [
        WebConfig(),  # the default: 127.0.0.1:8470, anyone on this machine reads
        WebConfig(listen="[::1]:8470"),
        WebConfig(listen="localhost:8470"),
        WebConfig(listen="0.0.0.0:8470", accounts=ACCOUNTS, cert="web.pem", key="web-key.pem"),
        # nginx or Apache on the same machine terminates TLS and signs people in (mod_auth_openidc, ...)
        WebConfig(listen="127.0.0.1:8470", proxy_user_header="X-Remote-User"),
        # a proxy on another machine, passwords checked by ronda
        WebConfig(
            listen="10.20.0.5:8470", accounts=ACCOUNTS, behind_proxy=True, trusted_proxies=("10.20.0.1",)
        ),
    ],
)
def test_safe_setups_are_accepted(config: WebConfig) -> None:
    check(config)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (WebConfig(listen="0.0.0.0:8470"), "without a login"),
        (WebConfig(listen="10.20.0.5:8470", cert="web.pem", key="web-key.pem"), "without a login"),
        (WebConfig(listen="[::]:8470"), "without a login"),
        (WebConfig(listen="0.0.0.0:8470", accounts=ACCOUNTS), "in plain text"),
        (WebConfig(listen="127.0.0.1:8470", cert="web.pem"), "--cert and --key go together"),
        (WebConfig(listen="127.0.0.1:8470", behind_proxy=True), "without a login"),
        (
            WebConfig(listen="0.0.0.0:8470", accounts=ACCOUNTS, cert="c", key="k", behind_proxy=True),
            "not both",
        ),
        (
            WebConfig(listen="0.0.0.0:8470", proxy_user_header="X-Remote-User", trusted_proxies=()),
            "trusted_proxies",
        ),
        (WebConfig(listen="web.example:99999"), "bad port"),
    ],
)
def test_unsafe_setups_are_refused(config: WebConfig, message: str) -> None:
    with pytest.raises(WebConfigError, match=message):
        check(config)


@pytest.mark.parametrize(
    ("config", "anonymous"),
    [
        (WebConfig(), True),
        (WebConfig(login_required=True, accounts=ACCOUNTS), False),
        # Behind a proxy, a loopback listener still serves the whole network: everyone signs in.
        (WebConfig(proxy_user_header="X-Remote-User"), False),
        (WebConfig(listen="0.0.0.0:8470", accounts=ACCOUNTS, cert="c", key="k"), False),
    ],
)
def test_who_reads_without_signing_in(config: WebConfig, anonymous: bool) -> None:
    assert config.anonymous_read is anonymous


def test_web_toml_as_an_operator_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "web.toml"
    path.write_text(
        "\ufeff# /etc/ronda/web.toml\r\n"  # Notepad's BOM and line ends
        'listen = "0.0.0.0:8470"\r\n'
        'cert = "/etc/ronda/web.pem"\r\nkey = "/etc/ronda/web-key.pem"\r\n'
        "session_hours = 4\r\n"
        "[accounts.budi]\r\n"
        'name = "Budi Santoso, Kabid Aptika"\r\n'
        f'password_hash = "{BUDI.password_hash}"\r\n'
        "[accounts.siti]\r\n"
        f'password_hash = "{hash_password("another-long-secret", iterations=1000)}"\r\n'
    )
    config = load_web_config(str(path))
    check(config)
    assert (config.listen, config.session_hours, config.tls) == ("0.0.0.0:8470", 4, True)
    assert config.accounts["budi"].name == "Budi Santoso, Kabid Aptika"
    assert config.accounts["siti"].name == "siti"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[accounts.budi]\npassword_hash = "rahasia123"\n', "web.toml:2: .*never the password itself"),
        ('lisen = "0.0.0.0:8470"\n', "web.toml:1: unknown setting.*lisen"),
        ("session_hours = 0\n", "session_hours must be at least 1"),
        ('login_required = "yes"\n', "login_required must be true or false"),
        ('listen = "0.0.0.0:http"\n', "web.toml:1: bad port"),
        ("[accounts]\nbudi = 1\n", "an account must be a table"),
    ],
)
def test_a_bad_web_toml_is_refused_with_its_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "web.toml"
    path.write_text(text)
    with pytest.raises(WebConfigError, match=message):
        load_web_config(str(path))


def test_passwords_are_stored_as_hashes_datasette_auth_passwords_also_reads() -> None:
    stored = hash_password("kata-sandi-panjang")
    assert is_hash(stored) and stored.startswith("pbkdf2_sha256$600000$") and "kata-sandi" not in stored
    assert verify_password("kata-sandi-panjang", stored)
    assert not verify_password("kata-sandi-panjan", stored)
    assert hash_password("x", salt="s") != hash_password("x", salt="t")
    # a hash written by `datasette hash-password` (datasette-auth-passwords 1.1, 480,000 rounds)
    theirs = "pbkdf2_sha256$480000$63ab3ba7da5c3d1be5d2c9e2a1a8f1d0$" + _rounds(
        "password!", "63ab3ba7da5c3d1be5d2c9e2a1a8f1d0"
    )
    assert verify_password("password!", theirs)
    assert not verify_password("anything", "plain-text-password")


def _rounds(password: str, salt: str) -> str:
    import base64
    import hashlib

    return base64.b64encode(hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 480000)).decode()


@pytest.mark.parametrize(
    ("password", "weak"), [("short", True), ("aaaaaaaaaaaa", True), ("tujuh-belas-agustus", False)]
)
def test_weak_passwords(password: str, weak: bool) -> None:
    assert (weak_password(password) is not None) is weak


def test_hash_password_command() -> None:
    result = CliRunner().invoke(cli, ["web", "hash-password", "--stdin"], input="tujuh-belas-agustus\n")
    assert result.exit_code == 0, result.output
    assert verify_password("tujuh-belas-agustus", result.output.strip())
    prompted = CliRunner().invoke(
        cli, ["web", "hash-password"], input="tujuh-belas-agustus\ntujuh-belas-agustus\n"
    )
    assert prompted.exit_code == 0 and is_hash(prompted.output.strip().splitlines()[-1])
    weak = CliRunner().invoke(cli, ["web", "hash-password", "--stdin"], input="123456\n")
    assert weak.exit_code == 2 and "at least 10 characters" in weak.output


def test_a_non_loopback_listen_without_login_is_refused_before_anything_starts(tmp_path: Path) -> None:
    db = tmp_path / "ronda.db"  # not even created: the refusal comes first
    result = CliRunner().invoke(
        cli, ["web", "--db", str(db), "--listen", "0.0.0.0:8470", "--config", "/dev/null"]
    )
    assert result.exit_code == 2
    assert "refusing to serve the console on 0.0.0.0:8470 without a login" in result.output
    assert not db.exists()


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("127.0.0.1", "siti", "siti"),
        ("::1", "siti", "siti"),
        ("10.20.1.7", "siti", None),  # not the proxy: anyone could send the header
        ("127.0.0.1", "", None),
        ("127.0.0.1", "x" * 201, None),
        ("127.0.0.1", "siti\x00root", None),
        (None, "siti", None),
    ],
)
def test_proxy_header_trust(peer: str | None, header: str, expected: str | None) -> None:
    config = WebConfig(proxy_user_header="X-Remote-User")
    who = proxy_actor(config, {"x-remote-user": header}, peer)
    assert (who["id"] if who else None) == expected


def test_trusted_proxies_may_be_networks() -> None:
    config = WebConfig(proxy_user_header="X-Remote-User", trusted_proxies=("10.20.0.0/29",))
    assert config.trusts("10.20.0.6") and not config.trusts("10.20.0.9") and not config.trusts("proxy")


def test_display_name_in_a_decision() -> None:
    assert display_name({"id": "budi", "name": "Budi Santoso"}) == "Budi Santoso (budi)"
    assert (
        display_name({"id": "siti@provinsi.example", "name": "siti@provinsi.example"})
        == "siti@provinsi.example"
    )


def test_throttle_counts_failures_per_key_and_forgets_them() -> None:
    throttle = Throttle(attempts=2, window=60)
    throttle.failed("user:budi", "peer:10.0.0.1")
    assert not throttle.blocked("user:budi")
    throttle.failed("user:budi", "peer:10.0.0.2")
    assert throttle.blocked("user:budi") and not throttle.blocked("peer:10.0.0.1")
    throttle.succeeded("user:budi")
    assert not throttle.blocked("user:budi")
    assert Throttle(attempts=1, window=-1).blocked("user:x") is False


def test_check_says_what_a_config_allows(tmp_path: Path) -> None:
    cert, key, _ = self_signed(tmp_path, "ronda.diskominfo.example", ["ronda.diskominfo.example"])
    path = tmp_path / "web.toml"
    path.write_text(
        f'listen = "0.0.0.0:8443"\ncert = "{cert}"\nkey = "{key}"\n'
        f'[accounts.budi]\npassword_hash = "{BUDI.password_hash}"\n'
    )
    result = CliRunner().invoke(cli, ["web", "--check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "web config fine: listen 0.0.0.0:8443, HTTPS, everyone signs in; sign-in by 1 password account(s)"
    )


@pytest.mark.parametrize("broken", ["missing", "not-pem", "other-key"])
def test_tls_files_that_cannot_serve_are_refused(tmp_path: Path, broken: str) -> None:
    cert, key, _ = self_signed(tmp_path / "a", "ronda.diskominfo.example", ["ronda.diskominfo.example"])
    _, other_key, _ = self_signed(tmp_path / "b", "other.example", ["other.example"])
    if broken == "missing":
        cert = tmp_path / "nope.pem"
    elif broken == "not-pem":
        cert.write_text("this is not a certificate\n")
    else:
        key = other_key
    result = CliRunner().invoke(
        cli, ["web", "--check", "--config", "/dev/null", "--cert", str(cert), "--key", str(key)]
    )
    assert result.exit_code == 2
    assert f"cannot serve HTTPS with {cert} and {key}" in result.output
