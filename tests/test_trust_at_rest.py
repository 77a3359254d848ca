"""Encryption at rest: a sealed dossier on the desk PC is ciphertext only the hub can open.

A desk enrols (pinning the hub's X25519 key), seals a dossier, and we look at
the disk as a thief would: no plaintext blob, no readable manifest. Then the
dossier syncs and the hub holds the verified plaintext.
"""
from __future__ import annotations

import hashlib
import io

import pikepdf

import pytest

from agent.sealing.at_rest import ARMOUR_PREFIX, manifest_for_transport
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once
from hub.config import HubConfig
from hub.state import HubState
from sync_protocol.encryption import decrypt_bytes, is_sealed

from .trust_support import blob_files, captured_dossier, hub_rows, small_pdf


def test_sealed_dossier_is_only_ciphertext_on_the_desk(hub, agent):
    pdf = small_pdf("TO KHAI DANG KY THUONG TRU")
    dossier = captured_dossier(agent, pdf)
    plain_sha = hashlib.sha256(pdf).hexdigest()
    assert agent.outbox.blobs.has(plain_sha)

    sealed = seal_dossier(agent, dossier.id)
    assert sealed.state == "sealed"
    # the plaintext working copy is gone; what is left does not contain the document
    assert not agent.outbox.blobs.has(plain_sha)
    for path in blob_files(agent.config.home):
        data = path.read_bytes()
        assert is_sealed(data), path
        assert b"THUONG TRU" not in data and b"%PDF" not in data
    # the manifest is stored encrypted, and the agent has no key to open it
    assert sealed.signed_manifest.startswith(ARMOUR_PREFIX)
    body, content_type = manifest_for_transport(sealed.signed_manifest)
    assert content_type == "application/vnd.motcua.sealed" and is_sealed(body)
    assert b"document-1.pdf" not in body and sealed.code.encode() not in body
    # ...but the hub's key opens it: it is the signed manifest listing the ciphertext
    hub_state = HubState.open(HubConfig(data_dir=hub.data_dir))
    envelope = __import__("json").loads(decrypt_bytes(body, hub_state.encryption_key))
    [obj] = envelope["document"]["objects"]
    assert obj["sha256"] == agent.outbox.documents(dossier.id)[0].sha256
    # the plaintext is the final (PAdES-signed) PDF: its hash and size travel inside the sealed manifest
    named_sha, named_size = envelope["document"]["metadata"][f"plain.{obj['name']}"].split(":")

    report = sync_once(agent)
    assert report.committed == [dossier.code]
    # the hub decrypted and verified the plaintext before it signed the receipt
    [doc] = hub_rows(hub.data_dir, "SELECT * FROM dossier_documents")
    assert doc["plain_sha256"] == named_sha and doc["cipher_sha256"] == obj["sha256"]
    with hub_state.objects.open(named_sha) as handle:
        stored = handle.read()
    assert len(stored) == int(named_size) and hashlib.sha256(stored).hexdigest() == named_sha
    with pikepdf.open(io.BytesIO(stored)) as opened:
        assert b"THUONG TRU" in opened.pages[0].Contents.read_bytes()
    assert agent.outbox.get(dossier.id).state == "purged"
    assert blob_files(agent.config.home) == []


def test_two_identical_dossiers_wipe_plaintext_only_when_both_are_sealed(hub, agent):
    pdf = small_pdf("BAN SAO")
    first, second = captured_dossier(agent, pdf), captured_dossier(agent, pdf)
    plain_sha = hashlib.sha256(pdf).hexdigest()
    seal_dossier(agent, first.id)
    assert agent.outbox.blobs.has(plain_sha), "the second captured dossier still needs the plaintext"
    seal_dossier(agent, second.id)
    assert not agent.outbox.blobs.has(plain_sha)
    docs = [agent.outbox.documents(d.id)[0].sha256 for d in (first, second)]
    assert docs[0] != docs[1]  # fresh ephemeral key each time: equal documents, different ciphertexts
    assert sorted(sync_once(agent).committed) == sorted([first.code, second.code])


def test_hub_refuses_ciphertext_that_does_not_open_to_the_named_plaintext(hub, agent):
    """A device that lies about the plaintext (or encrypts to another key) gets no receipt."""
    import json

    from agent.sealing.at_rest import plaintext_metadata, seal_manifest_text
    from sync_protocol.canonical import canonical_json
    from sync_protocol.encryption import SealResult
    from sync_protocol.manifest import Manifest, PayloadObject, sign_manifest

    dossier = seal_dossier(agent, captured_dossier(agent).id)
    doc = agent.outbox.documents(dossier.id)[0]
    # re-seal the same ciphertext claiming another plaintext hash
    liar = SealResult("ab" * 32, 10, doc.sha256, doc.size)
    manifest = Manifest(dossier_id=dossier.id, dossier_version=1, dossier_code=dossier.code,
                        procedure_code=dossier.procedure_code, channel=dossier.channel, device_id=agent.config.device_id,
                        sequence=1, previous_manifest_hash=None, created_at="2026-01-05T01:00:00Z",
                        received_at=dossier.received_at, objects=(PayloadObject(doc.name, "application/pdf", doc.sha256,
                                                                                doc.size),),
                        metadata={"pages": "1", **plaintext_metadata([(doc.name, liar)])})
    text = seal_manifest_text(canonical_json(sign_manifest(manifest, agent.device_key).to_dict()),
                              __import__("agent.sealing.at_rest", fromlist=["x"]).hub_encryption_key(agent.config))
    with agent.outbox.transaction():
        agent.outbox.conn.execute("UPDATE dossiers SET signed_manifest=?, manifest_hash=? WHERE id=?",
                                  (text, manifest.hash, dossier.id))
    report = sync_once(agent)
    assert report.rejected == [dossier.code]
    reason = agent.outbox.get(dossier.id).rejected_reason
    assert "plaintext" in reason or "không khớp" in reason
    assert hub_rows(hub.data_dir, "SELECT COUNT(*) AS n FROM dossiers")[0]["n"] == 0
    assert json.loads(__import__("requests").get(hub.url + "/v1/hello", timeout=5).text)["service"] == "motcua-hub"


def test_desk_without_pinned_encryption_key_cannot_seal(hub, agent):
    from agent.errors import NotInitialised

    agent.config.hub_encryption_key = ""
    dossier = captured_dossier(agent)
    with pytest.raises(NotInitialised):
        seal_dossier(agent, dossier.id)
    assert agent.outbox.get(dossier.id).state == "captured"
