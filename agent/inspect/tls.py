"""The certificate an app serves: subject, issuer, DNS names and expiry, from its PEM file.

Only the first CERTIFICATE block is parsed. A file that also holds the private
key (cert and key in one PEM) is fine: the key block is never decoded, kept or shown.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from ronda.agent.host import Host, HostError
from ronda.model import TlsCertificate

_CERT_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?-----END CERTIFICATE-----", re.S)
_MAX_PEM = 1024 * 1024


class TlsError(HostError):
    """A certificate file that could not be read or parsed; the message never quotes the file."""


def read_certificate(host: Host, path: str) -> TlsCertificate:
    try:
        st = host.stat(path)
        if not st.is_file:
            raise TlsError(f"{path}: not a regular file")
        data = host.read_bytes(path, _MAX_PEM)
    except HostError as e:
        raise TlsError(str(e)) from None
    m = _CERT_BLOCK.search(data)
    if not m:
        raise TlsError(f"{path}: no PEM certificate in the file")
    try:
        cert = x509.load_pem_x509_certificate(m.group(0))
    except ValueError:
        raise TlsError(f"{path}: the PEM certificate could not be parsed") from None
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names = san.get_values_for_type(x509.DNSName)  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        names = []
    return TlsCertificate(
        file=path,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        dns_names=list(names),
        not_after=cert.not_valid_after_utc,
    )
