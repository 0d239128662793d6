"""No secret leaves the host, whatever quoted it: real nginx echoing the upstream it choked on, a pasted
`DB_PASSWORD=...;` line, passwords holding `/` and `@`, and the shapes secrets take in the configs and
environment files real projects ship (Laravel and Symfony .env, Django settings, PHP arrays, Apache
SetEnv, nginx fastcgi_param, Docker Compose YAML, PEM keys, bearer tokens).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ronda.agent.inspect.database import from_url
from ronda.scrub import scrub

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        # nginx -T's own messages, as nginx 1.22 prints them
        ('invalid port in upstream "admin:S3cr/et@db.internal:8080"', "S3cr/et", "db.internal:8080"),
        ('unknown directive "DB_PASSWORD=hunter2"', "hunter2", "unknown directive"),
        ('invalid host in upstream "svc:p@ss@10.0.0.1:8080"', "p@ss", "10.0.0.1:8080"),
        # URLs with passwords holding / and @ (DATABASE_URL, proxy_pass, ProxyPass)
        ("proxy_pass http://user:pa/ss@backend:8080/app;", "pa/ss", "http://backend:8080/app"),
        ("DATABASE_URL=postgres://app:s3/cr@t@db.internal:5432/sipd", "s3/cr@t", "db.internal"),
        ("redis://:n0user/pw@cache:6379/0", "n0user/pw", "cache:6379"),
        # settings named like secrets, in the syntaxes projects write them
        ("DB_PASSWORD=hunter2", "hunter2", "DB_PASSWORD="),
        ('APP_KEY="base64:Zm9vYmFyYmF6cXV4"', "Zm9vYmFyYmF6cXV4", "APP_KEY"),
        ("'password' => 'rahasia123',", "rahasia123", "'password'"),
        ('"api_key": "abcd1234efgh"', "abcd1234efgh", "api_key"),
        ("  POSTGRES_PASSWORD: changeme", "changeme", "POSTGRES_PASSWORD"),
        ("SetEnv DB_PASSWORD s3cret", "s3cret", "SetEnv DB_PASSWORD"),
        ("fastcgi_param APP_SECRET 0123abcd;", "0123abcd", "fastcgi_param APP_SECRET"),
        ("SECRET_KEY = 'django-insecure-x9!k2'", "django-insecure-x9!k2", "SECRET_KEY"),
        ("mysql -u root --password=toor", "toor", "--password="),
        # credentials and tokens by their shape
        ("Authorization: Bearer abcdef0123456789", "abcdef0123456789", "Authorization"),
        ("token ronda_at_Zx9vQ2mN8kP4rT6yW1", "Zx9vQ2mN8kP4rT6yW1", "token"),
        ("key AKIAIOSFODNN7EXAMPLE in env", "AKIAIOSFODNN7EXAMPLE", "in env"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
            "MIIEpAIBAAKCAQEA",
            "private key",
        ),
    ],
)
def test_the_scrubber_removes_secrets_in_the_shapes_real_configs_hold(text, secret, kept):
    scrubbed = scrub(text)
    assert secret not in scrubbed and kept in scrubbed, scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "/var/www/portal/index.php: Permission denied",
        "include loop: /etc/nginx/a.conf -> /etc/nginx/b.conf",
        "https://medium.com/@kominfo/berita",
        "nginx -T failed: no such file /etc/nginx/nginx.conf:12",
        "2026/01/02 03:04:05 [emerg] 12#12: bind() to 0.0.0.0:80 failed",
    ],
)
def test_the_scrubber_leaves_ordinary_messages_alone(text):
    assert scrub(text) == text


@pytest.mark.parametrize(
    ("url", "name", "host"),
    [
        ("mysql://sipd:p4ss/w0rd@db.internal:3306/sipd_prod", "sipd_prod", "db.internal:3306"),
        ("postgresql://app:a@b/c@10.1.2.3/simpeg?sslmode=require", "simpeg", "10.1.2.3"),
        ("mysql://root@localhost/wordpress", "wordpress", "localhost"),
    ],
)
def test_a_database_url_whose_password_holds_slash_and_at_gives_the_right_name_and_host(url, name, host):
    database = from_url(url, "/var/www/app/.env")
    assert (database.name, database.host) == (name, host)


HOSTILE_CONFS = {
    "proxy_pass": "server { listen 127.0.0.1:1; location / { "
    "proxy_pass http://admin:S3cr/et@nohost.invalid:8080; } }",
    "pasted line": "DB_PASSWORD=hunter2;",
    "upstream": "upstream app { server admin:p4ss/word@10.0.0.1:8080; }",
}


@pytest.mark.parametrize("case", HOSTILE_CONFS)
@pytest.mark.parametrize("mode", ["nginx -T", "files under --root"])
@pytest.mark.servers
def test_no_secret_reaches_the_snapshot_from_nginx_or_its_files(tmp_path, case, mode):
    root = tmp_path / "server"
    conf = root / "etc/nginx/nginx.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(f"events {{}}\nhttp {{\n{HOSTILE_CONFS[case]}\n}}\n")
    args = ["--root", str(root)] if mode == "files under --root" else ["--nginx-conf", str(conf)]
    done = subprocess.run(
        [str(BIN / "ronda-agent"), "scan", "--json", "--sources", "nginx", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout
    assert not any(s in text for s in ("S3cr", "hunter2", "p4ss")), text
    snapshot = json.loads(text)
    if mode == "nginx -T":
        assert any(e["source"] == "nginx" for e in snapshot["errors"])  # the failure is still reported
