"""Issue 12, items 1-3: a malicious but enrolled desk acts only within its own agency, its code block
and its own dossiers, and gets no receipt for content the hub has not decrypted and checked.

Two (or three) real desks at a real hub process; the attacker signs requests with its own valid key.
"""
from __future__ import annotations

import json
import os
import uuid

import requests

from agent.sealing.at_rest import hub_encryption_key
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once
from sync_protocol.encryption import SCHEMA as ENC_SCHEMA
from sync_protocol.encryption import encrypt_bytes

from .authority_support import AGENCY_1, AGENCY_2, commit, enrolled_desk, manifest, refused, signed, upload
from .conftest import run_motcua
from .trust_support import captured_dossier, hub_rows, small_pdf

SITE = "UBND xã Tân Phú"  # two communes of this name exist, in different agencies


def _count(hub, table: str) -> int:
    return hub_rows(hub.data_dir, f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]


def test_desk_commits_only_codes_of_its_own_agency_and_block(hub, tmp_path):
    a = enrolled_desk(hub, tmp_path / "a", SITE, AGENCY_1)    # block 0 of agency 1
    b = enrolled_desk(hub, tmp_path / "b", "Bưu điện Tân Phú", AGENCY_1)  # block 1 of agency 1
    try:
        data = small_pdf("MAU")
        sha = upload(a, data)
        objects = [("document-1.pdf", sha, len(data))]
        # another agency's code
        body = refused(commit(hub, a, manifest(a, f"{AGENCY_2}-260105-0001", objects)), 403, "agency_mismatch")
        assert AGENCY_1 in body["reason"] and AGENCY_1 in body["reason_vi"]
        # a code whose agency merely starts like ours
        refused(commit(hub, a, manifest(a, f"{AGENCY_1}1-260105-0001", objects)), 403, "agency_mismatch")
        # the other desk's block (1001..1999), and the number 0000 that no block issues
        refused(commit(hub, a, manifest(a, f"{AGENCY_1}-260105-1001", objects)), 403, "code_block_mismatch")
        refused(commit(hub, a, manifest(a, f"{AGENCY_1}-260105-0000", objects)), 403, "code_block_mismatch")
        assert _count(hub, "dossiers") == 0
        audit = hub_rows(hub.data_dir, "SELECT detail FROM audit WHERE action='commit.refused'")
        assert sorted(json.loads(r["detail"])["reason"] for r in audit) == [
            "agency_mismatch", "agency_mismatch", "code_block_mismatch", "code_block_mismatch"]
        # its own block is fine, and so is b's own block for b
        assert commit(hub, a, manifest(a, f"{AGENCY_1}-260105-0007", objects)).status_code == 201
        sha_b = upload(b, data)
        assert commit(hub, b, manifest(b, f"{AGENCY_1}-260105-1007", [("document-1.pdf", sha_b, len(data))])
                      ).status_code == 201
    finally:
        a.close()
        b.close()


def test_new_versions_come_only_from_the_owner_or_after_a_transfer(hub, tmp_path):
    a = enrolled_desk(hub, tmp_path / "a", SITE, AGENCY_1)
    b = enrolled_desk(hub, tmp_path / "b", "Bưu điện Tân Phú", AGENCY_1)
    try:
        data = small_pdf("MAU")
        objects_a = [("document-1.pdf", upload(a, data), len(data))]
        objects_b = [("document-1.pdf", upload(b, data), len(data))]
        dossier_id, code = str(uuid.uuid4()), f"{AGENCY_1}-260105-0001"
        first = manifest(a, code, objects_a, dossier_id=dossier_id)
        receipt = commit(hub, a, first)
        assert receipt.status_code == 201
        # b claims "version 2" of a's dossier: refused, nothing stored, a's feed untouched
        hijack = manifest(b, code, objects_b, dossier_id=dossier_id, version=2)
        refused(commit(hub, b, hijack), 403, "dossier_not_owned")
        assert hub_rows(hub.data_dir, "SELECT device_id FROM dossiers") == [{"device_id": a.config.device_id}]

        # the administrator hands the dossier to b (audited); b's version 2 is accepted
        moved = run_motcua("hub", "transfer", dossier_id, "--to", b.config.device_id, "--data", str(hub.data_dir))
        assert moved.returncode == 0, moved.stderr
        assert commit(hub, b, hijack).status_code == 201
        assert hub_rows(hub.data_dir, "SELECT action FROM audit WHERE action='dossier.transferred'")
        # ... and now a may not add versions; its own first commit still replays to the same receipt
        refused(commit(hub, a, manifest(a, code, objects_a, dossier_id=dossier_id, version=3, sequence=2,
                                        prev=receipt.json()["document"]["manifest_hash"])), 403, "dossier_not_owned")
        assert commit(hub, a, first).json() == receipt.json()
        # a new version may not rename the dossier into another code
        renamed = manifest(b, f"{AGENCY_1}-260105-1002", objects_b, dossier_id=dossier_id, version=3, sequence=2,
                           prev=hub_rows(hub.data_dir, "SELECT manifest_hash FROM dossiers WHERE dossier_version=2"
                                         )[0]["manifest_hash"])
        refused(commit(hub, b, renamed), 403, "dossier_code_changed")
        # transfers are checked: unknown dossier, unknown device -> clean CLI failures
        for args in (["hub", "transfer", str(uuid.uuid4()), "--to", b.config.device_id],
                     ["hub", "transfer", dossier_id, "--to", "dev_nobody0000"]):
            result = run_motcua(*args, "--data", str(hub.data_dir))
            assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    finally:
        a.close()
        b.close()


def test_no_receipt_for_content_the_hub_did_not_decrypt_and_check(hub, tmp_path):
    """b names the plaintext hash of a's document (already in the hub's store) for random bytes, or for
    ciphertext of other content: the hub decrypts every time and refuses both."""
    a = enrolled_desk(hub, tmp_path / "a", SITE, AGENCY_1)
    b = enrolled_desk(hub, tmp_path / "b", SITE, AGENCY_2)
    try:
        dossier = seal_dossier(a, captured_dossier(a, small_pdf("GIAY KHAI SINH CUA A")).id)
        assert sync_once(a).committed == [dossier.code]
        [doc] = hub_rows(hub.data_dir, "SELECT plain_sha256, plain_size FROM dossier_documents")
        claim = {"enc": ENC_SCHEMA, "plain.document-1.pdf": f"{doc['plain_sha256']}:{doc['plain_size']}"}

        noise = os.urandom(2048)
        bogus = manifest(b, f"{AGENCY_2}-260105-0001", [("document-1.pdf", upload(b, noise), len(noise))],
                         metadata=claim)
        refused(commit(hub, b, bogus), 422, "object_undecryptable")

        other = encrypt_bytes(small_pdf("SOMETHING ELSE"), hub_encryption_key(b.config))
        mislabelled = manifest(b, f"{AGENCY_2}-260105-0002", [("document-1.pdf", upload(b, other), len(other))],
                               metadata=claim)
        refused(commit(hub, b, mislabelled), 422, "plaintext_mismatch")
        assert hub_rows(hub.data_dir, "SELECT device_id FROM dossiers") == [{"device_id": a.config.device_id}]
        assert not list((hub.data_dir / "tmp").glob("open-*"))  # no plaintext left half-checked
    finally:
        a.close()
        b.close()


def test_reads_are_scoped_by_agency_not_by_site_name(hub, tmp_path):
    """Two communes named alike in two agencies: neither sees the other's dossier, events or proofs."""
    a = enrolled_desk(hub, tmp_path / "a", SITE, AGENCY_1)
    b = enrolled_desk(hub, tmp_path / "b", SITE, AGENCY_2)
    try:
        dossier = seal_dossier(a, captured_dossier(a).id)
        assert sync_once(a).committed == [dossier.code]
        posted = run_motcua("hub", "post-status", dossier.code, "9", "--data", str(hub.data_dir))
        assert posted.returncode == 0, posted.stderr

        assert signed(hub, a, "GET", f"/v1/dossiers/{dossier.id}").json()["status"] == 9
        assert [e["dossier_id"] for e in signed(hub, a, "GET", "/v1/feed").json()["events"]] == [dossier.id]

        refused(signed(hub, b, "GET", f"/v1/dossiers/{dossier.id}"), 404)
        assert signed(hub, b, "GET", "/v1/feed").json()["events"] == []
        proof = {"schema": "motcua.delivery-proof/1", "record_id": str(uuid.uuid4()), "kind": "failed",
                 "dossier_id": dossier.id, "dossier_code": dossier.code, "device_id": b.config.device_id,
                 "at": "2026-01-06T03:00:00Z", "attempt": 1, "reason": "not_home", "note": ""}
        from sync_protocol.canonical import canonical_json
        from sync_protocol.delivery_proof import LABEL
        from sync_protocol.signed_document import sign_document

        body = canonical_json(sign_document(LABEL, proof, b.device_key).to_dict())
        refused(signed(hub, b, "POST", "/v1/delivery-proofs", body, **{"Content-Type": "application/json"}), 404,
                "dossier_unknown")
        assert _count(hub, "delivery_proofs") == 0
        # receipts carried by hand: b's file holds no event of a's dossier
        out = tmp_path / "usb"
        assert run_motcua("hub", "export-receipts", str(out), "--data", str(hub.data_dir)).returncode == 0
        files = {p.name: p.read_text("utf-8") for p in (out / "motcua-receipts").iterdir()}
        assert any(dossier.id in text for text in files.values())
        assert all(dossier.id not in text for name, text in files.items() if b.config.device_id in name)
        assert requests.get(hub.url + "/v1/hello", timeout=5).ok
    finally:
        a.close()
        b.close()
