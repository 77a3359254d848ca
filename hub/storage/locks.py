"""Locker: exclusive access to one upload while a request writes it.

tus forbids interleaving two PATCHes on one upload: the second must be
refused (423), not queued, so a client that lost its first connection cannot
race its own stale request. `try_lock` returns a context manager when the lock
was free and None when another request holds it. A multi-instance deployment
needs a Locker shared by all instances (e.g. PostgreSQL advisory locks).
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator, Protocol


class Locker(Protocol):
    def try_lock(self, name: str) -> contextlib.AbstractContextManager[None] | None: ...


class InProcessLocker:
    """Locks held in this process (enough for a single hub instance)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: set[str] = set()

    def try_lock(self, name: str) -> contextlib.AbstractContextManager[None] | None:
        with self._guard:
            if name in self._held:
                return None
            self._held.add(name)
        return self._release_on_exit(name)

    @contextlib.contextmanager
    def _release_on_exit(self, name: str) -> Iterator[None]:
        try:
            yield
        finally:
            with self._guard:
                self._held.discard(name)
