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
dossier moves it to the rejected lane and the pass goes on. Steps 1–2 of the next
dossier and 3–4 of the previous one overlap the current one's bytes, so the link
does not idle between dossiers (agent.delivery.dossier_upload).
The hub's upload quota refusing a creation clears this desk's own abandoned
uploads and retries once (agent.delivery.upload_quota); if it is still full,
the pass creates no more uploads and reports it (`upload_quota`, `retry_after`).
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, TypeVar

import requests

from agent.context import AgentContext
from agent.crashpoints import crash_point
from agent.delivery.dossier_upload import (
    GONE_LIMIT,
    CountingChunks,
    Sender,
    Transfer,
    commit,
    open_upload,
    prepare,
    send,
    settle,
    uploads_keep_vanishing,
)
from agent.delivery.envelopes import send_envelopes
from agent.delivery.feed import try_pull_feed
from agent.errors import DeviceNotAuthorised, DossierRefused, HubError, HubUnreachable, UploadQuotaFull
from agent.ops.audit import audit_event
from agent.ops.metrics import record_sync_result
from agent.outbox.store import Dossier
from sync_protocol.chunking import ChunkPolicy
from sync_protocol.errors import ProtocolError, UploadGone, UploadTransportError
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope
from sync_protocol.timestamps import format_utc, parse_utc

log = logging.getLogger("motcua.agent.sync")
T = TypeVar("T")


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


LINK_STATE_KEY = "link:chunker"


@dataclass
class LinkState:
    """What the agent has learned about its link: the adaptive chunk policy (kept across restarts)."""

    chunker: ChunkPolicy

    @classmethod
    def load(cls, ctx: AgentContext) -> "LinkState":
        largest = max(16 * 1024, int(ctx.config.settings.chunk_size))
        # start at the smallest chunk and let it grow with measured throughput: a first chunk sized for a good
        # link does not fit in a short window of a bad one and is lost whole
        policy = ChunkPolicy(max_size=largest, initial_size=min(largest, 16 * 1024), min_size=min(largest, 16 * 1024))
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
    sender = Sender()
    try:
        _deliver_queue(ctx, report, link, sender, on_progress, between)
    finally:
        sender.close()
    if report.unreachable is None:
        send_envelopes(ctx, report, lambda sha, size, name, label: upload_blob(ctx, sha, size, name, report, link,
                                                                             label=label))
    link.save(ctx)
    if (report.committed or report.proofs_sent) and report.unreachable is None:
        try_pull_feed(ctx)  # the hub may already have news about what just arrived
    report.purged.extend(purge_due(ctx))
    record_sync_result(ctx.outbox, report.complete)  # for `motcua metrics` / `motcua doctor`
    return report


def _deliver_queue(ctx: AgentContext, report: SyncReport, link: LinkState, sender: Sender,
                   on_progress: Callable[[str, int, int], None] | None, between: Callable[[], object] | None) -> None:
    """Deliver the queue as a pipeline (agent.delivery.dossier_upload): prepare the next dossier while the
    sender carries this one's bytes, start the next one's bytes as soon as these are acknowledged, then
    commit this one while they flow."""
    turns: dict[str, int] = {}
    finished: set[str] = set()
    gone: dict[str, int] = {}
    flight: tuple[Transfer, Future] | None = None
    while True:
        nxt: Transfer | None = None
        if report.unreachable is None:
            if between is not None:
                between()  # e.g. seal dossiers captured meanwhile, so urgent ones join this pass
            busy = flight[0].dossier.id if flight else None
            queue = [d for d in ordered_deliverable(ctx) if d.id not in finished and d.id != busy]
            if queue:
                dossier = min(queue, key=lambda d: turns.get(d.id, 0))  # first in priority among the least served
                shared = len(queue) + (flight is not None) > 1
                budget = link.chunker.budget_bytes(ctx.config.settings.fair_share_seconds) if shared else None
                nxt = _attempt(ctx, report, link, finished, dossier,
                               lambda: prepare(ctx, dossier, budget, report, link.chunker))
                if nxt is None and report.unreachable is None and flight is None:
                    continue  # refused or failed: on to the next one
        if flight is None and nxt is None:
            return
        done, flight = flight, None
        if done is not None:
            all_there = _attempt(ctx, report, link, finished, done[0].dossier,
                                 lambda: settle(ctx, done[0], done[1], report, gone))
        if nxt is not None and report.unreachable is None:
            flight = nxt, sender.start(lambda t=nxt: send(ctx, t, link.chunker, on_progress))
        if done is None:
            continue
        if all_there:  # all its bytes are at the hub: commit, even if the next one's preparation just failed
            finished.add(done[0].dossier.id)
            _attempt(ctx, report, link, finished, done[0].dossier, lambda: commit(ctx, done[0].dossier, report))
        elif all_there is False:
            turns[done[0].dossier.id] = turns.get(done[0].dossier.id, 0) + 1


def _attempt(ctx: AgentContext, report: SyncReport, link: LinkState, finished: set[str], dossier: Dossier,
             step: Callable[[], T]) -> T | None:
    """Run one step of a dossier's delivery; a failure is recorded on that dossier (None is returned).
    The link failing ends the pass (the rest would fail too); a refusal moves the dossier to the rejected lane."""
    try:
        return step()
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
        if report.unreachable is None:
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
    return None


def upload_blob(ctx: AgentContext, sha256: str, size: int, name: str, report: SyncReport, link: LinkState,
                label: str) -> None:
    """Make the hub hold one local blob (skip it if it does), resuming any earlier upload.

    Used for payload that is not a dossier document, e.g. a courier's evidence photo."""
    ctx.outbox.blobs.verify(sha256)
    if ctx.hub.has_object(sha256):
        ctx.outbox.forget_upload(sha256)
        return
    chunks = CountingChunks(link.chunker)
    try:
        for _ in range(GONE_LIMIT):  # a second round only if the hub forgot the upload
            job = open_upload(ctx, sha256, size, name, report, chunks.policy)
            if job is None:  # finished while clearing the hub's upload quota
                return
            try:
                with ctx.outbox.blobs.open(sha256) as stream:
                    result = ctx.hub.upload(job.url, stream, size, chunks, None, job.known_offset)
            except UploadGone:
                ctx.outbox.forget_upload(sha256)
                continue
            if result.started_at_offset:
                report.resumed_from[label] = result.started_at_offset
            ctx.outbox.forget_upload(sha256)
            return
    finally:
        report.bytes_sent += chunks.acknowledged
    raise uploads_keep_vanishing()


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
