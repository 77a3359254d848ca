"""Sign and verify JSON documents by their canonical bytes.

An envelope is `{"document": {...}, "key_id": "...", "signature": "<base64url>"}`
where the Ed25519 signature covers `canonical_json(document)` prefixed by a
domain-separation label (e.g. b"motcua.manifest/1\\n"), so a signature made for
one kind of document can never be replayed as another.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .canonical import canonical_json, sha256_hex
from .errors import InvalidDocument, SignatureInvalid
from .keys import b64url, b64url_decode, key_id


@dataclass(frozen=True)
class Envelope:
    """A document with its signature and the id of the key that made it."""

    document: dict[str, Any]
    key_id: str
    signature: str

    def to_dict(self) -> dict[str, Any]:
        return {"document": self.document, "key_id": self.key_id, "signature": self.signature}

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    @property
    def document_hash(self) -> str:
        """sha256 hex of the canonical document bytes (not of the envelope)."""
        return sha256_hex(canonical_json(self.document))

    @classmethod
    def from_dict(cls, data: Any) -> "Envelope":
        if not isinstance(data, dict) or set(data) != {"document", "key_id", "signature"}:
            raise InvalidDocument("envelope must have exactly: document, key_id, signature")
        if not isinstance(data["document"], dict):
            raise InvalidDocument("envelope.document must be an object")
        if not isinstance(data["key_id"], str) or not isinstance(data["signature"], str):
            raise InvalidDocument("envelope.key_id and envelope.signature must be strings")
        return cls(data["document"], data["key_id"], data["signature"])


def _signing_input(label: str, document: dict[str, Any]) -> bytes:
    return label.encode("ascii") + b"\n" + canonical_json(document)


def sign_document(label: str, document: dict[str, Any], private_key: Ed25519PrivateKey) -> Envelope:
    """Sign a document; `label` names the document kind (its schema id)."""
    signature = private_key.sign(_signing_input(label, document))
    return Envelope(document, key_id(private_key), b64url(signature))


def verify_document(label: str, envelope: Envelope, public_key: Ed25519PublicKey) -> None:
    """Raise SignatureInvalid unless the envelope was signed by `public_key` for `label`."""
    if envelope.key_id != key_id(public_key):
        raise SignatureInvalid(f"signed by key {envelope.key_id}, expected {key_id(public_key)}")
    try:
        public_key.verify(b64url_decode(envelope.signature), _signing_input(label, envelope.document))
    except (InvalidSignature, InvalidDocument) as exc:
        raise SignatureInvalid("signature does not verify") from exc
