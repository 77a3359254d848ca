"""Console accounts and sessions as library calls on both hub databases (SQLite and a real PostgreSQL
server): argon2id hashes, lockout after wrong passwords, disable/reset ending sessions, idle and absolute
session expiry, old hash parameters upgraded at login. The hub clock is moved by replacing `state.now`
(time itself cannot be advanced here); everything else is the real storage."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from hub.config import HubConfig
from hub.console import accounts, sessions
from hub.errors import Conflict, Unauthorized
from hub.state import HubState

from .fixtures_servers import *  # noqa: F401,F403 - pg_url

PASSWORD = "một mật khẩu đủ dài"


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request, tmp_path):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    hub = HubState.open(HubConfig(data_dir=tmp_path / "hub", database_url=url))
    clock = {"now": 1_800_000_000}
    hub.now = lambda: clock["now"]  # type: ignore[method-assign]
    hub.clock = clock  # type: ignore[attr-defined]
    yield hub
    hub.storage.close()


def refused_code(state: HubState, username: str, password: str) -> str:
    with pytest.raises(Unauthorized) as caught:
        accounts.verify_login(state, username, password)
    return caught.value.code


def test_lockout_reset_and_disable(state):
    accounts.add_user(state, "Lan.Nguyen", "Nguyễn Thị Lan", "operator", PASSWORD, actor="staff:qt")
    with pytest.raises(Conflict):
        accounts.add_user(state, "lan.nguyen", "", "viewer", PASSWORD)
    user = accounts.verify_login(state, "lan.nguyen", PASSWORD)
    assert (user.username, user.role, user.can("viewer"), user.can("administrator")) == ("lan.nguyen", "operator",
                                                                                          True, False)
    for _ in range(accounts.MAX_FAILED_LOGINS):
        assert refused_code(state, "lan.nguyen", "sai rồi sai rồi") == "login_failed"
    assert refused_code(state, "lan.nguyen", PASSWORD) == "account_locked"
    state.clock["now"] += accounts.LOCK_SECONDS + 1  # the lock runs out by itself…
    assert accounts.verify_login(state, "lan.nguyen", PASSWORD).username == "lan.nguyen"
    for _ in range(accounts.MAX_FAILED_LOGINS):
        refused_code(state, "lan.nguyen", "sai rồi sai rồi")
    accounts.reset_password(state, "lan.nguyen", "mật khẩu mới hoàn toàn")  # …or an administrator lifts it
    assert refused_code(state, "lan.nguyen", PASSWORD) == "login_failed"
    token, _ = sessions.start_session(state, accounts.verify_login(state, "lan.nguyen", "mật khẩu mới hoàn toàn"))
    assert sessions.load_session(state, token) is not None
    accounts.disable_user(state, "lan.nguyen")
    assert sessions.load_session(state, token) is None
    assert refused_code(state, "lan.nguyen", "mật khẩu mới hoàn toàn") == "account_disabled"
    assert refused_code(state, "nobody", PASSWORD) == "login_failed"
    stored = state.db.one("SELECT password_hash FROM console_users")["password_hash"]
    assert stored.startswith("$argon2id$")
    actions = [(r["actor"], r["action"]) for r in state.db.query("SELECT actor, action FROM audit ORDER BY seq")]
    assert ("staff:qt", "console.user_added") in actions and ("staff:lan.nguyen", "console.login_failed") in actions


def test_sessions_expire_when_idle_and_after_the_absolute_limit(state):
    user = accounts.add_user(state, "binh", "Lê Văn Bình", "viewer", PASSWORD)
    token, session = sessions.start_session(state, user)
    assert sessions.csrf_ok(session, session.csrf_token) and not sessions.csrf_ok(session, "forged")
    assert not sessions.csrf_ok(session, None)
    for _ in range(int(sessions.ABSOLUTE_SECONDS / (sessions.IDLE_SECONDS - 60))):
        state.clock["now"] += sessions.IDLE_SECONDS - 60  # active just often enough
        if state.clock["now"] - session.created_at > sessions.ABSOLUTE_SECONDS:
            break
        assert sessions.load_session(state, token) is not None
    state.clock["now"] = session.created_at + sessions.ABSOLUTE_SECONDS + 1
    assert sessions.load_session(state, token) is None

    token, _ = sessions.start_session(state, user)
    state.clock["now"] += sessions.IDLE_SECONDS + 1
    assert sessions.load_session(state, token) is None
    assert sessions.load_session(state, "x" * 500) is None and sessions.load_session(state, None) is None
    token, _ = sessions.start_session(state, user)
    sessions.end_session(state, token)
    assert sessions.load_session(state, token) is None


def test_a_hash_with_old_parameters_is_upgraded_at_login(state):
    accounts.add_user(state, "chi", "Phạm Thị Chi", "viewer", PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    state.db.execute("UPDATE console_users SET password_hash=? WHERE username='chi'", (weak,))
    accounts.verify_login(state, "chi", PASSWORD)
    upgraded = state.db.one("SELECT password_hash FROM console_users WHERE username='chi'")["password_hash"]
    assert upgraded != weak and not PasswordHasher().check_needs_rehash(upgraded)
    assert accounts.verify_login(state, "chi", PASSWORD).username == "chi"


def test_a_flood_of_logins_waits_its_turn_and_is_told_to_retry(state, monkeypatch):
    accounts.add_user(state, "dung", "Hoàng Văn Dũng", "viewer", PASSWORD)
    monkeypatch.setattr(accounts, "LOGIN_WAIT_SECONDS", 0.2)
    held = []
    while accounts._VERIFYING.acquire(blocking=False):  # every verification slot busy (64 MiB each)
        held.append(1)
    try:
        with pytest.raises(accounts.LoginBusy) as caught:
            accounts.verify_login(state, "dung", PASSWORD)
        assert caught.value.status == 429 and "thử lại" in caught.value.reason_vi
    finally:
        for _ in held:
            accounts._VERIFYING.release()
    assert accounts.verify_login(state, "dung", PASSWORD).username == "dung"
    assert state.db.one("SELECT failed_logins FROM console_users")["failed_logins"] == 0  # not counted as a failure
