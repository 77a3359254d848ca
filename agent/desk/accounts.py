"""Desk accounts: officers, heads of desk, couriers and administrators, their secrets and sessions.

Secrets are argon2id hashes (argon2-cffi). A secret is a password (8+ characters) or a PIN
(4–8 digits); a PIN is accepted only in a browser this desk already trusts (one where someone
logged in with a password), so a PIN alone never opens the desk from a new machine. After
`MAX_FAILURES` wrong secrets in a row the account is locked for `LOCK_MINUTES`; `reset`
unlocks it. Sessions are random tokens stored hashed (sha256), ending after `IDLE_MINUTES`
without use or `MAX_HOURS` after login. Every change is audited under the acting account;
log lines carry usernames and roles only.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from agent.context import AgentContext
from agent.errors import InputError
from agent.ops.audit import audit_event
from sync_protocol.timestamps import format_utc, parse_utc

log = logging.getLogger("motcua.agent.accounts")
ROLES = ("officer", "head", "courier", "admin")
ROLE_NAMES = {"officer": ("Cán bộ tiếp nhận", "Officer"), "head": ("Trưởng bộ phận", "Head of desk"),
              "courier": ("Nhân viên bưu chính", "Courier"), "admin": ("Quản trị", "Administrator")}
#: what each role may do in the desk UI; "desk" = intake, dossiers, search, hand-back, handover
PERMISSIONS = {"officer": {"desk"}, "head": {"desk", "supervise"}, "admin": {"desk", "supervise", "admin"},
               "courier": {"courier"}}
MAX_FAILURES = 5
LOCK_MINUTES = 15
IDLE_MINUTES = 60
MAX_HOURS = 12
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile defaults


@dataclass(frozen=True)
class User:
    username: str
    full_name: str
    role: str
    secret_kind: str
    disabled: bool

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, set())

    def summary(self) -> dict[str, Any]:
        return {"username": self.username, "full_name": self.full_name, "role": self.role,
                "secret_kind": self.secret_kind, "disabled": self.disabled}


class LoginFailed(InputError):
    """Wrong user or secret, locked, disabled, or a PIN from an untrusted browser (message says which)."""


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_secret(secret: str, kind: str) -> None:
    """Raise InputError unless `secret` is an acceptable password or PIN."""
    if kind == "pin":
        if not re.fullmatch(r"[0-9]{4,8}", secret):
            raise InputError("Mã PIN phải gồm 4–8 chữ số.", "A PIN must be 4-8 digits.")
    elif kind == "password":
        if len(secret) < 8:
            raise InputError("Mật khẩu phải có ít nhất 8 ký tự.", "A password must be at least 8 characters.")
    else:
        raise InputError(f"Loại bí mật {kind!r} không hợp lệ.", f"Secret kind {kind!r} must be password or pin.")


def add_user(ctx: AgentContext, username: str, full_name: str, role: str, secret: str,
             kind: str = "password") -> User:
    """Create an account; the username is a short login, the full name goes on slips and records."""
    username = username.strip().lower()
    full_name = " ".join(full_name.split())
    if not _USERNAME.match(username):
        raise InputError(f"Tên đăng nhập {username!r} chỉ gồm chữ thường không dấu, số, . _ - (2–32 ký tự).",
                         f"Username {username!r} must be 2-32 of a-z, 0-9, '.', '_', '-'.")
    if role not in ROLES:
        raise InputError(f"Vai trò {role!r} không có; chọn một trong {', '.join(ROLES)}.",
                         f"Role {role!r} is not one of {', '.join(ROLES)}.")
    if not 2 <= len(full_name) <= 100:
        raise InputError("Nhập họ tên đầy đủ của người dùng (2–100 ký tự).", "Give the user's full name (2-100 characters).")
    check_secret(secret, kind)
    stamp = format_utc()
    with ctx.outbox.transaction() as conn:
        if conn.execute("SELECT 1 FROM desk_users WHERE username=?", (username,)).fetchone():
            raise InputError(f"Tên đăng nhập {username} đã có.", f"Username {username} already exists.")
        conn.execute("INSERT INTO desk_users(username, full_name, role, secret_kind, secret_hash, disabled, failed,"
                     " created_at, updated_at) VALUES (?,?,?,?,?,0,0,?,?)",
                     (username, full_name, role, kind, _hasher.hash(secret), stamp, stamp))
    audit_event(ctx, "user.added", None, username=username, role=role, secret_kind=kind)
    log.info("user_added username=%s role=%s", username, role)
    return get_user(ctx, username)


def get_user(ctx: AgentContext, username: str) -> User:
    row = ctx.outbox.conn.execute("SELECT username, full_name, role, secret_kind, disabled FROM desk_users"
                                  " WHERE username=?", (username.strip().lower(),)).fetchone()
    if row is None:
        raise InputError(f"Không có người dùng {username!r}; xem `motcua user list`.",
                         f"No user {username!r}; see `motcua user list`.")
    return User(row[0], row[1], row[2], row[3], bool(row[4]))


def list_users(ctx: AgentContext, role: str | None = None) -> list[User]:
    rows = ctx.outbox.conn.execute("SELECT username, full_name, role, secret_kind, disabled FROM desk_users"
                                   + (" WHERE role=?" if role else "") + " ORDER BY username", (role,) if role else ())
    return [User(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


def has_admin(ctx: AgentContext) -> bool:
    return ctx.outbox.conn.execute("SELECT 1 FROM desk_users WHERE role='admin' AND disabled=0").fetchone() is not None


def disable_user(ctx: AgentContext, username: str) -> User:
    """Disable an account and end its sessions at once."""
    user = get_user(ctx, username)
    with ctx.outbox.transaction() as conn:
        conn.execute("UPDATE desk_users SET disabled=1, updated_at=? WHERE username=?", (format_utc(), user.username))
        conn.execute("DELETE FROM desk_sessions WHERE username=?", (user.username,))
    audit_event(ctx, "user.disabled", None, username=user.username)
    return get_user(ctx, user.username)


def reset_secret(ctx: AgentContext, username: str, secret: str, kind: str = "password") -> User:
    """New password or PIN; unlocks and re-enables the account and ends its sessions."""
    user = get_user(ctx, username)
    check_secret(secret, kind)
    with ctx.outbox.transaction() as conn:
        conn.execute("UPDATE desk_users SET secret_kind=?, secret_hash=?, failed=0, locked_until=NULL, disabled=0,"
                     " updated_at=? WHERE username=?", (kind, _hasher.hash(secret), format_utc(), user.username))
        conn.execute("DELETE FROM desk_sessions WHERE username=?", (user.username,))
    audit_event(ctx, "user.reset", None, username=user.username, secret_kind=kind)
    return get_user(ctx, user.username)


def authenticate(ctx: AgentContext, username: str, secret: str, *, trusted_browser: bool,
                 now: datetime | None = None) -> User:
    """The account if `secret` is right and the account may log in now; else LoginFailed.

    An unknown user and a wrong secret get the same message, so the form does not tell
    which usernames exist."""
    now = _now(now)
    username = username.strip().lower()
    wrong = LoginFailed("Sai tên đăng nhập hoặc mật khẩu/PIN.", "Wrong username or password/PIN.")
    row = ctx.outbox.conn.execute("SELECT secret_kind, secret_hash, disabled, failed, locked_until FROM desk_users"
                                  " WHERE username=?", (username,)).fetchone()
    if row is None:
        _hasher.hash(secret or "x")  # same time as a real check, so timing does not reveal usernames either
        raise wrong
    kind, stored, disabled, failed, locked_until = row
    if locked_until and parse_utc(locked_until) > now:
        until = parse_utc(locked_until).astimezone(timezone(timedelta(hours=7))).strftime("%H:%M")
        raise LoginFailed(f"Tài khoản bị khoá tạm thời đến {until} vì nhập sai nhiều lần; hoặc nhờ quản trị đặt lại.",
                          f"Account locked until {until} after repeated failures; or ask an administrator to reset it.")
    if disabled:
        raise LoginFailed("Tài khoản đã bị vô hiệu hoá; liên hệ quản trị.", "This account is disabled; ask an administrator.")
    if kind == "pin" and not trusted_browser:
        raise LoginFailed("Mã PIN chỉ dùng được trên máy của bộ phận đã đăng nhập bằng mật khẩu.",
                          "A PIN works only in a desk browser where someone has logged in with a password.")
    try:
        _hasher.verify(stored, secret)
    except (VerificationError, InvalidHashError):
        failed += 1
        lock = format_utc(now + timedelta(minutes=LOCK_MINUTES)) if failed >= MAX_FAILURES else None
        with ctx.outbox.transaction() as conn:
            conn.execute("UPDATE desk_users SET failed=?, locked_until=? WHERE username=?",
                         (0 if lock else failed, lock, username))
        audit_event(ctx, "login.failed", None, username=username, locked=int(bool(lock)))
        log.warning("login_failed username=%s locked=%s", username, bool(lock))
        raise wrong from None
    with ctx.outbox.transaction() as conn:
        conn.execute("UPDATE desk_users SET failed=0, locked_until=NULL WHERE username=?", (username,))
        if _hasher.check_needs_rehash(stored):
            conn.execute("UPDATE desk_users SET secret_hash=? WHERE username=?", (_hasher.hash(secret), username))
    return get_user(ctx, username)


def start_session(ctx: AgentContext, user: User, now: datetime | None = None) -> str:
    """A new session token for `user` (the cookie value; only its hash is stored)."""
    now = _now(now)
    token = secrets.token_urlsafe(32)
    with ctx.outbox.transaction() as conn:
        conn.execute("DELETE FROM desk_sessions WHERE expires_at < ?", (format_utc(now),))
        conn.execute("INSERT INTO desk_sessions VALUES (?,?,?,?,?)",
                     (_hash_token(token), user.username, format_utc(now), format_utc(now),
                      format_utc(now + timedelta(hours=MAX_HOURS))))
    audit_event(ctx, "login", None, username=user.username, role=user.role)
    return token


def session_user(ctx: AgentContext, token: str | None, now: datetime | None = None) -> User | None:
    """The logged-in account for a session token, or None if it is unknown, expired, idle too long or disabled."""
    if not token:
        return None
    now = _now(now)
    key = _hash_token(token)
    row = ctx.outbox.conn.execute(
        "SELECT s.username, s.last_seen, s.expires_at, u.disabled FROM desk_sessions s JOIN desk_users u"
        " ON u.username = s.username WHERE s.token_hash=?", (key,)).fetchone()
    if row is None:
        return None
    if row[3] or parse_utc(row[2]) <= now or parse_utc(row[1]) + timedelta(minutes=IDLE_MINUTES) <= now:
        with ctx.outbox.transaction() as conn:
            conn.execute("DELETE FROM desk_sessions WHERE token_hash=?", (key,))
        return None
    with ctx.outbox.transaction() as conn:
        conn.execute("UPDATE desk_sessions SET last_seen=? WHERE token_hash=?", (format_utc(now), key))
    return get_user(ctx, row[0])


def end_session(ctx: AgentContext, token: str | None) -> None:
    if not token:
        return
    with ctx.outbox.transaction() as conn:
        row = conn.execute("DELETE FROM desk_sessions WHERE token_hash=? RETURNING username",
                           (_hash_token(token),)).fetchone()
    if row:
        audit_event(ctx, "logout", None, username=row[0])


def trust_browser(ctx: AgentContext) -> str:
    """A token marking a browser as the desk's own (set after a password login; lets PINs work there)."""
    token = secrets.token_urlsafe(32)
    with ctx.outbox.transaction() as conn:
        conn.execute("INSERT INTO desk_browsers VALUES (?,?)", (_hash_token(token), format_utc()))
    return token


def is_trusted_browser(ctx: AgentContext, token: str | None) -> bool:
    return bool(token) and ctx.outbox.conn.execute(
        "SELECT 1 FROM desk_browsers WHERE token_hash=?", (_hash_token(token or ""),)).fetchone() is not None
