"""Tampering: altered payload or manifest on the desk, and hostile requests straight at the hub.

A sealed dossier is immutable; if its bytes or its signed manifest change
afterwards, the agent (verify on read) or the hub (4xx with a reason) refuses it,
the dossier goes to the rejected lane with that reason, and the rest of the
queue is still delivered. The raw-HTTP tests sign requests with a real device
key exactly as the agent does, then misbehave in one way each.
"""
from __future__ import annotations

import io
import json
import re
import sqlite3
import time

import pytest
import requests

from agent.capture.files import import_files
from agent.outbox.ids import new_dossier_id, utc_timestamp
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once
from sync_protocol.canonical import canonical_json, sha256_hex
from sync_protocol.keys import b64url, b64url_decode, generate_private_key
from sync_protocol.manifest import Manifest, PayloadObject, sign_manifest
from sync_protocol.receipt import verify_receipt
from sync_protocol.request_signing import sign_request
from sync_protocol.signed_document import Envelope

pytestmark = pytest.mark.usefixtures("no_ocr")  # OCR is not what these tests are about


def two_sealed_dossiers(agent, pages):
    """Two dossiers with different payloads, both sealed and queued."""
    first = seal_dossier(agent, import_files(agent, pages, "1.001193", "counter").id)
    second = seal_dossier(agent, import_files(agent, pages[:1], "1.004222", "postal").id)
    assert {d.sha256 for d in agent.outbox.documents(first.id)}.isdisjoint(
        d.sha256 for d in agent.outbox.documents(second.id))
    return first, second


def assert_only_second_committed(hub, agent, report, bad, good) -> str:
    assert report.rejected == [bad.code], report
    assert report.committed == [good.code], report
    assert agent.outbox.get(good.id).state in ("committed", "purged")
    rejected = agent.outbox.get(bad.id)
    assert rejected.state == "rejected"
    assert hub.sql("SELECT dossier_code FROM dossiers") == [(good.code,)]
    return rejected.rejected_reason or ""


def test_blob_altered_after_seal_is_rejected_on_read_and_the_rest_is_delivered(hub, agent, pages):
    bad, good = two_sealed_dossiers(agent, pages)
    [document] = agent.outbox.documents(bad.id)
    path = agent.outbox.blobs.path(document.sha256)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    path.write_bytes(bytes(data))

    report = sync_once(agent)
    reason = assert_only_second_committed(hub, agent, report, bad, good)
    assert document.name in reason
    assert "bị hỏng hoặc mất" in reason and "is corrupt or missing" in reason
    # Nothing of the altered dossier reached the hub's object store.
    assert not list(hub.data_dir.rglob(document.sha256))


def tamper_stored_manifest(db_path, dossier_id: str) -> bool:
    """Change the sealed manifest in outbox.db after signing, the way a local attacker with the file could.
    Returns True if it was stored as plaintext JSON (False: sealed to the hub key)."""
    conn = sqlite3.connect(db_path)
    try:
        (stored,) = conn.execute("SELECT signed_manifest FROM dossiers WHERE id=?", (dossier_id,)).fetchone()
        if stored.startswith("{"):
            envelope = json.loads(stored)
            envelope["document"]["procedure_code"] = "2.000815"  # signed as 1.001193
            changed = canonical_json(envelope).decode()
        else:  # sealed to the hub key ("<schema>:<base64url ciphertext>"): flip one ciphertext byte
            prefix, _, armoured = stored.rpartition(":")
            raw = bytearray(b64url_decode(armoured))
            raw[len(raw) // 2] ^= 0x01
            changed = f"{prefix}:{b64url(bytes(raw))}"
        conn.execute("UPDATE dossiers SET signed_manifest=? WHERE id=?", (changed, dossier_id))
        conn.commit()
    finally:
        conn.close()
    return stored.startswith("{")


def test_manifest_altered_in_the_outbox_is_refused_by_the_hub_and_the_rest_is_delivered(hub, agent, pages):
    bad, good = two_sealed_dossiers(agent, pages)
    plaintext = tamper_stored_manifest(agent.config.db_path, bad.id)

    report = sync_once(agent)
    reason = assert_only_second_committed(hub, agent, report, bad, good)
    assert re.search(r"Hub refused \(4\d\d\) during commit", reason), reason
    assert "Trung tâm từ chối (4" in reason  # Vietnamese first for the officer
    if plaintext:
        assert "manifest signature is invalid" in reason


def test_receipt_altered_in_the_outbox_keeps_the_payload_and_the_pass_completes(hub, agent, pages):
    """No verified receipt, no purge — and a bad stored receipt must not crash the pass (or `motcua run`)."""
    agent.config.settings.retention_hours = 1
    dossier = seal_dossier(agent, import_files(agent, pages, "1.001193", "counter").id)
    assert sync_once(agent).committed == [dossier.code]
    conn = sqlite3.connect(agent.config.db_path)
    try:
        (stored,) = conn.execute("SELECT receipt FROM dossiers WHERE id=?", (dossier.id,)).fetchone()
        receipt = json.loads(stored)
        receipt["document"]["hub_sequence"] += 1  # the hub signed another number
        conn.execute("UPDATE dossiers SET receipt=? WHERE id=?", (json.dumps(receipt), dossier.id))
        conn.commit()
    finally:
        conn.close()

    agent.config.settings.retention_hours = 0  # the payload is now due for purging
    report = sync_once(agent)
    assert report.purged == [] and report.complete
    kept = agent.outbox.get(dossier.id)
    assert kept.state == "committed"
    assert "receipt does not verify" in (kept.last_error or "")
    assert all(agent.outbox.blobs.has(d.sha256) for d in agent.outbox.documents(dossier.id))


# -- raw HTTP against the hub ------------------------------------------------------------------
class SignedClient:
    """Signs requests with a device key the way the agent does, but lets a test misbehave."""

    def __init__(self, base_url: str, key):
        self.base_url, self.key = base_url, key

    def headers(self, method: str, path: str, body: bytes, nonce: str | None = None) -> dict[str, str]:
        return sign_request(method, self.base_url + path, body, self.key, int(time.time()), nonce)

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
        headers = headers if headers is not None else self.headers(method, path, body)
        return requests.request(method, self.base_url + path, data=body, timeout=10,
                                headers={"Content-Type": "application/json", **headers})

    def commit(self, envelope: Envelope):
        return self.send("POST", "/v1/commits", envelope.to_bytes())


def uploaded_object(agent, data: bytes) -> PayloadObject:
    """Upload bytes with the agent's own tus client so the hub holds them for this device."""
    sha = sha256_hex(data)
    url = agent.hub.create_upload(len(data), sha, "document-1.pdf")
    agent.hub.upload(url, io.BytesIO(data), len(data), 64 * 1024)
    return PayloadObject("document-1.pdf", "application/pdf", sha, len(data))


def manifest_for(agent, objects, *, sequence: int = 1, previous: str | None = None, **changes) -> Manifest:
    fields = dict(dossier_id=new_dossier_id(), dossier_version=1,
                  dossier_code=f"{agent.config.agency_code}-240115-{agent.config.code_block * 1000 + sequence:04d}",
                  procedure_code="1.001193", channel="counter", device_id=agent.config.device_id, sequence=sequence,
                  previous_manifest_hash=previous, created_at=utc_timestamp(), received_at=utc_timestamp(),
                  objects=tuple(objects), metadata={"pages": "1"})
    fields.update(changes)
    return Manifest(**fields)


def assert_error(response, status: int, code: str | None = None, reason: str = "") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "reason", "reason_vi"} and body["reason"] and body["reason_vi"], body
    if code:
        assert body["error"] == code, body
    assert reason in body["reason"], body
    return body


@pytest.fixture
def device(hub, agent):
    return SignedClient(hub.url, agent.device_key)


def test_commit_is_idempotent_and_a_different_manifest_for_the_same_dossier_is_409(hub, agent, device):
    obj = uploaded_object(agent, b"%PDF-1.4\n% motcua test payload\n" + bytes(range(256)) * 40)
    manifest = manifest_for(agent, [obj])
    envelope = sign_manifest(manifest, agent.device_key)

    first = device.commit(envelope)
    assert first.status_code == 201, first.text
    receipt = verify_receipt(Envelope.from_dict(first.json()), agent.hub_key, manifest.hash)
    again = device.commit(envelope)  # same manifest, freshly signed request
    assert again.status_code == 200 and again.json() == first.json()

    rival = manifest_for(agent, [obj], dossier_id=manifest.dossier_id, procedure_code="2.000815")
    assert_error(device.commit(sign_manifest(rival, agent.device_key)), 409, "dossier_conflict", "already committed")
    assert hub.sql("SELECT COUNT(*), MAX(hub_sequence) FROM dossiers") == [(1, receipt.hub_sequence)]


def test_commit_listing_an_object_never_uploaded_is_422(hub, agent, device):
    ghost = PayloadObject("document-1.pdf", "application/pdf", sha256_hex(b"never uploaded"), 14)
    body = assert_error(device.commit(sign_manifest(manifest_for(agent, [ghost]), agent.device_key)), 422,
                        "object_missing", "has not been uploaded")
    assert "document-1.pdf" in body["reason"] and "document-1.pdf" in body["reason_vi"]
    assert hub.sql("SELECT COUNT(*) FROM dossiers") == [(0,)]


def test_manifest_for_another_device_or_signed_by_another_key_is_refused(hub, agent, device):
    obj = uploaded_object(agent, b"%PDF-1.4\n% second payload\n")
    other_device = manifest_for(agent, [obj], device_id="dev_0000000000000000ffff")
    assert_error(device.commit(sign_manifest(other_device, agent.device_key)), 403, "device_mismatch")
    forged = sign_manifest(manifest_for(agent, [obj]), generate_private_key())
    assert_error(device.commit(forged), 422, "manifest_signature_invalid")
    assert hub.sql("SELECT COUNT(*) FROM dossiers") == [(0,)]


def test_replayed_and_unsigned_requests_are_401(hub, agent, device):
    obj = uploaded_object(agent, b"%PDF-1.4\n% third payload\n")
    body = sign_manifest(manifest_for(agent, [obj]), agent.device_key).to_bytes()
    headers = device.headers("POST", "/v1/commits", body)
    assert device.send("POST", "/v1/commits", body, headers).status_code == 201
    assert_error(device.send("POST", "/v1/commits", body, headers), 401, reason="replayed")

    assert_error(device.send("POST", "/v1/commits", body, headers={}), 401, reason="missing")
    assert_error(device.send("GET", f"/v1/dossiers/{new_dossier_id()}", b"", headers={}), 401)

    # A request signed by a key the hub never enrolled.
    stranger = SignedClient(hub.url, generate_private_key())
    assert_error(stranger.send("GET", f"/v1/dossiers/{new_dossier_id()}"), 401, reason="unknown device key")
    # A body swapped under a valid signature.
    swapped = device.headers("POST", "/v1/commits", body)
    assert_error(device.send("POST", "/v1/commits", body + b" ", swapped), 401, reason="Content-Digest")
    assert hub.sql("SELECT COUNT(*) FROM dossiers") == [(1,)]
