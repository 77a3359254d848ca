"""Courier proof of delivery: a document signed by the device key, label `motcua.delivery-proof/1`.

    {"schema": "motcua.delivery-proof/1", "record_id": "<uuid>", "kind": "delivered" | "failed",
     "dossier_id": "<uuid>", "dossier_code": "…", "device_id": "dev_…", "at": "YYYY-MM-DDTHH:MM:SSZ",
     "attempt": 1, "courier": "…", "batch": "…", "gps": null | {...},
     # "delivered" only:
     "recipient": {"name", "relation", "id_last_digits"},
     "evidence": [{"kind": "signature" | "photo", "media_type", "sha256", "size"}],
     # "failed" only:
     "reason": "…", "note": "…"}

Evidence images travel as ordinary payload objects (tus upload, sha256 address);
the hub accepts a proof only when it holds every evidence object from the same device.
"""
from __future__ import annotations

import re
from typing import Any

from .errors import InvalidDocument
from .timestamps import is_timestamp

LABEL = "motcua.delivery-proof/1"
KINDS = ("delivered", "failed")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
    return document


def evidence_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document.get("evidence", []))
