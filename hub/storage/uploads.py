"""UploadStore: the bytes of unfinished tus uploads.

Guarantees an implementation must give:
  * `write_at(upload_id, offset, data)` first discards anything stored at or
    beyond `offset` (bytes written before a crash but never acknowledged), then
    appends `data`, and returns only when the bytes are durable. On a full disk
    it raises OSError(ENOSPC) and leaves the upload at `offset`. The caller
    only passes 0 or the end of an acknowledged write as `offset`.
  * `stage_complete(upload_id, length, tail)` returns a local file path holding the whole
    upload (`length`, when given, lets a store skip listing what it holds) (for hashing and handing to the ObjectStore, which may take it);
    `cleanup_staged` removes what is left of it. `tail=(offset, data)` is the upload's
    last chunk, given instead of written: the staged file is the stored bytes before
    `offset`, then `data`; the store need not keep `data` (the client re-sends it if the
    completion is cut short, since the offset has not moved). The upload's own bytes stay
    until `delete` — even once the staged file was adopted — so a completion
    cut short by a crash can stage again, and a later `write_at` never changes
    an object already adopted from an earlier staging.
  * `delete(upload_id)` forgets the bytes; deleting an unknown id is harmless.
  * `stored_uploads()` maps every upload id with bytes in the store to when it
    was last written; `stale_staging(older_than)` lists local scratch files
    (staged copies) last written before `older_than` — both for hub.janitor,
    which removes what a crash left behind.
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

    def stage_complete(self, upload_id: str, length: int | None = None,
                       tail: tuple[int, bytes] | None = None) -> Path: ...

    def cleanup_staged(self, upload_id: str, path: Path) -> None: ...

    def delete(self, upload_id: str) -> None: ...

    def stored_uploads(self) -> dict[str, float]: ...

    def stale_staging(self, older_than: float) -> list[Path]: ...


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
        if path.exists() and path.stat().st_nlink > 1:
            _unshare(path, offset)
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

    def _staged_path(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.staged"

    def stage_complete(self, upload_id: str, length: int | None = None,
                       tail: tuple[int, bytes] | None = None) -> Path:
        """A hard link to the upload file: the object store may move it into place (no copy)
        while the upload file itself stays until `delete`. A local file is cheap to append to,
        so the tail is simply written first."""
        if tail is not None:
            self.write_at(upload_id, *tail)
        staged = self._staged_path(upload_id)
        staged.unlink(missing_ok=True)  # left by a completion that crashed before adopting it
        os.link(self._path(upload_id), staged)
        return staged

    def cleanup_staged(self, upload_id: str, path: Path) -> None:
        Path(path).unlink(missing_ok=True)

    def delete(self, upload_id: str) -> None:
        self._path(upload_id).unlink(missing_ok=True)
        self._staged_path(upload_id).unlink(missing_ok=True)

    def stored_uploads(self) -> dict[str, float]:
        found = {}
        for entry in os.scandir(self.root):
            if _UPLOAD_ID.match(entry.name):
                try:
                    found[entry.name] = entry.stat().st_mtime
                except FileNotFoundError:
                    continue  # deleted while we looked
        return found

    def stale_staging(self, older_than: float) -> list[Path]:
        return [p for p in _old_files(self.root, older_than) if p.name.endswith((".staged", ".unshare"))]


def _old_files(root: Path, older_than: float) -> list[Path]:
    """Regular files directly under `root` last modified before `older_than` (epoch seconds)."""
    old = []
    for entry in os.scandir(root):
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < older_than:
                old.append(Path(entry.path))
        except FileNotFoundError:
            continue
    return old


def _unshare(path: Path, keep: int) -> None:
    """Give `path` its own copy of its first `keep` bytes before it is written again.

    Only after a crash between adopting a staged link and recording it: the upload file
    then shares its inode with a stored object, which must never change."""
    tmp = path.with_name(path.name + ".unshare")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        left = keep
        while left > 0 and (block := src.read(min(left, 1 << 20))):
            dst.write(block)
            left -= len(block)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, path)
