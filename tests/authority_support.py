"""Helpers for the issue-12 tests (test_hub_authority.py, test_hub_bounds.py): enrolled desks of any
agency, raw signed requests, hand-made manifests — what a malicious but enrolled desk can send."""
from __future__ import annotations

import hashlib
import io
import time
import uuid
from pathlib import Path

import requests

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from sync_protocol.canonical import canonical_json
from sync_protocol.manifest import SCHEMA
from sync_protocol.request_signing import sign_request
from sync_protocol.signed_document import sign_document

from .conftest import HubProcess

AGENCY_1, AGENCY_2 = "000.00.01.H29", "000.00.02.H29"


def enrolled_desk(hub: HubProcess, home: Path, site: str, agency: str) -> AgentContext:
    """A real desk agent at `site` of `agency`, enrolled with `hub`."""
    ctx = AgentContext.open(home)
    enrol(ctx, hub.url, hub.token(site=site, agency=agency), site)
    return ctx


def signed(hub: HubProcess, ctx: AgentContext, method: str, path: str, body: bytes = b"",
           **headers: str) -> requests.Response:
    """One request signed by the desk's device key, sent as is."""
    sig = sign_request(method, path, body, ctx.device_key, int(time.time()))
    return requests.request(method, hub.url + path, data=body, headers={**sig, **headers}, timeout=30)


def upload(ctx: AgentContext, data: bytes, name: str = "document-1.pdf") -> str:
    """Upload `data` as this desk's object (tus, through the real client); return its sha256."""
    sha = hashlib.sha256(data).hexdigest()
    url = ctx.hub.create_upload(len(data), sha, name)
    ctx.hub.upload(url, io.BytesIO(data), len(data), 1 << 20)
    return sha


def manifest(ctx: AgentContext, code: str, objects: list[tuple[str, str, int]], *, sequence: int = 1,
             prev: str | None = None, dossier_id: str | None = None, version: int = 1,
             metadata: dict[str, str] | None = None) -> dict:
    """A manifest as the desk could write it by hand: objects are (name, sha256, size)."""
    return {"schema": SCHEMA, "dossier_id": dossier_id or str(uuid.uuid4()), "dossier_version": version,
            "dossier_code": code, "procedure_code": "1.001193", "channel": "counter",
            "device_id": ctx.config.device_id, "sequence": sequence, "previous_manifest_hash": prev,
            "created_at": "2026-01-05T01:00:00Z", "received_at": "2026-01-05T01:00:00Z",
            "objects": [{"name": n, "media_type": "application/pdf", "sha256": s, "size": z} for n, s, z in objects],
            "metadata": metadata or {}}


def commit(hub: HubProcess, ctx: AgentContext, document: dict) -> requests.Response:
    """POST /v1/commits with `document` signed by the desk's key (plaintext envelope)."""
    body = canonical_json(sign_document(SCHEMA, document, ctx.device_key).to_dict())
    return signed(hub, ctx, "POST", "/v1/commits", body, **{"Content-Type": "application/json"})


def refused(response: requests.Response, status: int, error: str | None = None) -> dict:
    """The documented refusal: `status`, JSON {error, reason, reason_vi}, and `error` if given."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"error", "reason", "reason_vi"} and body["reason"] and body["reason_vi"], body
    if error is not None:
        assert body["error"] == error, body
    return body
