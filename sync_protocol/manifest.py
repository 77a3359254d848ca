"""The dossier manifest: what a sealed dossier is, signed by the device.

A manifest lists the dossier's metadata and every payload object by name,
media type, sha256 and size. It carries the device id, a per-device sequence
number and the hash of the device's previous manifest, so the hub can see gaps
(a missing sequence) and forks (two manifests claiming one place in the chain).
Validation is strict: unknown fields, floats, unsafe names and malformed codes
are refused with a message naming the field.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .canonical import canonical_json, sha256_hex
from .clock import check_clock_note
from .errors import InvalidDocument
from .signed_document import Envelope, sign_document, verify_document

SCHEMA = "motcua.manifest/1"

#: channel name -> national portal channel code (1 direct, 2 online, 3 postal/BCCI)
CHANNELS = {"counter": 1, "online": 2, "postal": 3}
MEDIA_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/tiff", "application/json"}

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PROCEDURE = re.compile(r"^[0-9]\.[0-9]{6}$")
#: electronic agency ID (Decision 20/2020/QĐ-TTg): up to 35 characters, digits, A–Z, dots
AGENCY_CODE = re.compile(r"^[0-9A-Z.]{1,35}$")
#: <agency>-<YYMMDD>-<sequence>: desks issue 4 digits; hub/case systems emit 4 to 7 (docs/dossier-codes.md)
DOSSIER_CODE = re.compile(r"^[0-9A-Z.]{1,35}-[0-9]{6}-[0-9]{4,7}$")
_DOSSIER_CODE = DOSSIER_CODE
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
_DEVICE_ID = re.compile(r"^dev_[0-9a-z]{8,40}$")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_OBJECTS = 500
#: integers in manifests (sequence, version, sizes) stay exact in every JSON reader and fit a BIGINT
MAX_SAFE_INTEGER = 2**53 - 1
#: members a manifest may leave out (added after motcua.manifest/1 was first published; old manifests stay valid)
OPTIONAL = frozenset({"clock"})
MAX_NAME = 120


def check_object_name(name: Any, where: str = "name") -> str:
    """Refuse names that could escape a directory on any OS (used by both ends)."""
    if not isinstance(name, str) or not name:
        raise InvalidDocument(f"{where}: must be a non-empty string")
    if len(name) > MAX_NAME:
        raise InvalidDocument(f"{where}: longer than {MAX_NAME} characters")
    if (
        "/" in name or "\\" in name or "\x00" in name or name in (".", "..")
        or name.startswith(".") or _WINDOWS_DRIVE.match(name) or any(ord(c) < 32 for c in name)
    ):
        raise InvalidDocument(f"{where}: {name!r} is not a safe file name (no paths, drive letters, NUL or leading dot)")
    return name


@dataclass(frozen=True)
class PayloadObject:
    """One payload file of a dossier, addressed by its sha256."""

    name: str
    media_type: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "media_type": self.media_type, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "PayloadObject":
        _exact_keys(data, {"name", "media_type", "sha256", "size"}, where)
        check_object_name(data["name"], f"{where}.name")
        if data["media_type"] not in MEDIA_TYPES:
            raise InvalidDocument(f"{where}.media_type: {data['media_type']!r} is not one of {sorted(MEDIA_TYPES)}")
        _match(_SHA256, data["sha256"], f"{where}.sha256", "64 lower-case hex digits")
        _non_negative_int(data["size"], f"{where}.size")
        return cls(data["name"], data["media_type"], data["sha256"], data["size"])


@dataclass(frozen=True)
class Manifest:
    """A dossier version as the device sealed it."""

    dossier_id: str
    dossier_version: int
    dossier_code: str
    procedure_code: str
    channel: str
    device_id: str
    sequence: int
    previous_manifest_hash: str | None
    created_at: str
    received_at: str
    objects: tuple[PayloadObject, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    schema: str = SCHEMA
    #: how received_at was derived (sync_protocol.clock); absent in manifests sealed before it existed
    clock: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        optional = {"clock": dict(self.clock)} if self.clock is not None else {}
        return {**optional,
            "schema": self.schema,
            "dossier_id": self.dossier_id,
            "dossier_version": self.dossier_version,
            "dossier_code": self.dossier_code,
            "procedure_code": self.procedure_code,
            "channel": self.channel,
            "device_id": self.device_id,
            "sequence": self.sequence,
            "previous_manifest_hash": self.previous_manifest_hash,
            "created_at": self.created_at,
            "received_at": self.received_at,
            "objects": [o.to_dict() for o in self.objects],
            "metadata": dict(self.metadata),
        }

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.to_dict())

    @property
    def hash(self) -> str:
        """The manifest hash: sha256 hex of its canonical bytes."""
        return sha256_hex(self.canonical_bytes())

    @property
    def total_size(self) -> int:
        return sum(o.size for o in self.objects)

    @classmethod
    def from_dict(cls, data: Any) -> "Manifest":
        _exact_keys(data, set(Manifest.__dataclass_fields__) - OPTIONAL, "manifest", optional=OPTIONAL)
        if data["schema"] != SCHEMA:
            raise InvalidDocument(f"manifest.schema: {data['schema']!r} is not supported (expected {SCHEMA})")
        _match(_UUID, data["dossier_id"], "manifest.dossier_id", "a lower-case UUID")
        _non_negative_int(data["dossier_version"], "manifest.dossier_version", minimum=1)
        _match(_DOSSIER_CODE, data["dossier_code"], "manifest.dossier_code", "<agency>-<YYMMDD>-<NNNN>")
        _match(_PROCEDURE, data["procedure_code"], "manifest.procedure_code", "a code like 1.001193")
        if data["channel"] not in CHANNELS:
            raise InvalidDocument(f"manifest.channel: {data['channel']!r} is not one of {sorted(CHANNELS)}")
        _match(_DEVICE_ID, data["device_id"], "manifest.device_id", "dev_ followed by lower-case letters/digits")
        _non_negative_int(data["sequence"], "manifest.sequence", minimum=1)
        prev = data["previous_manifest_hash"]
        if data["sequence"] == 1:
            if prev is not None:
                raise InvalidDocument("manifest.previous_manifest_hash: must be null for sequence 1")
        else:
            _match(_SHA256, prev, "manifest.previous_manifest_hash", "64 lower-case hex digits")
        _match(_TIMESTAMP, data["created_at"], "manifest.created_at", "YYYY-MM-DDTHH:MM:SSZ")
        _match(_TIMESTAMP, data["received_at"], "manifest.received_at", "YYYY-MM-DDTHH:MM:SSZ")
        objects = data["objects"]
        if not isinstance(objects, list) or not objects or len(objects) > MAX_OBJECTS:
            raise InvalidDocument(f"manifest.objects: must list 1 to {MAX_OBJECTS} objects")
        parsed = tuple(PayloadObject.from_dict(o, f"manifest.objects[{i}]") for i, o in enumerate(objects))
        if len({o.name for o in parsed}) != len(parsed):
            raise InvalidDocument("manifest.objects: names must be unique")
        metadata = data["metadata"]
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise InvalidDocument("manifest.metadata: must map strings to strings")
        return cls(
            dossier_id=data["dossier_id"],
            dossier_version=data["dossier_version"],
            dossier_code=data["dossier_code"],
            procedure_code=data["procedure_code"],
            channel=data["channel"],
            device_id=data["device_id"],
            sequence=data["sequence"],
            previous_manifest_hash=prev,
            created_at=data["created_at"],
            received_at=data["received_at"],
            objects=parsed,
            metadata=dict(metadata),
            clock=check_clock_note(data["clock"]) if "clock" in data else None,
        )


def sign_manifest(manifest: Manifest, device_key: Ed25519PrivateKey) -> Envelope:
    """Sign a manifest with the device key."""
    return sign_document(SCHEMA, manifest.to_dict(), device_key)


def open_manifest(envelope: Envelope, device_key: Ed25519PublicKey) -> Manifest:
    """Verify the device signature, then parse and validate the manifest."""
    verify_document(SCHEMA, envelope, device_key)
    return Manifest.from_dict(envelope.document)


def _exact_keys(data: Any, expected: set[str], where: str, optional: frozenset[str] = frozenset()) -> None:
    if not isinstance(data, dict):
        raise InvalidDocument(f"{where}: must be an object")
    missing, extra = expected - set(data), set(data) - expected - optional
    if missing:
        raise InvalidDocument(f"{where}: missing field(s) {sorted(missing)}")
    if extra:
        raise InvalidDocument(f"{where}: unknown field(s) {sorted(extra)}")


def _match(pattern: re.Pattern[str], value: Any, where: str, what: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidDocument(f"{where}: {value!r} is not {what}")


def _non_negative_int(value: Any, where: str, minimum: int = 0) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= MAX_SAFE_INTEGER:
        raise InvalidDocument(f"{where}: must be an integer in {minimum}..{MAX_SAFE_INTEGER}")
