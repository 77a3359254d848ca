"""tus and HTTP details the hub must get right (issue 18): 412 for an unsupported Tus-Resumable,
415 for a PATCH that is not `application/offset+octet-stream`, and a WWW-Authenticate challenge
naming the scheme on every 401 (the device signature, or Bearer for API tokens)."""
from __future__ import annotations

import time

import requests

from sync_protocol.request_signing import sign_request
from sync_protocol.tus_client import encode_metadata


def _refusal(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] and body["reason"] and body["reason_vi"]
    return body


def test_unsupported_tus_version_is_412_naming_the_supported_one(hub, agent):
    path = "/v1/uploads"
    headers = {**sign_request("POST", path, b"", agent.device_key, int(time.time())), "Tus-Resumable": "0.2.2",
               "Upload-Length": "10", "Upload-Metadata": encode_metadata({"sha256": "ab" * 32})}
    response = requests.post(hub.url + path, headers=headers, timeout=10)
    assert _refusal(response, 412)["error"] == "tus_version"
    assert response.headers["Tus-Version"] == "1.0.0"
    # without the header at all: the same
    assert requests.post(hub.url + path, headers={"Upload-Length": "10"}, timeout=10).status_code == 412


def test_patch_with_the_wrong_content_type_is_415_and_stores_nothing(hub, agent):
    url = agent.hub.create_upload(100, "cd" * 32, "document-1.pdf")
    path = "/" + url.split("/", 3)[3]
    chunk = b"x" * 10
    for content_type in ("application/octet-stream", "text/plain", None):
        headers = {**sign_request("PATCH", path, chunk, agent.device_key, int(time.time())),
                   "Tus-Resumable": "1.0.0", "Upload-Offset": "0"}
        if content_type:
            headers["Content-Type"] = content_type
        assert _refusal(requests.patch(url, data=chunk, headers=headers, timeout=10), 415)["error"] == "content_type"
    assert agent.hub.tus.offset(url) == 0


def test_every_401_names_the_authentication_scheme(hub, agent):
    unsigned = [requests.get(hub.url + "/v1/feed", timeout=10),
                requests.head(hub.url + "/v1/objects/" + "ab" * 32, timeout=10),
                requests.post(hub.url + "/v1/commits", data=b"{}", timeout=10),
                requests.post(hub.url + "/v1/enrol", json={"token": "nope", "public_key": "x" * 43}, timeout=10)]
    stale = sign_request("GET", "/v1/feed", b"", agent.device_key, int(time.time()) - 3600)  # clock far off
    unsigned.append(requests.get(hub.url + "/v1/feed", headers=stale, timeout=10))
    for response in unsigned:
        assert response.status_code == 401, (response.request.url, response.status_code)
        challenge = response.headers.get("WWW-Authenticate", "")
        assert challenge.startswith("Signature ") and 'alg="ed25519"' in challenge, challenge
    token_less = requests.post(hub.url + "/v1/case-system/status", json={}, timeout=10)
    assert token_less.status_code == 401 and token_less.headers["WWW-Authenticate"].startswith("Bearer ")
