"""Passwords as the console stores them: PBKDF2-SHA256 hashes, never the password.

The format is `pbkdf2_sha256$ITERATIONS$SALT$BASE64HASH`, the one Django and the
datasette-auth-passwords plugin write, so a hash made by either works here too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256 (2023); a login costs about 0.3 s of CPU
MIN_LENGTH = 10


def hash_password(password: str, salt: str | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{ALGORITHM}${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def is_hash(text: str) -> bool:
    """Whether `text` has the shape of a hash this module can check (not a password left in clear)."""
    parts = text.strip().split("$")
    return len(parts) == 4 and parts[0] == ALGORITHM and parts[1].isdigit() and bool(parts[2] and parts[3])


def verify_password(password: str, stored: str) -> bool:
    if not is_hash(stored):
        return False
    _, iterations, salt, _ = stored.strip().split("$")
    return hmac.compare_digest(hash_password(password, salt, int(iterations)), stored.strip())


def weak_password(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(set(password)) < 4:
        return "a password needs more than a few different characters"
    return None
