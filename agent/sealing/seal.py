"""Seal: freeze a captured dossier into a signed manifest on the device's hash chain.

The sequence number, the previous-manifest hash and the new chain head are
read and written in one transaction, so a crash cannot leave two manifests
with one sequence number or a chain head that no dossier holds.
"""
from __future__ import annotations

import json
import logging

from agent.context import AgentContext
from agent.crashpoints import crash_point
from agent.errors import StorageError
from agent.ops.audit import audit_event
from agent.outbox.ids import utc_timestamp
from agent.outbox.store import Dossier
from agent.sealing.at_rest import (
    ARMOUR_PREFIX,
    encrypt_blob,
    hub_encryption_key,
    plaintext_metadata,
    seal_manifest_text,
    wipe_blob,
)
from sync_protocol.canonical import canonical_json
from sync_protocol.errors import ObjectCorrupt
from sync_protocol.manifest import Manifest, PayloadObject, sign_manifest

log = logging.getLogger("motcua.agent.seal")


def seal_dossier(ctx: AgentContext, ref: str) -> Dossier:
    """Seal one captured dossier (by id or code): encrypt its payload to the hub, sign, chain.

    Encryption at rest (agent.sealing.at_rest): the ciphertext blobs are written before the
    transaction (a crash leaves only unreferenced ciphertext); the transaction points
    the documents at them and queues the plaintext for wiping, which happens after it.
    """
    outbox = ctx.outbox
    dossier = outbox.get(ref)
    if dossier.state != "captured":
        return dossier
    recipient = hub_encryption_key(ctx.config)
    documents = outbox.documents(dossier.id)
    try:
        # PAdES signature on every PDF, last of all (after OCR), before encryption (agent.sealing.pdf_signing)
        # Imported here: pyHanko costs ~40 MB of RSS, which an idle `motcua run` should not pay.
        from agent.sealing.document_signer import sign_documents

        signed, signing_metadata = sign_documents(ctx, documents)
        encrypted = [(d, encrypt_blob(outbox.blobs, d.sha256, recipient)) for d in signed]
    except ObjectCorrupt as exc:
        raise StorageError(f"Tệp của hồ sơ {dossier.code} trên máy bị hỏng; cần quét lại.",
                           f"A file of dossier {dossier.code} is corrupt on disk: {exc}", "motcua import …") from exc
    objects = tuple(PayloadObject(d.name, d.media_type, e.cipher_sha256, e.cipher_size) for d, e in encrypted)
    with outbox.transaction():
        current = outbox.get(dossier.id)
        if current.state != "captured":
            return current
        sequence, head = outbox.chain_head()
        manifest = Manifest(
            dossier_id=dossier.id, dossier_version=1, dossier_code=dossier.code,
            procedure_code=dossier.procedure_code, channel=dossier.channel, device_id=ctx.config.device_id,
            sequence=sequence + 1, previous_manifest_hash=head, created_at=utc_timestamp(),
            received_at=dossier.received_at, objects=objects, clock=outbox.clock_note(dossier.id),
            metadata={"pages": str(dossier.page_count), **plaintext_metadata([(d.name, e) for d, e in encrypted]),
                      **signing_metadata},
        )
        envelope = sign_manifest(manifest, ctx.device_key)
        crash_point("before_seal_commit")
        outbox.record_seal(dossier.id, manifest.sequence, manifest.hash,
                           seal_manifest_text(canonical_json(envelope.to_dict()), recipient))
        outbox.record_encrypted(dossier.id, [(d.position, e.cipher_sha256, e.cipher_size) for d, e in encrypted],
                                sorted({d.sha256 for d in documents} | {d.sha256 for d in signed}))
    log.info("sealed dossier=%s seq=%d manifest=%s", dossier.id, manifest.sequence, manifest.hash[:12])
    audit_event(ctx, "dossier.sealed", dossier.id, sequence=manifest.sequence, manifest=manifest.hash,
                objects=len(objects))
    wipe_plaintext(ctx)
    return outbox.get(dossier.id)


def wipe_plaintext(ctx: AgentContext) -> int:
    """Overwrite and remove plaintext blobs that sealing left behind (also after a crash)."""
    wiped = 0
    for sha in ctx.outbox.pending_wipes():
        wiped += wipe_blob(ctx.outbox.blobs, sha)
        ctx.outbox.wipe_done(sha)
    return wiped


def seal_all(ctx: AgentContext) -> list[Dossier]:
    """Seal every captured dossier, oldest first (and finish any wipe a crash interrupted)."""
    wipe_plaintext(ctx)
    return [seal_dossier(ctx, d.id) for d in ctx.outbox.list(("captured",))]


def manifest_of(dossier: Dossier) -> dict:
    """The signed manifest of a dossier sealed without encryption ({} when sealed to the hub: unreadable here)."""
    if not dossier.signed_manifest or dossier.signed_manifest.startswith(ARMOUR_PREFIX):
        return {}
    return json.loads(dossier.signed_manifest)
