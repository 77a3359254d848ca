"""Seal: freeze a captured dossier into a signed manifest on the device's hash chain.

The sequence number, the previous-manifest hash and the new chain head are
read and written in one transaction, so a crash cannot leave two manifests
with one sequence number or a chain head that no dossier holds.
"""
from __future__ import annotations

import json
import logging

from sync_protocol.canonical import canonical_json
from sync_protocol.manifest import Manifest, PayloadObject, sign_manifest

from .context import AgentContext
from .crashpoints import crash_point
from .ids import utc_timestamp
from .outbox import Dossier

log = logging.getLogger("motcua.agent.seal")


def seal_dossier(ctx: AgentContext, ref: str) -> Dossier:
    """Seal one captured dossier (by id or code)."""
    outbox = ctx.outbox
    dossier = outbox.get(ref)
    objects = tuple(PayloadObject(d.name, d.media_type, d.sha256, d.size) for d in outbox.documents(dossier.id))
    with outbox.transaction():
        current = outbox.get(dossier.id)
        if current.state != "captured":
            return current
        sequence, head = outbox.chain_head()
        manifest = Manifest(
            dossier_id=dossier.id, dossier_version=1, dossier_code=dossier.code,
            procedure_code=dossier.procedure_code, channel=dossier.channel, device_id=ctx.config.device_id,
            sequence=sequence + 1, previous_manifest_hash=head, created_at=utc_timestamp(),
            received_at=dossier.received_at, objects=objects,
            metadata={"pages": str(dossier.page_count)},
        )
        envelope = sign_manifest(manifest, ctx.device_key)
        crash_point("before_seal_commit")
        outbox.record_seal(dossier.id, manifest.sequence, manifest.hash, canonical_json(envelope.to_dict()).decode())
    log.info("sealed dossier=%s seq=%d manifest=%s", dossier.id, manifest.sequence, manifest.hash[:12])
    return outbox.get(dossier.id)


def seal_all(ctx: AgentContext) -> list[Dossier]:
    """Seal every captured dossier, oldest first."""
    return [seal_dossier(ctx, d.id) for d in ctx.outbox.list(("captured",))]


def manifest_of(dossier: Dossier) -> dict:
    return json.loads(dossier.signed_manifest or "{}")
