"""Courier phones at the hub, without a browser: a Python P-256 key acts as the phone (same bytes as WebCrypto).

Pairing tokens are single use; a phone is confined to its routes and its own tasks; a desk hands over only its
site's dossiers and only doorstep fields; a proof is refused unless the dossier was handed to this phone and its
evidence is motcua.enc-p256/1 that opens. Also the spec's test vector and UPU S10 check digits.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import time
import uuid
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from agent.delivery.hub_client import HubClient
from agent.delivery.sync import sync_once
from agent.desk.courier_phone import pair_phone
from agent.desk.intake import IntakeForm, take_in
from agent.errors import HubError as AgentHubError
from sync_protocol.delivery_proof import LABEL
from sync_protocol.errors import InvalidDocument
from sync_protocol.p256 import (EvidenceDecryptionError, P256PublicKey, P256Signer, open_evidence, public_text,
                                seal_evidence)
from sync_protocol.request_signing import DeviceAuth, sign_request
from sync_protocol.s10 import validate_s10
from sync_protocol.signed_document import sign_document

from .test_intake import GOOD

SPEC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text("utf-8")


def _vector(label: str) -> str:
    return re.search(rf"^{re.escape(label)}\s+(\S+)$", SPEC, re.MULTILINE).group(1)


def test_enc_p256_vector_matches_spec_and_refuses_tampering():
    hub = ec.derive_private_key(int.from_bytes(bytes(range(1, 33)), "big"), ec.SECP256R1())
    ephemeral = ec.derive_private_key(int.from_bytes(bytes(range(33, 65)), "big"), ec.SECP256R1())
    assert public_text(hub) == _vector("p256 recipient public key")
    assert P256PublicKey(hub.public_key()).key_id == _vector("p256 recipient key id")
    sealed = seal_evidence(b"motcua evidence", hub.public_key(), ephemeral, bytes(range(16)))
    assert sealed.hex() == _vector("p256 ciphertext")
    assert open_evidence(sealed, hub) == b"motcua evidence"
    for broken in (sealed[:-1], sealed[:50] + bytes([sealed[50] ^ 1]) + sealed[51:], b"motcuaE1" + sealed[8:]):
        with pytest.raises(EvidenceDecryptionError):
            open_evidence(broken, hub)
    with pytest.raises(EvidenceDecryptionError, match="another hub key"):
        open_evidence(sealed, ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize("value, problem", [
    ("RR473124829VN", None), ("rr 4731 2482 9 vn", None), ("EE000000005VN", None),  # remainder 11 -> 5
    ("RR473124828VN", "check digit should be 9"), ("RR473124829GB", "expected VN"),
    ("R473124829VN", "not like"), ("", "not like")])
def test_s10_postal_item_numbers(value, problem):
    if problem is None:
        assert validate_s10(value) == "".join(value.split()).upper()
    else:
        with pytest.raises(InvalidDocument, match=problem):
            validate_s10(value)


class Phone:
    """A courier phone as the hub sees it: a P-256 key signing like WebCrypto."""

    def __init__(self, hub_url: str, token: str):
        self.signer = P256Signer()
        answer = requests.post(hub_url + "/v1/courier/enrol", json={
            "token": token, "public_key": self.signer.public_key().text(), "device_name": "test phone"}, timeout=30)
        assert answer.status_code == 201, answer.text
        self.identity = answer.json()
        self.hub = HubClient(hub_url, self.signer)  # type: ignore[arg-type]  # duck-typed signer
        self.session = requests.Session()
        self.session.auth = DeviceAuth(self.signer)  # type: ignore[arg-type]
        self.url = hub_url

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=30, **kwargs)

    def upload(self, data: bytes) -> dict:
        sha = hashlib.sha256(data).hexdigest()
        location = self.hub.create_upload(len(data), sha, "evidence.enc")
        self.hub.upload(self.hub.url(location) if location.startswith("/") else location, io.BytesIO(data), len(data),
                        64 * 1024)
        return {"sha256": sha, "size": len(data)}

    def proof(self, dossier_id: str, evidence: list[dict]) -> requests.Response:
        document = {"schema": LABEL, "record_id": str(uuid.uuid4()), "kind": "delivered", "dossier_id": dossier_id,
                    "dossier_code": "x", "device_id": self.identity["device_id"], "at": "2026-11-30T10:00:00Z",
                    "attempt": 1, "courier": "Lê Văn Cường", "batch": "BG-1", "gps": None,
                    "recipient": {"name": "A", "relation": "Bản thân", "id_last_digits": "1234"}, "evidence": evidence}
        envelope = sign_document(LABEL, document, self.signer)  # type: ignore[arg-type]
        return self.call("POST", "/v1/delivery-proofs", data=envelope.to_bytes(),
                         headers={"Content-Type": "application/json"})


def _error(response: requests.Response) -> str:
    return response.json()["error"]


def test_phone_is_confined_to_its_routes_and_tasks(hub, agent, pages):
    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages)
    assert sync_once(agent).committed == [dossier.code]
    token = pair_phone(agent, "Lê Văn Cường")["token"]
    phone = Phone(hub.url, token)
    assert phone.identity["site"] == agent.config.site and phone.identity["hub_evidence_key_id"].startswith("p256:")
    again = requests.post(hub.url + "/v1/courier/enrol", json={"token": token, "public_key":
                                                                P256Signer().public_key().text()}, timeout=30)
    assert again.status_code == 401 and _error(again) == "pairing_already_used"

    assert phone.call("GET", "/v1/courier/tasks").json()["tasks"] == []
    for method, path in (("GET", "/v1/feed"), ("POST", "/v1/commits"), ("POST", "/v1/courier/pairings"),
                         ("GET", f"/v1/dossiers/{dossier.id}")):
        refused = phone.call(method, path, json={} if method == "POST" else None)
        assert refused.status_code == 403 and _error(refused) == "courier_not_allowed", (path, refused.text)
    assert _error(phone.call("PUT", "/v1/courier/tasks", json={})) == "not_a_desk"
    # alg must match the key: an Ed25519 claim with a P-256 key id is refused before any lookup
    headers = sign_request("GET", hub.url + "/v1/courier/tasks", b"", phone.signer, int(time.time()))
    headers["Signature-Input"] = headers["Signature-Input"].replace('alg="ecdsa-p256-sha256"', 'alg="ed25519"')
    assert requests.get(hub.url + "/v1/courier/tasks", headers=headers, timeout=30).status_code == 401

    desk = agent.hub
    task = {"dossier_id": dossier.id, "dossier_code": dossier.code, "name": "Nguyễn Thị Ánh Tuyết",
            "address": "Số 5", "phone": "0912345678", "id_last4": "1234", "hand_over": "Giấy xác nhận",
            "postal_item": ""}
    body = {"courier_device_id": phone.identity["device_id"], "batch": "BG-1"}
    for bad, reason in (({**task, "citizen_id": "079190001234"}, "fields not allowed on a phone: ['citizen_id']"),
                        ({**task, "postal_item": "RR473124828VN"}, "check digit should be 9"),
                        ({**task, "dossier_id": str(uuid.uuid4())}, "the hub has no dossier"),
                        ({**task, "id_last4": "12a4"}, "id_last4")):
        with pytest.raises(AgentHubError, match=re.escape(reason)):
            desk.publish_courier_tasks({**body, "tasks": [bad]})
    with pytest.raises(AgentHubError, match="no courier phone of this site"):  # a desk is not a phone
        desk.publish_courier_tasks({**body, "courier_device_id": agent.config.device_id, "tasks": [task]})

    # not handed over yet: a proof with good evidence is refused
    hub_key = P256PublicKey.from_text(phone.identity["hub_evidence_key"]).key
    good = {**phone.upload(seal_evidence(b"\x89PNG signature", hub_key)), "kind": "signature",
            "media_type": "image/png", "encryption": "motcua.enc-p256/1",
            "plain_sha256": hashlib.sha256(b"\x89PNG signature").hexdigest()}
    refused = phone.proof(dossier.id, [good])
    assert refused.status_code == 403 and _error(refused) == "not_handed_over"

    desk.publish_courier_tasks({**body, "tasks": [{**task, "postal_item": "rr473124829vn"}]})
    [seen] = phone.call("GET", "/v1/courier/tasks").json()["tasks"]
    assert seen["postal_item"] == "RR473124829VN" and "citizen_id" not in seen
    assert _error(desk.session.get(hub.url + "/v1/courier/tasks", timeout=30)) == "not_a_courier"

    plain = {**phone.upload(b"\x89PNG not encrypted"), "kind": "signature", "media_type": "image/png"}
    assert _error(phone.proof(dossier.id, [plain])) == "evidence_format"
    garbage = {**plain, **phone.upload(b"motcuaP1" + bytes(200)), "encryption": "motcua.enc-p256/1"}
    assert _error(phone.proof(dossier.id, [garbage])) == "evidence_unreadable"
    assert _error(phone.proof(dossier.id, [{**good, "plain_sha256": "0" * 64}])) == "evidence_mismatch"
    accepted = phone.proof(dossier.id, [good])
    assert accepted.status_code == 201, accepted.text
    assert hub.sql("SELECT status FROM dossiers WHERE dossier_id=?", (dossier.id,)) == [(10,)]
    assert phone.proof(dossier.id, [good]).status_code == 201  # a second delivery record: still one task
    [after] = phone.call("GET", "/v1/courier/tasks").json()["tasks"]
    assert after["delivered"] is True


def test_desk_cli_pairs_a_phone_and_hands_over_with_postal_items(hub, agent, agent_home, pages, tmp_path):
    from agent.desk.courier import list_tasks

    from .conftest import assert_clean_failure, run_motcua

    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages)
    assert sync_once(agent).committed == [dossier.code]
    assert run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, "9").returncode == 0
    sync_once(agent)
    paired = run_motcua("courier", "pair", "--courier", "Lê Văn Cường", "--png", str(tmp_path / "qr.png"), "--json",
                        home=agent_home)
    assert paired.returncode == 0, paired.stderr
    url = json.loads(paired.stdout)["url"]
    assert url.startswith(hub.url + "/courier/#pair=mcp_") and (tmp_path / "qr.png").read_bytes()[:4] == b"\x89PNG"
    phone = Phone(hub.url, re.search(r"pair=([^&]+)", url).group(1))
    shown = run_motcua("courier", "pair", "--courier", "Lê Văn Cường", home=agent_home)  # the QR in the terminal
    assert shown.returncode == 0 and "▄" in shown.stdout and f"{hub.url}/courier/#pair=mcp_" in shown.stdout

    wrong = run_motcua("courier", "handover", dossier.code, "--courier", "Lê Văn Cường", "--phone",
                       phone.identity["device_id"], "--postal-item", f"{dossier.code}=RR473124828VN", home=agent_home)
    assert_clean_failure(wrong, "check digit should be 9")
    assert [t["state"] for t in list_tasks(agent)] == ["to_deliver"]  # nothing handed over on bad input

    done = run_motcua("courier", "handover", dossier.code, "--courier", "Lê Văn Cường", "--phone",
                      phone.identity["device_id"], "--postal-item", f"{dossier.code}=RR473124829VN", "--json",
                      home=agent_home)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["phone"]["tasks"] == 1 and Path(result["pdf"]).read_bytes().startswith(b"%PDF")
    [task] = phone.call("GET", "/v1/courier/tasks").json()["tasks"]
    assert task == {"dossier_id": dossier.id, "dossier_code": dossier.code, "name": GOOD["applicant_name"],
                    "address": GOOD["address"], "phone": task["phone"], "id_last4": "1234",
                    "hand_over": task["hand_over"], "postal_item": "RR473124829VN", "batch": result["batch"],
                    "delivered": False}
