"""SQLiteDB: MetadataDB on one SQLite file (the default for a province's hub).

WAL mode with synchronous=FULL; one connection per thread (uvicorn runs
handlers in a thread pool); write transactions use BEGIN IMMEDIATE so
concurrent writers queue on the lock instead of failing half-way.
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

from .metadata import GLOBAL_LOCK, IntegrityError, Tx, migrate
from .stats import STATS


class _SQLiteTx:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def lock(self, name: str, *, counted: bool = True, shared: bool = False) -> None:
        """BEGIN IMMEDIATE already made this transaction the only writer."""

    def next_hub_sequence(self) -> int:
        return int(self.conn.execute("SELECT COALESCE(MAX(hub_sequence), 0) + 1 FROM dossiers").fetchone()[0])

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return self.conn.execute(sql, tuple(params)).rowcount
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.conn.execute(sql, tuple(params))]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        row = self.conn.execute(sql, tuple(params)).fetchone()
        return dict(row) if row is not None else None


class SQLiteDB:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        with self._conn_tx() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        self.migrated_from = self.schema_version()  # for `motcua hub migrate`
        migrate(self)

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _conn_tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def transaction(self, lock: str | None = GLOBAL_LOCK) -> Iterator[Tx]:
        STATS.transaction()
        with self._conn_tx() as conn:
            yield _SQLiteTx(conn)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        STATS.transaction()
        return _SQLiteTx(self._connection()).execute(sql, params)

    def execute_unsynced(self, sql: str, params: Sequence[Any] = ()) -> int:
        # WAL + synchronous=NORMAL: the commit is appended to the WAL without an fsync; the
        # next FULL commit's fsync of the (append-only) WAL makes it durable too.
        STATS.transaction()
        conn = self._connection()
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            return _SQLiteTx(conn).execute(sql, params)
        finally:
            conn.execute("PRAGMA synchronous=FULL")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        STATS.transaction()
        return _SQLiteTx(self._connection()).query(sql, params)

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        STATS.transaction()
        return _SQLiteTx(self._connection()).one(sql, params)

    def schema_version(self) -> int:
        row = self.one("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"]) if row and row["v"] is not None else 0

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
