"""PgAdvisoryLocker: a Locker shared by every hub instance, on PostgreSQL advisory locks.

`try_lock(name)` takes a connection from its own small pool and asks
`pg_try_advisory_lock(key)` where key is the first 8 bytes of sha256(name) as
a signed 64-bit integer. The lock belongs to that database session, so the
connection is kept for the whole PATCH and handed back after
`pg_advisory_unlock`. If the hub instance dies mid-PATCH its session ends and
PostgreSQL releases the lock — a crashed instance never leaves an upload locked.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import Iterator

from psycopg_pool import ConnectionPool

log = logging.getLogger("motcua.hub.storage.pg_locks")


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name`."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


class PgAdvisoryLocker:
    def __init__(self, url: str, *, max_size: int = 20, timeout: float = 30.0):
        self.pool = ConnectionPool(url, min_size=1, max_size=max_size, timeout=timeout, open=True,
                                   kwargs={"autocommit": True}, name="motcua-hub-locks")

    def try_lock(self, name: str) -> contextlib.AbstractContextManager[None] | None:
        conn = self.pool.getconn()
        try:
            (acquired,) = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(name),)).fetchone()
        except BaseException:
            self.pool.putconn(conn)
            raise
        if not acquired:
            self.pool.putconn(conn)
            return None
        return self._held(conn, name)

    @contextlib.contextmanager
    def _held(self, conn, name: str) -> Iterator[None]:  # type: ignore[no-untyped-def]
        try:
            yield
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key(name),))
            except Exception as exc:  # noqa: BLE001 - a dead session released the lock anyway
                log.warning("advisory_unlock_failed error=%s", type(exc).__name__)
            finally:
                self.pool.putconn(conn)

    def forget(self, name: str) -> None:
        """Advisory locks hold nothing between uses."""

    def close(self) -> None:
        self.pool.close()
