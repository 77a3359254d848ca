"""motcua.enc/1: the format that keeps sealed dossiers unreadable on the desk PC and the USB stick.

Pure tests of sync_protocol.encryption: round trips (hypothesis), every kind of
tampering and truncation detected, the wrong key refused, and the test vector
written in docs/protocol.md reproduced byte for byte.
"""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_protocol.encryption import (
    AEADS, HEADER_SIZE, TAG_SIZE, DecryptionError, ciphertext_size, decrypt_bytes, decrypt_stream, encrypt_bytes,
    encrypt_stream, read_header, x25519_key_id, x25519_public_text,
)

SPEC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text("utf-8")
HUB = X25519PrivateKey.from_private_bytes(bytes(range(32)))
EPHEMERAL = X25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
SALT = bytes(range(64, 80))
VECTOR_PLAINTEXT = bytes(i % 251 for i in range(2500))


def _vector(label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s+(\S+)$", SPEC, re.MULTILINE)
    assert match, f"vector {label!r} missing from docs/protocol.md"
    return match.group(1)


def test_vector_in_protocol_spec_is_reproduced():
    assert x25519_public_text(HUB) == _vector("enc recipient public key")
    assert x25519_key_id(HUB) == _vector("enc recipient key id")
    assert x25519_public_text(EPHEMERAL) == _vector("enc ephemeral public key")
    for aead in AEADS:
        data = encrypt_bytes(VECTOR_PLAINTEXT, HUB.public_key(), aead=aead, chunk_size=1024, ephemeral=EPHEMERAL,
                             salt=SALT)
        assert len(data) == int(_vector(f"enc {aead} ciphertext size")) == ciphertext_size(2500, 1024)
        assert hashlib.sha256(data).hexdigest() == _vector(f"enc {aead} ciphertext sha256")
        assert data[:HEADER_SIZE].hex() == _vector(f"enc {aead} header")
        assert decrypt_bytes(data, HUB) == VECTOR_PLAINTEXT
    assert hashlib.sha256(VECTOR_PLAINTEXT).hexdigest() == _vector("enc plaintext sha256")


@settings(max_examples=60, deadline=None)
@given(plain=st.binary(max_size=5000), chunk=st.sampled_from([1024, 1500, 4096]), aead=st.sampled_from(sorted(AEADS)))
def test_round_trip_any_plaintext(plain: bytes, chunk: int, aead: str):
    out = io.BytesIO()
    sealed = encrypt_stream(io.BytesIO(plain), out, HUB.public_key(), aead=aead, chunk_size=chunk)
    data = out.getvalue()
    assert len(data) == sealed.cipher_size == ciphertext_size(len(plain), chunk)
    assert sealed.cipher_sha256 == hashlib.sha256(data).hexdigest()
    assert sealed.plain_sha256 == hashlib.sha256(plain).hexdigest()
    back = io.BytesIO()
    opened = decrypt_stream(io.BytesIO(data), back, HUB)
    assert back.getvalue() == plain and opened.plain_size == len(plain)
    assert plain[:64] not in data[HEADER_SIZE:] or len(plain) < 16  # no plaintext leaks through


@settings(max_examples=60, deadline=None)
@given(plain=st.binary(min_size=1, max_size=4000), data=st.data())
def test_any_single_byte_change_is_detected(plain: bytes, data):
    sealed = bytearray(encrypt_bytes(plain, HUB.public_key(), chunk_size=1024))
    index = data.draw(st.integers(0, len(sealed) - 1))
    sealed[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(DecryptionError):
        decrypt_bytes(bytes(sealed), HUB)


@settings(max_examples=60, deadline=None)
@given(plain=st.binary(min_size=0, max_size=5000), data=st.data())
def test_any_truncation_is_detected(plain: bytes, data):
    sealed = encrypt_bytes(plain, HUB.public_key(), chunk_size=1024)
    cut = data.draw(st.integers(0, len(sealed) - 1))
    with pytest.raises(DecryptionError):
        decrypt_bytes(sealed[:cut], HUB)


def test_dropping_reordering_or_appending_chunks_is_detected():
    step = 1024 + TAG_SIZE
    sealed = encrypt_bytes(bytes(4000), HUB.public_key(), chunk_size=1024)  # 4 chunks
    header, body = sealed[:HEADER_SIZE], sealed[HEADER_SIZE:]
    chunks = [body[i:i + step] for i in range(0, len(body), step)]
    assert len(chunks) == 4
    for tampered in (
        header + chunks[0] + chunks[2] + chunks[1] + chunks[3],  # reordered
        header + chunks[0] + chunks[1] + chunks[3],               # one dropped
        header + chunks[0] + chunks[1] + chunks[2],               # cut at a chunk boundary
        sealed + chunks[3],                                      # appended
    ):
        with pytest.raises(DecryptionError):
            decrypt_bytes(tampered, HUB)


def test_wrong_key_and_foreign_data_are_refused():
    sealed = encrypt_bytes(b"ho so", HUB.public_key())
    with pytest.raises(DecryptionError, match="another key"):
        decrypt_bytes(sealed, X25519PrivateKey.generate())
    with pytest.raises(DecryptionError, match="magic"):
        decrypt_bytes(b"%PDF-1.7 not encrypted", HUB)
    with pytest.raises(DecryptionError):
        read_header(sealed[:HEADER_SIZE - 1])


def test_each_encryption_is_fresh_and_reveals_no_plaintext_hash():
    plain = b"giay khai sinh " * 100
    one, two = encrypt_bytes(plain, HUB.public_key()), encrypt_bytes(plain, HUB.public_key())
    assert one != two  # ephemeral key + salt: equal documents do not give equal ciphertexts
    assert hashlib.sha256(plain).digest() not in one
