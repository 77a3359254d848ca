"""Property tests (hypothesis) for what both ends must agree on: canonical JSON, manifests, signatures."""
from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_protocol.canonical import MAX_SAFE_INTEGER, canonical_json, parse_canonical
from sync_protocol.errors import InvalidDocument, RequestAuthError, SignatureInvalid
from sync_protocol.keys import generate_private_key
from sync_protocol.manifest import Manifest, PayloadObject, open_manifest, sign_manifest
from sync_protocol.request_signing import sign_request, verify_request

KEY = generate_private_key()
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_json = st.recursive(st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | _text,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=5),
                     max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(value=_json)
def test_canonical_json_round_trips_and_is_stable(value):
    data = canonical_json(value)
    assert parse_canonical(data) == value
    assert canonical_json(parse_canonical(data)) == data


_name = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9 _()-]{0,40}\.pdf\Z")
_sha = st.from_regex(r"\A[0-9a-f]{64}\Z")
_manifests = st.builds(
    lambda seq, prev, objects, meta, code: Manifest(
        dossier_id="0190a0b0-0000-7000-8000-000000000001", dossier_version=1,
        dossier_code=f"000.00.01.H29-260105-{code:04d}", procedure_code="1.001193", channel="postal",
        device_id="dev_0123456789abcdef0123", sequence=seq, previous_manifest_hash=None if seq == 1 else prev,
        created_at="2026-01-05T01:00:00Z", received_at="2026-01-05T01:00:00Z", objects=tuple(objects), metadata=meta),
    st.integers(1, 10**9), _sha,
    st.lists(st.builds(PayloadObject, _name, st.just("application/pdf"), _sha, st.integers(0, 2**40)),
             min_size=1, max_size=5, unique_by=lambda o: o.name),
    st.dictionaries(st.from_regex(r"\A[a-z.]{1,12}\Z"), _text, max_size=4), st.integers(1, 9999))


@settings(max_examples=100, deadline=None)
@given(manifest=_manifests)
def test_manifest_round_trips_through_canonical_bytes_and_signature(manifest):
    envelope = sign_manifest(manifest, KEY)
    again = Manifest.from_dict(parse_canonical(manifest.canonical_bytes()))
    assert again == manifest and again.hash == manifest.hash
    assert open_manifest(envelope, KEY.public_key()) == manifest


@settings(max_examples=100, deadline=None)
@given(manifest=_manifests, data=st.data())
def test_any_change_to_a_signed_manifest_breaks_the_signature(manifest, data):
    from sync_protocol.signed_document import Envelope

    envelope = sign_manifest(manifest, KEY)
    document = dict(envelope.document)
    field = data.draw(st.sampled_from(["dossier_code", "sequence", "objects", "metadata"]))
    if field == "dossier_code":
        document[field] = document[field][:-1] + ("1" if document[field][-1] != "1" else "2")
    elif field == "sequence":
        document[field] = document[field] + 1
    elif field == "objects":
        document[field] = [dict(document[field][0], size=document[field][0]["size"] + 1)] + document[field][1:]
    else:
        document[field] = {**document[field], "extra": "x"}
    with pytest.raises((SignatureInvalid, InvalidDocument)):
        open_manifest(Envelope(document, envelope.key_id, envelope.signature), KEY.public_key())


@settings(max_examples=100, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PATCH", "HEAD"]), path=st.from_regex(r"\A/v1/[a-z0-9/]{0,30}\Z"),
       query=st.from_regex(r"\A([a-z]{1,5}=[0-9]{1,4})?\Z"), body=st.binary(max_size=200), data=st.data())
def test_request_signatures_verify_and_any_change_is_refused(method, path, query, body, data):
    now = int(time.time())
    url = "http://hub" + path + (f"?{query}" if query else "")
    headers = sign_request(method, url, body, KEY, now)
    seen: set[str] = set()

    def remember(key_id: str, nonce: str, created: int) -> bool:
        if nonce in seen:
            return False
        seen.add(nonce)
        return True

    def verify(m=method, p=path, q=query, b=body, h=headers):
        return verify_request(m, p, q, h, b, lookup_key=lambda _: KEY.public_key(), remember_nonce=remember, now=now)

    assert verify().created == now
    with pytest.raises(RequestAuthError, match="replayed"):
        verify()
    change = data.draw(st.sampled_from(["method", "path", "query", "body"]))
    with pytest.raises(RequestAuthError):
        if change == "method":
            verify(m="DELETE")
        elif change == "path":
            verify(p=path + "x")
        elif change == "query":
            verify(q=query + "&z=1")
        else:
            verify(b=body + b"!")
