"""USB bundles at the hub: import sealed dossiers from a drive, write receipts back to it.

`import_bundles(state, directory)` finds every `motcua-bundle-<device>/index.json`
(sync_protocol.bundle layout) and, per dossier:
  1. re-hashes each object file on the drive against the index (a truncated or
     corrupt file fails *that* dossier, with the file named) and puts it in the
     object store as the device's upload (`uploads.record_owner`, as a finished
     tus upload does);
  2. commits the manifest bytes with `commits.commit_body` — the very function
     behind `POST /v1/commits` — so signature, hash chain, object checks and
     dedupe are the HTTP path's: a dossier that also arrived over HTTP gets the
     same single copy and the same receipt.
Other dossiers are imported whatever happens to one of them.

`export_receipts(state, directory)` writes `motcua-receipts/<device>.json` with
every receipt of that device and the status events of its site, for the
courier to carry back (`motcua bundle import-receipts`).
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync_protocol.bundle import (INDEX_NAME, MAX_MANIFEST_BYTES, RECEIPTS_DIR, BUNDLE_PREFIX, BundleEntry,
                                  build_receipts, parse_index, receipts_file_name)
from sync_protocol.castore import write_file_atomic
from sync_protocol.errors import InvalidDocument, ObjectCorrupt
from sync_protocol.p256 import device_public_key_from_text as public_key_from_text
from sync_protocol.timestamps import format_utc

from .auth import Device
from .commits import commit_body
from .errors import HubError
from .feed import events_for_device
from .state import HubState
from .uploads import object_owned, record_owner

log = logging.getLogger("motcua.hub.bundles")


@dataclass
class ImportReport:
    """What one `motcua hub import` did, per dossier code."""

    imported: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    bundles: int = 0

    def fail(self, what: str, reason: str, reason_vi: str) -> None:
        self.failed.append({"dossier": what, "reason": reason, "reason_vi": reason_vi})

    def to_json(self) -> dict[str, Any]:
        return {"bundles": self.bundles, "imported": self.imported, "duplicates": self.duplicates,
                "failed": self.failed}


def find_bundles(directory: Path) -> list[Path]:
    """Bundle directories in `directory` (or `directory` itself if it is one)."""
    directory = Path(directory)
    if (directory / INDEX_NAME).is_file() and directory.name.startswith(BUNDLE_PREFIX):
        return [directory]
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_dir() and p.name.startswith(BUNDLE_PREFIX))


def _device(state: HubState, device_id: str) -> Device:
    row = state.db.one("SELECT * FROM devices WHERE device_id=?", (device_id,))
    if row is None:
        raise HubError(f"device {device_id} is not enrolled at this hub", f"Thiết bị {device_id} chưa đăng ký với trung tâm này",
                       code="device_unknown")
    if row["revoked_at"] is not None:
        reason = row["revoked_reason"] or "revoked"
        raise HubError(f"device {device_id} is revoked: {reason}", f"Thiết bị {device_id} đã bị thu hồi: {reason}",
                       code="device_revoked")
    return Device(row["device_id"], row["site"], row["agency_code"], public_key_from_text(row["public_key"]))


def _hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _ingest_objects(state: HubState, device: Device, root: Path, entry: BundleEntry) -> None:
    for obj in entry.objects:
        if object_owned(state, device, obj.sha256, verify=False) is not None:
            continue
        path = root / obj.path
        if not path.is_file():
            raise HubError(f"file {obj.path} is missing from the drive", f"Thiếu tệp {obj.path} trên ổ đĩa",
                           code="bundle_file_missing")
        sha, size = _hash_file(path)
        if size != obj.size or sha != obj.sha256:
            raise HubError(f"file {obj.path} is truncated or corrupt ({size} of {obj.size} bytes, hash "
                           f"{'ok' if sha == obj.sha256 else 'wrong'}); export this dossier again",
                           f"Tệp {obj.path} bị cắt cụt hoặc hỏng; hãy xuất lại hồ sơ này", code="bundle_file_corrupt")
        try:
            state.objects.put_file(path, obj.sha256)  # re-verifies while copying
        except ObjectCorrupt as exc:
            raise HubError(f"file {obj.path} changed while importing: {exc}", f"Tệp {obj.path} thay đổi khi đang nhập",
                           code="bundle_file_corrupt") from exc
        record_owner(state, device.device_id, obj.sha256, obj.size)


def import_bundle(state: HubState, root: Path, report: ImportReport) -> None:
    """Import one bundle directory into `report`."""
    try:
        index = json.loads((root / INDEX_NAME).read_text("utf-8"))
        device_id, entries = parse_index(index)
    except FileNotFoundError:
        report.fail(root.name, f"{root / INDEX_NAME} is missing: the export did not finish; export again",
                    f"Thiếu {INDEX_NAME}: bản xuất chưa hoàn tất; hãy xuất lại")
        return
    except (ValueError, UnicodeDecodeError, InvalidDocument) as exc:
        report.fail(root.name, f"{root / INDEX_NAME} is unreadable: {exc}", f"Không đọc được {INDEX_NAME}: {exc}")
        return
    try:
        device = _device(state, device_id)
    except HubError as exc:
        for entry in entries:
            report.fail(entry.dossier_code, exc.reason, exc.reason_vi)
        return
    report.bundles += 1
    for entry in entries:
        try:
            manifest_file = root / entry.manifest
            if not manifest_file.is_file() or manifest_file.stat().st_size > MAX_MANIFEST_BYTES:
                raise HubError(f"manifest file {entry.manifest} is missing or too large",
                               f"Thiếu tệp bản kê khai {entry.manifest} hoặc tệp quá lớn", code="bundle_file_missing")
            body = manifest_file.read_bytes()
            _ingest_objects(state, device, root, entry)
            _, created = commit_body(state, device, body, entry.manifest_type)
        except HubError as exc:
            report.fail(entry.dossier_code, exc.reason, exc.reason_vi)
            log.warning("bundle_dossier_failed dossier=%s code=%s", entry.dossier_id, exc.code)
            continue
        except OSError as exc:
            report.fail(entry.dossier_code, f"cannot read the drive: {exc.strerror}", "Không đọc được ổ đĩa")
            continue
        (report.imported if created else report.duplicates).append(entry.dossier_code)
        log.info("bundle_dossier dossier=%s created=%s", entry.dossier_id, created)


def import_bundles(state: HubState, directory: Path) -> ImportReport:
    """Import every bundle found in `directory`."""
    report = ImportReport()
    bundles = find_bundles(Path(directory))
    if not bundles:
        report.fail(str(directory), f"no {BUNDLE_PREFIX}*/ directory with an {INDEX_NAME} in {directory}",
                    f"Không tìm thấy thư mục {BUNDLE_PREFIX}* có {INDEX_NAME} trong {directory}")
    for root in bundles:
        import_bundle(state, root, report)
    return report


def export_receipts(state: HubState, directory: Path, device_ids: list[str] | None = None) -> dict[str, int]:
    """Write each device's receipts and site status events; return {device_id: receipts written}."""
    out = Path(directory) / RECEIPTS_DIR
    if device_ids is None:
        device_ids = [r["device_id"] for r in state.db.query("SELECT device_id FROM devices ORDER BY device_id")]
    written: dict[str, int] = {}
    now = format_utc()
    for device_id in device_ids:
        receipts = [json.loads(r["receipt"]) for r in state.db.query(
            "SELECT receipt FROM dossiers WHERE device_id=? ORDER BY hub_sequence", (device_id,))]
        events = events_for_device(state, device_id)
        if not receipts and not events:
            continue
        document = build_receipts(device_id, state.hub_key_id, now, receipts, events)
        write_file_atomic(out / receipts_file_name(device_id),
                          json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        written[device_id] = len(receipts)
        log.info("receipts_exported device=%s receipts=%d events=%d", device_id, len(receipts), len(events))
    return written
