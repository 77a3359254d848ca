"""Console sessions: a random cookie value, kept in the hub database as its sha256.

A session ends when it is idle for `IDLE_SECONDS`, `ABSOLUTE_SECONDS` after
login whatever the activity, at logout, or when the account is disabled or
its password reset. Each session has its own CSRF token (synchronizer token
pattern) that every POST form must carry. Sessions live in the database, not
in a worker's memory, so every hub worker and instance sees the same ones.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass

from .accounts import StaffUser, get_user
from ..state import HubState

IDLE_SECONDS = int(os.environ.get("MOTCUA_CONSOLE_IDLE_SECONDS", str(30 * 60)))
ABSOLUTE_SECONDS = int(os.environ.get("MOTCUA_CONSOLE_ABSOLUTE_SECONDS", str(10 * 3600)))
COOKIE = "motcua_console"
#: last-seen is written at most this often: a page view need not cost a synced transaction
TOUCH_RESOLUTION = 30


@dataclass(frozen=True)
class Session:
    user: StaffUser
    csrf_token: str
    created_at: int


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def start_session(state: HubState, user: StaffUser) -> tuple[str, Session]:
    """Open a session for a user who just logged in; returns (cookie value, session)."""
    token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), state.now()
    with state.db.transaction() as tx:
        # forget this user's expired sessions while here, so the table does not grow without bound
        tx.execute("DELETE FROM console_sessions WHERE username=? AND (last_seen_at < ? OR created_at < ?)",
                   (user.username, now - IDLE_SECONDS, now - ABSOLUTE_SECONDS))
        tx.execute("INSERT INTO console_sessions(session_hash, username, csrf_token, created_at, last_seen_at)"
                   " VALUES (?,?,?,?,?)", (_hash(token), user.username, csrf, now, now))
    return token, Session(user, csrf, now)


def load_session(state: HubState, token: str | None) -> Session | None:
    """The live session for a cookie value, or None (unknown, expired, or its account disabled)."""
    if not token or len(token) > 200:
        return None
    row = state.db.one("SELECT * FROM console_sessions WHERE session_hash=?", (_hash(token),))
    if row is None:
        return None
    now = state.now()
    if now - row["last_seen_at"] > IDLE_SECONDS or now - row["created_at"] > ABSOLUTE_SECONDS:
        state.db.execute("DELETE FROM console_sessions WHERE session_hash=?", (row["session_hash"],))
        return None
    user = get_user(state, row["username"])
    if user is None:
        return None
    if now - row["last_seen_at"] >= TOUCH_RESOLUTION:
        state.db.execute("UPDATE console_sessions SET last_seen_at=? WHERE session_hash=?", (now, row["session_hash"]))
    return Session(user, row["csrf_token"], row["created_at"])


def end_session(state: HubState, token: str | None) -> None:
    if token:
        state.db.execute("DELETE FROM console_sessions WHERE session_hash=?", (_hash(token),))


def csrf_ok(session: Session, presented: str | None) -> bool:
    return bool(presented) and secrets.compare_digest(session.csrf_token, str(presented))
