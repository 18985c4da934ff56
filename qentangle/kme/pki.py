"""The network's local certificate authority: one CA, a certificate per KME and per SAE.

All certificates are made with the ``cryptography`` library (ECDSA P-256, SHA-256). A KME's
certificate serves HTTPS (SAN ``127.0.0.1`` and ``localhost``) and is also its client
certificate towards the other KMEs; an SAE's certificate is a client certificate. Who a peer is
comes from the *verified* certificate: the common name is the KME or SAE ID, the organisational
unit says which kind (``kme`` or ``sae``). Private keys are written 0600, atomically.

>>> import tempfile, pathlib
>>> pki = ensure_pki(pathlib.Path(tempfile.mkdtemp()), kme_ids=["kme-a"], sae_ids=["alice"])
>>> sorted(p.name for p in pki.directory.iterdir())[:3]
['ca.key', 'ca.pem', 'kme-kme-a.key']
>>> identity_of(x509.load_pem_x509_certificate(pki.cert("alice").read_bytes()).subject)
('sae', 'alice')
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from qentangle.errors import QentangleError, ValidationError
from qentangle.files import read_bytes, write_atomic, write_private

KINDS = ("kme", "sae")
_VALIDITY = datetime.timedelta(days=3650)
_ORGANISATION = "qentangle local QKD network"


@dataclass(frozen=True)
class Pki:
    """Paths of the network's CA and certificates (in ``directory``)."""

    directory: Path

    @property
    def ca(self) -> Path:
        """The CA certificate (PEM): what every client and server trusts."""
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    def cert(self, sae_id: str) -> Path:
        """The client certificate of SAE ``sae_id``."""
        return self.directory / f"sae-{_file_part(sae_id)}.pem"

    def key(self, sae_id: str) -> Path:
        """The private key (0600) of SAE ``sae_id``."""
        return self.directory / f"sae-{_file_part(sae_id)}.key"

    def kme_cert(self, kme_id: str) -> Path:
        """The server (and KME-to-KME client) certificate of KME ``kme_id``."""
        return self.directory / f"kme-{_file_part(kme_id)}.pem"

    def kme_key(self, kme_id: str) -> Path:
        """The private key (0600) of KME ``kme_id``."""
        return self.directory / f"kme-{_file_part(kme_id)}.key"


def ensure_pki(directory: str | Path, *, kme_ids: Iterable[str], sae_ids: Iterable[str]) -> Pki:
    """Create what is missing in ``directory``: the CA, a certificate per KME and per SAE.

    Existing files are kept (a restarted network keeps its identities); a certificate is made
    again only when its file or its key is missing.
    """
    pki = Pki(Path(directory))
    if not (pki.ca.exists() and pki.ca_key.exists()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
                x509.NameAttribute(NameOID.COMMON_NAME, "qentangle network CA"),
            ]
        )
        now = _now()
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write_private(pki.ca_key, _key_pem(ca_key))
        write_atomic(pki.ca, ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_cert = x509.load_pem_x509_certificate(read_bytes(pki.ca))
    ca_key = serialization.load_pem_private_key(read_bytes(pki.ca_key), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise QentangleError(f"{str(pki.ca_key)!r} is not the network CA's key")
    for kme_id in kme_ids:
        if not (pki.kme_cert(kme_id).exists() and pki.kme_key(kme_id).exists()):
            _issue(ca_cert, ca_key, "kme", kme_id, pki.kme_cert(kme_id), pki.kme_key(kme_id))
    for sae_id in sae_ids:
        if not (pki.cert(sae_id).exists() and pki.key(sae_id).exists()):
            _issue(ca_cert, ca_key, "sae", sae_id, pki.cert(sae_id), pki.key(sae_id))
    return pki


def issue_foreign_identity(directory: str | Path, sae_id: str) -> tuple[Path, Path]:
    """A CA of its own and an SAE certificate it signed (for tests of foreign certificates).

    Returns ``(cert, key)`` paths; the foreign CA is written beside them.
    """
    foreign = ensure_pki(directory, kme_ids=[], sae_ids=[sae_id])
    return foreign.cert(sae_id), foreign.key(sae_id)


def identity_of(subject: x509.Name) -> tuple[str, str] | None:
    """``(kind, id)`` from a certificate subject made by :func:`ensure_pki`, or ``None``."""
    units = subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(units) != 1 or len(names) != 1 or units[0].value not in KINDS:
        return None
    return str(units[0].value), str(names[0].value)


def identity_from_peercert(peercert: dict | None) -> tuple[str, str] | None:
    """``(kind, id)`` from ``ssl.SSLSocket.getpeercert()`` (a *verified* certificate), or ``None``."""
    if not peercert:
        return None
    fields: dict[str, list[str]] = {}
    for rdn in peercert.get("subject", ()):
        for name, value in rdn:
            fields.setdefault(name, []).append(value)
    units = fields.get("organizationalUnitName", [])
    names = fields.get("commonName", [])
    if len(units) != 1 or len(names) != 1 or units[0] not in KINDS:
        return None
    return units[0], names[0]


def _issue(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    kind: str,
    identity: str,
    cert_path: Path,
    key_path: Path,
) -> None:
    _file_part(identity)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, kind),
            x509.NameAttribute(NameOID.COMMON_NAME, identity),
        ]
    )
    now = _now()
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if kind == "kme":
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if kind == "kme":
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    write_private(key_path, _key_pem(key))
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _file_part(identity: str) -> str:
    if not identity or len(identity) > 64 or not all(c.isalnum() or c in "-_." for c in identity):
        raise ValidationError(
            f"SAE/KME ID {identity!r} is not valid: expected 1-64 letters, digits, '-', '_' or '.'"
        )
    return identity
