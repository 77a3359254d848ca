"""PDF signing with the key in a PKCS#11 token (smart card, USB token, HSM; tested with SoftHSM2).

`PKCS11DocumentSigner` implements agent.document_signing.DocumentSigner with
pyHanko's PKCS#11 support: the private key never leaves the token; the signing
certificate is read from the token, the trust anchor (the CA that issued it)
from a PEM file. The file-based signer stays the default; a desk switches to a
token by writing `docsign/pkcs11.json` in its home:

    {"module": "/usr/lib/softhsm/libsofthsm2.so", "token_label": "motcua",
     "key_label": "signer", "cert_label": "signer", "ca_cert": "/etc/motcua/ca.pem",
     "pin_env": "MOTCUA_PKCS11_PIN"}

The PIN is read from the environment variable named by `pin_env` (never stored
in the file, never logged).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign import pkcs11 as pyhanko_pkcs11
from pyhanko.sign import signers

from agent.errors import StorageError
from agent.sealing.pdf_signing import DocumentSigner

CONFIG_NAME = "pkcs11.json"
_SESSIONS: dict[tuple[str, str], object] = {}


@dataclass(frozen=True)
class PKCS11Config:
    module: str
    token_label: str
    key_label: str
    ca_cert: str
    cert_label: str = ""
    pin_env: str = "MOTCUA_PKCS11_PIN"
    #: hash in software and ask the token for raw ECDSA (SoftHSM2 and many cards lack CKM_ECDSA_SHA256)
    raw_mechanism: bool = True

    @classmethod
    def load(cls, path: Path) -> "PKCS11Config":
        try:
            return cls(**json.loads(path.read_text("utf-8")))
        except (ValueError, TypeError) as exc:
            raise StorageError(f"Cấu hình thẻ ký {path} không hợp lệ.", f"PKCS#11 config {path} is invalid: {exc}",
                               "Xem docs/security.md / see docs/security.md") from exc


class PKCS11DocumentSigner(DocumentSigner):
    """Signs PDFs with a key held in a PKCS#11 token."""

    def __init__(self, config: PKCS11Config, pin: str | None = None):
        pin = pin if pin is not None else os.environ.get(config.pin_env)
        if not pin:
            raise StorageError(f"Chưa có mã PIN của thẻ ký (biến môi trường {config.pin_env}).",
                               f"The token PIN is not set (environment variable {config.pin_env}).",
                               f"export {config.pin_env}=…")
        self.config = config
        # One logged-in session per token per process: a token refuses a second login
        # (CKR_USER_ALREADY_LOGGED_IN), and every seal asks for a signer.
        cached = _SESSIONS.get((config.module, config.token_label))
        try:
            self.session = cached or pyhanko_pkcs11.open_pkcs11_session(
                config.module, token_criteria=TokenCriteria(label=config.token_label), user_pin=pin)
            _SESSIONS[(config.module, config.token_label)] = self.session
        except Exception as exc:  # noqa: BLE001 - python-pkcs11 raises many kinds; all mean "token unusable"
            raise StorageError(f"Không mở được thẻ ký {config.token_label!r}.",
                               f"Cannot open PKCS#11 token {config.token_label!r}: {type(exc).__name__}",
                               "Kiểm tra thẻ, mô-đun và mã PIN / check the token, module and PIN") from exc
        cert = x509.load_pem_x509_certificate(Path(config.ca_cert).read_bytes())
        self._ca = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))

    @classmethod
    def from_home(cls, home: Path) -> "PKCS11DocumentSigner | None":
        """The token signer configured in `home`/docsign/pkcs11.json, or None (use the file signer)."""
        path = Path(home) / "docsign" / CONFIG_NAME
        return cls(PKCS11Config.load(path)) if path.exists() else None

    def pyhanko_signer(self) -> signers.Signer:
        return pyhanko_pkcs11.PKCS11Signer(self.session, key_label=self.config.key_label,
                                           cert_label=self.config.cert_label or self.config.key_label,
                                           ca_chain=[self._ca], use_raw_mechanism=self.config.raw_mechanism)

    def trust_roots(self) -> list[asn1_x509.Certificate]:
        return [self._ca]

    def close(self) -> None:
        _SESSIONS.pop((self.config.module, self.config.token_label), None)
        self.session.close()
