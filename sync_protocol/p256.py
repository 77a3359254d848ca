"""P-256 keys for phones: ECDSA request/document signatures and `motcua.enc-p256/1` evidence encryption.

Phones make their keys in WebCrypto, where P-256 is the curve every browser has. A
P-256 public key travels as its 65-byte uncompressed point (0x04 || X || Y) in
unpadded base64url; its key id is `p256:` + the first 32 hex digits of sha256 of
those 65 bytes. Signatures are ECDSA with SHA-256 in the raw form WebCrypto
produces: r || s, 32 bytes each (not DER).

`motcua.enc-p256/1` (docs/protocol.md section 10b) seals one small file (a
signature drawing or a downscaled photo) to the hub's P-256 ECDH key:

    header (105 bytes) = magic "motcuaP1" (8) || recipient key id (16: first half of sha256 of its point)
                         || ephemeral public key, uncompressed (65) || salt (16)
    body               = AES-256-GCM(key, nonce, plaintext, aad=header)  (ciphertext || 16-byte tag)
    shared = ECDH(ephemeral private, recipient public): the 32-byte X coordinate
    key    = HKDF-SHA256(ikm=shared, salt=salt, info="motcua.enc-p256/1" || ephemeral pub || recipient pub, L=32)
    nonce  = 12 zero bytes (each key is used once: a fresh ephemeral key and salt per file)

Pure: bytes in, bytes out.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import InvalidDocument, ProtocolError
from .keys import b64url, b64url_decode, public_key_from_text

ENC_SCHEMA = "motcua.enc-p256/1"
ENC_MAGIC = b"motcuaP1"
POINT_SIZE = 65
ENC_HEADER_SIZE = 8 + 16 + POINT_SIZE + 16
_NONCE = bytes(12)


class EvidenceDecryptionError(ProtocolError):
    """Not motcua.enc-p256/1 for this key, or altered."""


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def p256_key_id_of_point(raw: bytes) -> str:
    return "p256:" + hashlib.sha256(raw).hexdigest()[:32]


class P256PublicKey:
    """A phone's ECDSA P-256 public key, verifying raw r||s signatures like Ed25519PublicKey.verify."""

    def __init__(self, key: ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise InvalidDocument("a phone key must be on curve P-256")
        self.key = key
        self.raw = _point(key)

    @classmethod
    def from_text(cls, text: str) -> "P256PublicKey":
        raw = b64url_decode(text)
        if len(raw) != POINT_SIZE or raw[0] != 4:
            raise InvalidDocument("a P-256 public key is a 65-byte uncompressed point")
        try:
            return cls(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw))
        except ValueError as exc:
            raise InvalidDocument("not a point on P-256") from exc

    @property
    def key_id(self) -> str:
        return p256_key_id_of_point(self.raw)

    def text(self) -> str:
        return b64url(self.raw)

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise InvalidSignature unless `signature` (r||s, 64 bytes) signs `data` with ECDSA-SHA256."""
        if len(signature) != 64:
            raise InvalidSignature("a P-256 signature is 64 bytes (r||s)")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        self.key.verify(der, data, ec.ECDSA(hashes.SHA256()))


class P256Signer:
    """A P-256 private key signing as WebCrypto does (r||s), usable wherever an Ed25519 private key signs
    (sync_protocol.request_signing.sign_request, signed_document.sign_document): tools and tests acting as a phone."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | None = None):
        self.private_key = private_key or generate_p256_key()

    def public_key(self) -> P256PublicKey:
        return P256PublicKey(self.private_key.public_key())

    @property
    def key_id(self) -> str:
        return self.public_key().key_id

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self.private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def device_public_key_from_text(text: str) -> Any:
    """A device's public key as the hub stores it: Ed25519 (desks, 32 bytes) or P-256 (phones, 65 bytes).
    Both verify with `.verify(signature, data)` and are named by sync_protocol.keys.key_id."""
    if len(b64url_decode(text)) == POINT_SIZE:
        return P256PublicKey.from_text(text)
    return public_key_from_text(text)


def generate_p256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_text(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """Unpadded base64url of the uncompressed public point."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return b64url(_point(public))


def _derive(shared: bytes, salt: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    info = ENC_SCHEMA.encode("ascii") + ephemeral + recipient
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(shared)


def seal_evidence(plaintext: bytes, recipient: ec.EllipticCurvePublicKey,
                  ephemeral: ec.EllipticCurvePrivateKey | None = None, salt: bytes | None = None) -> bytes:
    """Encrypt to the hub's P-256 key (what the phone does in WebCrypto); `ephemeral`/`salt` fixed only for vectors."""
    ephemeral = ephemeral or generate_p256_key()
    salt = os.urandom(16) if salt is None else salt
    recipient_raw, ephemeral_raw = _point(recipient), _point(ephemeral.public_key())
    header = (ENC_MAGIC + bytes.fromhex(p256_key_id_of_point(recipient_raw)[5:]) + ephemeral_raw + salt)
    key = _derive(ephemeral.exchange(ec.ECDH(), recipient), salt, ephemeral_raw, recipient_raw)
    return header + AESGCM(key).encrypt(_NONCE, plaintext, header)


def open_evidence(ciphertext: bytes, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Decrypt motcua.enc-p256/1; raise EvidenceDecryptionError naming what is wrong."""
    if len(ciphertext) < ENC_HEADER_SIZE + 16 or not ciphertext.startswith(ENC_MAGIC):
        raise EvidenceDecryptionError("not motcua.enc-p256/1 (bad magic or too short)")
    header = ciphertext[:ENC_HEADER_SIZE]
    recipient_raw = _point(private_key.public_key())
    if header[8:24] != bytes.fromhex(p256_key_id_of_point(recipient_raw)[5:]):
        raise EvidenceDecryptionError("sealed to another hub key")
    ephemeral_raw, salt = header[24:24 + POINT_SIZE], header[24 + POINT_SIZE:24 + POINT_SIZE + 16]
    try:
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), ephemeral_raw)
    except ValueError as exc:
        raise EvidenceDecryptionError("ephemeral key is not a P-256 point") from exc
    key = _derive(private_key.exchange(ec.ECDH(), ephemeral), salt, ephemeral_raw, recipient_raw)
    try:
        return AESGCM(key).decrypt(_NONCE, ciphertext[ENC_HEADER_SIZE:], header)
    except InvalidTag as exc:
        raise EvidenceDecryptionError("evidence was altered or truncated (AES-GCM tag)") from exc


def private_to_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def private_from_pem(data: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidDocument("key file does not hold a P-256 private key")
    return key
