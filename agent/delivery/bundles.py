"""USB bundles at the desk: export undelivered sealed dossiers, import the hub's receipts.

`export_bundle(ctx, directory)` writes `motcua-bundle-<device>/` (layout in
sync_protocol.bundle): every sealed/uploading dossier's objects — the very
bytes an HTTP upload would send (already encrypted to the hub at seal time) —
and its manifest as it would be committed, each file temp -> fsync -> rename;
`index.json` last, so a stick pulled out half-way holds no index and the hub
says so. Exporting does not change a dossier's state: it stays queued (HTTP
may still deliver it; the hub keeps one copy either way) until a receipt
comes back.

`import_receipts(ctx, directory)` reads `motcua-receipts/<device>.json`,
verifies every receipt against the pinned hub key and the dossier's own
manifest hash, marks those dossiers committed (a dossier already committed
over HTTP is left alone: same receipt), stores the status events that came
with them (agent.delivery.feed) and purges what the retention allows.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.context import AgentContext
from agent.delivery.feed import apply_pending, store_events
from agent.delivery.dossier_upload import BUNDLE_EXPORTED_KEY
from agent.delivery.sync import ordered_deliverable, purge_due
from agent.errors import InputError, StorageError
from agent.ops.audit import audit_event
from agent.outbox.ids import utc_timestamp
from agent.sealing.at_rest import manifest_for_transport
from sync_protocol.bundle import (
    INDEX_NAME,
    RECEIPTS_DIR,
    BundleEntry,
    BundleObject,
    build_index,
    bundle_dir_name,
    parse_receipts,
    receipts_file_name,
)
from sync_protocol.castore import fsync_dir, write_file_atomic
from sync_protocol.errors import InvalidDocument, ObjectCorrupt, ProtocolError
from sync_protocol.feed import StatusEvent
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope

log = logging.getLogger("motcua.agent.bundle")


@dataclass
class BundleReport:
    exported: list[str] = field(default_factory=list)
    committed: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    events: int = 0
    purged: list[str] = field(default_factory=list)
    path: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("path", "exported", "committed", "already", "failed", "events", "purged")}


def _disk_error(path: Path, exc: OSError) -> StorageError:
    return StorageError(f"Không ghi được vào {path} (ổ đầy hoặc bị rút ra?).",
                        f"Cannot write to {path}: {exc.strerror or exc}.",
                        "Cắm lại ổ USB, kiểm tra dung lượng rồi xuất lại / reinsert the drive, check space, export again")


def _copy_blob(ctx: AgentContext, sha256: str, size: int, dest: Path) -> None:
    """Copy one verified blob to `dest` durably, unless a correct copy is already there."""
    if dest.is_file() and dest.stat().st_size == size:
        return  # same content address and size: written by an earlier export (the hub re-hashes anyway)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out, ctx.outbox.blobs.open(sha256) as source:
            while block := source.read(1 << 20):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def export_bundle(ctx: AgentContext, directory: Path | str) -> BundleReport:
    """Write every undelivered sealed dossier to `directory` for a courier to carry to the hub."""
    config = ctx.config.require_enrolled()
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"Không thấy thư mục {directory} (ổ USB đã cắm chưa?).", f"Directory {directory} does not exist.",
                         "Cắm ổ USB và chỉ đúng thư mục / plug in the drive and give its directory")
    root = directory / bundle_dir_name(config.device_id)
    report = BundleReport(path=str(root))
    entries: list[BundleEntry] = []
    try:
        for sub in ("manifests", "objects"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for dossier in ordered_deliverable(ctx):
            docs = ctx.outbox.documents(dossier.id)
            try:
                for doc in docs:
                    ctx.outbox.blobs.verify(doc.sha256)
            except ObjectCorrupt as exc:
                report.failed.append({"dossier": dossier.code, "reason": f"local copy is corrupt: {exc}",
                                      "reason_vi": "Bản lưu trên máy bị hỏng; cần quét lại hồ sơ"})
                continue
            entry = BundleEntry(dossier.id, 1, dossier.code, dossier.manifest_hash or "",
                                tuple(BundleObject(d.sha256, d.size) for d in docs),
                                manifest_for_transport(dossier.signed_manifest or "")[1])
            for doc in docs:
                _copy_blob(ctx, doc.sha256, doc.size, root / BundleObject(doc.sha256, doc.size).path)
            body, _ = manifest_for_transport(dossier.signed_manifest or "")
            write_file_atomic(root / entry.manifest, body)
            entries.append(entry)
            report.exported.append(dossier.code)
        fsync_dir(root / "objects")
        with ctx.outbox.transaction():  # these objects may reach the hub by hand: sync must ask before sending
            ctx.outbox.set_state(BUNDLE_EXPORTED_KEY, utc_timestamp())
        index = build_index(config.device_id, utc_timestamp(), entries)
        write_file_atomic(root / INDEX_NAME, json.dumps(index, ensure_ascii=False, indent=1).encode("utf-8"))
    except OSError as exc:
        raise _disk_error(root, exc) from exc
    log.info("bundle_exported dossiers=%d failed=%d", len(report.exported), len(report.failed))
    audit_event(ctx, "bundle.exported", None, dossiers=len(entries))
    return report


def _receipts_file(ctx: AgentContext, source: Path) -> Path:
    if source.is_file():
        return source
    name = receipts_file_name(ctx.config.device_id)
    for candidate in (source / RECEIPTS_DIR / name, source / name):
        if candidate.is_file():
            return candidate
    raise InputError(f"Không có tệp biên nhận cho máy này ({RECEIPTS_DIR}/{name}) trong {source}.",
                     f"No receipts file for this desk ({RECEIPTS_DIR}/{name}) in {source}.",
                     "Nhờ trung tâm chạy: motcua hub export-receipts / ask the hub to export receipts")


def import_receipts(ctx: AgentContext, source: Path | str) -> BundleReport:
    """Apply the hub's receipts (and status events) carried back on a drive."""
    config = ctx.config.require_enrolled()
    path = _receipts_file(ctx, Path(source))
    report = BundleReport(path=str(path))
    try:
        device_id, receipts, raw_events = parse_receipts(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"Tệp biên nhận {path} bị hỏng hoặc không đọc được.", f"Receipts file {path} is unreadable: {exc}",
                         "Xuất lại từ trung tâm / export it again at the hub") from exc
    if device_id != config.device_id:
        raise InputError(f"Tệp {path} dành cho thiết bị khác ({device_id}).",
                         f"{path} is for another device ({device_id}), not {config.device_id}.")
    outbox = ctx.outbox
    for i, raw in enumerate(receipts):
        try:
            envelope = Envelope.from_dict(raw)
            receipt = verify_receipt(envelope, ctx.hub_key)
            dossier = outbox.get(receipt.dossier_id)
            verify_receipt(envelope, ctx.hub_key, dossier.manifest_hash)
        except (ProtocolError, InputError) as exc:
            report.failed.append({"dossier": f"receipts[{i}]", "reason": f"receipt does not verify here: {exc}",
                                  "reason_vi": "Biên nhận không hợp lệ với máy này"})
            continue
        if dossier.state not in ("sealed", "uploading"):
            report.already.append(dossier.code)
            continue
        outbox.mark_committed(dossier.id, json.dumps(raw, ensure_ascii=False), receipt.hub_sequence)
        audit_event(ctx, "dossier.committed", dossier.id, hub_sequence=receipt.hub_sequence,
                    manifest=dossier.manifest_hash, via="bundle")
        report.committed.append(dossier.code)
    events = []
    for i, raw in enumerate(raw_events):
        try:
            events.append(StatusEvent.from_dict(raw))
        except InvalidDocument as exc:
            report.failed.append({"dossier": f"events[{i}]", "reason": str(exc), "reason_vi": "Sự kiện trạng thái hỏng"})
    report.events = store_events(ctx, events)
    apply_pending(ctx)
    report.purged = purge_due(ctx)
    log.info("receipts_imported committed=%d already=%d failed=%d events=%d", len(report.committed),
             len(report.already), len(report.failed), report.events)
    return report
