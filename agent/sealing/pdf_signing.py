"""PDF document signatures (PAdES baseline B-B, pyHanko), applied last — after OCR, at seal time.

The device's Ed25519 key signs manifests; PDFs get a separate ECDSA P-256 key,
which PDF validators widely accept. `DocumentSigner` is the seam: anything
that can hand pyHanko a `Signer` and name its trust anchors can sign
(`FileDocumentSigner` now; a PKCS#11 token signer implements the same two
methods). The file signer creates, at first use, a small chain in the agent's
home directory (all files mode 0600):

  docsign/ca.pem         the device's own CA certificate (the trust anchor)
  docsign/ca_key.pem     its key (kept to re-issue the signing certificate)
  docsign/signer.pem     the document-signing certificate, issued by that CA
  docsign/signer_key.pem its ECDSA P-256 key

The CA certificate's sha256 goes into every manifest (`pdf_signing_ca_sha256`),
so the device key vouches for the chain the hub should validate against.
"""
from __future__ import annotations

import abc
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from sync_protocol.castore import write_file_atomic

log = logging.getLogger("motcua.agent.document_signing")
FIELD_NAME = "MotcuaSeal"
VALIDITY_DAYS = 3650


class DocumentSigner(abc.ABC):
    """Something that signs PDFs: a pyHanko signer plus the certificates that anchor it."""

    @abc.abstractmethod
    def pyhanko_signer(self) -> signers.Signer:
        """A ready pyHanko signer (key + signing certificate + intermediate chain)."""

    @abc.abstractmethod
    def trust_roots(self) -> list[asn1_x509.Certificate]:
        """The anchors a validator should trust for these signatures."""

    def ca_fingerprint(self) -> str:
        """sha256 (hex) of the first trust root's DER bytes."""
        return hashlib.sha256(self.trust_roots()[0].dump()).hexdigest()


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _key_usage(*, sign_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not sign_certs, content_commitment=not sign_certs, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=sign_certs, crl_sign=sign_certs,
                         encipher_only=False, decipher_only=False)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "motcua"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: x509.Name, public_key: ec.EllipticCurvePublicKey, issuer: x509.Name,
                 issuer_key: ec.EllipticCurvePrivateKey, *, is_ca: bool, now: datetime) -> x509.Certificate:
    """A certificate valid from an hour ago for VALIDITY_DAYS; a CA may only issue end-entity certificates."""
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
               .not_valid_after(now + timedelta(days=VALIDITY_DAYS))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True)
               .add_extension(_key_usage(sign_certs=is_ca), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    if issuer != subject:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def create_chain(directory: Path, device_label: str) -> None:
    """Create a device CA and a document-signing certificate it issues (ECDSA P-256, files 0600)."""
    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"motcua device CA {device_label}")
    ca = _certificate(ca_name, ca_key.public_key(), ca_name, ca_key, is_ca=True, now=now)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(_name(f"motcua document signer {device_label}"), key.public_key(), ca_name, ca_key,
                        is_ca=False, now=now)
    # keys first, certificates last: a crash in between leaves no certificate without its key
    write_file_atomic(directory / "ca_key.pem", _pem_key(ca_key), mode=0o600)
    write_file_atomic(directory / "signer_key.pem", _pem_key(key), mode=0o600)
    write_file_atomic(directory / "ca.pem", ca.public_bytes(serialization.Encoding.PEM), mode=0o600)
    write_file_atomic(directory / "signer.pem", cert.public_bytes(serialization.Encoding.PEM), mode=0o600)
    log.info("document_signer_created ca_sha256=%s", hashlib.sha256(_der(ca)).hexdigest()[:16])


class FileDocumentSigner(DocumentSigner):
    """Keys and certificates in files under `directory` (created on first use)."""

    def __init__(self, directory: Path, device_label: str = "device"):
        self.directory = Path(directory)
        if not (self.directory / "signer.pem").exists():
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            create_chain(self.directory, device_label)
        self._ca = self._load_cert("ca.pem")
        self._cert = self._load_cert("signer.pem")
        key = serialization.load_pem_private_key((self.directory / "signer_key.pem").read_bytes(), None)
        self._key = asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))

    def _load_cert(self, name: str) -> asn1_x509.Certificate:
        cert = x509.load_pem_x509_certificate((self.directory / name).read_bytes())
        return asn1_x509.Certificate.load(_der(cert))

    def pyhanko_signer(self) -> signers.Signer:
        return signers.SimpleSigner(signing_cert=self._cert, signing_key=self._key,
                                    cert_registry=SimpleCertificateStore.from_certs([self._ca]))

    def trust_roots(self) -> list[asn1_x509.Certificate]:
        return [self._ca]


def sign_pdf(data: bytes, signer: DocumentSigner, *, field_name: str = FIELD_NAME) -> bytes:
    """Append a PAdES B-B signature (incremental update) covering the whole file."""
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    meta = signers.PdfSignatureMetadata(field_name=field_name, subfilter=fields.SigSeedSubFilter.PADES,
                                        md_algorithm="sha256")
    return signers.PdfSigner(meta, signer.pyhanko_signer()).sign_pdf(writer, in_place=False).getvalue()


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of validating a PDF's signatures against trust roots."""

    valid: bool
    signatures: int
    problem: str = ""


def verify_pdf(data: bytes, trust_roots: list[asn1_x509.Certificate]) -> SignatureCheck:
    """Every signature intact, cryptographically valid, chained to `trust_roots`, covering the whole file."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - a damaged file is a failed check, not a crash
        return SignatureCheck(False, 0, f"unreadable PDF: {type(exc).__name__}")
    if not embedded:
        return SignatureCheck(False, 0, "no signature")
    for signature in embedded:
        try:
            status = validate_pdf_signature(signature, ValidationContext(trust_roots=trust_roots))
        except Exception as exc:  # noqa: BLE001
            return SignatureCheck(False, len(embedded), f"{type(exc).__name__}: {exc}")
        if not (status.intact and status.valid and status.trusted):
            return SignatureCheck(False, len(embedded), f"intact={status.intact} valid={status.valid} "
                                                        f"trusted={status.trusted}")
    if embedded[-1].coverage.name not in ("ENTIRE_FILE", "ENTIRE_REVISION"):
        return SignatureCheck(False, len(embedded), f"coverage {embedded[-1].coverage.name}")
    return SignatureCheck(True, len(embedded))
