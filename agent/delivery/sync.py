"""Sync: deliver sealed dossiers to the hub exactly once, verify receipts, purge.

Order of a pass (agent.delivery.runner calls it in a loop):
  0. pull the hub's status feed (agent.delivery.feed) — small and urgent, so first;
  1. dossiers whose bytes are all at the hub and only need the commit/receipt;
  2. then by due date (`due_at`, else the intake's due date, else received_at +
     `default_due_days`), smaller first on ties. Fair share: while others wait,
     one dossier may use about `fair_share_seconds` of link per turn, then the
     queue is re-read (new urgent dossiers join) and it goes to the back, so a
     big dossier never starves small urgent ones and always makes progress.
For each dossier:
  1. re-hash every local blob (verify on read) — a corrupt blob dead-letters the dossier;
  2. skip objects the hub already holds; otherwise create or resume a tus upload
     (its URL is stored, so an agent restart resumes too);
  3. commit the signed manifest — idempotent at the hub, so a repeat after a
     crash returns the same receipt;
  4. verify the receipt against the pinned hub key and our manifest hash, store it;
  5. purge local payload once the retention period has passed.
The link failing stops the pass (the rest would fail too); a refusal of one
dossier moves it to the rejected lane and the pass goes on. The hub's upload
quota refusing a creation clears this desk's own abandoned uploads and retries
once (agent.delivery.upload_quota); if it is still full, the pass creates no
more uploads and reports it (`upload_quota`, `retry_after`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

import requests

from agent.context import AgentContext
from agent.crashpoints import crash_point
from agent.delivery.envelopes import send_envelopes
from agent.delivery.feed import try_pull_feed
from agent.delivery.upload_quota import create_upload
from agent.errors import DeviceNotAuthorised, DossierRefused, HubError, HubUnreachable, UploadQuotaFull
from agent.ops.audit import audit_event
from agent.ops.metrics import record_sync_result
from agent.outbox.store import Dossier
from agent.sealing.at_rest import manifest_for_transport
from sync_protocol.chunking import ChunkPolicy
from sync_protocol.errors import ObjectCorrupt, ProtocolError, UploadGone, UploadTransportError
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope
from sync_protocol.timestamps import format_utc, parse_utc

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
    #: the failure was the link itself (no HTTP answer), not a busy hub: reconnect as soon as it is back
    link_down: bool = False
    #: courier proofs of delivery the hub accepted in this pass
    proofs_sent: int = 0
    #: the hub's upload quota stayed full after clearing this desk's leftovers: status line (vi / en)
    upload_quota: str | None = None
    #: the hub's Retry-After (seconds) with that refusal; `motcua run` waits at least this long
    retry_after: float | None = None
    #: the clean-up has run in this pass (once per pass: no hammering)
    quota_cleared: bool = field(default=False, repr=False)

    @property
    def complete(self) -> bool:
        """True when nothing deliverable was left behind by a transient failure."""
        return not self.failed and self.unreachable is None and self.upload_quota is None

    def to_json(self) -> dict:
        return {"committed": self.committed, "rejected": self.rejected, "failed": self.failed, "purged": self.purged,
                "bytes_sent": self.bytes_sent, "resumed_from": self.resumed_from, "unreachable": self.unreachable,
                "link_down": self.link_down, "proofs_sent": self.proofs_sent, "upload_quota": self.upload_quota,
                "retry_after": self.retry_after}


class ReceiptInvalid(HubError):
    """The hub answered a commit with a receipt that does not verify: keep everything, retry later."""


class TurnOver(Exception):
    """Raised from the progress callback when a dossier has used its fair share of the link."""


LINK_STATE_KEY = "link:chunker"
#: device_state key: when the last USB bundle was exported (agent.delivery.bundles)
BUNDLE_EXPORTED_KEY = "bundle:exported_at"


@dataclass
class LinkState:
    """What the agent has learned about its link: the adaptive chunk policy (kept across restarts)."""

    chunker: ChunkPolicy

    @classmethod
    def load(cls, ctx: AgentContext) -> "LinkState":
        largest = max(16 * 1024, int(ctx.config.settings.chunk_size))
        policy = ChunkPolicy(max_size=largest, initial_size=min(largest, 64 * 1024), min_size=min(largest, 16 * 1024))
        try:
            policy.restore(json.loads(ctx.outbox.get_state(LINK_STATE_KEY, "{}") or "{}"))
        except ValueError:
            pass
        return cls(policy)

    def save(self, ctx: AgentContext) -> None:
        with ctx.outbox.transaction():
            ctx.outbox.set_state(LINK_STATE_KEY, json.dumps(self.chunker.to_json()))


def _is_link_failure(exc: BaseException) -> bool:
    """True when no HTTP answer came back at all (connection refused/reset, timeout)."""
    cause = exc.__cause__
    if isinstance(cause, UploadTransportError):
        return cause.status is None
    return isinstance(cause, requests.RequestException)


def priority_key(uploaded: bool, due_at: str, size_bytes: int, code: str) -> tuple:
    """Delivery order: receipts to fetch first, then earliest due date, then smallest."""
    return (0 if uploaded else 1, due_at, size_bytes, code)


def ordered_deliverable(ctx: AgentContext) -> list[Dossier]:
    """Deliverable dossiers in priority order (see the module docstring)."""
    outbox = ctx.outbox
    dossiers = outbox.deliverable()
    # the intake table exists in every outbox (schema step 2), filled for dossiers taken in at the desk
    rows = outbox.conn.execute("SELECT d.id, COALESCE(d.due_at, i.due_at), d.uploaded_at FROM dossiers d"
                               " LEFT JOIN intake i ON i.dossier_id = d.id WHERE d.state IN ('sealed','uploading')")
    extra: dict[str, tuple] = {dossier_id: (due, uploaded) for dossier_id, due, uploaded in rows}
    days = timedelta(days=ctx.config.settings.default_due_days)

    def key(d: Dossier) -> tuple:
        due, uploaded = extra.get(d.id, (None, None))
        if not due:
            due = format_utc(parse_utc(d.received_at) + days)
        return priority_key(bool(uploaded), due, d.size_bytes, d.code)

    return sorted(dossiers, key=key)


def sync_once(ctx: AgentContext, on_progress: Callable[[str, int, int], None] | None = None, *,
              link: LinkState | None = None, between: Callable[[], object] | None = None) -> SyncReport:
    """One pass over the queue. Raises NotInitialised (desk not enrolled) or DeviceNotAuthorised
    (revoked device); nothing else escapes."""
    ctx.config.require_enrolled()  # an empty queue on a desk that was never enrolled is not "all delivered"
    report = SyncReport()
    link = link or LinkState.load(ctx)
    # Status events first (and so right after every reconnect). If the hub is away, the first
    # dossier finds out too and ends the pass, recording the attempt on that dossier.
    try_pull_feed(ctx)
    turns: dict[str, int] = {}
    finished: set[str] = set()
    while report.unreachable is None:
        if between is not None:
            between()  # e.g. seal dossiers captured meanwhile, so urgent ones join this pass
        queue = [d for d in ordered_deliverable(ctx) if d.id not in finished]
        if not queue:
            break
        dossier = min(queue, key=lambda d: turns.get(d.id, 0))  # first in priority among the least served
        budget = link.chunker.budget_bytes(ctx.config.settings.fair_share_seconds) if len(queue) > 1 else None
        try:
            if deliver_dossier(ctx, dossier, report, on_progress, link=link, budget=budget):
                finished.add(dossier.id)
            else:
                turns[dossier.id] = turns.get(dossier.id, 0) + 1
        except DossierRefused as exc:
            finished.add(dossier.id)
            ctx.outbox.mark_rejected(dossier.id, f"{exc.message_vi} / {exc.message_en}")
            report.rejected.append(dossier.code)
            audit_event(ctx, "dossier.rejected", dossier.id, code=exc.code)
            log.warning("rejected dossier=%s code=%s", dossier.id, exc.code)
        except UploadQuotaFull as exc:  # the rest may still commit or resume; nothing new is created (no request)
            finished.add(dossier.id)
            ctx.outbox.record_failure(dossier.id, exc.message_en)
            report.failed.append(dossier.code)
        except HubUnreachable as exc:
            ctx.outbox.record_failure(dossier.id, exc.message_en)
            report.failed.append(dossier.code)
            report.unreachable = exc.message_en
            report.link_down = _is_link_failure(exc)
            log.warning("hub_unreachable dossier=%s error=%s", dossier.id, exc.message_en)
        except DeviceNotAuthorised as exc:
            ctx.outbox.record_failure(dossier.id, exc.message_en)
            link.save(ctx)
            raise
        except HubError as exc:
            finished.add(dossier.id)
            ctx.outbox.record_failure(dossier.id, exc.message_en)
            report.failed.append(dossier.code)
            log.warning("sync_failed dossier=%s error=%s", dossier.id, exc.message_en)
    if report.unreachable is None:
        send_envelopes(ctx, report, lambda sha, size, name, label: upload_blob(ctx, sha, size, name, report, link,
                                                                             label=label))
    link.save(ctx)
    if (report.committed or report.proofs_sent) and report.unreachable is None:
        try_pull_feed(ctx)  # the hub may already have news about what just arrived
    report.purged.extend(purge_due(ctx))
    record_sync_result(ctx.outbox, report.complete)  # for `motcua metrics` / `motcua doctor`
    return report


def deliver_dossier(ctx: AgentContext, dossier: Dossier, report: SyncReport,
                    on_progress: Callable[[str, int, int], None] | None = None, *,
                    link: LinkState | None = None, budget: int | None = None) -> bool:
    """Upload what the hub lacks and commit. Returns False when the dossier's turn
    (`budget` bytes) ran out first — it keeps its place and resumes next turn."""
    outbox, hub = ctx.outbox, ctx.hub
    link = link or LinkState.load(ctx)
    sent_before = report.bytes_sent
    # Nothing of a dossier still 'sealed' was ever sent, and its objects are freshly encrypted (unique): the hub
    # cannot hold them, so the lookup round trip is skipped. Once 'uploading' (a crash may have left them there),
    # or if a USB bundle exported since it was sealed may have carried them, the hub is asked.
    exported_at = outbox.get_state(BUNDLE_EXPORTED_KEY)
    fresh = dossier.state == "sealed" and (exported_at is None or dossier.updated_at > exported_at)
    outbox.mark_uploading(dossier.id)
    for doc in outbox.documents(dossier.id):
        try:
            outbox.blobs.verify(doc.sha256)
        except ObjectCorrupt as exc:
            raise DossierRefused(f"Tệp {doc.name} trên máy bị hỏng hoặc mất; cần quét lại hồ sơ.",
                                 f"Local copy of {doc.name} is corrupt or missing: {exc}; rescan the dossier.",
                                 "local_blob_corrupt") from exc
        if not fresh and hub.has_object(doc.sha256):
            outbox.forget_upload(doc.sha256)
            continue
        left = None if budget is None else budget - (report.bytes_sent - sent_before)
        if left is not None and left <= 0:
            return False
        try:
            _upload_object(ctx, dossier, doc.sha256, doc.size, doc.name, report, on_progress, link, left)
        except TurnOver:
            return False
    with outbox.transaction() as conn:
        conn.execute("UPDATE dossiers SET uploaded_at=COALESCE(uploaded_at, ?) WHERE id=?",
                     (format_utc(), dossier.id))
    crash_point("after_upload")
    answer = hub.commit(*manifest_for_transport(dossier.signed_manifest or ""))
    crash_point("after_commit_sent")
    try:
        receipt = verify_receipt(Envelope.from_dict(answer), ctx.hub_key, dossier.manifest_hash)
    except ProtocolError as exc:
        raise ReceiptInvalid("Biên nhận của trung tâm không hợp lệ; giữ nguyên hồ sơ.",
                             f"The hub's receipt does not verify against the pinned key: {exc}; keeping the dossier.",
                             "Báo quản trị viên / tell the administrator") from exc
    outbox.mark_committed(dossier.id, json.dumps(answer, ensure_ascii=False), receipt.hub_sequence)
    report.committed.append(dossier.code)
    audit_event(ctx, "dossier.committed", dossier.id, hub_sequence=receipt.hub_sequence, manifest=dossier.manifest_hash)
    log.info("committed dossier=%s hub_seq=%d", dossier.id, receipt.hub_sequence)
    return True


def _upload_object(ctx: AgentContext, dossier: Dossier, sha256: str, size: int, name: str, report: SyncReport,
                   on_progress: Callable[[str, int, int], None] | None, link: LinkState,
                   budget: int | None = None) -> None:
    """Create or resume one tus upload. Raises TurnOver once `budget` bytes were acknowledged."""
    first_chunk_seen = False
    chunks = _CountingChunks(link.chunker)

    def progress(offset: int, length: int) -> None:
        nonlocal first_chunk_seen
        if not first_chunk_seen:
            first_chunk_seen = True
            crash_point("after_first_chunk")
        if on_progress:
            on_progress(dossier.code, offset, length)
        if budget is not None and offset < length and chunks.acknowledged >= budget:
            raise TurnOver()

    try:
        _send_object(ctx, dossier.code, sha256, size, name, report, chunks, progress)
    finally:
        report.bytes_sent += chunks.acknowledged


def upload_blob(ctx: AgentContext, sha256: str, size: int, name: str, report: SyncReport, link: LinkState,
                label: str) -> None:
    """Make the hub hold one local blob (skip it if it does), resuming any earlier upload.

    Used for payload that is not a dossier document, e.g. a courier's evidence photo."""
    ctx.outbox.blobs.verify(sha256)
    if ctx.hub.has_object(sha256):
        ctx.outbox.forget_upload(sha256)
        return
    chunks = _CountingChunks(link.chunker)
    try:
        _send_object(ctx, label, sha256, size, name, report, chunks, lambda offset, length: None)
    finally:
        report.bytes_sent += chunks.acknowledged


class _CountingChunks:
    """Forwards chunk feedback to the link's policy and counts acknowledged bytes."""

    def __init__(self, policy: ChunkPolicy):
        self.policy = policy
        self.acknowledged = 0

    def size(self) -> int:
        return self.policy.size()

    def __call__(self) -> int:
        return self.policy.size()

    def record_success(self, nbytes: int, seconds: float) -> None:
        self.acknowledged += nbytes
        self.policy.record_success(nbytes, seconds)

    def record_failure(self) -> None:
        self.policy.record_failure()


def _send_object(ctx: AgentContext, label: str, sha256: str, size: int, name: str, report: SyncReport,
                 chunks: _CountingChunks, progress: Callable[[int, int], None]) -> None:
    outbox, hub = ctx.outbox, ctx.hub

    for _ in range(2):  # a second round only if the hub forgot the upload
        url = outbox.upload_url(sha256)
        known_offset = None  # an upload from an earlier pass: ask the hub how far it got
        if url is None:
            url = create_upload(ctx, sha256, size, name, report, chunks.policy)
            if url is None:  # finished while clearing the hub's upload quota (an upload the outbox had lost)
                return
            crash_point("after_upload_create")
            outbox.set_upload_url(sha256, url, size)
            known_offset = 0  # just created: no need to ask
        try:
            with outbox.blobs.open(sha256) as stream:
                result = hub.upload(url, stream, size, chunks, progress, known_offset)
        except UploadGone:
            outbox.forget_upload(sha256)
            continue
        if result.started_at_offset:
            report.resumed_from[label] = result.started_at_offset
        outbox.forget_upload(sha256)
        return
    raise HubUnreachable("Trung tâm liên tục mất phiên tải lên.", "The hub keeps losing the upload.")


def purge_due(ctx: AgentContext, now: datetime | None = None) -> list[str]:
    """Delete local payload of committed dossiers whose retention has passed."""
    now = now or datetime.now(timezone.utc)
    keep = timedelta(hours=ctx.config.settings.retention_hours)
    purged = []
    for dossier in ctx.outbox.list(("committed",)):
        committed = parse_utc(dossier.committed_at or "")
        if committed + keep > now:
            continue
        # Re-verify the stored receipt before deleting anything: no receipt, no purge.
        try:
            verify_receipt(Envelope.from_dict(json.loads(dossier.receipt or "{}")), ctx.hub_key, dossier.manifest_hash)
        except (ProtocolError, ValueError) as exc:  # damaged or altered receipt: keep the payload, go on
            ctx.outbox.record_failure(dossier.id, f"stored hub receipt does not verify ({type(exc).__name__}); "
                                                  "local payload kept, not purged")
            log.error("purge_refused dossier=%s reason=receipt_invalid error=%s", dossier.id, type(exc).__name__)
            continue
        crash_point("before_purge")
        for sha in ctx.outbox.blobs_only_used_by(dossier.id):
            ctx.outbox.blobs.delete(sha)
        ctx.outbox.mark_purged(dossier.id)
        purged.append(dossier.code)
        audit_event(ctx, "dossier.purged", dossier.id)
        log.info("purged dossier=%s", dossier.id)
    return purged
