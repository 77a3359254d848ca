"""One dossier's delivery in three steps, so the sync loop can keep the link busy between dossiers.

  1. `prepare` (sync thread): verify local blobs, skip objects the hub holds, create the
     tus uploads and store their URLs — the HTTP round trips that carry no payload;
  2. `send` (the `Sender` thread): the PATCHes, the only step that fills the link;
  3. `commit` (sync thread): commit the signed manifest, verify and store the receipt.

Done one after the other, the link idles between two dossiers for the last chunk's answer,
the commit, the bookkeeping and the next upload's creation — a fifth of the time for
200 KiB dossiers at 2 Mbit/s. The sync loop (agent.delivery.sync) prepares dossier N+1
while N's bytes flow, starts N+1's bytes the moment N's are acknowledged, and commits N
while N+1's flow. At most one transfer and one commit are ever in flight, commits go in
queue order, and all SQLite work stays on the sync thread (the sender only reads blob files
and talks HTTP), so crash safety is that of the serial order: a dossier is committed only
after all its bytes were acknowledged, and the receipt is stored before it counts as done.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from agent.context import AgentContext
from agent.crashpoints import crash_point
from agent.errors import DossierRefused, HubError, HubUnreachable
from agent.ops.audit import audit_event
from agent.outbox.store import Dossier
from agent.delivery.upload_quota import QuotaReport, create_upload
from agent.sealing.at_rest import manifest_for_transport
from sync_protocol.chunking import ChunkPolicy
from sync_protocol.errors import ObjectCorrupt, ProtocolError, UploadGone
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope
from sync_protocol.timestamps import format_utc

log = logging.getLogger("motcua.agent.sync")

#: device_state key: when the last USB bundle was exported (agent.delivery.bundles)
BUNDLE_EXPORTED_KEY = "bundle:exported_at"
#: a dossier whose upload the hub forgets this many times in one pass stops the pass
GONE_LIMIT = 2


class ReceiptInvalid(HubError):
    """The hub answered a commit with a receipt that does not verify: keep everything, retry later."""


class TurnOver(Exception):
    """Raised from the progress callback when a dossier has used its fair share of the link."""


class CountingChunks:
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


@dataclass
class ObjectJob:
    sha256: str
    size: int
    name: str
    url: str
    #: 0 right after creation (no HEAD needed); None: ask the hub how far an earlier upload got
    known_offset: int | None


@dataclass
class Transfer:
    """What `send` must move for one dossier, and what it did (read by the sync thread after the future ends)."""

    dossier: Dossier
    objects: list[ObjectJob]
    budget: int | None = None
    acknowledged: int = 0
    #: (sha256, offset the upload resumed from) of each object whose bytes are all at the hub
    done: list[tuple[str, int]] = field(default_factory=list)
    current: str | None = None


def prepare(ctx: AgentContext, dossier: Dossier, budget: int | None, report: QuotaReport,
            policy: ChunkPolicy) -> Transfer:
    """Step 1 (sync thread): verify blobs, skip what the hub holds, create or find each object's tus upload."""
    outbox, hub = ctx.outbox, ctx.hub
    # Nothing of a dossier still 'sealed' was ever sent, and its objects are freshly encrypted (unique): the hub
    # cannot hold them, so the lookup round trip is skipped. Once 'uploading' (a crash may have left them there),
    # or if a USB bundle exported since it was sealed may have carried them, the hub is asked.
    exported_at = outbox.get_state(BUNDLE_EXPORTED_KEY)
    fresh = dossier.state == "sealed" and (exported_at is None or dossier.updated_at > exported_at)
    outbox.mark_uploading(dossier.id)
    jobs = []
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
        job = open_upload(ctx, doc.sha256, doc.size, doc.name, report, policy)
        if job is not None:
            jobs.append(job)
    return Transfer(dossier, jobs, budget)


def open_upload(ctx: AgentContext, sha256: str, size: int, name: str, report: QuotaReport,
                policy: ChunkPolicy) -> ObjectJob | None:
    """The stored upload of an object, or a new one (its URL stored at once, so a restart resumes it).
    None: clearing the hub's upload quota finished this very object (agent.delivery.upload_quota)."""
    url = ctx.outbox.upload_url(sha256)
    if url is not None:
        return ObjectJob(sha256, size, name, url, None)  # from an earlier pass: ask the hub how far it got
    url = create_upload(ctx, sha256, size, name, report, policy)
    if url is None:
        ctx.outbox.forget_upload(sha256)
        return None
    crash_point("after_upload_create")
    ctx.outbox.set_upload_url(sha256, url, size)
    return ObjectJob(sha256, size, name, url, 0)


def send(ctx: AgentContext, transfer: Transfer, policy: ChunkPolicy,
         on_progress: Callable[[str, int, int], None] | None = None) -> bool:
    """Step 2 (sender thread: blob files and HTTP only). True when every object is at the hub,
    False when the dossier's turn (`budget` bytes) ran out first. Raises what the upload raises."""
    chunks = CountingChunks(policy)
    code, budget = transfer.dossier.code, transfer.budget
    first_chunk_seen = False

    def progress(offset: int, length: int) -> None:
        nonlocal first_chunk_seen
        if not first_chunk_seen:
            first_chunk_seen = True
            crash_point("after_first_chunk")
        transfer.acknowledged = chunks.acknowledged
        if on_progress:
            on_progress(code, offset, length)
        if budget is not None and offset < length and chunks.acknowledged >= budget:
            raise TurnOver()

    try:
        for job in transfer.objects:
            if budget is not None and chunks.acknowledged >= budget:
                return False
            transfer.current = job.sha256
            with ctx.outbox.blobs.open(job.sha256) as stream:
                result = ctx.hub.upload(job.url, stream, job.size, chunks, progress, job.known_offset)
            transfer.done.append((job.sha256, result.started_at_offset))
        return True
    except TurnOver:
        return False
    finally:
        transfer.acknowledged = chunks.acknowledged


def settle(ctx: AgentContext, transfer: Transfer, outcome: Future, report, gone: dict[str, int]) -> bool:  # type: ignore[no-untyped-def]
    """Sync thread, after `send` ended: record what reached the hub; re-raise its failure.
    A forgotten upload (UploadGone) is dropped locally and the dossier tries again next turn."""
    try:
        try:
            return bool(outcome.result())
        finally:
            report.bytes_sent += transfer.acknowledged
            for sha256, started in transfer.done:
                ctx.outbox.forget_upload(sha256)
                if started:
                    report.resumed_from[transfer.dossier.code] = started
    except UploadGone:
        ctx.outbox.forget_upload(transfer.current or "")
        gone[transfer.dossier.id] = gone.get(transfer.dossier.id, 0) + 1
        if gone[transfer.dossier.id] >= GONE_LIMIT:
            raise uploads_keep_vanishing() from None
        return False


def uploads_keep_vanishing() -> HubUnreachable:
    """The hub forgot this object's upload GONE_LIMIT times in one pass: treat it as a failing link."""
    return HubUnreachable("Trung tâm liên tục mất phiên tải lên.", "The hub keeps losing the upload.")


def commit(ctx: AgentContext, dossier: Dossier, report) -> None:  # type: ignore[no-untyped-def]
    """Step 3 (sync thread): all bytes are at the hub; commit, verify the receipt, store it."""
    outbox, hub = ctx.outbox, ctx.hub
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


class Sender:
    """The one thread that carries payload bytes; at most one transfer at a time."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None

    def start(self, fn: Callable[[], bool]) -> Future:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="motcua-sender")
        return self._pool.submit(fn)

    def close(self) -> None:
        """Wait for the transfer in flight (it ends on its own: success, failure or the request timeouts)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
