"""The content-addressed object layout shared by the agent blob store and the hub object store.

Objects live at `<root>/<first two hex>/<sha256>`. Writes go to a temporary
file in `<root>/tmp/`, are fsynced, renamed into place and the directory is
fsynced, so a crash leaves either no object or a whole one. Reads verify the
hash (restic's rule: everything is verified on read). Where the store lives and
when objects are deleted is the caller's policy.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import ObjectCorrupt

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BLOCK = 1 << 20


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it is durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a whole small file durably: temp file, fsync, rename, fsync dir."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class ContentStore:
    """A directory of immutable objects named by their sha256."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 address: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put_stream(self, stream: BinaryIO, expected_sha256: str | None = None) -> tuple[str, int]:
        """Copy a stream into the store durably; return (sha256, size)."""
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self.tmp, prefix="obj-")
        try:
            with os.fdopen(fd, "wb") as out:
                while block := stream.read(_BLOCK):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            if expected_sha256 is not None and sha != expected_sha256:
                raise ObjectCorrupt(f"content hashes to {sha}, expected {expected_sha256}")
            final = self.path(sha)
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
            fsync_dir(final.parent)
            return sha, size
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        import io

        return self.put_stream(io.BytesIO(data))

    def put_file(self, path: Path, expected_sha256: str | None = None) -> tuple[str, int]:
        with open(path, "rb") as handle:
            return self.put_stream(handle, expected_sha256)

    def adopt(self, path: Path, sha256: str) -> None:
        """Move an already-verified, already-fsynced file into place (no copy)."""
        final = self.path(sha256)
        final.parent.mkdir(exist_ok=True)
        os.replace(path, final)
        fsync_dir(final.parent)

    def verify(self, sha256: str) -> int:
        """Re-hash an object; return its size or raise ObjectCorrupt (missing counts as corrupt)."""
        try:
            with open(self.path(sha256), "rb") as handle:
                digest = hashlib.sha256()
                size = 0
                while block := handle.read(_BLOCK):
                    digest.update(block)
                    size += len(block)
        except FileNotFoundError as exc:
            raise ObjectCorrupt(f"object {sha256} is missing") from exc
        if digest.hexdigest() != sha256:
            raise ObjectCorrupt(f"object {sha256} is corrupt (hashes to {digest.hexdigest()})")
        return size

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def delete(self, sha256: str) -> bool:
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        fsync_dir(self.path(sha256).parent)
        return True

    def __iter__(self) -> Iterator[str]:
        for sub in self.root.iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                yield from (p.name for p in sub.iterdir() if _SHA256.match(p.name))
