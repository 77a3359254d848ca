"""A courier phone's proof, beyond what every proof is checked for: the dossier was handed to
THIS phone, and each evidence object is motcua.enc-p256/1 that opens under the hub's key
(and, when the proof names it, hashes to the plaintext sha256 the phone signed)."""
from __future__ import annotations

import hashlib
from typing import Any

from sync_protocol.p256 import ENC_SCHEMA, EvidenceDecryptionError, open_evidence

from ..auth import Device
from ..errors import Forbidden, Unprocessable
from ..state import HubState
from .pairing import evidence_key, role_of
from .tasks import handed_to

MAX_EVIDENCE_BYTES = 2 * 1024 * 1024  # the phone downscales photos to ≤ 300 KB; this is a generous ceiling


def check_handed_over(state: HubState, device: Device, dossier_id: str) -> None:
    """A courier phone may file proofs only for dossiers handed to it: 403 for any other, existing or not
    (another agency's dossier included), so the answer tells nothing about other agencies; desks pass."""
    if role_of(state, device.device_id) == "courier" and not handed_to(state, device.device_id, dossier_id):
        raise Forbidden("this dossier was not handed to this courier phone", "Hồ sơ này không được bàn giao cho điện thoại này",
                        code="not_handed_over")


def check_courier_proof(state: HubState, device: Device, document: dict[str, Any]) -> None:
    """Raise unless a courier phone's proof is for a task handed to it with openable evidence; desks pass."""
    if role_of(state, device.device_id) != "courier":
        return
    check_handed_over(state, device, document["dossier_id"])
    for item in document.get("evidence", []):
        if item.get("encryption") != ENC_SCHEMA or item["size"] > MAX_EVIDENCE_BYTES:
            raise Unprocessable(f"a phone's evidence must be {ENC_SCHEMA} and at most {MAX_EVIDENCE_BYTES} bytes",
                                f"Ảnh minh chứng từ điện thoại phải được mã hoá {ENC_SCHEMA}", code="evidence_format")
        with state.objects.open(item["sha256"]) as stream:
            ciphertext = stream.read(MAX_EVIDENCE_BYTES + 1)
        try:
            plaintext = open_evidence(ciphertext, evidence_key(state))
        except EvidenceDecryptionError as exc:
            raise Unprocessable(f"evidence {item['sha256'][:12]}… does not open: {exc}",
                                "Ảnh minh chứng không giải mã được", code="evidence_unreadable") from exc
        if "plain_sha256" in item and hashlib.sha256(plaintext).hexdigest() != item["plain_sha256"]:
            raise Unprocessable("evidence plaintext does not match the signed plain_sha256",
                                "Ảnh minh chứng không khớp biên bản đã ký", code="evidence_mismatch")
