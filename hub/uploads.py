"""tus uploads at the hub: creation, durable appends, completion into the object store.

The offset in the database is the durable truth: a chunk is appended and
fsynced *before* the offset moves, and every append first truncates the file
to the recorded offset, so bytes written before a crash but never acknowledged
are discarded rather than trusted. A completed upload is re-hashed against the
sha256 the device declared and only then moved into the content-addressed store,
crash-proof (hub.upload_completion).

Each device may hold at most `max_open_uploads` unfinished uploads reserving at
most `max_reserved_bytes` (429 with Retry-After / 413 beyond), and may list its own
(never another device's) to clean up after itself. Upload ids that cannot be ours
(not 32 hex digits) are 404 before anything is touched, and no lock file is made
for an upload the database does not know. Termination deletes the bytes before
the row, so it frees space even on a full disk.
"""
from __future__ import annotations

import base64
import errno
import hashlib
import logging
import re
import secrets
from email.utils import formatdate
from typing import Any, BinaryIO, Callable, TypeVar

from sync_protocol.errors import InvalidDocument, ObjectCorrupt
from sync_protocol.manifest import check_object_name
from sync_protocol.timestamps import format_utc

from .auth import Device
from .errors import (BadRequest, ChecksumFailed, Conflict, Gone, InsufficientStorage, Locked, NotFound, TooLarge,
                     TooManyRequests)
from .state import HubState
from .upload_completion import OWNER_SQL, finish_upload

log = logging.getLogger("motcua.hub.uploads")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
T = TypeVar("T")


def is_sha256(text: str) -> bool:
    return bool(_SHA256.fullmatch(text))


def _no_such_upload() -> NotFound:
    return NotFound("no such upload (expired or never created); create a new one",
                    "Không có phiên tải lên này (đã hết hạn hoặc chưa tạo); hãy tạo phiên mới")


def _check_quota(state: HubState, device: Device, length: int) -> None:
    # finished uploads keep their row until the janitor sweeps it (hub.upload_completion): not held any more
    held = state.db.one("SELECT COUNT(*) AS n, COALESCE(SUM(length), 0) AS reserved FROM uploads"
                        " WHERE device_id=? AND finished_at IS NULL",
                        (device.device_id,))
    limit = state.config.max_open_uploads
    if held["n"] >= limit:
        raise TooManyRequests(f"this device already has {held['n']} unfinished uploads (limit {limit}); finish or "
                              "delete some first", f"Thiết bị đang có {held['n']} phiên tải lên dở (tối đa {limit}); "
                              "hãy hoàn tất hoặc huỷ bớt", code="upload_quota", headers={"Retry-After": "60"})
    room = state.config.max_reserved_bytes - int(held["reserved"])
    if length > room:
        raise TooLarge(f"this device's unfinished uploads reserve {held['reserved']} bytes; {length} more would pass "
                       f"its quota of {state.config.max_reserved_bytes}", f"Các phiên tải lên dở của thiết bị đã giữ "
                       f"{held['reserved']} byte; thêm {length} byte sẽ vượt hạn mức {state.config.max_reserved_bytes}",
                       code="byte_quota", headers={"Retry-After": "60"})


def create_upload(state: HubState, device: Device, length: int, metadata: dict[str, str]) -> str:
    """Register a new upload of `length` bytes whose content must hash to metadata['sha256']."""
    if length < 0:
        raise BadRequest("Upload-Length must be a non-negative integer", "Upload-Length phải là số nguyên không âm")
    if length > state.config.max_upload_bytes:
        raise TooLarge(
            f"upload of {length} bytes exceeds the hub maximum of {state.config.max_upload_bytes}",
            f"Tệp {length} byte vượt quá giới hạn {state.config.max_upload_bytes} byte của trung tâm",
        )
    sha = metadata.get("sha256", "")
    if not is_sha256(sha):
        raise BadRequest("Upload-Metadata must carry sha256 (64 lower-case hex digits)",
                         "Upload-Metadata phải có sha256 (64 chữ số hex)")
    if "filename" in metadata:  # never used as a path, but a hostile name is refused, not stored
        try:
            check_object_name(metadata["filename"], "Upload-Metadata filename")
        except InvalidDocument as exc:
            raise BadRequest(str(exc), "Tên tệp trong Upload-Metadata không an toàn (đường dẫn, ký tự lạ)",
                             code="unsafe_name") from exc
    expire_stale_uploads(state)
    _check_quota(state, device, length)
    upload_id = secrets.token_hex(16)
    now = state.now()
    state.storage.uploads.create(upload_id)
    try:
        state.db.execute(
            "INSERT INTO uploads(upload_id, device_id, length, upload_offset, sha256, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?)", (upload_id, device.device_id, length, 0, sha, now, now))
    except BaseException:
        state.storage.uploads.delete(upload_id)  # no orphan file for an upload the database never knew
        raise
    log.info("upload_created upload=%s device=%s length=%d", upload_id, device.device_id, length)
    return upload_id


def list_uploads(state: HubState, device: Device) -> list[dict[str, Any]]:
    """The caller's own unfinished, unexpired uploads (GET /v1/uploads?mine=1), oldest first.

    A desk that lost its records of uploads it created (outbox restored from a backup, a crash between
    creation and bookkeeping) finds them here and terminates the ones it no longer needs, instead of
    waiting out the expiry with its quota full. At most `max_open_uploads` rows exist per device, so
    the answer is bounded without paging."""
    cutoff = state.now() - state.config.upload_expiry_seconds
    rows = state.db.query("SELECT upload_id, sha256, length, upload_offset, created_at, updated_at FROM uploads"
                          " WHERE device_id=? AND finished_at IS NULL AND updated_at >= ?"
                          " ORDER BY created_at, upload_id LIMIT ?",
                          (device.device_id, cutoff, max(1, state.config.max_open_uploads)))
    return [{"id": r["upload_id"], "url": f"/v1/uploads/{r['upload_id']}", "sha256": r["sha256"], "length": r["length"],
             "offset": r["upload_offset"], "created": format_utc(r["created_at"]),
             "expires": upload_expires(state, r["updated_at"])} for r in rows]


def upload_expires(state: HubState, updated_at: int) -> str:
    """tus expiration: the `Upload-Expires` value (RFC 9110 date) for an upload last touched at `updated_at`."""
    return formatdate(updated_at + state.config.upload_expiry_seconds, usegmt=True)


def get_upload(state: HubState, device: Device, upload_id: str) -> dict[str, Any]:
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise _no_such_upload()
    row = state.db.one("SELECT * FROM uploads WHERE upload_id=?", (upload_id,))
    # Another device's upload is reported as absent, not forbidden: ids are not to be probed.
    if row is None or row["device_id"] != device.device_id:
        raise _no_such_upload()
    if row["updated_at"] < state.now() - state.config.upload_expiry_seconds:
        _forget(state, upload_id)
        raise Gone("this upload expired (no PATCH for too long); create a new one",
                   "Phiên tải lên đã hết hạn; hãy tạo phiên mới", code="upload_expired")
    return row


def _check_sha1(header: str | None, chunk: bytes) -> None:
    if header is None:
        return
    algorithm, _, value = header.strip().partition(" ")
    if algorithm != "sha1":
        raise BadRequest(f"checksum algorithm {algorithm!r} is not supported (use sha1)",
                         f"Thuật toán kiểm tra {algorithm!r} không được hỗ trợ (dùng sha1)")
    try:
        expected = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise BadRequest("Upload-Checksum value is not base64", "Upload-Checksum không phải base64") from exc
    if hashlib.sha1(chunk).digest() != expected:
        raise ChecksumFailed("chunk checksum mismatch; resend the chunk", "Sai mã kiểm tra đoạn dữ liệu; gửi lại đoạn này")


def append_chunk(state: HubState, device: Device, upload_id: str, offset: int, chunk: bytes,
                 checksum: str | None) -> int:
    """Append `chunk` at `offset` durably; return the new offset."""
    get_upload(state, device, upload_id)  # 404/410 before a lock (file) exists for it
    lock = state.storage.locks.try_lock(f"upload:{upload_id}")
    if lock is None:
        raise Locked("another request is writing this upload; retry after it ends",
                     "Một yêu cầu khác đang ghi phiên tải lên này; thử lại sau")
    with lock:
        try:
            row = get_upload(state, device, upload_id)
        except (NotFound, Gone):  # finished or deleted meanwhile: leave no lock behind
            state.storage.locks.forget(f"upload:{upload_id}")
            raise
        if offset != row["upload_offset"]:
            raise Conflict(f"Upload-Offset {offset} does not match the hub's offset {row['upload_offset']}",
                           f"Upload-Offset {offset} khác vị trí {row['upload_offset']} tại trung tâm",
                           code="offset_mismatch", headers={"Upload-Offset": str(row["upload_offset"])})
        if offset + len(chunk) > row["length"]:
            raise TooLarge(f"chunk would exceed the declared Upload-Length {row['length']}",
                           f"Đoạn dữ liệu vượt quá độ dài đã khai báo {row['length']}")
        _check_sha1(checksum, chunk)
        if row.get("finished_at") is not None:
            return row["upload_offset"]  # already finished (a replayed last PATCH): nothing to write
        new_offset = offset + len(chunk)
        try:
            if new_offset == row["length"]:
                # The last chunk goes straight into the completion, and the offset reaches the length
                # only together with ownership (hub.upload_completion).
                finish_upload(state, device.device_id, row, (offset, chunk))
                return new_offset
            state.storage.uploads.write_at(upload_id, offset, chunk)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise InsufficientStorage("hub disk is full; nothing was stored, retry later",
                                          "Ổ đĩa trung tâm đã đầy; chưa lưu gì, thử lại sau") from exc
            raise
        # The offset moves only after the bytes are durable: the database is the truth.
        state.db.execute("UPDATE uploads SET upload_offset=?, updated_at=? WHERE upload_id=?",
                         (new_offset, state.now(), upload_id))
        return new_offset


def record_owner(state: HubState, device_id: str, sha256: str, size: int) -> None:
    """The object (already in the object store, verified) now counts as uploaded by `device_id`.

    Both delivery paths end here: a finished tus upload and an object read from a USB bundle.
    """
    state.db.execute(OWNER_SQL, (sha256, device_id, size))


def terminate_upload(state: HubState, device: Device, upload_id: str) -> None:
    row = get_upload(state, device, upload_id)
    # Bytes first: on a full disk, removing the file is what gives the database room to record the delete.
    state.storage.uploads.delete(upload_id)
    state.db.execute("DELETE FROM uploads WHERE upload_id=?", (row["upload_id"],))
    state.storage.locks.forget(f"upload:{upload_id}")


def expire_stale_uploads(state: HubState) -> int:
    """Forget unfinished uploads untouched for longer than the expiry (tus expiration)."""
    cutoff = state.now() - state.config.upload_expiry_seconds
    stale = [r["upload_id"] for r in state.db.query("SELECT upload_id FROM uploads WHERE updated_at < ?", (cutoff,))]
    for upload_id in stale:
        _forget(state, upload_id)
    if stale:
        log.info("uploads_expired count=%d", len(stale))
    return len(stale)


def _forget(state: HubState, upload_id: str) -> None:
    lock = state.storage.locks.try_lock(f"upload:{upload_id}")
    if lock is None:
        return  # a PATCH is writing it right now: not stale after all
    with lock:
        state.db.execute("DELETE FROM uploads WHERE upload_id=?", (upload_id,))
        state.storage.uploads.delete(upload_id)
        state.storage.locks.forget(f"upload:{upload_id}")


def _owner_row(state: HubState, device: Device, sha256: str) -> dict[str, Any] | None:
    return state.db.one("SELECT * FROM object_owners WHERE sha256=? AND device_id=?", (sha256, device.device_id))


def object_owned(state: HubState, device: Device, sha256: str, *, verify: bool = True) -> dict[str, Any] | None:
    """The device's claim on a stored object (re-hashed when `verify`); None if it has none."""
    row = _owner_row(state, device, sha256)
    if row is None:
        return None
    if not verify:
        return {"sha256": sha256, "size": row["size"]} if state.objects.has(sha256) else None
    size = _unless_corrupt(state, sha256, state.objects.verify)
    return None if size is None else {"sha256": sha256, "size": size}


def open_owned(state: HubState, device: Device, sha256: str) -> tuple[BinaryIO, int] | None:
    """`object_owned` with the re-hashed bytes kept open (handle, size): a commit decrypts from the
    same read (hub.sealed) — one GET per object on S3, not two. None if the device has no claim."""
    if _owner_row(state, device, sha256) is None:
        return None
    return _unless_corrupt(state, sha256, state.objects.open_verified)


def _unless_corrupt(state: HubState, sha256: str, read: Callable[[str], T]) -> T | None:
    """`read(sha256)`, or None after forgetting an object that fails its hash check."""
    try:
        return read(sha256)
    except ObjectCorrupt:
        log.error("object_corrupt object=%s", sha256[:12])
        state.db.execute("DELETE FROM object_owners WHERE sha256=?", (sha256,))
        state.objects.delete(sha256)
        return None
