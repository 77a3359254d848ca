"""Locker: exclusive access to one upload while a request writes it.

tus forbids interleaving two PATCHes on one upload: the second must be
refused (423), not queued, so a client that lost its first connection cannot
race its own stale request. `try_lock` returns a context manager when the lock
was free and None when another request holds it. A Locker must be shared by
every process serving the same uploads: FileLocker for several workers on one
machine, PostgreSQL advisory locks for instances on several machines.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator, Protocol


class Locker(Protocol):
    def try_lock(self, name: str) -> contextlib.AbstractContextManager[None] | None: ...

    def forget(self, name: str) -> None:
        """`name` will not be locked again (its upload is finished or gone): free what it holds."""


class FileLocker:
    """Locks shared by every hub process on one machine (several uvicorn workers on SQLite).

    One lock file per name under `root`, locked with flock(LOCK_EX | LOCK_NB): the
    kernel releases it when the holder dies, so a killed worker never leaves an upload
    locked. Lock files are small and are removed by `forget` once an upload is gone.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        # names are ours ("upload:<32 hex>"); keep the file name to safe characters anyway
        return self.root / "".join(c if c.isalnum() or c in "-_" else "_" for c in name)

    def try_lock(self, name: str) -> contextlib.AbstractContextManager[None] | None:
        fd = os.open(self._path(name), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return self._release_on_exit(fd)

    @contextlib.contextmanager
    def _release_on_exit(self, fd: int) -> Iterator[None]:
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def forget(self, name: str) -> None:
        """Remove the lock file of a name that will not be locked again (e.g. a finished upload).

        Harmless if another process still holds or waits on it: the database offset and
        the final hash check, not the lock, are what keep an upload correct."""
        self._path(name).unlink(missing_ok=True)
