"""Finishing a tus upload so that a hub killed at any instant loses nothing.

The last chunk of an upload starts the completion; its steps, each a crash
point (hub.crashpoints):

  1. the last chunk has arrived (it is handed to the staging, not stored on
     its own: on S3 that saves a PUT, a GET and a delete per upload) and the
     bytes before it are durable in the UploadStore — the offset in the
     database has NOT moved yet;
  2. the whole upload is staged (assembled locally, ending with the last chunk);
  3. the staged bytes are verified against the declared sha256 and adopted
     into the ObjectStore (a no-op if the object is already there);
  4. ONE transaction records the new offset (= length), `finished_at` and the
     device's ownership of the object;
  5. the upload's bytes are deleted (the janitor deletes them if we die here).

The database offset reaches the upload's length only in step 4, together with
ownership. So a hub that dies in steps 1–3 reports the previous offset to the
client's HEAD, the client re-sends only the last chunk, and the completion runs
again — idempotently, because both stores keep the bytes before the last chunk
until step 5 and adopting an object that is already stored is harmless. A hub that
dies after step 4 has finished: `HEAD /v1/objects/<sha256>` answers "held" and
the client goes straight to its commit. The client never sees "complete" for
an object the hub does not own, and never re-sends the whole file.
"""
from __future__ import annotations

import logging
from typing import Any

from sync_protocol.errors import ObjectCorrupt

from .crashpoints import crash_point
from .errors import Unprocessable
from .state import HubState
from .storage.metadata import NO_LOCK

log = logging.getLogger("motcua.hub.upload_completion")

OWNER_SQL = "INSERT INTO object_owners(sha256, device_id, size) VALUES (?,?,?) ON CONFLICT DO NOTHING"


def finish_upload(state: HubState, device_id: str, row: dict[str, Any], last_chunk: tuple[int, bytes]) -> None:
    """Steps 2–5 for an upload whose bytes before `last_chunk` = (offset, data) are durable and
    whose `last_chunk` ends it.

    The caller holds the upload's lock. Raises Unprocessable (and discards the
    upload) when the bytes do not hash to the declared sha256."""
    upload_id, sha256, length = row["upload_id"], row["sha256"], row["length"]
    crash_point("upload_last_chunk_durable")
    uploads = state.storage.uploads
    path = uploads.stage_complete(upload_id, length, tail=last_chunk)
    try:
        crash_point("upload_staged")
        try:
            state.objects.adopt_file(path, sha256)  # verifies the declared sha256 first
        except ObjectCorrupt as exc:
            uploads.delete(upload_id)
            state.db.execute("DELETE FROM uploads WHERE upload_id=?", (upload_id,))
            log.warning("upload_hash_mismatch upload=%s device=%s", upload_id, device_id)
            raise Unprocessable("uploaded bytes do not hash to the declared sha256; upload discarded",
                                "Dữ liệu tải lên không khớp mã băm đã khai báo; đã huỷ phiên tải lên",
                                code="object_hash_mismatch") from exc
    finally:
        uploads.cleanup_staged(upload_id, path)
    crash_point("upload_adopted")
    now = state.now()
    # Nothing hub-wide to serialise: the upload lock guards the row, ownership is ON CONFLICT DO NOTHING.
    with state.db.transaction(lock=NO_LOCK) as tx:
        tx.execute("UPDATE uploads SET upload_offset=?, updated_at=?, finished_at=? WHERE upload_id=?",
                   (length, now, now, upload_id))
        tx.execute(OWNER_SQL, (sha256, device_id, length))
    crash_point("upload_recorded")
    uploads.delete(upload_id)
    state.storage.locks.forget(f"upload:{upload_id}")
    log.info("upload_complete upload=%s device=%s object=%s", upload_id, device_id, sha256[:12])
