"""Reference data the province publishes (`motcua.refdata/1`): one signed document per version.

The hub signs a document with its Ed25519 key (label `motcua.refdata/1`, see
signed_document.py); desks verify it against the hub key they pinned at
enrolment before using any of it. The document holds four sections, each a
JSON object with its own schema tag, interpreted only by the desk:

    {"schema": "motcua.refdata/1", "version": 3, "published_at": "2026-11-30T08:00:00Z",
     "calendar":  {"schema": "motcua.holidays/1", ...},       working days, holidays, swaps
     "catalogue": {"schema": "motcua.catalogue/1", ...},      procedures, legal time, documents, fees
     "agencies":  {"schema": "motcua.agencies/1", ...},       slip header, agency names by code
     "templates": {"schema": "motcua.notification-templates/1", ...}}   citizen messages

`version` is a positive integer that only grows; a desk never applies a version
older than or equal to the one it holds. The feed page announces the newest
version (`"refdata": {"version": N, "document_hash": "<sha256 hex>"}`), an extra
page field that older agents ignore.
"""
from __future__ import annotations

import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from .canonical import canonical_json
from .errors import InvalidDocument
from .signed_document import Envelope, sign_document, verify_document

SCHEMA = "motcua.refdata/1"
#: section name -> the schema tag its object must carry
SECTIONS = {
    "calendar": "motcua.holidays/1",
    "catalogue": "motcua.catalogue/1",
    "agencies": "motcua.agencies/1",
    "templates": "motcua.notification-templates/1",
}
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
MAX_VERSION = 2**53 - 1
_FIELDS = {"schema", "version", "published_at", *SECTIONS}
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _version(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_VERSION:
        raise InvalidDocument(f"{where}: must be an integer 1..2^53-1")
    return value


def check_refdata(document: Any) -> dict[str, Any]:
    """Validate the document's shape (not the meaning of its sections); return it."""
    if not isinstance(document, dict) or set(document) != _FIELDS:
        raise InvalidDocument(f"refdata must have exactly the fields {sorted(_FIELDS)}")
    if document["schema"] != SCHEMA:
        raise InvalidDocument(f"refdata.schema: {document['schema']!r} is not supported (expected {SCHEMA})")
    _version(document["version"], "refdata.version")
    if not isinstance(document["published_at"], str) or not _TIMESTAMP.match(document["published_at"]):
        raise InvalidDocument("refdata.published_at: must be YYYY-MM-DDTHH:MM:SSZ")
    for name, tag in SECTIONS.items():
        section = document[name]
        if not isinstance(section, dict) or section.get("schema") != tag:
            raise InvalidDocument(f"refdata.{name}: must be an object with schema {tag}")
    if len(canonical_json(document)) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"refdata: larger than {MAX_DOCUMENT_BYTES} bytes")
    return document


def sign_refdata(document: dict[str, Any], hub_key: Ed25519PrivateKey) -> Envelope:
    """Sign a checked reference-data document with the hub key."""
    return sign_document(SCHEMA, check_refdata(document), hub_key)


def verify_refdata(envelope: Envelope, hub_key: Ed25519PublicKey) -> dict[str, Any]:
    """Raise SignatureInvalid unless the pinned hub key signed this refdata document; return the document."""
    verify_document(SCHEMA, envelope, hub_key)
    return check_refdata(envelope.document)


def announcement(version: int, document_hash: str) -> dict[str, Any]:
    """The feed page field that announces the newest published version."""
    return {"version": version, "document_hash": document_hash}


def parse_announcement(page: Any) -> tuple[int, str] | None:
    """(version, document_hash) announced by a feed page, or None (older hubs send none)."""
    found = page.get("refdata") if isinstance(page, dict) else None
    if found is None:
        return None
    if not isinstance(found, dict) or not isinstance(found.get("document_hash"), str) \
            or not _SHA256.match(found["document_hash"]):
        raise InvalidDocument("feed page refdata: must be {version, document_hash}")
    return _version(found.get("version"), "feed page refdata.version"), found["document_hash"]
