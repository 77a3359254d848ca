"""Request authentication, revocation and key rotation against a real hub process.

Each refusal is a clear 401/4xx JSON answer, stores nothing, and the hub stays up.
"""
from __future__ import annotations

import json
import time

import requests

from agent.delivery.enrolment import rotate_device_key
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once
from sync_protocol.keys import generate_private_key
from sync_protocol.request_signing import DeviceAuth, sign_request

from .conftest import assert_clean_failure, run_motcua
from .trust_support import captured_dossier, hub_rows


def _signed(agent, method: str, path: str, body: bytes = b"", created: int | None = None, key=None) -> dict:
    return sign_request(method, path, body, key or agent.device_key, int(created or time.time()))


def _hub_up(hub) -> None:
    assert requests.get(hub.url + "/v1/hello", timeout=5).json()["service"] == "motcua-hub"


def _error(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "reason", "reason_vi"} and body["reason"] and body["reason_vi"]
    return body


def test_unsigned_badly_signed_and_mismatched_requests_are_refused(hub, agent):
    url = hub.url + "/v1/commits"
    _error(requests.post(url, data=b"{}", timeout=5), 401)  # no signature at all
    headers = _signed(agent, "POST", "/v1/commits", b"{}")
    _error(requests.post(url, data=b'{"x":1}', headers=headers, timeout=5), 401)  # body differs from digest
    forged = _signed(agent, "POST", "/v1/commits", b"{}", key=generate_private_key())
    assert _error(requests.post(url, data=b"{}", headers=forged, timeout=5), 401)["error"] == "device_unknown"
    tampered = dict(headers, Signature=headers["Signature"][:20] + "AAAA" + headers["Signature"][24:])
    _error(requests.post(url, data=b"{}", headers=tampered, timeout=5), 401)
    other_path = _signed(agent, "POST", "/v1/uploads", b"{}")
    _error(requests.post(url, data=b"{}", headers=other_path, timeout=5), 401)  # signed for another target
    assert hub_rows(hub.data_dir, "SELECT COUNT(*) AS n FROM dossiers")[0]["n"] == 0
    _hub_up(hub)


def test_replayed_request_is_refused(hub, agent):
    dossier = seal_dossier(agent, captured_dossier(agent).id)
    sha = agent.outbox.documents(dossier.id)[0].sha256
    headers = _signed(agent, "HEAD", f"/v1/objects/{sha}")
    first = requests.head(hub.url + f"/v1/objects/{sha}", headers=headers, timeout=5)
    assert first.status_code == 404  # authenticated: the object is simply not there yet
    again = requests.get(hub.url + f"/v1/dossiers/{dossier.id}", headers=_signed(agent, "GET", f"/v1/dossiers/{dossier.id}"),
                         timeout=5)
    assert again.status_code == 404
    replay = requests.head(hub.url + f"/v1/objects/{sha}", headers=headers, timeout=5)
    assert replay.status_code == 401
    stale = _signed(agent, "GET", f"/v1/dossiers/{dossier.id}", created=int(time.time()) - 3 * 3600)
    body = _error(requests.get(hub.url + f"/v1/dossiers/{dossier.id}", headers=stale, timeout=5), 401)
    assert body["error"] == "clock_skew"
    _hub_up(hub)


def test_desk_clock_hours_wrong_still_syncs_by_learning_the_hub_offset(hub, agent):
    """A commune PC whose clock is 5 hours behind: the first request is refused, the offset is learned
    from the hub's Date header, and the dossier still arrives."""
    dossier = seal_dossier(agent, captured_dossier(agent).id)
    agent.hub.session.auth = DeviceAuth(agent.device_key, clock_offset=-5 * 3600)
    report = sync_once(agent)
    assert report.committed == [dossier.code], report.to_json()
    assert abs(agent.hub.session.auth.clock_offset) < 30


def test_revoked_device_is_told_why_and_its_committed_dossiers_stay_valid(hub, agent, agent_home):
    first = seal_dossier(agent, captured_dossier(agent).id)
    assert sync_once(agent).committed == [first.code]
    second = seal_dossier(agent, captured_dossier(agent).id)
    listed = json.loads(run_motcua("hub", "devices", "--data", str(hub.data_dir), "--json").stdout)
    assert listed[0]["last_seen_at"] and listed[0]["revoked_at"] is None and listed[0]["chain_head"] == 1
    revoked = run_motcua("hub", "revoke", agent.config.device_id, "--reason", "máy bị mất cắp / stolen PC",
                         "--data", str(hub.data_dir))
    assert revoked.returncode == 0, revoked.stderr
    agent.close()
    result = run_motcua("sync", home=agent_home)
    output = assert_clean_failure(result, "máy bị mất cắp", "stolen PC", exit_code=4)
    assert "thu hồi" in output and "revoked" in output
    # the queue is intact; the already-committed dossier is still at the hub with its receipt
    rows = {r["code"]: r for r in json.loads(run_motcua("queue", "--json", home=agent_home).stdout)}
    assert rows[second.code]["state"] in ("sealed", "uploading") and rows[first.code]["state"] == "purged"
    [kept] = hub_rows(hub.data_dir, "SELECT dossier_code, receipt FROM dossiers")
    assert kept["dossier_code"] == first.code and kept["receipt"]
    text = run_motcua("hub", "devices", "--data", str(hub.data_dir)).stdout
    assert "REVOKED" in text and "stolen PC" in text
    _hub_up(hub)


def test_key_rotation_keeps_the_queue_and_old_manifests(hub, agent):
    sealed_before = seal_dossier(agent, captured_dossier(agent).id)  # signed by the old key
    old_key = agent.device_key
    result = rotate_device_key(agent)
    assert result["old_key_id"] != result["new_key_id"]
    sealed_after = seal_dossier(agent, captured_dossier(agent).id)  # signed by the new key
    report = sync_once(agent)
    assert sorted(report.committed) == sorted([sealed_before.code, sealed_after.code])
    # the old key can no longer make requests
    old = sign_request("GET", f"/v1/dossiers/{sealed_before.id}", b"", old_key, int(time.time()))
    assert requests.get(hub.url + f"/v1/dossiers/{sealed_before.id}", headers=old, timeout=5).status_code == 401
    keys = hub_rows(hub.data_dir, "SELECT key_id, retired_at FROM device_keys ORDER BY added_at, retired_at DESC")
    assert len(keys) == 2 and sum(k["retired_at"] is not None for k in keys) == 1


def test_interrupted_rotation_is_finished_by_the_next_attempt(hub, agent):
    """The hub switched keys but the desk died before replacing its key file."""
    from sync_protocol.keys import b64url, key_id, private_key_to_pem, public_key_text
    from sync_protocol.request_signing import rotation_proof_input

    new_key = generate_private_key()
    (agent.config.home / "device_key.next.pem").write_bytes(private_key_to_pem(new_key))
    agent.hub.rotate_key({"new_public_key": public_key_text(new_key), "proof": b64url(new_key.sign(
        rotation_proof_input(agent.config.device_id, key_id(agent.device_key), public_key_text(new_key))))})
    # crash here: device_key.pem is still the old key, which the hub no longer accepts
    result = rotate_device_key(agent)
    assert result["new_key_id"] == key_id(new_key)
    dossier = seal_dossier(agent, captured_dossier(agent).id)
    assert sync_once(agent).committed == [dossier.code]


def test_expired_token_is_refused_and_enrols_nothing(hub, tmp_path):
    token = hub.token(ttl_hours=0)
    time.sleep(1.1)
    result = run_motcua("init", "--hub", hub.url, "--token", token, "--site", "UBND xã Thử Nghiệm",
                        home=tmp_path / "late")
    assert_clean_failure(result, "hết hạn", "expired")
    assert hub.sql("SELECT COUNT(*) FROM devices") == [(0,)]
