"""One scrubber for every text that leaves a host: no secret in a snapshot, whatever quoted it.

Sources take care to read no secret, but text they pass on was written by
others: a web server's error message echoes the line it choked on
(`nginx -T`: `invalid port in upstream "admin:S3cr/et@db:8080"`), a label
holds an upstream URL, an error names a pasted `DB_PASSWORD=...;` line.
`scrub_snapshot` runs once on every snapshot the agent builds (and the SSH
scan builds the same way) and passes each such text through `scrub`, which
removes, in this order:

- PEM private key blocks;
- the user and password of URLs (`scheme://user:pa/ss@host`: a password may
  hold `/` and `@`; everything up to the last `@` of the address goes);
- `user:password@host` without a scheme, as web servers echo upstreams;
- values of settings named like secrets (`password=`, `DB_PASSWORD=`,
  `"api_key": "..."`, `'secret' => '...'`, `SetEnv APP_TOKEN value`);
- `Authorization`, `Bearer` and `Basic` credentials, and tokens of known shapes
  (ronda's own, AWS access keys, GitHub and Slack tokens, JWTs).

It errs on the side of removing too much: a scrubbed message is still
readable, a leaked password is not recoverable.
"""

from __future__ import annotations

import re

from ronda.model import Snapshot

REDACTED = "[redacted]"
_SECRET_WORDS = (
    r"passw(?:or)?d|passwd|pwd|pass|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth[_-]?key"
    r"|app[_-]?key|client[_-]?secret|credentials?|salt"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S
        ),
        f"{REDACTED} private key",
    ),
    # scheme://user:password@host (the password may hold / and @: up to the last @ before a host)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@:\"']*:[^\s\"']*@(?=[\w\[])"), r"\1"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@:\"']+@(?=[\w\[])"), r"\1"),  # scheme://user@host
    # user:password@host as servers echo upstreams ("admin:S3cr/et@db.internal:8080")
    (re.compile(r"(?<![\w/:.%+-])[\w.+%-]+:(?!//)[^\s\"']*@(?=[\w\[])"), ""),
    # password=..., DB_PASSWORD: ..., "api_key": "...", 'secret' => '...'
    (
        re.compile(
            rf"(?i)\b([\w.-]*(?:{_SECRET_WORDS})[\w.-]*[\"']?\s*(?:=>|[:=])\s*)"
            r"(\"[^\"]*\"|'[^']*'|[^\s;,&\"')]+)"
        ),
        rf"\1{REDACTED}",
    ),
    # SetEnv DB_PASSWORD value, fastcgi_param APP_SECRET value, env API_TOKEN value
    (
        re.compile(
            r"\b([A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)[A-Z0-9_]*\s+)"
            r"(\"[^\"]*\"|'[^']*'|[^\s;\"']+)"
        ),
        rf"\1{REDACTED}",
    ),
    (
        re.compile(r"(?i)\b(authorization:\s*(?:bearer|basic|token)?\s*|bearer\s+|basic\s+)[\w.~+/=-]{8,}"),
        rf"\1{REDACTED}",
    ),
    (
        re.compile(
            r"\b(?:ronda_(?:at|es)_[\w-]{10,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}"
            r"|xox[abprs]-[\w-]{10,}|eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}|sk_live_\w{10,})"
        ),
        REDACTED,
    ),
)


def scrub(text: str) -> str:
    """`text` with every secret ronda can recognise removed."""
    if not text:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def without_userinfo(url: str) -> str:
    """http://user:secret@backend/ -> http://backend/ (upstream URLs may carry passwords, reports may not)."""
    for pattern, replacement in _PATTERNS[1:4]:
        url = pattern.sub(replacement, url)
    return url


def scrub_snapshot(snapshot: Snapshot) -> Snapshot:
    """Scrub, in place, every free text of a snapshot: errors, labels, upstreams, roots, databases."""
    for error in snapshot.errors:
        error.message = scrub(error.message)
        error.path = scrub(error.path)
    for app in snapshot.apps:
        app.upstream = scrub(app.upstream)
        app.root = scrub(app.root)
        app.labels = {key: scrub(value) for key, value in app.labels.items()}
        if app.database is not None:
            app.database.name = scrub(app.database.name)
            app.database.host = scrub(app.database.host)
    return snapshot
