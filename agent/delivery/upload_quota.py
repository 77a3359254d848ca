"""Clearing this desk's unfinished tus uploads when the hub says its upload quota is full.

The hub lets each device hold `max_open_uploads` unfinished uploads reserving `max_reserved_bytes`
(429 `upload_quota` / 413 `byte_quota` on creation). A desk fills that by itself when it crashes
between creating an upload and recording it, when its outbox is restored from a backup, or when the
dossier an upload belonged to was rejected or purged meanwhile. Waiting for the hub's expiry (days)
would stall the desk, so on the first refusal of a pass the sync loop calls `free_upload_quota`, which:

  1. terminates (tus DELETE) every upload the outbox recorded whose blob no queued dossier or pending
     envelope needs any more;
  2. asks the hub for the device's own open uploads (GET /v1/uploads?mine=1) and terminates those the
     outbox does not know — or adopts one whose sha256 is still needed, so its bytes are not sent again;
  3. finishes (HEAD + PATCH) the remaining recorded uploads, which all belong to queued work.

Then the caller retries the creation once; a second refusal ends uploading of new objects for the pass.
A second agent process of the same desk may lose an upload it created an instant before (not yet
recorded): its next PATCH gets 404, and it creates the upload again — the ordinary UploadGone path.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

from agent.context import AgentContext
from agent.delivery.envelopes import envelope_jobs
from agent.errors import DossierRefused, UploadQuotaFull
from sync_protocol.errors import ObjectCorrupt, UploadGone
from sync_protocol.tus_client import ChunkFeedback

log = logging.getLogger("motcua.agent.upload_quota")


@dataclass
class Freed:
    """What one clean-up did (counts only: upload ids and hashes stay out of reports)."""

    terminated: int = 0
    finished: int = 0
    adopted: int = 0
    bytes_sent: int = 0
    finished_blobs: set[str] = field(default_factory=set)


class QuotaReport(Protocol):
    """The parts of a sync pass's report (agent.delivery.sync.SyncReport) this module reads and writes."""

    bytes_sent: int
    upload_quota: str | None
    retry_after: float | None
    quota_cleared: bool


def create_upload(ctx: AgentContext, sha256: str, size: int, name: str, report: QuotaReport,
                  chunks: ChunkFeedback) -> str | None:
    """tus creation. On the hub's quota refusal: clear this desk's leftovers once per pass and retry
    once; a second refusal stops new uploads for the rest of the pass (UploadQuotaFull, no request).
    None: the clean-up itself finished an upload of this very blob (the hub holds it now)."""
    if report.upload_quota is not None:
        raise UploadQuotaFull("Tạm dừng tải tệp mới: hạn mức của trung tâm vẫn đầy.",
                              "New uploads paused for this pass: the hub's upload quota is still full.",
                              report.retry_after)
    try:
        return ctx.hub.create_upload(size, sha256, name)
    except UploadQuotaFull as exc:
        if report.quota_cleared:
            _quota_still_full(report, exc)
        report.quota_cleared = True
    freed = Freed()
    try:
        free_upload_quota(ctx, chunks, size, freed)
    finally:
        report.bytes_sent += freed.bytes_sent
    if sha256 in freed.finished_blobs:
        return None
    try:
        return ctx.hub.create_upload(size, sha256, name)
    except UploadQuotaFull as exc:
        _quota_still_full(report, exc)


def _quota_still_full(report: QuotaReport, exc: UploadQuotaFull) -> NoReturn:
    wait = f"{exc.retry_after:.0f}" if exc.retry_after is not None else "?"
    report.retry_after = exc.retry_after
    report.upload_quota = (f"Trung tâm vẫn báo đầy hạn mức phiên tải lên của máy này sau khi đã dọn phiên bỏ dở; "
                           f"tạm dừng gửi tệp mới, sẽ thử lại sau {wait} giây. / The hub's upload quota for this desk "
                           f"is still full after clearing abandoned uploads; new uploads paused, retrying in {wait} s.")
    log.warning("upload_quota_full retry_after=%s", wait)
    raise exc


def needed_blobs(ctx: AgentContext) -> set[str]:
    """Blobs still to be delivered: documents of queued dossiers and blobs of unsent envelopes."""
    needed = ctx.outbox.queued_blobs()
    for job in envelope_jobs():
        needed.update(b.sha256 for e in job.pending(ctx) for b in e.blobs)
    return needed


def _upload_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def free_upload_quota(ctx: AgentContext, chunks: ChunkFeedback, wanted_size: int, freed: Freed) -> None:
    """Terminate this desk's stray uploads and finish its resumable ones (see the module docstring).

    Counts into `freed` as it goes, so what was done before a failure is still reported. Raises
    DossierRefused when the hub's byte quota is smaller than `wanted_size` alone (no clean-up can make
    room), HubUnreachable when the link fails."""
    outbox, hub = ctx.outbox, ctx.hub
    needed = needed_blobs(ctx)
    recorded = outbox.recorded_uploads()
    for sha, (url, _) in list(recorded.items()):
        if sha not in needed:
            _terminate(ctx, url, freed)
            outbox.forget_upload(sha)
            del recorded[sha]
    listing = hub.list_own_uploads()  # None: an older hub, only what the outbox remembers can be cleared
    if listing is not None:
        _check_room(listing, wanted_size)
        known = {_upload_id(url) for url, _ in recorded.values()}
        for entry in listing["uploads"]:
            if entry["id"] in known:
                continue
            sha = str(entry.get("sha256", ""))
            if sha in needed and sha not in recorded and isinstance(entry.get("length"), int):
                url = hub.url(f"/v1/uploads/{entry['id']}")  # ours, lost from the outbox: resume, not resend
                outbox.set_upload_url(sha, url, entry["length"])
                recorded[sha] = (url, entry["length"])
                freed.adopted += 1
            else:
                _terminate(ctx, hub.url(f"/v1/uploads/{entry['id']}"), freed)
    for sha, (url, length) in recorded.items():
        _finish(ctx, sha, url, length, chunks, freed)
    log.info("upload_quota_cleared terminated=%d finished=%d adopted=%d", freed.terminated, freed.finished,
             freed.adopted)


def _check_room(listing: dict[str, Any], wanted_size: int) -> None:
    limit = listing.get("max_reserved_bytes")
    if isinstance(limit, int) and wanted_size > limit:
        raise DossierRefused(f"Tệp {wanted_size} byte lớn hơn hạn mức {limit} byte trung tâm dành cho máy này.",
                             f"A {wanted_size}-byte file exceeds the hub's {limit}-byte upload quota for this desk.",
                             "byte_quota")


def _terminate(ctx: AgentContext, url: str, freed: Freed) -> None:
    try:
        ctx.hub.terminate_upload(url)
        freed.terminated += 1
    except DossierRefused as exc:  # e.g. not ours after all (404 is already "done"): nothing to free there
        log.warning("upload_terminate_refused code=%s", exc.code)


def _finish(ctx: AgentContext, sha: str, url: str, length: int, chunks: ChunkFeedback, freed: Freed) -> None:
    """Resume one recorded upload to its end (HEAD, then PATCH from the hub's offset)."""
    try:
        with ctx.outbox.blobs.open(sha) as stream:
            result = ctx.hub.upload(url, stream, length, chunks)
    except UploadGone:
        ctx.outbox.forget_upload(sha)  # expired meanwhile: it holds no quota any more
        return
    except (ObjectCorrupt, OSError) as exc:  # the dossier's own pass will dead-letter it; free the slot now
        log.warning("upload_finish_skipped error=%s", type(exc).__name__)
        _terminate(ctx, url, freed)
        ctx.outbox.forget_upload(sha)
        return
    except DossierRefused as exc:
        log.warning("upload_finish_refused code=%s", exc.code)
        return
    freed.finished += 1
    freed.finished_blobs.add(sha)
    freed.bytes_sent += result.bytes_sent
    ctx.outbox.forget_upload(sha)

