"""Signed documents of the sync protocol: manifests, receipts and request signatures.

Pure tests of sync_protocol: every refusal names the field or the header that
is wrong, a signature survives a round trip and dies on one changed byte, and
a receipt for another manifest (or from another hub) is refused.
"""
from __future__ import annotations

import copy
import json
import time

import pytest
from requests.structures import CaseInsensitiveDict

from sync_protocol.canonical import canonical_json
from sync_protocol.errors import InvalidDocument, RequestAuthError, SignatureInvalid
from sync_protocol.keys import b64url, b64url_decode, generate_private_key, key_id, public_key_from_text, public_key_text
from sync_protocol.manifest import Manifest, PayloadObject, check_object_name, open_manifest, sign_manifest
from sync_protocol.receipt import Receipt, sign_receipt, verify_receipt
from sync_protocol.request_signing import sign_request, verify_request
from sync_protocol.signed_document import Envelope, sign_document, verify_document
from sync_protocol.tus_client import decode_metadata, encode_metadata

SHA_A = "a" * 64
SHA_B = "b" * 64


def make_manifest(**changes) -> Manifest:
    fields = dict(
        dossier_id="01890a5d-ac96-774b-bcce-b302099a8057", dossier_version=1,
        dossier_code="000.00.01.H29-240115-0001", procedure_code="1.001193", channel="postal",
        device_id="dev_0123456789abcdef0123", sequence=1, previous_manifest_hash=None,
        created_at="2024-01-15T02:03:04Z", received_at="2024-01-15T02:00:00Z",
        objects=(PayloadObject("document-1.pdf", "application/pdf", SHA_A, 1234),), metadata={"pages": "3"},
    )
    fields.update(changes)
    return Manifest(**fields)


def manifest_dict(**changes) -> dict:
    data = make_manifest().to_dict()
    data.update(changes)
    return data


# -- manifest validation ----------------------------------------------------------------
def test_a_valid_manifest_round_trips_through_its_dict():
    manifest = make_manifest()
    assert Manifest.from_dict(manifest.to_dict()) == manifest
    assert Manifest.from_dict(manifest.to_dict()).hash == manifest.hash
    assert manifest.total_size == 1234


@pytest.mark.parametrize("name", [
    "../x", "..", ".", ".hidden", "a/b", "/etc/passwd", "a\\b", "..\\..\\x", "C:evil", "c:\\evil", "a\x00b",
    "line\nbreak", "tab\there", "", "x" * 121,
])
def test_unsafe_object_names_are_refused_naming_the_field(name):
    data = manifest_dict()
    data["objects"][0]["name"] = name
    with pytest.raises(InvalidDocument) as info:
        Manifest.from_dict(data)
    assert str(info.value).startswith("manifest.objects[0].name:")


@pytest.mark.parametrize("name", ["document-1.pdf", "Giấy khai sinh.pdf", "scan 2.jpg", "a..b.pdf"])
def test_ordinary_object_names_are_accepted(name):
    assert check_object_name(name) == name


@pytest.mark.parametrize("field,value,expected", [
    ("procedure_code", "1001193", "manifest.procedure_code:"),
    ("procedure_code", "1.0011930", "manifest.procedure_code:"),
    ("channel", "fax", "manifest.channel:"),
    ("dossier_id", "not-a-uuid", "manifest.dossier_id:"),
    ("dossier_id", "01890A5D-AC96-774B-BCCE-B302099A8057", "manifest.dossier_id:"),
    ("dossier_code", "000.00.01.H29-2401-0001", "manifest.dossier_code:"),
    ("device_id", "DEV_X", "manifest.device_id:"),
    ("dossier_version", 0, "manifest.dossier_version:"),
    ("dossier_version", True, "manifest.dossier_version:"),
    ("sequence", 0, "manifest.sequence:"),
    ("sequence", "1", "manifest.sequence:"),
    ("previous_manifest_hash", SHA_B, "manifest.previous_manifest_hash: must be null for sequence 1"),
    ("created_at", "2024-01-15 02:03:04", "manifest.created_at:"),
    ("received_at", "2024-01-15T02:00:00+07:00", "manifest.received_at:"),
    ("schema", "motcua.manifest/2", "manifest.schema:"),
    ("objects", [], "manifest.objects:"),
    ("metadata", {"pages": 3}, "manifest.metadata:"),
])
def test_bad_fields_are_refused_naming_the_field(field, value, expected):
    with pytest.raises(InvalidDocument) as info:
        Manifest.from_dict(manifest_dict(**{field: value}))
    assert str(info.value).startswith(expected), str(info.value)


def test_a_later_sequence_needs_the_previous_hash():
    with pytest.raises(InvalidDocument, match="manifest.previous_manifest_hash"):
        Manifest.from_dict(manifest_dict(sequence=2, previous_manifest_hash=None))
    assert Manifest.from_dict(manifest_dict(sequence=2, previous_manifest_hash=SHA_B)).sequence == 2


@pytest.mark.parametrize("key,value,expected", [
    ("sha256", "A" * 64, "manifest.objects[0].sha256:"),
    ("sha256", "a" * 63, "manifest.objects[0].sha256:"),
    ("size", -1, "manifest.objects[0].size:"),
    ("size", 1.0, "manifest.objects[0].size:"),
    ("media_type", "text/html", "manifest.objects[0].media_type:"),
])
def test_bad_object_fields_are_refused_naming_the_field(key, value, expected):
    data = manifest_dict()
    data["objects"][0][key] = value
    with pytest.raises(InvalidDocument) as info:
        Manifest.from_dict(data)
    assert str(info.value).startswith(expected)


def test_unknown_missing_and_duplicate_fields_are_named():
    with pytest.raises(InvalidDocument, match=r"manifest: unknown field\(s\) \['priority'\]"):
        Manifest.from_dict(manifest_dict(priority=1))
    data = manifest_dict()
    del data["channel"]
    with pytest.raises(InvalidDocument, match=r"manifest: missing field\(s\) \['channel'\]"):
        Manifest.from_dict(data)
    data = manifest_dict()
    data["objects"][0]["extra"] = 1
    with pytest.raises(InvalidDocument, match=r"manifest.objects\[0\]: unknown field"):
        Manifest.from_dict(data)
    data = manifest_dict()
    data["objects"].append(dict(data["objects"][0], sha256=SHA_B))
    with pytest.raises(InvalidDocument, match="manifest.objects: names must be unique"):
        Manifest.from_dict(data)
    with pytest.raises(InvalidDocument, match="manifest: must be an object"):
        Manifest.from_dict(["not", "an", "object"])


# -- signatures -----------------------------------------------------------------------------
def test_sign_and_verify_round_trip():
    key = generate_private_key()
    envelope = sign_manifest(make_manifest(), key)
    assert envelope.key_id == key_id(key)
    # The envelope survives its own canonical bytes (as stored in the outbox and sent to the hub).
    again = Envelope.from_dict(json.loads(envelope.to_bytes()))
    assert open_manifest(again, key.public_key()) == make_manifest()
    assert again.document_hash == make_manifest().hash


def test_one_changed_byte_anywhere_breaks_verification():
    key = generate_private_key()
    envelope = sign_manifest(make_manifest(), key)
    public = key.public_key()

    tampered = copy.deepcopy(envelope.document)
    tampered["procedure_code"] = "1.001194"  # one character
    with pytest.raises(SignatureInvalid):
        open_manifest(Envelope(tampered, envelope.key_id, envelope.signature), public)

    tampered = copy.deepcopy(envelope.document)
    tampered["objects"][0]["size"] += 1
    with pytest.raises(SignatureInvalid):
        open_manifest(Envelope(tampered, envelope.key_id, envelope.signature), public)

    raw = bytearray(b64url_decode(envelope.signature))
    for position in (0, 31, 63):
        flipped = bytearray(raw)
        flipped[position] ^= 0x01
        with pytest.raises(SignatureInvalid):
            open_manifest(Envelope(envelope.document, envelope.key_id, b64url(bytes(flipped))), public)

    with pytest.raises(SignatureInvalid, match="does not verify"):
        open_manifest(Envelope(envelope.document, envelope.key_id, "not base64 ***"), public)


def test_another_key_or_another_document_kind_does_not_verify():
    key, other = generate_private_key(), generate_private_key()
    envelope = sign_manifest(make_manifest(), key)
    with pytest.raises(SignatureInvalid, match="signed by key"):
        open_manifest(envelope, other.public_key())
    # Same key id and bytes, but forged to claim the other key: the signature fails.
    with pytest.raises(SignatureInvalid, match="does not verify"):
        open_manifest(Envelope(envelope.document, key_id(other), envelope.signature), other.public_key())
    # Domain separation: a manifest signature is not a receipt signature.
    with pytest.raises(SignatureInvalid):
        verify_document("motcua.receipt/1", envelope, key.public_key())
    generic = sign_document("motcua.other/1", envelope.document, key)
    with pytest.raises(SignatureInvalid):
        open_manifest(generic, key.public_key())


@pytest.mark.parametrize("data,expected", [
    ({"document": {}, "key_id": "k"}, "exactly: document, key_id, signature"),
    ({"document": {}, "key_id": "k", "signature": "s", "x": 1}, "exactly"),
    ({"document": [], "key_id": "k", "signature": "s"}, "envelope.document"),
    ({"document": {}, "key_id": 1, "signature": "s"}, "envelope.key_id"),
    ("text", "exactly"),
])
def test_malformed_envelopes_are_refused(data, expected):
    with pytest.raises(InvalidDocument, match=expected):
        Envelope.from_dict(data)


def test_keys_travel_as_text_and_have_stable_ids():
    key = generate_private_key()
    text = public_key_text(key)
    assert key_id(public_key_from_text(text)) == key_id(key) == key_id(text)
    assert key_id(key).startswith("ed25519:") and len(key_id(key)) == len("ed25519:") + 32
    with pytest.raises(InvalidDocument, match="32 bytes"):
        public_key_from_text(b64url(b"short"))


# -- receipts -------------------------------------------------------------------------------
def make_receipt(hub_key, manifest_hash: str, **changes) -> Envelope:
    fields = dict(manifest_hash=manifest_hash, dossier_id=make_manifest().dossier_id,
                  dossier_code=make_manifest().dossier_code, device_id=make_manifest().device_id, hub_sequence=7,
                  received_at="2024-01-15T03:00:00Z", hub_key_id=key_id(hub_key))
    fields.update(changes)
    return sign_receipt(Receipt(**fields), hub_key)


def test_receipt_verifies_for_its_manifest_only():
    hub_key = generate_private_key()
    ours, theirs = make_manifest(), make_manifest(dossier_code="000.00.01.H29-240115-0002")
    envelope = make_receipt(hub_key, ours.hash)
    assert verify_receipt(envelope, hub_key.public_key(), ours.hash).hub_sequence == 7
    with pytest.raises(SignatureInvalid, match="not ours"):
        verify_receipt(envelope, hub_key.public_key(), theirs.hash)


def test_receipt_from_another_hub_or_altered_is_refused():
    hub_key, impostor = generate_private_key(), generate_private_key()
    manifest_hash = make_manifest().hash
    with pytest.raises(SignatureInvalid):
        verify_receipt(make_receipt(impostor, manifest_hash), hub_key.public_key(), manifest_hash)
    envelope = make_receipt(hub_key, manifest_hash)
    altered = dict(envelope.document, hub_sequence=8)
    with pytest.raises(SignatureInvalid):
        verify_receipt(Envelope(altered, envelope.key_id, envelope.signature), hub_key.public_key(), manifest_hash)


@pytest.mark.parametrize("change,expected", [
    ({"hub_sequence": 0}, "receipt.hub_sequence"),
    ({"manifest_hash": "xyz"}, "receipt.manifest_hash"),
    ({"schema": "motcua.receipt/9"}, "receipt.schema"),
    ({"dossier_code": 5}, "receipt.dossier_code"),
])
def test_malformed_receipt_fields_are_named(change, expected):
    document = make_receipt(generate_private_key(), SHA_A).document
    with pytest.raises(InvalidDocument, match=expected):
        Receipt.from_dict(dict(document, **change))


# -- request signatures ---------------------------------------------------------------------
class Hub:
    """The policy half of request verification, as the hub would supply it."""

    def __init__(self, device_key):
        self.keys = {key_id(device_key): device_key.public_key()}
        self.nonces: set[tuple[str, str]] = set()

    def lookup(self, kid: str):
        if kid not in self.keys:
            raise RequestAuthError("unknown device key")
        return self.keys[kid]

    def remember(self, kid: str, nonce: str, created: int) -> bool:
        if (kid, nonce) in self.nonces:
            return False
        self.nonces.add((kid, nonce))
        return True

    def verify(self, method, path, query, headers, body, now=None):
        return verify_request(method, path, query, CaseInsensitiveDict(headers), body, lookup_key=self.lookup,
                              remember_nonce=self.remember, now=time.time() if now is None else now)


def test_request_signature_round_trip_and_replay():
    key = generate_private_key()
    hub = Hub(key)
    body = canonical_json({"x": 1})
    headers = sign_request("POST", "http://hub:8470/v1/commits?dry=1", body, key, int(time.time()))
    verified = hub.verify("POST", "/v1/commits", "dry=1", headers, body)
    assert verified.key_id == key_id(key)
    with pytest.raises(RequestAuthError, match="replayed"):
        hub.verify("POST", "/v1/commits", "dry=1", headers, body)


def test_request_headers_work_as_a_plain_dict():
    """sign_request's own output (mixed-case keys in a dict) is accepted as is."""
    key = generate_private_key()
    headers = sign_request("GET", "http://hub/v1/hello", b"", key, int(time.time()))
    verify_request("GET", "/v1/hello", "", headers, b"", lookup_key=lambda _: key.public_key(),
                   remember_nonce=lambda *_: True, now=time.time())


@pytest.mark.parametrize("what,expected", [
    ("body", "Content-Digest does not match"),
    ("method", "does not verify"),
    ("path", "does not verify"),
    ("query", "does not verify"),
    ("stale", "from hub time"),
    ("future", "from hub time"),
    ("unknown_key", "unknown device key"),
    ("missing", "missing Signature-Input"),
    ("components", "must cover"),
    ("garbled", "malformed"),
])
def test_request_signature_failures_say_what_is_wrong(what, expected):
    key = generate_private_key()
    hub = Hub(key)
    body = b'{"x":1}'
    now = int(time.time())
    signer = generate_private_key() if what == "unknown_key" else key
    created = now - 301 if what == "stale" else now + 301 if what == "future" else now
    headers = dict(sign_request("POST", "http://hub/v1/commits", body, signer, created))
    method, path, query = "POST", "/v1/commits", ""
    if what == "body":
        body = b'{"x":2}'
    elif what == "method":
        method = "PUT"
    elif what == "path":
        path = "/v1/uploads"
    elif what == "query":
        query = "a=1"
    elif what == "missing":
        del headers["Signature"]
    elif what == "components":
        headers["Signature-Input"] = headers["Signature-Input"].replace(' "content-digest"', "")
    elif what == "garbled":
        headers["Signature-Input"] = "motcua=garbage"
    with pytest.raises(RequestAuthError, match=expected):
        hub.verify(method, path, query, headers, body, now=now)


# -- tus metadata ---------------------------------------------------------------------------
def test_tus_metadata_round_trip_and_garbage():
    metadata = {"sha256": SHA_A, "filename": "Giấy tờ 1.pdf", "empty": ""}
    assert decode_metadata(encode_metadata(metadata)) == metadata
    with pytest.raises(ValueError):
        decode_metadata("a !!!notbase64")
    with pytest.raises(ValueError, match="repeated"):
        decode_metadata("a YQ==,a Yg==")
