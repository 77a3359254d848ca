"""ObjectStore: immutable payload objects addressed by their sha256.

Guarantees an implementation must give:
  * `put_file(path, sha256)` stores the file's bytes under `sha256` only if they
    hash to it (else ObjectCorrupt), atomically: readers see no object or the
    whole object; calling it for an address already present is harmless.
  * `adopt_file(path, sha256)` is `put_file` for a temporary, already-fsynced file
    the store may take: moved into place where it can be, otherwise stored and then
    removed. Either way `path` is gone afterwards — unless the hash check fails
    (ObjectCorrupt), which leaves it for the caller.
  * `verify(sha256)` re-reads and re-hashes; returns the size or raises
    ObjectCorrupt (a missing object counts as corrupt).
  * `open_verified(sha256)` is `verify` and `open` in one read of the store:
    (a seekable handle at byte 0, size), or ObjectCorrupt.
  * objects are never modified in place.
  * `ping()` returns quickly when the store can be reached (for /readyz), else raises.
"""
from __future__ import annotations

import errno
from pathlib import Path
from typing import BinaryIO, Protocol

from sync_protocol.canonical import sha256_file
from sync_protocol.castore import ContentStore
from sync_protocol.errors import ObjectCorrupt


class ObjectStore(Protocol):
    def has(self, sha256: str) -> bool: ...

    def put_file(self, path: Path, sha256: str) -> None: ...

    def adopt_file(self, path: Path, sha256: str) -> None: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def verify(self, sha256: str) -> int: ...

    def open_verified(self, sha256: str) -> tuple[BinaryIO, int]: ...

    def delete(self, sha256: str) -> bool: ...

    def ping(self) -> None: ...


class FileObjectStore:
    """Objects as files in a local content-addressed directory (sync_protocol.castore layout)."""

    def __init__(self, root: Path):
        self.store = ContentStore(root)

    def has(self, sha256: str) -> bool:
        return self.store.has(sha256)

    def put_file(self, path: Path, sha256: str) -> None:
        if self.store.has(sha256):
            return
        self.store.put_file(path, expected_sha256=sha256)

    def adopt_file(self, path: Path, sha256: str) -> None:
        # One read to check the hash, then a rename: no second copy of a big upload on disk.
        with open(path, "rb") as handle:
            actual, _ = sha256_file(handle)
        if actual != sha256:
            raise ObjectCorrupt(f"content hashes to {actual}, expected {sha256}")
        if self.store.has(sha256):
            Path(path).unlink()
            return
        try:
            self.store.adopt(Path(path), sha256)
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # another filesystem: copy, then drop the temporary
                raise
            self.store.put_file(Path(path), expected_sha256=sha256)
            Path(path).unlink()

    def open(self, sha256: str) -> BinaryIO:
        return self.store.open(sha256)

    def verify(self, sha256: str) -> int:
        return self.store.verify(sha256)

    def open_verified(self, sha256: str) -> tuple[BinaryIO, int]:
        size = self.store.verify(sha256)  # local reads are cheap: check, then open
        return self.store.open(sha256), size

    def delete(self, sha256: str) -> bool:
        return self.store.delete(sha256)

    def ping(self) -> None:
        if not self.store.root.is_dir():
            raise FileNotFoundError("object directory is missing")
