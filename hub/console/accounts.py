"""Centre staff accounts for the hub console: roles, argon2id passwords, lockout.

Roles, each including the one before it:
  viewer         reads every console page and document
  operator       + revokes devices, replays webhook dead letters
  administrator  + manages staff accounts and creates enrolment tokens

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's
second recommended parameter set); a hash made with older parameters is
replaced at the next successful login. After `MAX_FAILED_LOGINS` wrong
passwords in a row an account is locked for `LOCK_SECONDS`; an
administrator's `reset` unlocks it. Unknown user names cost the same hash
time as known ones, so timing does not tell which names exist.
Every change is written to the hub audit log as `staff:<username>` (the
person who did it) or the administrator running the CLI.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .. import audit
from ..errors import BadRequest, Conflict, HubError, NotFound, Unauthorized
from ..state import HubState
from ..storage.metadata import IntegrityError

log = logging.getLogger("motcua.hub.console.accounts")

ROLES = ("viewer", "operator", "administrator")
ROLE_NAMES = {"viewer": ("Xem", "Viewer"), "operator": ("Vận hành", "Operator"),
              "administrator": ("Quản trị", "Administrator")}
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MAX_FAILED_LOGINS = int(os.environ.get("MOTCUA_CONSOLE_MAX_FAILED_LOGINS", "5"))
LOCK_SECONDS = int(os.environ.get("MOTCUA_CONSOLE_LOCK_SECONDS", str(15 * 60)))

_hasher = PasswordHasher()  # argon2id
_DUMMY_HASH = _hasher.hash("motcua: not a password of anyone")
#: each verification holds 64 MiB and a core for a moment: a flood of logins must not exhaust the hub
_VERIFYING = threading.BoundedSemaphore(int(os.environ.get("MOTCUA_CONSOLE_CONCURRENT_LOGINS", "2")))
LOGIN_WAIT_SECONDS = 20


class LoginBusy(HubError):
    status, code = 429, "login_busy"


@dataclass(frozen=True)
class StaffUser:
    username: str
    display_name: str
    role: str

    @property
    def actor(self) -> str:
        """The name the audit log records this person's actions under."""
        return staff_actor(self.username)

    def can(self, role: str) -> bool:
        """Does this user hold `role` or a higher one?"""
        return ROLES.index(self.role) >= ROLES.index(role)


def staff_actor(username: str) -> str:
    return f"staff:{username}"


def check_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not USERNAME.match(name):
        raise BadRequest(f"user name {username!r} must be 2-40 characters: a-z, 0-9, '.', '_', '-'",
                         f"Tên đăng nhập {username!r} phải dài 2-40 ký tự: a-z, 0-9, '.', '_', '-'")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise BadRequest(f"role {role!r} must be one of {', '.join(ROLES)}",
                         f"Vai trò {role!r} phải là một trong {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password or "") <= MAX_PASSWORD:
        raise BadRequest(f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long",
                         f"Mật khẩu phải dài từ {MIN_PASSWORD} đến {MAX_PASSWORD} ký tự")
    return password


def add_user(state: HubState, username: str, display_name: str, role: str, password: str,
             actor: str | None = None) -> StaffUser:
    """Create an account; raise Conflict if the name is taken."""
    name, role = check_username(username), check_role(role)
    display = (display_name or "").strip()[:120] or name
    hashed = _hasher.hash(check_password(password))
    now = state.now()
    try:
        with state.db.transaction() as tx:
            tx.execute("INSERT INTO console_users(username, display_name, role, password_hash, created_at,"
                       " password_changed_at) VALUES (?,?,?,?,?,?)", (name, display, role, hashed, now, now))
            audit.record(tx, now, actor or audit.admin_actor(), "console.user_added", None, user=name, role=role)
    except IntegrityError as exc:
        raise Conflict(f"user {name} already exists", f"Tài khoản {name} đã tồn tại") from exc
    return StaffUser(name, display, role)


def list_users(state: HubState) -> list[dict[str, Any]]:
    """Every account without its password hash, for `motcua hub user list` and the console."""
    return state.db.query("SELECT username, display_name, role, created_at, disabled_at, failed_logins, locked_until,"
                          " password_changed_at FROM console_users ORDER BY username")


def disable_user(state: HubState, username: str, actor: str | None = None) -> None:
    """Disable an account and end its sessions at once."""
    name = check_username(username)
    now = state.now()
    with state.db.transaction() as tx:
        if tx.execute("UPDATE console_users SET disabled_at=? WHERE username=? AND disabled_at IS NULL",
                      (now, name)) == 0:
            raise NotFound(f"no active user {name}", f"Không có tài khoản đang hoạt động {name}")
        tx.execute("DELETE FROM console_sessions WHERE username=?", (name,))
        audit.record(tx, now, actor or audit.admin_actor(), "console.user_disabled", None, user=name)


def reset_password(state: HubState, username: str, password: str, actor: str | None = None) -> None:
    """Set a new password, re-enable and unlock the account, and end its sessions."""
    name = check_username(username)
    hashed = _hasher.hash(check_password(password))
    now = state.now()
    with state.db.transaction() as tx:
        if tx.execute("UPDATE console_users SET password_hash=?, password_changed_at=?, disabled_at=NULL,"
                      " failed_logins=0, locked_until=NULL WHERE username=?", (hashed, now, name)) == 0:
            raise NotFound(f"no user {name}", f"Không có tài khoản {name}")
        tx.execute("DELETE FROM console_sessions WHERE username=?", (name,))
        audit.record(tx, now, actor or audit.admin_actor(), "console.password_reset", None, user=name)


def _refused(reason: str, reason_vi: str, code: str) -> Unauthorized:
    return Unauthorized(reason, reason_vi, code=code)


def verify_login(state: HubState, username: str, password: str) -> StaffUser:
    """Check a login; count failures and lock the account after too many. Raises Unauthorized."""
    name = (username or "").strip().lower()
    row = state.db.one("SELECT * FROM console_users WHERE username=?", (name,)) if USERNAME.match(name) else None
    now = state.now()
    if row is None:
        _verify(_DUMMY_HASH, password)  # same cost as a real account
        audit.record_now(state.db, now, "console", "console.login_failed", None, reason="unknown_user")
        raise _refused("wrong user name or password", "Sai tên đăng nhập hoặc mật khẩu", "login_failed")
    if row["disabled_at"] is not None:
        audit.record_now(state.db, now, staff_actor(name), "console.login_failed", None, reason="disabled")
        raise _refused("this account is disabled; ask an administrator", "Tài khoản đã bị khoá; liên hệ quản trị viên",
                       "account_disabled")
    if row["locked_until"] is not None and row["locked_until"] > now:
        minutes = max(1, (row["locked_until"] - now + 59) // 60)
        audit.record_now(state.db, now, staff_actor(name), "console.login_failed", None, reason="locked")
        raise _refused(f"too many wrong passwords: the account is locked for {minutes} more minute(s), "
                       "or until an administrator resets it",
                       f"Nhập sai mật khẩu quá nhiều lần: tài khoản bị khoá thêm {minutes} phút, "
                       "hoặc đến khi quản trị viên đặt lại", "account_locked")
    if not _verify(row["password_hash"], password):
        _count_failure(state, name, now)
        raise _refused("wrong user name or password", "Sai tên đăng nhập hoặc mật khẩu", "login_failed")
    with state.db.transaction() as tx:
        tx.execute("UPDATE console_users SET failed_logins=0, locked_until=NULL WHERE username=?", (name,))
        if _hasher.check_needs_rehash(row["password_hash"]):
            tx.execute("UPDATE console_users SET password_hash=? WHERE username=?", (_hasher.hash(password), name))
    return StaffUser(name, row["display_name"], row["role"])


def _verify(hashed: str, password: str) -> bool:
    if not _VERIFYING.acquire(timeout=LOGIN_WAIT_SECONDS):
        raise LoginBusy("too many logins at once; try again in a minute",
                        "Quá nhiều lượt đăng nhập cùng lúc; vui lòng thử lại sau một phút")
    try:
        return _hasher.verify(hashed, (password or "")[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    finally:
        _VERIFYING.release()


def _count_failure(state: HubState, name: str, now: int) -> None:
    with state.db.transaction() as tx:
        tx.execute("UPDATE console_users SET failed_logins=failed_logins+1 WHERE username=?", (name,))
        failures = tx.one("SELECT failed_logins FROM console_users WHERE username=?", (name,))["failed_logins"]
        locked = failures >= MAX_FAILED_LOGINS
        if locked:
            tx.execute("UPDATE console_users SET locked_until=?, failed_logins=0 WHERE username=?",
                       (now + LOCK_SECONDS, name))
        audit.record(tx, now, staff_actor(name), "console.login_failed", None, reason="wrong_password",
                     failures=failures, locked=int(locked))
    if locked:
        log.warning("console_account_locked user=%s seconds=%d", name, LOCK_SECONDS)


def get_user(state: HubState, username: str) -> StaffUser | None:
    """An active account by name, or None."""
    row = state.db.one("SELECT username, display_name, role FROM console_users WHERE username=? AND disabled_at IS NULL",
                       (username,))
    return StaffUser(row["username"], row["display_name"], row["role"]) if row else None
