"""Encryption at rest and in bundles: `motcua.enc/1`, a streamed sealed box to the hub's X25519 key.

A sealed dossier's payload objects and its signed manifest are kept on the
agent (and on USB sticks) only in this form. The agent encrypts to the hub's
X25519 public key pinned at enrolment and never holds the private key, so a
stolen desk PC or a lost stick reveals nothing; only the hub can decrypt.

Format (all integers big-endian), specified in docs/protocol.md section 10:

    header (77 bytes) = magic "motcuaE1" (8) || aead id (1) || chunk size (4)
                        || recipient key id (16) || ephemeral X25519 public key (32) || salt (16)
    body              = chunk_0 || chunk_1 || … || chunk_{n-1}
    chunk_i           = AEAD(key, nonce_i, plaintext_i, aad=header)   (plaintext + 16-byte tag)

    shared   = X25519(ephemeral private, recipient public)    (all-zero result refused)
    key      = HKDF-SHA256(ikm=shared, salt=salt, info="motcua.enc/1" || ephemeral pub || recipient pub, L=32)
    nonce_i  = i as 11 bytes || final flag (0x01 on the last chunk, else 0x00)

Every chunk but the last holds exactly `chunk size` plaintext bytes; the last
holds 1..chunk size bytes (0 only when the whole plaintext is empty). The
counter in the nonce authenticates chunk order, the final flag authenticates
the end (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, as
used by age and Tink), and the header is the associated data of every chunk,
so reordering, dropping, truncating, appending or editing any byte fails.

Pure: streams in, streams out; no key storage policy.
"""
from __future__ import annotations

import hashlib
import io
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import InvalidDocument, ProtocolError
from .keys import b64url_decode, raw_public_from_text, raw_public_text

SCHEMA = "motcua.enc/1"
MAGIC = b"motcuaE1"
AEADS = {"aes-256-gcm": 1, "chacha20-poly1305": 2}
_AEAD_BY_ID = {v: k for k, v in AEADS.items()}
HEADER_SIZE = 8 + 1 + 4 + 16 + 32 + 16
TAG_SIZE = 16
DEFAULT_CHUNK = 64 * 1024
MIN_CHUNK, MAX_CHUNK = 1024, 16 * 1024 * 1024
_HKDF_INFO = SCHEMA.encode("ascii")


class DecryptionError(ProtocolError):
    """Ciphertext is not motcua.enc/1 for this key, or was truncated, reordered or altered."""


@dataclass(frozen=True)
class SealResult:
    """What one encryption produced: hashes and sizes of both sides."""

    plain_sha256: str
    plain_size: int
    cipher_sha256: str
    cipher_size: int


@dataclass(frozen=True)
class OpenResult:
    plain_sha256: str
    plain_size: int


# -- keys -----------------------------------------------------------------------
def generate_x25519_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def x25519_public_text(key: X25519PublicKey | X25519PrivateKey) -> str:
    """Raw 32-byte public key as unpadded base64url (how it travels in JSON)."""
    return raw_public_text(key)


def x25519_public_from_text(text: str) -> X25519PublicKey:
    return raw_public_from_text(text, X25519PublicKey, "X25519")


def x25519_key_id(key: X25519PublicKey | X25519PrivateKey | str) -> str:
    """`x25519:` + first 32 hex digits of sha256(raw public key)."""
    raw = b64url_decode(key if isinstance(key, str) else x25519_public_text(key))
    return "x25519:" + hashlib.sha256(raw).hexdigest()[:32]


def x25519_private_to_pem(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def x25519_private_from_pem(data: bytes) -> X25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, X25519PrivateKey):
        raise InvalidDocument("key file does not hold an X25519 private key")
    return key


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# -- format -----------------------------------------------------------------------
def ciphertext_size(plain_size: int, chunk_size: int = DEFAULT_CHUNK) -> int:
    """Exact size of the ciphertext of `plain_size` bytes."""
    chunks = max(1, -(-plain_size // chunk_size))
    return HEADER_SIZE + plain_size + chunks * TAG_SIZE


def _nonce(index: int, final: bool) -> bytes:
    if index >= 1 << 88:
        raise DecryptionError("too many chunks")
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _derive(shared: bytes, salt: bytes, ephemeral: bytes, recipient: bytes, aead_id: int):
    if shared == bytes(32):
        raise DecryptionError("X25519 produced the all-zero secret (low-order public key)")
    key = HKDF(hashes.SHA256(), 32, salt, _HKDF_INFO + ephemeral + recipient).derive(shared)
    return AESGCM(key) if aead_id == 1 else ChaCha20Poly1305(key)


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    parts, need = [], size
    while need:
        block = stream.read(need)
        if not block:
            break
        parts.append(block)
        need -= len(block)
    return b"".join(parts)


def encrypt_stream(source: BinaryIO, sink: BinaryIO, recipient: X25519PublicKey, *, aead: str = "aes-256-gcm",
                   chunk_size: int = DEFAULT_CHUNK, ephemeral: X25519PrivateKey | None = None,
                   salt: bytes | None = None) -> SealResult:
    """Encrypt `source` to `recipient`, writing to `sink`; return both sides' hashes and sizes.

    `ephemeral` and `salt` exist for test vectors only: never pass them in production.
    """
    if aead not in AEADS:
        raise ValueError(f"aead must be one of {sorted(AEADS)}")
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk size must be within {MIN_CHUNK}..{MAX_CHUNK}")
    ephemeral = ephemeral or X25519PrivateKey.generate()
    salt = os.urandom(16) if salt is None else salt
    if len(salt) != 16:
        raise ValueError("salt is 16 bytes")
    eph_raw, recipient_raw = _raw(ephemeral.public_key()), _raw(recipient)
    header = (MAGIC + bytes([AEADS[aead]]) + struct.pack(">I", chunk_size)
              + hashlib.sha256(recipient_raw).digest()[:16] + eph_raw + salt)
    cipher = _derive(ephemeral.exchange(recipient), salt, eph_raw, recipient_raw, AEADS[aead])
    plain_digest, cipher_digest = hashlib.sha256(), hashlib.sha256()
    plain_size, cipher_size = 0, 0

    def emit(data: bytes) -> None:
        nonlocal cipher_size
        sink.write(data)
        cipher_digest.update(data)
        cipher_size += len(data)

    emit(header)
    index = 0
    current = _read_exact(source, chunk_size)
    while True:
        following = _read_exact(source, chunk_size) if len(current) == chunk_size else b""
        final = not following
        plain_digest.update(current)
        plain_size += len(current)
        emit(cipher.encrypt(_nonce(index, final), current, header))
        if final:
            break
        index += 1
        current = following
    return SealResult(plain_digest.hexdigest(), plain_size, cipher_digest.hexdigest(), cipher_size)


def read_header(data: bytes) -> dict[str, object]:
    """Parse a header (first HEADER_SIZE bytes); raise DecryptionError if it is not motcua.enc/1."""
    if len(data) < HEADER_SIZE or not data.startswith(MAGIC):
        raise DecryptionError("not motcua.enc/1 ciphertext (bad magic or too short)")
    aead_id = data[8]
    if aead_id not in _AEAD_BY_ID:
        raise DecryptionError(f"unknown AEAD id {aead_id}")
    (chunk_size,) = struct.unpack(">I", data[9:13])
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise DecryptionError(f"chunk size {chunk_size} outside {MIN_CHUNK}..{MAX_CHUNK}")
    return {"aead": _AEAD_BY_ID[aead_id], "aead_id": aead_id, "chunk_size": chunk_size,
            "recipient": data[13:29], "ephemeral": data[29:61], "salt": data[61:77]}


def is_sealed(data: bytes) -> bool:
    """True when `data` starts like motcua.enc/1 ciphertext."""
    return data.startswith(MAGIC)


def decrypt_stream(source: BinaryIO, sink: BinaryIO, private_key: X25519PrivateKey) -> OpenResult:
    """Decrypt `source` into `sink`. Raises DecryptionError on any tampering or truncation.

    Plaintext is written chunk by chunk as each chunk authenticates; a caller that
    must not expose a prefix of a truncated file writes to a temporary file and
    only adopts it when this returns.
    """
    header = _read_exact(source, HEADER_SIZE)
    info = read_header(header)
    recipient_raw = _raw(private_key.public_key())
    if info["recipient"] != hashlib.sha256(recipient_raw).digest()[:16]:
        raise DecryptionError("ciphertext is encrypted to another key")
    try:
        ephemeral = X25519PublicKey.from_public_bytes(info["ephemeral"])  # type: ignore[arg-type]
        shared = private_key.exchange(ephemeral)
    except ValueError as exc:
        raise DecryptionError("ephemeral key is invalid") from exc
    cipher = _derive(shared, info["salt"], info["ephemeral"], recipient_raw, info["aead_id"])  # type: ignore[arg-type]
    step = info["chunk_size"] + TAG_SIZE  # type: ignore[operator]
    digest, size, index = hashlib.sha256(), 0, 0
    current = _read_exact(source, step)
    while True:
        if len(current) < TAG_SIZE:
            raise DecryptionError(f"ciphertext truncated in chunk {index}")
        following = _read_exact(source, step) if len(current) == step else b""
        final = not following
        try:
            plain = cipher.decrypt(_nonce(index, final), current, header)
        except InvalidTag as exc:
            where = "last chunk (truncated or altered)" if final else f"chunk {index}"
            raise DecryptionError(f"authentication failed at {where}") from exc
        if final and not plain and index > 0:
            raise DecryptionError("empty final chunk after data")
        sink.write(plain)
        digest.update(plain)
        size += len(plain)
        if final:
            return OpenResult(digest.hexdigest(), size)
        index += 1
        current = following


def encrypt_bytes(plain: bytes, recipient: X25519PublicKey, **kwargs: object) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(plain), out, recipient, **kwargs)  # type: ignore[arg-type]
    return out.getvalue()


def decrypt_bytes(data: bytes, private_key: X25519PrivateKey) -> bytes:
    out = io.BytesIO()
    decrypt_stream(io.BytesIO(data), out, private_key)
    return out.getvalue()
