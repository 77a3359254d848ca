"""Send couriers' signed proofs of delivery back to the hub (part of every sync pass).

For each pending proof: upload its evidence images (resumable, like payload),
post the signed proof, mark it synced, then delete the local evidence images
(minimum data: the hub holds them now). A refused proof is logged and stays
pending, so it is tried again next pass; the link failing ends the pass.
"""
from __future__ import annotations

import json
import logging

from sync_protocol.delivery_proof import evidence_of
from sync_protocol.errors import ObjectCorrupt

from .context import AgentContext
from .courier import mark_proofs_synced, pending_proofs
from .errors import DeviceNotAuthorised, DossierRefused, HubError, HubUnreachable
from .sync import LinkState, SyncReport, upload_blob

log = logging.getLogger("motcua.agent.proof_sync")


def send_delivery_proofs(ctx: AgentContext, report: SyncReport, link: LinkState) -> int:
    sent = 0
    for envelope in pending_proofs(ctx):
        record_id = envelope.document["record_id"]
        try:
            for item in evidence_of(envelope.document):
                upload_blob(ctx, item["sha256"], item["size"], f"evidence-{item['kind']}", report, link,
                            label=f"proof:{record_id}")
            ctx.hub.post_delivery_proof(json.dumps(envelope.to_dict(), ensure_ascii=False).encode("utf-8"))
        except HubUnreachable as exc:
            report.unreachable = exc.message_en
            break
        except DeviceNotAuthorised:
            raise
        except (DossierRefused, HubError, ObjectCorrupt) as exc:
            log.warning("proof_not_sent record=%s error=%s", record_id, getattr(exc, "code", type(exc).__name__))
            continue
        mark_proofs_synced(ctx, [record_id])
        for item in evidence_of(envelope.document):
            if not _still_needed(ctx, item["sha256"]):
                ctx.outbox.blobs.delete(item["sha256"])
        sent += 1
        log.info("proof_sent record=%s", record_id)
    report.proofs_sent += sent
    return sent


def _still_needed(ctx: AgentContext, sha256: str) -> bool:
    """An evidence blob is still needed if an unsent proof or a live dossier refers to it."""
    for envelope in pending_proofs(ctx):
        if any(i["sha256"] == sha256 for i in evidence_of(envelope.document)):
            return True
    row = ctx.outbox.conn.execute(
        "SELECT 1 FROM documents d JOIN dossiers x ON x.id=d.dossier_id WHERE d.sha256=? AND x.state<>'purged'",
        (sha256,)).fetchone()
    return row is not None
