"""Upload signed envelopes and the blobs they name — a generic job that desk workflows hand to delivery.

A job (e.g. the desk's courier proofs of delivery) registers with `register_envelope_job`; every sync pass
asks each job for its pending envelopes and, for each one: uploads the blobs it names (resumable, like
payload), posts the signed body to the job's hub path, tells the job it was sent, then deletes local blobs no
pending envelope or live dossier still needs (minimum data: the hub holds them now). A refused envelope is
logged and stays pending, so it is tried again next pass; the link failing ends the pass. Delivery never
looks inside an envelope.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from agent.context import AgentContext
from agent.errors import DeviceNotAuthorised, DossierRefused, HubError, HubUnreachable, UploadQuotaFull
from sync_protocol.errors import ObjectCorrupt

log = logging.getLogger("motcua.agent.envelopes")


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int
    kind: str


@dataclass(frozen=True)
class OutgoingEnvelope:
    """One signed document to post, with the blobs the hub must hold first."""

    record_id: str
    body: bytes
    blobs: list[BlobRef] = field(default_factory=list)


class EnvelopeJob(Protocol):
    name: str  # short, grep-able: also the upload label prefix
    hub_path: str  # where the signed body is POSTed, e.g. /v1/delivery-proofs

    def pending(self, ctx: AgentContext) -> list[OutgoingEnvelope]: ...

    def mark_sent(self, ctx: AgentContext, record_id: str) -> None: ...


_jobs: list[EnvelopeJob] = []


def register_envelope_job(job: EnvelopeJob) -> None:
    if all(existing.name != job.name for existing in _jobs):
        _jobs.append(job)


def envelope_jobs() -> tuple[EnvelopeJob, ...]:
    return tuple(_jobs)


UploadBlob = Callable[[str, int, str, str], None]  # (sha256, size, name, label)


def send_envelopes(ctx: AgentContext, report: Any, upload_blob: UploadBlob) -> int:
    """Send every registered job's pending envelopes; count them in `report.proofs_sent`."""
    sent = 0
    for job in _jobs:
        for envelope in job.pending(ctx):
            try:
                for blob in envelope.blobs:
                    upload_blob(blob.sha256, blob.size, f"{job.name}-{blob.kind}", f"{job.name}:{envelope.record_id}")
                ctx.hub.post_envelope(job.hub_path, envelope.body, job.name)
            except UploadQuotaFull:  # the report already says so (agent.delivery.upload_quota); the link is fine
                report.proofs_sent += sent
                return sent
            except HubUnreachable as exc:
                report.unreachable = exc.message_en
                report.proofs_sent += sent
                return sent
            except DeviceNotAuthorised:
                raise
            except (DossierRefused, HubError, ObjectCorrupt) as exc:
                log.warning("envelope_not_sent job=%s record=%s error=%s", job.name, envelope.record_id,
                            getattr(exc, "code", type(exc).__name__))
                continue
            job.mark_sent(ctx, envelope.record_id)
            for blob in envelope.blobs:
                if not _still_needed(ctx, blob.sha256):
                    ctx.outbox.blobs.delete(blob.sha256)
            sent += 1
            log.info("envelope_sent job=%s record=%s", job.name, envelope.record_id)
    report.proofs_sent += sent
    return sent


def _still_needed(ctx: AgentContext, sha256: str) -> bool:
    """A blob is still needed if an unsent envelope or a live dossier refers to it."""
    for job in _jobs:
        if any(b.sha256 == sha256 for e in job.pending(ctx) for b in e.blobs):
            return True
    row = ctx.outbox.conn.execute(
        "SELECT 1 FROM documents d JOIN dossiers x ON x.id=d.dossier_id WHERE d.sha256=? AND x.state<>'purged'",
        (sha256,)).fetchone()
    return row is not None
