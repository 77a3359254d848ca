"""Commit a signed manifest: verify, extend the device's hash chain, store, sign a receipt.

Checks, in order (the first failure is the answer):
  1. the envelope and manifest are well-formed (400);
  2. the manifest names the authenticated device (403) and its signature verifies (422);
  3. the same dossier version already committed: same manifest -> the same receipt
     (idempotent replay), a different manifest -> 409;
  3b. the device may act on this dossier (hub.authority): its agency's code, its code
     block for a new dossier, its own dossier id for a new version (403);
  4. the hash chain: a different manifest already holds this sequence number,
     or the neighbours' links disagree -> 409 (fork). Gaps are allowed — dossiers
     may arrive out of order by priority — and are reported by `chain_gap_ranges`;
  5. every payload object was uploaded by this device and re-hashes to its
     address with the declared size (422).
All writes happen in one transaction together with the hub sequence number. That
transaction locks only the device's chain and takes its hub sequence number
without waiting for other commits (a PostgreSQL sequence under a shared lock that
only cursor readers take exclusively: numbers are unique and increasing, with
gaps where a transaction rolled back). On PostgreSQL its audit entry is queued
in the same transaction and hash-chained right after (hub.audit_queue), so no
commit waits for another through its COMMIT; on SQLite it is appended directly.
"""
from __future__ import annotations

import json
import logging
from typing import Any, BinaryIO

from sync_protocol.canonical import canonical_json
from sync_protocol.encryption import is_sealed
from sync_protocol.feed import STATUS_NAMES  # national portal codes; a committed dossier starts as 1 (new)
from sync_protocol.errors import InvalidDocument, SignatureInvalid
from sync_protocol.manifest import Manifest, open_manifest
from sync_protocol.receipt import Receipt, sign_receipt
from sync_protocol.signed_document import Envelope
from sync_protocol.timestamps import format_utc

from . import audit, audit_queue, clock_checks
from .authority import check_commit_allowed, commit_refusal
from .auth import Device, signing_key
from .errors import BadRequest, Conflict, Forbidden, Unprocessable
from .state import HubState
from .storage.metadata import IntegrityError, Tx
from .parsing import loads_bounded
from .sealed import SEALED_MANIFEST_TYPE, open_objects, open_sealed_manifest
from .uploads import open_owned

log = logging.getLogger("motcua.hub.commits")

def parse_envelope(body: Any) -> tuple[Envelope, Manifest]:
    try:
        envelope = Envelope.from_dict(body)
        manifest = Manifest.from_dict(envelope.document)
    except InvalidDocument as exc:
        raise BadRequest(f"invalid manifest: {exc}", f"Bản kê khai không hợp lệ: {exc}", code="invalid_manifest") from exc
    return envelope, manifest


def commit_body(state: HubState, device: Device, body: bytes,
                content_type: str = "application/json") -> tuple[dict[str, Any], bool]:
    """The one commit entry point of every delivery path — HTTP `POST /v1/commits` and USB
    bundle import (hub.bundles) — so both verify and dedupe identically: decode the body as
    the device sent it, then `commit_manifest`. Returns (signed receipt, created?)."""
    if content_type.split(";")[0].strip() == SEALED_MANIFEST_TYPE or is_sealed(body):
        parsed = open_sealed_manifest(state, body)  # encrypted to the hub at rest (hub.sealed)
    else:
        try:
            parsed = loads_bounded(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("body is not JSON", "Nội dung không phải JSON") from exc
    return commit_manifest(state, device, parsed)


def commit_manifest(state: HubState, device: Device, body: Any) -> tuple[dict[str, Any], bool]:
    """Commit; return (signed receipt envelope as dict, created?)."""
    envelope, manifest = parse_envelope(body)
    if manifest.device_id != device.device_id:
        audit.record_now(state.db, state.now(), device.device_id, "commit.refused", manifest.dossier_id,
                         reason="device_mismatch", claimed=manifest.device_id)
        raise Forbidden("manifest claims another device's id", "Bản kê khai ghi mã thiết bị khác", code="device_mismatch")
    try:
        open_manifest(envelope, signing_key(state, device, envelope.key_id))
    except SignatureInvalid as exc:
        audit.record_now(state.db, state.now(), device.device_id, "commit.refused", manifest.dossier_id,
                         reason="manifest_signature_invalid")
        raise Unprocessable(f"manifest signature is invalid: {exc}", "Chữ ký bản kê khai không hợp lệ",
                            code="manifest_signature_invalid") from exc
    manifest_hash = manifest.hash
    existing = _existing(state.db, manifest)
    if existing is not None:
        return _replay(existing, manifest_hash), False
    check_commit_allowed(state, device, manifest)
    read: dict[str, tuple[BinaryIO, int]] = {}  # each object read once: re-hashed here, decrypted below
    try:
        for obj in manifest.objects:
            found = read.get(obj.sha256) or open_owned(state, device, obj.sha256)
            if found is None:
                raise Unprocessable(f"object {obj.name} ({obj.sha256[:12]}…) has not been uploaded or is corrupt; "
                                    "upload it again", f"Tệp {obj.name} chưa được tải lên hoặc bị hỏng; hãy tải lại",
                                    code="object_missing")
            read[obj.sha256] = found
            if found[1] != obj.size:
                raise Unprocessable(f"object {obj.name} is {found[1]} bytes, manifest says {obj.size}",
                                    f"Tệp {obj.name} có {found[1]} byte, bản kê khai ghi {obj.size}",
                                    code="object_size_mismatch")
        # Decrypt and verify the plaintext before any receipt exists (hub.sealed).
        opened = open_objects(state, manifest, {sha: handle for sha, (handle, _) in read.items()})
    finally:
        for handle, _ in read.values():
            handle.close()
    # Several hub instances may race for the same hub sequence number; the loser
    # of a uniqueness race retries (and finds the winner's commit if it was the same dossier).
    fork, deferred = False, audit_queue.defers(state.db)
    for _ in range(8):
        try:
            # Serial per device (its hash chain), not per hub: other devices commit in parallel.
            with state.db.transaction(lock=f"chain:{device.device_id}") as tx:
                existing = _existing(tx, manifest)
                if existing is not None:
                    return _replay(existing, manifest_hash), False
                refusal = commit_refusal(tx, device, manifest)  # another device won a race for this dossier id
                if refusal is not None:
                    raise refusal
                try:
                    _extend_chain(tx, manifest, manifest_hash)
                except Conflict:
                    fork = True
                    raise
                for doc in opened:
                    tx.execute("INSERT INTO dossier_documents(dossier_id, dossier_version, position, name, media_type,"
                               " cipher_sha256, plain_sha256, plain_size) VALUES (?,?,?,?,?,?,?,?)",
                               (manifest.dossier_id, manifest.dossier_version, doc.position, doc.name,
                                doc.media_type, doc.cipher_sha256, doc.plain_sha256, doc.plain_size))
                # Taken last, so the number is held briefly: readers "after hub sequence N" (the case
                # system's pull and webhooks) wait for its COMMIT (storage.metadata.read_in_sequence_order).
                hub_sequence = tx.next_hub_sequence()
                receipt = Receipt(
                    manifest_hash=manifest_hash, dossier_id=manifest.dossier_id, dossier_code=manifest.dossier_code,
                    device_id=device.device_id, hub_sequence=hub_sequence, received_at=format_utc(),
                    hub_key_id=state.hub_key_id,
                )
                signed = sign_receipt(receipt, state.hub_key).to_dict()
                tx.execute(
                    "INSERT INTO dossiers(dossier_id, dossier_version, manifest_hash, device_id, site, dossier_code,"
                    " procedure_code, channel, status, received_at, hub_sequence, signed_manifest, receipt)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (manifest.dossier_id, manifest.dossier_version, manifest_hash, device.device_id, device.site,
                     manifest.dossier_code, manifest.procedure_code, manifest.channel, 1, receipt.received_at,
                     hub_sequence, canonical_json(envelope.to_dict()).decode(), canonical_json(signed).decode()),
                )
                # PostgreSQL: queued with the commit, chained right after by hub.audit_queue (no hub-wide
                # lock held through this COMMIT); SQLite: appended to the chain here
                (audit_queue.defer if deferred else audit.record)(
                    tx, state.now(), device.device_id, "dossier.committed", manifest.dossier_id,
                    sequence=manifest.sequence, hub_sequence=hub_sequence, manifest=manifest_hash,
                    objects=len(opened))
                time_flags = clock_checks.record_flags(tx, state.now(), device.device_id, manifest, hub_sequence,
                                                       record=(audit_queue.defer if deferred else audit.record))
            break
        except IntegrityError:
            continue
        except Conflict:
            if fork:  # reported to the administrator (motcua hub chain-report), never silently accepted
                audit.record_now(state.db, state.now(), device.device_id, "chain.fork_refused", manifest.dossier_id,
                                 sequence=manifest.sequence, manifest=manifest_hash)
                log.warning("chain_fork_refused device=%s seq=%d", device.device_id, manifest.sequence)
            raise
    else:
        raise Conflict("commit kept conflicting with concurrent commits; retry", "Xung đột khi ghi nhận; thử lại")
    if deferred:
        audit_queue.notify(state.db)
    log.info("committed dossier=%s device=%s seq=%d hub_seq=%d", manifest.dossier_id, device.device_id,
             manifest.sequence, hub_sequence)
    if time_flags:
        log.warning("manifest_time_flagged dossier=%s device=%s flags=%s", manifest.dossier_id, device.device_id,
                    ",".join(time_flags))
    return signed, True


def _existing(tx: Tx, manifest: Manifest) -> dict[str, Any] | None:
    return tx.one("SELECT manifest_hash, receipt FROM dossiers WHERE dossier_id=? AND dossier_version=?",
                  (manifest.dossier_id, manifest.dossier_version))


def _replay(existing: dict[str, Any], manifest_hash: str) -> dict[str, Any]:
    if existing["manifest_hash"] != manifest_hash:
        raise Conflict("this dossier version was already committed with a different manifest",
                       "Phiên bản hồ sơ này đã được nhận với một bản kê khai khác", code="dossier_conflict")
    return json.loads(existing["receipt"])


def _extend_chain(tx: Tx, manifest: Manifest, manifest_hash: str) -> None:
    seq = manifest.sequence
    near = {r["sequence"]: r for r in tx.query(  # the neighbours and this number, in one round trip
        "SELECT sequence, manifest_hash, previous_manifest_hash FROM chain WHERE device_id=? AND sequence BETWEEN ? AND ?",
        (manifest.device_id, seq - 1, seq + 1))}
    here, before, after = near.get(seq), near.get(seq - 1), near.get(seq + 1)
    if here is not None and here["manifest_hash"] != manifest_hash:
        raise Conflict(f"hash chain fork: sequence {seq} already holds another manifest",
                       f"Chuỗi băm bị rẽ nhánh tại số thứ tự {seq}", code="chain_fork")
    if before is not None and before["manifest_hash"] != manifest.previous_manifest_hash:
        raise Conflict(f"hash chain fork: previous_manifest_hash does not match sequence {seq - 1}",
                       "Chuỗi băm không khớp với bản kê khai trước", code="chain_fork")
    if after is not None and after["previous_manifest_hash"] != manifest_hash:
        raise Conflict(f"hash chain fork: sequence {seq + 1} points to another manifest",
                       "Chuỗi băm không khớp với bản kê khai sau", code="chain_fork")
    if here is None:
        tx.execute("INSERT INTO chain(device_id, sequence, manifest_hash, previous_manifest_hash) VALUES (?,?,?,?)",
                   (manifest.device_id, seq, manifest_hash, manifest.previous_manifest_hash))


MAX_LISTED_GAPS = 100


def chain_gap_ranges(state: HubState, device_id: str, limit: int = MAX_LISTED_GAPS) -> list[tuple[int, int]]:
    """Runs of sequence numbers missing below the device's highest committed one, as (first, last),
    at most `limit` runs. Computed from neighbours in SQL, never by listing numbers: a desk that
    commits sequence 2^53-1 leaves one run, not 2^53 numbers to materialise."""
    rows = state.db.query(
        "SELECT prev + 1 AS first, sequence - 1 AS last FROM ("
        " SELECT sequence, COALESCE(LAG(sequence) OVER (ORDER BY sequence), 0) AS prev"
        " FROM chain WHERE device_id=?) AS neighbours WHERE sequence - prev > 1 ORDER BY sequence LIMIT ?",
        (device_id, limit))
    return [(int(r["first"]), int(r["last"])) for r in rows]


def dossier_status(state: HubState, device: Device, dossier_id: str) -> dict[str, Any] | None:
    """The latest version of a dossier of the device's agency, or None (another agency's looks absent)."""
    # Scoped by the agency code of the committing device, never by the free-text site name:
    # two sites may share a name in different agencies.
    row = state.db.one(
        "SELECT d.* FROM dossiers d JOIN devices v ON v.device_id = d.device_id"
        " WHERE d.dossier_id=? AND v.agency_code=? ORDER BY d.dossier_version DESC LIMIT 1",
        (dossier_id, device.agency_code),
    )
    if row is None:
        return None
    name, name_vi = STATUS_NAMES[row["status"]]
    return {
        "dossier_id": row["dossier_id"], "dossier_version": row["dossier_version"], "dossier_code": row["dossier_code"],
        "procedure_code": row["procedure_code"], "status": row["status"], "status_name": name,
        "status_name_vi": name_vi, "received_at": row["received_at"], "hub_sequence": row["hub_sequence"],
        "manifest_hash": row["manifest_hash"],
    }
