"""UploadStore: the bytes of unfinished tus uploads.

Guarantees an implementation must give:
  * `write_at(upload_id, offset, data)` first discards anything stored at or
    beyond `offset` (bytes written before a crash but never acknowledged), then
    appends `data`, and returns only when the bytes are durable. On a full disk
    it raises OSError(ENOSPC) and leaves the upload at `offset`.
  * `stage_complete(upload_id)` returns a local file path holding the whole
    upload (for hashing and handing to the ObjectStore); `cleanup_staged`
    removes any temporary copy it made.
  * `delete(upload_id)` forgets the bytes; deleting an unknown id is harmless.
The caller (hub.uploads) holds the upload's lock around every call and keeps
the acknowledged offset in the MetadataDB.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class UploadStore(Protocol):
    def create(self, upload_id: str) -> None: ...

    def write_at(self, upload_id: str, offset: int, data: bytes) -> None: ...

    def stage_complete(self, upload_id: str) -> Path: ...

    def cleanup_staged(self, upload_id: str, path: Path) -> None: ...

    def delete(self, upload_id: str) -> None: ...


class FileUploadStore:
    """One file per upload in a local directory."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.match(upload_id):
            raise ValueError(f"bad upload id {upload_id!r}")
        return self.root / upload_id

    def create(self, upload_id: str) -> None:
        self._path(upload_id).touch()

    def write_at(self, upload_id: str, offset: int, data: bytes) -> None:
        path = self._path(upload_id)
        with open(path, "r+b") as handle:
            handle.truncate(offset)
            handle.seek(offset)
            try:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            except OSError:
                handle.truncate(offset)
                raise

    def stage_complete(self, upload_id: str) -> Path:
        return self._path(upload_id)

    def cleanup_staged(self, upload_id: str, path: Path) -> None:
        """The staged path is the upload file itself: nothing extra to remove."""

    def delete(self, upload_id: str) -> None:
        self._path(upload_id).unlink(missing_ok=True)
