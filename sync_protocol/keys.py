"""Ed25519 keys: generation, PEM/raw encoding and stable key ids.

A key id is `ed25519:` followed by the first 32 hex digits of the sha256 of
the raw 32-byte public key; it names a key without carrying it.
"""
from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import InvalidDocument


def b64url(data: bytes) -> str:
    """Unpadded base64url text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; raise InvalidDocument on garbage."""
    if not isinstance(text, str):
        raise InvalidDocument("expected base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidDocument(f"not base64url: {text[:20]!r}") from exc


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_to_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def private_key_from_pem(data: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidDocument("key file does not hold an Ed25519 private key")
    return key


def raw_public_text(key: Any) -> str:
    """A public key's raw bytes as unpadded base64url (how Ed25519 and X25519 keys travel in JSON);
    a private key gives its public half."""
    if hasattr(key, "private_bytes"):
        key = key.public_key()
    return b64url(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def raw_public_from_text(text: str, key_class: Any, algorithm: str) -> Any:
    """Parse a 32-byte raw public key of `key_class` (e.g. X25519PublicKey) from base64url text."""
    raw = b64url_decode(text)
    if len(raw) != 32:
        raise InvalidDocument(f"an {algorithm} public key is 32 bytes")
    return key_class.from_public_bytes(raw)


def public_key_text(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The raw Ed25519 public key as unpadded base64url."""
    return raw_public_text(key)


def public_key_from_text(text: str) -> Ed25519PublicKey:
    return raw_public_from_text(text, Ed25519PublicKey, "Ed25519")


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey | str) -> str:
    """Stable identifier of a public key."""
    if hasattr(key, "key_id"):  # a phone's P-256 key names itself (sync_protocol.p256)
        return key.key_id  # type: ignore[union-attr]
    raw = b64url_decode(key) if isinstance(key, str) else b64url_decode(public_key_text(key))
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]
