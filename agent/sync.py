"""Sync: deliver sealed dossiers to the hub exactly once, verify receipts, purge.

For each deliverable dossier (oldest first):
  1. re-hash every local blob (verify on read) — a corrupt blob dead-letters the dossier;
  2. skip objects the hub already holds; otherwise create or resume a tus upload
     (its URL is stored, so an agent restart resumes too);
  3. commit the signed manifest — idempotent at the hub, so a repeat after a
     crash returns the same receipt;
  4. verify the receipt against the pinned hub key and our manifest hash, store it;
  5. purge local payload once the retention period has passed.
The link failing stops the pass (the rest would fail too); a refusal of one
dossier moves it to the rejected lane and the pass goes on.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from sync_protocol.errors import ObjectCorrupt, ProtocolError, UploadGone
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope

from .context import AgentContext
from .crashpoints import crash_point
from .errors import DeviceNotAuthorised, DossierRefused, HubError, HubUnreachable
from .outbox import Dossier

log = logging.getLogger("motcua.agent.sync")


@dataclass
class SyncReport:
    """What one sync pass did."""

    committed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    resumed_from: dict[str, int] = field(default_factory=dict)
    unreachable: str | None = None

    @property
    def complete(self) -> bool:
        """True when nothing deliverable was left behind by a transient failure."""
        return not self.failed and self.unreachable is None

    def to_json(self) -> dict:
        return {"committed": self.committed, "rejected": self.rejected, "failed": self.failed, "purged": self.purged,
                "bytes_sent": self.bytes_sent, "resumed_from": self.resumed_from, "unreachable": self.unreachable}


class ReceiptInvalid(HubError):
    """The hub answered a commit with a receipt that does not verify: keep everything, retry later."""


def sync_once(ctx: AgentContext, on_progress: Callable[[str, int, int], None] | None = None) -> SyncReport:
    """One pass over the queue. Raises DeviceNotAuthorised (revoked device); nothing else escapes."""
    report = SyncReport()
    for dossier in ctx.outbox.deliverable():
        try:
            deliver_dossier(ctx, dossier, report, on_progress)
        except DossierRefused as exc:
            ctx.outbox.mark_rejected(dossier.id, f"{exc.message_vi} / {exc.message_en}")
            report.rejected.append(dossier.code)
            log.warning("rejected dossier=%s code=%s", dossier.id, exc.code)
        except HubUnreachable as exc:
            ctx.outbox.record_failure(dossier.id, exc.message_en)
            report.failed.append(dossier.code)
            report.unreachable = exc.message_en
            log.warning("hub_unreachable dossier=%s error=%s", dossier.id, exc.message_en)
            break
        except DeviceNotAuthorised as exc:
            ctx.outbox.record_failure(dossier.id, exc.message_en)
            raise
        except HubError as exc:
            ctx.outbox.record_failure(dossier.id, exc.message_en)
            report.failed.append(dossier.code)
            log.warning("sync_failed dossier=%s error=%s", dossier.id, exc.message_en)
    report.purged.extend(purge_due(ctx))
    return report


def deliver_dossier(ctx: AgentContext, dossier: Dossier, report: SyncReport,
                    on_progress: Callable[[str, int, int], None] | None = None) -> None:
    outbox, hub = ctx.outbox, ctx.hub
    outbox.mark_uploading(dossier.id)
    for doc in outbox.documents(dossier.id):
        try:
            outbox.blobs.verify(doc.sha256)
        except ObjectCorrupt as exc:
            raise DossierRefused(f"Tệp {doc.name} trên máy bị hỏng hoặc mất; cần quét lại hồ sơ.",
                                 f"Local copy of {doc.name} is corrupt or missing: {exc}; rescan the dossier.",
                                 "local_blob_corrupt") from exc
        if hub.has_object(doc.sha256):
            outbox.forget_upload(doc.sha256)
            continue
        _upload_object(ctx, dossier, doc.sha256, doc.size, doc.name, report, on_progress)
    crash_point("after_upload")
    answer = hub.commit(dossier.signed_manifest.encode("utf-8"))
    crash_point("after_commit_sent")
    try:
        receipt = verify_receipt(Envelope.from_dict(answer), ctx.hub_key, dossier.manifest_hash)
    except ProtocolError as exc:
        raise ReceiptInvalid("Biên nhận của trung tâm không hợp lệ; giữ nguyên hồ sơ.",
                             f"The hub's receipt does not verify against the pinned key: {exc}; keeping the dossier.",
                             "Báo quản trị viên / tell the administrator") from exc
    outbox.mark_committed(dossier.id, json.dumps(answer, ensure_ascii=False), receipt.hub_sequence)
    report.committed.append(dossier.code)
    log.info("committed dossier=%s hub_seq=%d", dossier.id, receipt.hub_sequence)


def _upload_object(ctx: AgentContext, dossier: Dossier, sha256: str, size: int, name: str, report: SyncReport,
                   on_progress: Callable[[str, int, int], None] | None) -> None:
    outbox, hub = ctx.outbox, ctx.hub
    first_chunk_seen = False

    def progress(offset: int, length: int) -> None:
        nonlocal first_chunk_seen
        if not first_chunk_seen:
            first_chunk_seen = True
            crash_point("after_first_chunk")
        if on_progress:
            on_progress(dossier.code, offset, length)

    for _ in range(2):  # a second round only if the hub forgot the upload
        url = outbox.upload_url(sha256)
        if url is None:
            url = hub.create_upload(size, sha256, name)
            crash_point("after_upload_create")
            outbox.set_upload_url(sha256, url, size)
        try:
            with outbox.blobs.open(sha256) as stream:
                result = hub.upload(url, stream, size, ctx.config.settings.chunk_size, progress)
        except UploadGone:
            outbox.forget_upload(sha256)
            continue
        report.bytes_sent += result.bytes_sent
        if result.started_at_offset:
            report.resumed_from[dossier.code] = result.started_at_offset
        outbox.forget_upload(sha256)
        return
    raise HubUnreachable("Trung tâm liên tục mất phiên tải lên.", "The hub keeps losing the upload.")


def purge_due(ctx: AgentContext, now: datetime | None = None) -> list[str]:
    """Delete local payload of committed dossiers whose retention has passed."""
    now = now or datetime.now(timezone.utc)
    keep = timedelta(hours=ctx.config.settings.retention_hours)
    purged = []
    for dossier in ctx.outbox.list(("committed",)):
        committed = datetime.strptime(dossier.committed_at or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        if committed + keep > now:
            continue
        # Re-verify the stored receipt before deleting anything: no receipt, no purge.
        verify_receipt(Envelope.from_dict(json.loads(dossier.receipt or "{}")), ctx.hub_key, dossier.manifest_hash)
        crash_point("before_purge")
        for sha in ctx.outbox.blobs_only_used_by(dossier.id):
            ctx.outbox.blobs.delete(sha)
        ctx.outbox.mark_purged(dossier.id)
        purged.append(dossier.code)
        log.info("purged dossier=%s", dossier.id)
    return purged
