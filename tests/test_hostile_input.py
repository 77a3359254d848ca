"""Hostile input at the hub and the desk: each case a clear 4xx/error, nothing stored, service up.

Covered here: unsafe names in manifests (plain and sealed) and upload metadata,
oversized uploads, a manifest claiming another device's id, a hash-chain fork
and gap (reported by `motcua hub chain-report`), and hostile files at import.
Bad/missing signatures, replays, revoked devices and expired tokens are in
test_trust_auth.py; a full disk in test_hostile_disk_full.py.
"""
from __future__ import annotations

import json
import time
import zlib
import struct

import pytest
import requests

from agent.sealing.at_rest import hub_encryption_key
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once
from sync_protocol.canonical import canonical_json
from sync_protocol.encryption import encrypt_bytes
from sync_protocol.manifest import SCHEMA
from sync_protocol.request_signing import sign_request
from sync_protocol.signed_document import sign_document
from sync_protocol.tus_client import encode_metadata

from .conftest import assert_clean_failure, queue_json, run_motcua
from .trust_support import captured_dossier, hub_rows

UNSAFE_NAMES = ["../../etc/passwd", "/etc/shadow", "a\x00.pdf", "C:evil.pdf", "..", ".hidden", "dir\\file.pdf",
                "x" * 200]


def _post(hub, agent, path: str, body: bytes, content_type: str = "application/json", **extra) -> requests.Response:
    headers = {**sign_request("POST", path, body, agent.device_key, int(time.time())), "Content-Type": content_type,
               **extra}
    return requests.post(hub.url + path, data=body, headers=headers, timeout=10)


def _manifest(agent, sequence: int = 1, prev: str | None = None, name: str = "document-1.pdf",
              device_id: str | None = None, sha: str = "ab" * 32) -> dict:
    return {"schema": SCHEMA, "dossier_id": "0190a0b0-0000-7000-8000-%012d" % sequence, "dossier_version": 1,
            "dossier_code": f"000.00.01.H29-260105-{sequence:04d}", "procedure_code": "1.001193", "channel": "counter",
            "device_id": device_id or agent.config.device_id, "sequence": sequence, "previous_manifest_hash": prev,
            "created_at": "2026-01-05T01:00:00Z", "received_at": "2026-01-05T01:00:00Z",
            "objects": [{"name": name, "media_type": "application/pdf", "sha256": sha, "size": 10}],
            "metadata": {}}


def _answer(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["reason"] and body["reason_vi"] and "Traceback" not in response.text
    return body


def _nothing_stored(hub) -> None:
    assert hub_rows(hub.data_dir, "SELECT COUNT(*) AS n FROM dossiers")[0]["n"] == 0
    assert requests.get(hub.url + "/v1/hello", timeout=5).ok


@pytest.mark.parametrize("sealed", [False, True], ids=["plain-json", "sealed"])
def test_unsafe_object_names_in_manifests_are_refused(hub, agent, sealed):
    for name in UNSAFE_NAMES:
        envelope = canonical_json(sign_document(SCHEMA, _manifest(agent, name=name), agent.device_key).to_dict())
        if sealed:
            response = _post(hub, agent, "/v1/commits", encrypt_bytes(envelope, hub_encryption_key(agent.config)),
                             "application/vnd.motcua.sealed")
        else:
            response = _post(hub, agent, "/v1/commits", envelope)
        body = _answer(response, 400)
        assert body["error"] == "invalid_manifest" and "name" in body["reason"], name
    _nothing_stored(hub)


def test_unsafe_file_names_in_upload_metadata_are_refused(hub, agent):
    for name in UNSAFE_NAMES:
        headers = {**sign_request("POST", "/v1/uploads", b"", agent.device_key, int(time.time())),
                   "Tus-Resumable": "1.0.0", "Upload-Length": "10",
                   "Upload-Metadata": encode_metadata({"sha256": "ab" * 32, "filename": name})}
        body = _answer(requests.post(hub.url + "/v1/uploads", headers=headers, timeout=10), 400)
        assert body["error"] == "unsafe_name", name
    assert hub_rows(hub.data_dir, "SELECT COUNT(*) AS n FROM uploads")[0]["n"] == 0
    # a traversal attempt in the upload id of the URL finds nothing
    path = "/v1/uploads/..%2F..%2Fhub.db"
    headers = {**sign_request("HEAD", path, b"", agent.device_key, int(time.time())), "Tus-Resumable": "1.0.0"}
    assert requests.head(hub.url + path, headers=headers, timeout=10).status_code in (401, 404)
    _nothing_stored(hub)


def test_oversized_uploads_are_refused_and_nothing_is_kept(hub, agent):
    create = {**sign_request("POST", "/v1/uploads", b"", agent.device_key, int(time.time())), "Tus-Resumable": "1.0.0",
              "Upload-Length": str(10**12), "Upload-Metadata": encode_metadata({"sha256": "ab" * 32})}
    _answer(requests.post(hub.url + "/v1/uploads", headers=create, timeout=10), 413)
    url = agent.hub.create_upload(100, "cd" * 32, "document-1.pdf")
    path = url.split("127.0.0.1", 1)[1].split("/", 1)[1]
    chunk = b"x" * 150  # more than the declared Upload-Length
    headers = {**sign_request("PATCH", "/" + path, chunk, agent.device_key, int(time.time())), "Tus-Resumable": "1.0.0",
               "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    _answer(requests.patch(url, data=chunk, headers=headers, timeout=10), 413)
    assert agent.hub.tus.offset(url) == 0
    _nothing_stored(hub)


def test_manifest_claiming_another_device_is_forbidden_and_audited(hub, agent):
    envelope = sign_document(SCHEMA, _manifest(agent, device_id="dev_0123456789abcdef0123"), agent.device_key)
    body = _answer(_post(hub, agent, "/v1/commits", canonical_json(envelope.to_dict())), 403)
    assert body["error"] == "device_mismatch"
    refused = hub_rows(hub.data_dir, "SELECT actor, action, detail FROM audit WHERE action='commit.refused'")
    assert refused and json.loads(refused[0]["detail"])["reason"] == "device_mismatch"
    _nothing_stored(hub)


def test_chain_fork_is_refused_and_gap_reported_to_the_admin(hub, agent):
    """The desk's chain 1,2,3: deliver 1 and 3 (a gap at 2), then a forged second version of 3."""
    dossiers = [seal_dossier(agent, captured_dossier(agent).id) for _ in range(3)]
    with agent.outbox.transaction():  # hold back sequence 2 for now
        agent.outbox.conn.execute("UPDATE dossiers SET state='rejected' WHERE id=?", (dossiers[1].id,))
    assert sorted(sync_once(agent).committed) == sorted([dossiers[0].code, dossiers[2].code])
    report = run_motcua("hub", "chain-report", "--data", str(hub.data_dir), "--json")
    assert report.returncode == 1
    [problem] = json.loads(report.stdout)
    assert problem["chain_gaps"] == [2] and problem["forks_refused"] == 0

    # a fork: another manifest claiming sequence 3 (objects already held, signature valid)
    doc = agent.outbox.documents(dossiers[2].id)[0]
    third = hub_rows(hub.data_dir, "SELECT signed_manifest FROM dossiers WHERE dossier_code=?", (dossiers[2].code,))
    real = json.loads(third[0]["signed_manifest"])["document"]
    forged = dict(real, dossier_id="0190a0b0-0000-7000-8000-00000000ffff", dossier_code=real["dossier_code"][:-4] + "0999")
    body = _answer(_post(hub, agent, "/v1/commits",
                         canonical_json(sign_document(SCHEMA, forged, agent.device_key).to_dict())), 409)
    assert body["error"] == "chain_fork"
    assert doc.sha256 in json.dumps(real)
    text = run_motcua("hub", "chain-report", "--data", str(hub.data_dir))
    assert text.returncode == 1 and "[2]" in text.stdout and "forks refused: 1" in text.stdout
    devices = run_motcua("hub", "devices", "--data", str(hub.data_dir)).stdout
    assert "GAPS=[2]" in devices and "FORKS_REFUSED=1" in devices
    assert hub_rows(hub.data_dir, "SELECT COUNT(*) AS n FROM dossiers")[0]["n"] == 2

    # the held-back dossier arrives: the gap closes
    with agent.outbox.transaction():
        agent.outbox.conn.execute("UPDATE dossiers SET state='sealed' WHERE id=?", (dossiers[1].id,))
    assert sync_once(agent).committed == [dossiers[1].code]
    assert json.loads(run_motcua("hub", "chain-report", "--data", str(hub.data_dir), "--json").stdout)[0][
        "chain_gaps"] == []


def _png(width: int, height: int) -> bytes:
    """A tiny 1-bit PNG that claims an enormous size (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes((width + 7) // 8)
    raw = zlib.compress(row * height, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_hostile_files_at_import_queue_nothing(hub, agent, agent_home, tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png(30000, 30000))
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EO")
    traversal = tmp_path / "a.pdf"
    traversal.write_bytes(b"%PDF-")  # truncated right after the magic
    agent.close()
    for path in (bomb, broken, traversal):
        result = run_motcua("import", str(path), "--procedure", "1.001193", home=agent_home)
        assert_clean_failure(result, path.name)
    assert queue_json(agent_home) == []
