"""Courier proof of delivery: a document signed by the device key, label `motcua.delivery-proof/1`.

    {"schema": "motcua.delivery-proof/1", "record_id": "<uuid>", "kind": "delivered" | "failed",
     "dossier_id": "<uuid>", "dossier_code": "…", "device_id": "dev_…", "at": "YYYY-MM-DDTHH:MM:SSZ",
     "attempt": 1, "courier": "…", "batch": "…", "gps": null | {...},
     # "delivered" only:
     "recipient": {"name", "relation", "id_last_digits"},
     "evidence": [{"kind": "signature" | "photo", "media_type", "sha256", "size"}],
     # "failed" only:
     "reason": one of FAILURE_REASONS, "note": "…" (≤ 200), "next_attempt": null | "YYYY-MM-DD"}

Evidence images travel as ordinary payload objects (tus upload, sha256 address);
the hub accepts a proof only when it holds every evidence object from the same device.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from .errors import InvalidDocument
from .timestamps import is_timestamp

LABEL = "motcua.delivery-proof/1"
KINDS = ("delivered", "failed")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: why a courier could not deliver: code -> (Vietnamese, English); the phone app's list uses the same codes
FAILURE_REASONS: dict[str, tuple[str, str]] = {
    "not_home": ("Không có người nhận tại nhà", "Nobody at home"),
    "wrong_address": ("Sai địa chỉ / không tìm thấy", "Wrong or unfindable address"),
    "refused": ("Người nhận từ chối nhận", "Recipient refused"),
    "moved": ("Người nhận đã chuyển đi", "Recipient moved away"),
    "phone_unreachable": ("Không liên lạc được qua điện thoại", "Phone unreachable"),
    "other": ("Lý do khác", "Other reason"),
}
MAX_FAILURE_NOTE = 200


def check_failure(reason: Any, note: Any, next_attempt: Any, where: str = "proof") -> None:
    """A failed attempt's reason (a FAILURE_REASONS code), note and next attempt date (null or a real
    YYYY-MM-DD); raise InvalidDocument naming the field. Shared by proofs and the feed events they make."""
    if reason not in FAILURE_REASONS:
        raise InvalidDocument(f"{where}.reason: must be one of {sorted(FAILURE_REASONS)}")
    if not isinstance(note, str) or len(note) > MAX_FAILURE_NOTE:
        raise InvalidDocument(f"{where}.note: a string of at most {MAX_FAILURE_NOTE} characters")
    if next_attempt is not None:
        try:
            if not isinstance(next_attempt, str) or len(next_attempt) != 10:
                raise ValueError
            date.fromisoformat(next_attempt)
        except ValueError:
            raise InvalidDocument(f"{where}.next_attempt: null or a real date as YYYY-MM-DD") from None


def check_proof(document: Any) -> dict[str, Any]:
    """Validate the fields both ends rely on; raise InvalidDocument naming the field."""
    if not isinstance(document, dict):
        raise InvalidDocument("delivery proof must be an object")
    if document.get("schema") != LABEL:
        raise InvalidDocument(f"proof.schema: expected {LABEL}")
    for name in ("record_id", "dossier_id"):
        if not isinstance(document.get(name), str) or not _UUID.match(document[name]):
            raise InvalidDocument(f"proof.{name}: must be a lower-case UUID")
    if document.get("kind") not in KINDS:
        raise InvalidDocument(f"proof.kind: must be one of {KINDS}")
    if not isinstance(document.get("device_id"), str) or not isinstance(document.get("at"), str):
        raise InvalidDocument("proof.device_id and proof.at: must be strings")
    if not is_timestamp(document["at"]):
        raise InvalidDocument(f"proof.at: {document['at'][:40]!r} is not a real moment as YYYY-MM-DDTHH:MM:SSZ")
    evidence = document.get("evidence", [])
    if not isinstance(evidence, list) or len(evidence) > 4:
        raise InvalidDocument("proof.evidence: a list of at most 4 items")
    for i, item in enumerate(evidence):
        if not isinstance(item, dict) or not _SHA256.match(str(item.get("sha256"))) \
                or not isinstance(item.get("size"), int) or item["size"] < 0:
            raise InvalidDocument(f"proof.evidence[{i}]: needs sha256 (64 hex) and a size")
    if document["kind"] == "delivered" and not evidence:
        raise InvalidDocument("proof.evidence: a delivery needs a signature or a photo")
    if document["kind"] == "failed":  # everything the delivery_failed feed event will carry (sync_protocol.feed)
        attempt = document.get("attempt")
        if not isinstance(attempt, int) or isinstance(attempt, bool) or not 1 <= attempt <= 99:
            raise InvalidDocument("proof.attempt: an integer 1..99")
        check_failure(document.get("reason"), document.get("note", ""), document.get("next_attempt"))
    return document


def evidence_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document.get("evidence", []))
