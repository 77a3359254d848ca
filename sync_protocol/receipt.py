"""The hub's receipt: proof that a manifest is durably stored at the hub.

The agent deletes local payload bytes only after a receipt verifies against
the hub key it pinned at enrolment and names the manifest hash it sent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import InvalidDocument, SignatureInvalid
from .signed_document import Envelope, sign_document, verify_document

SCHEMA = "motcua.receipt/1"
_FIELDS = {"schema", "manifest_hash", "dossier_id", "dossier_code", "device_id", "hub_sequence", "received_at", "hub_key_id"}


@dataclass(frozen=True)
class Receipt:
    manifest_hash: str
    dossier_id: str
    dossier_code: str
    device_id: str
    hub_sequence: int
    received_at: str
    hub_key_id: str
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in sorted(_FIELDS)}

    @classmethod
    def from_dict(cls, data: Any) -> "Receipt":
        if not isinstance(data, dict) or set(data) != _FIELDS:
            raise InvalidDocument(f"receipt must have exactly the fields {sorted(_FIELDS)}")
        if data["schema"] != SCHEMA:
            raise InvalidDocument(f"receipt.schema: {data['schema']!r} is not supported")
        if not isinstance(data["hub_sequence"], int) or data["hub_sequence"] < 1:
            raise InvalidDocument("receipt.hub_sequence: must be a positive integer")
        if not re.fullmatch(r"[0-9a-f]{64}", str(data["manifest_hash"])):
            raise InvalidDocument("receipt.manifest_hash: must be 64 hex digits")
        for name in _FIELDS - {"hub_sequence"}:
            if not isinstance(data[name], str):
                raise InvalidDocument(f"receipt.{name}: must be a string")
        return cls(**{k: data[k] for k in _FIELDS})


def sign_receipt(receipt: Receipt, hub_key: Ed25519PrivateKey) -> Envelope:
    return sign_document(SCHEMA, receipt.to_dict(), hub_key)


def verify_receipt(envelope: Envelope, hub_key: Ed25519PublicKey, expected_manifest_hash: str | None = None) -> Receipt:
    """Verify a receipt against the pinned hub key and, if given, the manifest it must acknowledge."""
    verify_document(SCHEMA, envelope, hub_key)
    receipt = Receipt.from_dict(envelope.document)
    if expected_manifest_hash is not None and receipt.manifest_hash != expected_manifest_hash:
        raise SignatureInvalid(
            f"receipt acknowledges manifest {receipt.manifest_hash[:12]}…, not ours {expected_manifest_hash[:12]}…"
        )
    return receipt
