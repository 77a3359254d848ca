"""Offline bundle layout: sealed dossiers to the hub and receipts back, on a removable drive.

Pure format code (names, index documents, validation); writing and reading
files is agent/delivery/bundles.py and hub/bundles.py. Layout under the chosen directory:

    motcua-bundle-<device_id>/            written by `motcua bundle export DIR`
        index.json                        written LAST: no index = incomplete bundle
        manifests/<dossier_id>-v<N>       the signed manifest exactly as committed over HTTP
                                          (canonical JSON, or sealed to the hub key; see manifest_type)
        objects/<sha256>                  payload bytes exactly as uploaded over HTTP
    motcua-receipts/                      written by `motcua hub export-receipts DIR`
        <device_id>.json                  signed receipts + status events for that device

Nothing in a bundle is trusted because it is on the stick: the hub verifies
each manifest's device signature, re-hashes each object, and commits through
the same path as HTTP; the agent verifies each receipt against its pinned hub
key and its own manifest hash. The index only says where things are.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import InvalidDocument

BUNDLE_SCHEMA = "motcua.bundle/1"
RECEIPTS_SCHEMA = "motcua.receipts/1"
BUNDLE_PREFIX = "motcua-bundle-"
RECEIPTS_DIR = "motcua-receipts"
INDEX_NAME = "index.json"
MANIFEST_TYPES = {"application/json", "application/vnd.motcua.sealed"}
MAX_MANIFEST_BYTES = 1024 * 1024

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DEVICE_ID = re.compile(r"^dev_[0-9a-z]{8,40}$")


def bundle_dir_name(device_id: str) -> str:
    _check(_DEVICE_ID, device_id, "device_id")
    return BUNDLE_PREFIX + device_id


def manifest_path(dossier_id: str, version: int) -> str:
    """Relative path of a manifest inside a bundle directory."""
    _check(_UUID, dossier_id, "dossier_id")
    return f"manifests/{dossier_id}-v{int(version)}"


def object_path(sha256: str) -> str:
    _check(_SHA256, sha256, "sha256")
    return f"objects/{sha256}"


def receipts_file_name(device_id: str) -> str:
    _check(_DEVICE_ID, device_id, "device_id")
    return f"{device_id}.json"


@dataclass(frozen=True)
class BundleObject:
    sha256: str
    size: int

    @property
    def path(self) -> str:
        return object_path(self.sha256)


@dataclass(frozen=True)
class BundleEntry:
    """One dossier in a bundle."""

    dossier_id: str
    dossier_version: int
    dossier_code: str
    manifest_hash: str
    objects: tuple[BundleObject, ...]
    #: Content-Type the manifest would be committed with over HTTP
    manifest_type: str = "application/json"

    @property
    def manifest(self) -> str:
        return manifest_path(self.dossier_id, self.dossier_version)

    def to_dict(self) -> dict[str, Any]:
        return {"dossier_id": self.dossier_id, "dossier_version": self.dossier_version,
                "dossier_code": self.dossier_code, "manifest_hash": self.manifest_hash, "manifest": self.manifest,
                "manifest_type": self.manifest_type,
                "objects": [{"sha256": o.sha256, "size": o.size, "path": o.path} for o in self.objects]}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "BundleEntry":
        if not isinstance(data, dict):
            raise InvalidDocument(f"{where}: must be an object")
        _check(_UUID, data.get("dossier_id"), f"{where}.dossier_id")
        version = data.get("dossier_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidDocument(f"{where}.dossier_version: must be a positive integer")
        if not isinstance(data.get("dossier_code"), str):
            raise InvalidDocument(f"{where}.dossier_code: must be a string")
        _check(_SHA256, data.get("manifest_hash"), f"{where}.manifest_hash")
        objects = data.get("objects")
        if not isinstance(objects, list) or not objects:
            raise InvalidDocument(f"{where}.objects: must be a non-empty list")
        parsed = []
        for i, obj in enumerate(objects):
            if not isinstance(obj, dict):
                raise InvalidDocument(f"{where}.objects[{i}]: must be an object")
            _check(_SHA256, obj.get("sha256"), f"{where}.objects[{i}].sha256")
            size = obj.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise InvalidDocument(f"{where}.objects[{i}].size: must be a non-negative integer")
            parsed.append(BundleObject(obj["sha256"], size))
        manifest_type = data.get("manifest_type", "application/json")
        if manifest_type not in MANIFEST_TYPES:
            raise InvalidDocument(f"{where}.manifest_type: {manifest_type!r} is not one of {sorted(MANIFEST_TYPES)}")
        # Paths are derived, never taken from the stick (no ../ tricks).
        return cls(data["dossier_id"], version, data["dossier_code"], data["manifest_hash"], tuple(parsed),
                   manifest_type)


def build_index(device_id: str, created_at: str, entries: list[BundleEntry]) -> dict[str, Any]:
    return {"schema": BUNDLE_SCHEMA, "device_id": device_id, "created_at": created_at,
            "dossiers": [e.to_dict() for e in entries]}


def parse_index(data: Any) -> tuple[str, list[BundleEntry]]:
    """(device_id, entries) of a bundle index; raise InvalidDocument naming the bad field."""
    if not isinstance(data, dict) or data.get("schema") != BUNDLE_SCHEMA:
        raise InvalidDocument(f"index.json: schema must be {BUNDLE_SCHEMA!r}")
    _check(_DEVICE_ID, data.get("device_id"), "index.device_id")
    dossiers = data.get("dossiers")
    if not isinstance(dossiers, list):
        raise InvalidDocument("index.dossiers: must be a list")
    return data["device_id"], [BundleEntry.from_dict(d, f"index.dossiers[{i}]") for i, d in enumerate(dossiers)]


def build_receipts(device_id: str, hub_key_id: str, created_at: str, receipts: list[dict[str, Any]],
                   events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": RECEIPTS_SCHEMA, "device_id": device_id, "hub_key_id": hub_key_id, "created_at": created_at,
            "receipts": receipts, "events": events}


def parse_receipts(data: Any) -> tuple[str, list[Any], list[Any]]:
    """(device_id, receipt envelopes, status events) — each still to be verified one by one."""
    if not isinstance(data, dict) or data.get("schema") != RECEIPTS_SCHEMA:
        raise InvalidDocument(f"receipts file: schema must be {RECEIPTS_SCHEMA!r}")
    _check(_DEVICE_ID, data.get("device_id"), "receipts.device_id")
    receipts, events = data.get("receipts"), data.get("events", [])
    if not isinstance(receipts, list) or not isinstance(events, list):
        raise InvalidDocument("receipts file: 'receipts' and 'events' must be lists")
    return data["device_id"], receipts, events


def _check(pattern: re.Pattern[str], value: Any, where: str) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise InvalidDocument(f"{where}: {value!r} is not valid")
