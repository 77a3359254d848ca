"""ObjectStore: immutable payload objects addressed by their sha256.

Guarantees an implementation must give:
  * `put_file(path, sha256)` stores the file's bytes under `sha256` only if they
    hash to it (else ObjectCorrupt), atomically: readers see no object or the
    whole object; calling it for an address already present is harmless.
  * `verify(sha256)` re-reads and re-hashes; returns the size or raises
    ObjectCorrupt (a missing object counts as corrupt).
  * objects are never modified in place.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol

from sync_protocol.castore import ContentStore


class ObjectStore(Protocol):
    def has(self, sha256: str) -> bool: ...

    def put_file(self, path: Path, sha256: str) -> None: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def verify(self, sha256: str) -> int: ...

    def delete(self, sha256: str) -> bool: ...


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

    def open(self, sha256: str) -> BinaryIO:
        return self.store.open(sha256)

    def verify(self, sha256: str) -> int:
        return self.store.verify(sha256)

    def delete(self, sha256: str) -> bool:
        return self.store.delete(sha256)
