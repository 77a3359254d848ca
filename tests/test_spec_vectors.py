"""docs/protocol.md's test vectors: the code and the written spec agree byte for byte."""
from __future__ import annotations

import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync_protocol.canonical import canonical_json, parse_canonical
from sync_protocol.keys import key_id, public_key_text
from sync_protocol.manifest import Manifest, open_manifest, sign_manifest

SPEC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text("utf-8")


def _vector(label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s+(\S+)$", SPEC, re.MULTILINE)
    assert match, f"vector {label!r} missing from docs/protocol.md"
    return match.group(1)


def test_manifest_vector_matches_spec():
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    assert public_key_text(key) == _vector("public key")
    assert key_id(key) == _vector("key id")
    canonical = re.search(r"^(\{\"channel\".*\})$", SPEC, re.MULTILINE).group(1).encode("utf-8")
    manifest = Manifest.from_dict(parse_canonical(canonical))
    assert manifest.canonical_bytes() == canonical
    assert manifest.hash == _vector("manifest hash")
    envelope = sign_manifest(manifest, key)
    assert envelope.signature == _vector("signature")  # Ed25519 is deterministic
    assert open_manifest(envelope, key.public_key()) == manifest


def test_canonical_rules_from_spec():
    assert canonical_json({"b": 1, "a": "x"}) == b'{"a":"x","b":1}'
    assert canonical_json("\u0001\n\"\\/é") == '"\\u0001\\n\\"\\\\/é"'.encode("utf-8")
    # UTF-16 ordering: U+E000 sorts after U+1F600 (a surrogate pair starts with 0xD83D)
    assert canonical_json({"\ue000": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ue000":1}'.encode("utf-8")


def test_timestamps_are_utc_to_the_second():
    from datetime import datetime, timedelta, timezone

    from sync_protocol.timestamps import format_utc, parse_utc

    assert format_utc(0) == "1970-01-01T00:00:00Z"
    hanoi = datetime(2026, 11, 27, 8, 30, 15, 999000, tzinfo=timezone(timedelta(hours=7)))
    assert format_utc(hanoi) == "2026-11-27T01:30:15Z"
    assert parse_utc("2026-11-27T01:30:15Z") == hanoi.replace(microsecond=0)
    import pytest

    with pytest.raises(ValueError):
        parse_utc("2026-11-27 01:30:15")


def test_refdata_vector_matches_spec():
    from sync_protocol.errors import SignatureInvalid
    from sync_protocol.refdata import sign_refdata, verify_refdata
    from sync_protocol.signed_document import Envelope

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    canonical = re.search(r'^(\{"agencies".*\})$', SPEC, re.MULTILINE).group(1).encode("utf-8")
    document = parse_canonical(canonical)
    assert canonical_json(document) == canonical
    envelope = sign_refdata(document, key)
    assert envelope.document_hash == _vector("refdata hash")
    assert envelope.signature == _vector("refdata signature")
    assert verify_refdata(envelope, key.public_key()) == document
    # a receipt-labelled signature over the same bytes is not a refdata signature (domain separation)
    from sync_protocol.signed_document import sign_document

    wrong_label = sign_document("motcua.receipt/1", document, key)
    import pytest

    with pytest.raises(SignatureInvalid):
        verify_refdata(Envelope(document, wrong_label.key_id, wrong_label.signature), key.public_key())
