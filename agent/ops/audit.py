"""The agent's audit log: who (operator login at this desk) did what to which dossier, when.

Append-only and hash-chained (format in sync_protocol.audit_chain), in its own
SQLite file `audit.db` in the agent home (WAL, synchronous=FULL), so it is
never rewritten with the outbox. No personal data: details are ids, codes,
hashes and counts only. `motcua audit` shows and verifies it.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

from sync_protocol.audit_chain import GENESIS, login_actor, make_entry, verify_entries

log = logging.getLogger("motcua.agent.audit")


#: the desk account acting in this thread or task (set by the web UI per request)
_acting: contextvars.ContextVar[str | None] = contextvars.ContextVar("motcua_acting_officer", default=None)


def operator() -> str:
    """Who acts: the logged-in desk account (`officer:<username>`), else the process's
    operator login (MOTCUA_OPERATOR, else the OS user)."""
    return _acting.get() or login_actor("op")


@contextlib.contextmanager
def acting_as(username: str) -> Iterator[None]:
    """Audit everything done inside the block under the desk account `username`."""
    token = _acting.set("officer:" + "".join(c for c in username if c.isalnum() or c in "._-")[:40])
    try:
        yield
    finally:
        _acting.reset(token)


class AuditLog:
    """One agent's audit log file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,"
            " action TEXT NOT NULL, dossier_id TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,"
            " entry_hash TEXT NOT NULL)")
        # Append-only at the SQL level too: updates and deletes are refused by the database.
        self.conn.execute("CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit"
                          " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END")
        self.conn.execute("CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit"
                          " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END")

    def close(self) -> None:
        self.conn.close()

    def record(self, action: str, dossier_id: str | None = None, *, actor: str | None = None,
               **detail: Any) -> dict[str, Any]:
        """Append one entry (durable when this returns)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            last = self.conn.execute("SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            entry = make_entry(seq, int(time.time()), actor or operator(), action, dossier_id, detail, prev)
            self.conn.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)",
                              (seq, entry["at"], entry["actor"], action, dossier_id,
                               json.dumps(entry["detail"], sort_keys=True), prev, entry["entry_hash"]))
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return entry

    def entries(self, dossier_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT seq, at, actor, action, dossier_id, detail, prev_hash, entry_hash FROM audit"
        rows = self.conn.execute(sql + (" WHERE dossier_id=?" if dossier_id else "") + " ORDER BY seq",
                                 (dossier_id,) if dossier_id else ())
        keys = ("seq", "at", "actor", "action", "dossier_id", "detail", "prev_hash", "entry_hash")
        return [{**dict(zip(keys, r)), "detail": json.loads(r[5])} for r in rows]

    def verify(self) -> list[str]:
        return verify_entries(self.entries())


def audit_event(ctx: "AgentContext", action: str, dossier_id: str | None = None, **detail: Any) -> None:  # noqa: F821
    """Record an event for `ctx`; a failing audit write is logged, never fatal to the desk's work."""
    try:
        log_file = AuditLog(ctx.config.home / "audit.db")
        try:
            log_file.record(action, dossier_id, **detail)
        finally:
            log_file.close()
    except (sqlite3.Error, OSError, ValueError) as exc:
        log.error("audit_write_failed action=%s error=%s", action, type(exc).__name__)
