"""PostgresDB: MetadataDB on PostgreSQL (psycopg 3) for a hub run as several instances.

The SQL the hub writes is shared with SQLite (see metadata.py); this module
translates `?` placeholders to psycopg's `%s` (escaping literal `%`), returns
rows as dicts and turns unique/foreign-key violations into the interface's
`IntegrityError` after rolling the transaction back.

Concurrency, across threads *and* hub instances:
  * `transaction(lock=NAME)` first takes a transaction-scoped advisory lock
    (`pg_advisory_xact_lock`) keyed by NAME, `tx.lock(NAME)` another one later;
    transactions naming the same lock run one after another, the rest in
    parallel. The default GLOBAL_LOCK gives SQLite's `BEGIN IMMEDIATE`
    semantics to rare admin writes; the commit path locks only the device's
    chain, and the hub sequence in shared mode (hub.commits). Statements
    run at READ COMMITTED, so after a lock is held they see every commit made
    under it (e.g. `MAX(hub_sequence) + 1` under the audit-tail lock cannot
    collide). The schema's constraints — (dossier_id, version) primary key,
    UNIQUE hub_sequence, chain primary key — stay the last line of defence and
    surface as `IntegrityError`.
  * time spent waiting for locks and for pooled connections is added to
    hub.storage.stats.STATS (for /metrics and bench_load).
  * migrations run under a session advisory lock, so instances that start at
    the same moment do not race to create tables.
Connections come from a psycopg_pool pool in autocommit mode.
"""
from __future__ import annotations

import contextlib
import logging
import re
import time
from typing import Any, Iterator, Sequence

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from .metadata import GLOBAL_LOCK, SEQUENCE_LOCK, IntegrityError, Tx, migrate
from .pg_locks import lock_key
from .stats import STATS

log = logging.getLogger("motcua.hub.storage.postgres")

#: advisory lock keys (arbitrary constants; "mc" + purpose)
WRITE_LOCK_KEY = 0x6D63_0001
MIGRATION_LOCK_KEY = 0x6D63_0002

_PLACEHOLDER = re.compile(r"\?")
#: hub sequence numbers on PostgreSQL (SQLite has no sequences: see MetadataDB.next_hub_sequence)
HUB_SEQUENCE = "motcua_hub_sequence"


def translate(sql: str) -> str:
    """`?` placeholders -> `%s`; a literal `%` -> `%%` (psycopg's escaping)."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


def redact_url(url: str) -> str:
    """The URL without its password, for logs and messages."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


class _PgTx:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def lock(self, name: str, *, counted: bool = True, shared: bool = False) -> None:
        # Try first: only a lock someone else holds costs a second round trip, and only that
        # wait counts as lock wait in STATS (not the round trip every lock costs).
        key = WRITE_LOCK_KEY if name == GLOBAL_LOCK else lock_key(name)
        mode = "_shared" if shared else ""
        if self.conn.execute(f"SELECT pg_try_advisory_xact_lock{mode}(%s) AS ok", (key,)).fetchone()["ok"]:
            if counted:
                STATS.waited_for_lock(0.0)
            return
        started = time.perf_counter()
        self.conn.execute(f"SELECT pg_advisory_xact_lock{mode}(%s)", (key,))
        if counted:
            STATS.waited_for_lock(time.perf_counter() - started)

    def next_hub_sequence(self) -> int:
        # Shared: commits never wait for each other here (an exclusive lock held through every COMMIT's
        # fsync made them queue); only read_in_sequence_order waits for the holders (metadata.py).
        self.lock(SEQUENCE_LOCK, shared=True)
        return int(self.conn.execute(f"SELECT nextval('{HUB_SEQUENCE}') AS n").fetchone()["n"])

    def _run(self, sql: str, params: Sequence[Any]) -> psycopg.Cursor:
        try:
            return self.conn.execute(translate(sql), tuple(params))
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc).strip()) from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._run(sql, params).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self._run(sql, params).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        return self._run(sql, params).fetchone()


def _ensure_hub_sequence(conn: psycopg.Connection) -> None:
    """Create the hub sequence once, starting after the highest number already issued (a hub
    that ran before the sequence existed took MAX + 1 under a global lock)."""
    if conn.execute("SELECT to_regclass(%s) AS r", (HUB_SEQUENCE,)).fetchone()["r"] is not None:
        return
    conn.execute(f"CREATE SEQUENCE {HUB_SEQUENCE} START 1")
    conn.execute(f"SELECT setval('{HUB_SEQUENCE}', (SELECT COALESCE(MAX(hub_sequence), 0) + 1 FROM dossiers), false)")


class PostgresDB:
    """MetadataDB on one PostgreSQL database, shared by any number of hub instances."""

    #: commits queue their audit entries for the chain (hub.audit_queue) instead of locking its tail
    defers_audit = True

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 20, timeout: float = 30.0):
        self.url = url
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, timeout=timeout, open=True,
                                   kwargs={"autocommit": True, "row_factory": dict_row},
                                   name="motcua-hub")
        try:
            self.pool.wait(timeout=timeout)
        except Exception:
            self.pool.close()
            raise
        try:
            with self.pool.connection() as conn:
                conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
                try:
                    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                    self.migrated_from = self.schema_version()  # for `motcua hub migrate`
                    migrate(self)
                    _ensure_hub_sequence(conn)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
        except BaseException:
            self.pool.close()
            raise
        log.info("postgres_open url=%s", redact_url(url))

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        started = time.perf_counter()
        with self.pool.connection() as conn:
            STATS.waited_for_pool(time.perf_counter() - started)
            yield conn

    @contextlib.contextmanager
    def transaction(self, lock: str | None = GLOBAL_LOCK) -> Iterator[Tx]:
        STATS.transaction()
        with self._connection() as conn:
            with conn.transaction():
                tx = _PgTx(conn)
                if lock is not None:
                    tx.lock(lock)
                yield tx

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        STATS.transaction()
        with self._connection() as conn:
            return _PgTx(conn).execute(sql, params)

    def execute_unsynced(self, sql: str, params: Sequence[Any] = ()) -> int:
        # synchronous_commit=off for this transaction only: WAL flushed by the next ordinary commit.
        # Every request writes one (the replay cache), so one round trip, not BEGIN/SET/INSERT/COMMIT:
        # several statements in one simple query run as one implicit transaction (a failure rolls
        # back both), which needs client-side binding (psycopg.ClientCursor escapes the values).
        STATS.transaction()
        with self._connection() as conn, psycopg.ClientCursor(conn) as cursor:
            try:
                cursor.execute("SET LOCAL synchronous_commit TO OFF; " + translate(sql), tuple(params))
            except psycopg.errors.IntegrityError as exc:
                raise IntegrityError(str(exc).strip()) from exc
            cursor.nextset()  # the statement's result, after SET's
            return cursor.rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        STATS.transaction()
        with self._connection() as conn:
            return _PgTx(conn).query(sql, params)

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        STATS.transaction()
        with self._connection() as conn:
            return _PgTx(conn).one(sql, params)

    def schema_version(self) -> int:
        row = self.one("SELECT MAX(version) AS v FROM schema_version")
        return int(row["v"]) if row and row["v"] is not None else 0

    def close(self) -> None:
        self.pool.close()
