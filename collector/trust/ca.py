"""A small certificate authority for one ronda deployment.

`init_ca` makes the CA; `issue_collector` a server certificate for `ronda
serve`; `issue_agent` a client certificate whose subject CN (and URI SAN
`urn:ronda:agent:ID`) is the agent id, which the collector holds every
snapshot's agent_id against. Keys are EC P-256 and written 0600.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ronda.errors import ConfigError

AGENT_URI_PREFIX = "urn:ronda:agent:"
AGENT_OU = "ronda-agent"
CA_FILE, CA_KEY_FILE = "ca.pem", "ca-key.pem"


class CaError(ConfigError):
    """The CA is missing, already exists, or a name is unusable."""


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    subject: str
    not_after: datetime


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only, created 0600 from the start (never briefly wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(cn: str, ou: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ronda")]
    if ou:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(parts)


def init_ca(directory: str | Path, name: str = "ronda CA", days: int = 3650, force: bool = False) -> Issued:
    d = Path(directory)
    cert_path, key_path = d / CA_FILE, d / CA_KEY_FILE
    if key_path.exists() and not force:
        raise CaError(
            f"a CA already exists in {d}; remove it or pass --force to replace it "
            "(every certificate it issued stops being trusted)"
        )
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = _new_key()
    now = datetime.now(UTC)
    subject = _name(name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(key_path, _key_pem(key))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return Issued(cert_path, key_path, name, cert.not_valid_after_utc)


def _load_ca(directory: str | Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    d = Path(directory)
    try:
        cert = x509.load_pem_x509_certificate((d / CA_FILE).read_bytes())
        key = serialization.load_pem_private_key((d / CA_KEY_FILE).read_bytes(), password=None)
    except FileNotFoundError:
        raise CaError(f"no CA in {d}: run `ronda ca init --dir {d}` first") from None
    except (OSError, ValueError) as e:
        raise CaError(f"cannot read the CA in {d}: {e}") from None
    return cert, key  # type: ignore[return-value]


def _issue(
    ca_dir: str | Path,
    subject: x509.Name,
    sans: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    out: Path,
    stem: str,
    days: int,
) -> Issued:
    ca_cert, ca_key = _load_ca(ca_dir)
    key = _new_key()
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path, key_path = out / f"{stem}.pem", out / f"{stem}-key.pem"
    write_private(key_path, _key_pem(key))
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return Issued(cert_path, key_path, subject.rfc4514_string(), cert.not_valid_after_utc)


def _general_name(text: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not text or any(c.isspace() or c in "/@:" for c in text):
        raise CaError(f"--san {text!r} is neither an IP address nor a DNS name")
    return x509.DNSName(text)


def issue_collector(
    ca_dir: str | Path, name: str, sans: list[str] | None = None, out: str | Path = ".", days: int = 825
) -> Issued:
    """A server certificate for the collector; `name` is always among its SANs (clients verify it)."""
    names = [name, *(sans or [])]
    unique = list(dict.fromkeys(names))
    return _issue(
        ca_dir,
        _name(name, "ronda-collector"),
        [_general_name(n) for n in unique],
        ExtendedKeyUsageOID.SERVER_AUTH,
        Path(out),
        _file_stem(name),
        days,
    )


def issue_agent(ca_dir: str | Path, agent_id: str, out: str | Path = ".", days: int = 825) -> Issued:
    """A client certificate naming `agent_id` (subject CN and URI SAN)."""
    from ronda.ids import valid_agent_id

    if not valid_agent_id(agent_id):
        raise CaError(
            f"agent id {agent_id!r} must be 1-128 characters of letters, digits and ._:@- "
            "(starting with a letter or digit)"
        )
    return _issue(
        ca_dir,
        _name(agent_id, AGENT_OU),
        [x509.UniformResourceIdentifier(AGENT_URI_PREFIX + agent_id)],
        ExtendedKeyUsageOID.CLIENT_AUTH,
        Path(out),
        _file_stem(agent_id),
        days,
    )


def _file_stem(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
