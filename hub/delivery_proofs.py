"""Accept couriers' signed proofs of delivery and turn a delivery into status 10 (result returned).

A proof is accepted once: the same record again is a no-op (200), a different
document under the same record id is a conflict (409). The hub requires the
proof to be signed by the sending device, to name that device, to concern a
dossier of the device's agency (never matched by site name), and every evidence image (signature / photo) to
have been uploaded by that device beforehand (tus, like any payload object).
"""
from __future__ import annotations

import logging
from typing import Any

from sync_protocol.canonical import canonical_json
from sync_protocol.delivery_proof import LABEL, check_proof, evidence_of
from sync_protocol.errors import InvalidDocument, SignatureInvalid
from sync_protocol.signed_document import Envelope, verify_document

from . import feed
from .auth import Device
from .courier_app.evidence import check_courier_proof, check_handed_over
from .errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from .parsing import loads_bounded
from .state import HubState
from .uploads import object_owned

log = logging.getLogger("motcua.hub.delivery_proofs")
STATUS_RESULT_RETURNED = 10


def accept_proof(state: HubState, device: Device, body: bytes) -> tuple[dict[str, Any], bool]:
    """Verify and store one proof; return ({record_id, status_event}, created?)."""
    try:
        envelope = Envelope.from_dict(loads_bounded(body))
        document = check_proof(envelope.document)
        verify_document(LABEL, envelope, device.public_key)
    except (ValueError, UnicodeDecodeError, InvalidDocument) as exc:
        raise BadRequest(f"invalid delivery proof: {exc}", f"Biên bản giao không hợp lệ: {exc}",
                         code="invalid_proof") from exc
    except SignatureInvalid as exc:
        raise Unprocessable("delivery proof signature is invalid", "Chữ ký biên bản giao không hợp lệ",
                            code="proof_signature_invalid") from exc
    if document["device_id"] != device.device_id:
        raise Forbidden("proof claims another device's id", "Biên bản ghi mã thiết bị khác", code="device_mismatch")
    check_handed_over(state, device, document["dossier_id"])  # a phone: only its own tasks (403), before any lookup
    # Scoped by agency code, never by site name: another agency's dossier looks absent.
    dossier = state.db.one("SELECT v.agency_code FROM dossiers d JOIN devices v ON v.device_id = d.device_id"
                           " WHERE d.dossier_id=? LIMIT 1", (document["dossier_id"],))
    if dossier is None or dossier["agency_code"] != device.agency_code:
        raise NotFound("the hub has no such dossier for this site", "Trung tâm chưa có hồ sơ này của điểm tiếp nhận",
                       code="dossier_unknown")
    for item in evidence_of(document):
        if object_owned(state, device, item["sha256"]) is None:
            raise Unprocessable(f"evidence {item['sha256'][:12]}… has not been uploaded; upload it first",
                                "Ảnh minh chứng chưa được tải lên", code="object_missing")
    check_courier_proof(state, device, document)  # a phone: handed to it, evidence opens (hub.courier_app)
    document_hash = envelope.document_hash
    inserted = state.db.execute(
        "INSERT INTO delivery_proofs(record_id, device_id, dossier_id, kind, document_hash, envelope, received_at)"
        " VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        (document["record_id"], device.device_id, document["dossier_id"], document["kind"], document_hash,
         canonical_json(envelope.to_dict()).decode(), state.now()))
    if not inserted:
        stored = state.db.one("SELECT document_hash FROM delivery_proofs WHERE record_id=?", (document["record_id"],))
        if stored is None or stored["document_hash"] != document_hash:
            raise Conflict("another proof is stored under this record id", "Mã biên bản đã dùng cho biên bản khác",
                           code="proof_conflict")
    event = None
    if document["kind"] == "delivered":
        # event_id = record id: a proof sent twice (USB and HTTP, or a retry) makes one event.
        event, _ = feed.post_status(state, f"courier:{device.device_id}", {
            "dossier_id": document["dossier_id"], "status": STATUS_RESULT_RETURNED, "at": document["at"],
            "note": "Đã giao kết quả tận nhà / result delivered to the home", "event_id": document["record_id"],
            "result_ready_for_delivery": False})
    else:  # a failed attempt: the dossier's desk learns reason and next date through the same feed
        event, _ = feed.post_failed_attempt(state, f"courier:{device.device_id}", document)
    log.info("delivery_proof record=%s dossier=%s kind=%s new=%s", document["record_id"], document["dossier_id"],
             document["kind"], bool(inserted))
    return {"record_id": document["record_id"], "status_event": event}, bool(inserted)
