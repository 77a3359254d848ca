"""Desk accounts: argon2id secrets, PINs only in a trusted desk browser, lockout, session expiry,
disable and reset, audit under the acting account, and the `motcua user` / `motcua init --admin` CLI."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from agent.context import AgentContext
from agent.desk import accounts
from agent.desk.accounts import (LoginFailed, add_user, authenticate, disable_user, end_session, reset_secret,
                                 session_user, start_session)
from agent.errors import InputError
from agent.ops.audit import AuditLog

from .conftest import SITE, run_motcua

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def ctx(tmp_path):
    context = AgentContext.open(tmp_path / "home")
    yield context
    context.close()


def test_password_is_stored_as_argon2id_and_checked(ctx):
    add_user(ctx, "Lan", "Trần  Thị Lan", "officer", "mat-khau-dai")
    stored = ctx.outbox.conn.execute("SELECT username, full_name, secret_hash FROM desk_users").fetchone()
    assert stored[:2] == ("lan", "Trần Thị Lan") and stored[2].startswith("$argon2id$")
    assert "mat-khau-dai" not in stored[2]
    assert authenticate(ctx, "LAN ", "mat-khau-dai", trusted_browser=False).role == "officer"
    with pytest.raises(LoginFailed) as wrong:
        authenticate(ctx, "lan", "mat-khau-sai", trusted_browser=False)
    with pytest.raises(LoginFailed) as unknown:
        authenticate(ctx, "khong-co", "mat-khau-dai", trusted_browser=False)
    assert wrong.value.message_vi == unknown.value.message_vi  # the form does not reveal which usernames exist


@pytest.mark.parametrize("username, name, role, secret, kind, fragment", [
    ("Lan Anh", "Trần Thị Lan", "officer", "mat-khau-dai", "password", "Tên đăng nhập"),
    ("lan", "Trần Thị Lan", "boss", "mat-khau-dai", "password", "Vai trò"),
    ("lan", "T", "officer", "mat-khau-dai", "password", "họ tên"),
    ("lan", "Trần Thị Lan", "officer", "ngan", "password", "8 ký tự"),
    ("lan", "Trần Thị Lan", "officer", "12a4", "pin", "4–8 chữ số"),
])
def test_bad_accounts_are_refused_with_the_field_named(ctx, username, name, role, secret, kind, fragment):
    with pytest.raises(InputError) as exc:
        add_user(ctx, username, name, role, secret, kind)
    assert fragment in exc.value.message_vi
    assert ctx.outbox.conn.execute("SELECT COUNT(*) FROM desk_users").fetchone()[0] == 0


def test_duplicate_username_is_refused(ctx):
    add_user(ctx, "lan", "Trần Thị Lan", "officer", "mat-khau-dai")
    with pytest.raises(InputError, match="already exists"):
        add_user(ctx, "lan", "Lê Thị Lan", "head", "mat-khau-khac")


def test_pin_works_only_in_a_trusted_desk_browser(ctx):
    add_user(ctx, "binh", "Phạm Văn Bình", "officer", "4821", "pin")
    with pytest.raises(LoginFailed, match="PIN works only"):
        authenticate(ctx, "binh", "4821", trusted_browser=False)
    token = accounts.trust_browser(ctx)
    assert accounts.is_trusted_browser(ctx, token) and not accounts.is_trusted_browser(ctx, "forged")
    assert authenticate(ctx, "binh", "4821", trusted_browser=True).username == "binh"


def test_lockout_after_repeated_failures_then_reset(ctx):
    add_user(ctx, "lan", "Trần Thị Lan", "officer", "mat-khau-dai")
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(LoginFailed, match="Wrong"):
            authenticate(ctx, "lan", "doan-mo", trusted_browser=False, now=NOW)
    with pytest.raises(LoginFailed, match="locked until"):  # even the right password, while locked
        authenticate(ctx, "lan", "mat-khau-dai", trusted_browser=False, now=NOW + timedelta(minutes=1))
    later = NOW + timedelta(minutes=accounts.LOCK_MINUTES + 1)
    assert authenticate(ctx, "lan", "mat-khau-dai", trusted_browser=False, now=later).username == "lan"
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(LoginFailed):
            authenticate(ctx, "lan", "doan-mo", trusted_browser=False, now=later)
    reset_secret(ctx, "lan", "mat-khau-moi-1")  # an administrator's reset unlocks at once
    assert authenticate(ctx, "lan", "mat-khau-moi-1", trusted_browser=False, now=later).username == "lan"
    with pytest.raises(LoginFailed):
        authenticate(ctx, "lan", "mat-khau-dai", trusted_browser=False, now=later)
    actions = [e["action"] for e in AuditLog(ctx.config.home / "audit.db").entries()]
    assert actions.count("login.failed") == 2 * accounts.MAX_FAILURES + 1 and "user.reset" in actions


def test_sessions_expire_when_idle_and_at_the_end_of_the_day(ctx):
    user = add_user(ctx, "lan", "Trần Thị Lan", "officer", "mat-khau-dai")
    token = start_session(ctx, user, now=NOW)
    assert session_user(ctx, token, now=NOW + timedelta(minutes=accounts.IDLE_MINUTES - 1)).username == "lan"
    assert session_user(ctx, token, now=NOW + timedelta(minutes=2 * accounts.IDLE_MINUTES - 2)) is not None
    assert session_user(ctx, token, now=NOW + timedelta(minutes=3 * accounts.IDLE_MINUTES)) is None  # idle too long
    assert session_user(ctx, token, now=NOW) is None  # and it is gone for good
    busy = start_session(ctx, user, now=NOW)
    moment = NOW
    while moment < NOW + timedelta(hours=accounts.MAX_HOURS - 1):
        moment += timedelta(minutes=30)
        assert session_user(ctx, busy, now=moment) is not None
    assert session_user(ctx, busy, now=NOW + timedelta(hours=accounts.MAX_HOURS)) is None
    assert session_user(ctx, None) is None and session_user(ctx, "not-a-token") is None


def test_logout_and_disable_end_sessions(ctx):
    user = add_user(ctx, "lan", "Trần Thị Lan", "officer", "mat-khau-dai")
    token = start_session(ctx, user)
    end_session(ctx, token)
    assert session_user(ctx, token) is None
    token = start_session(ctx, user)
    disable_user(ctx, "lan")
    assert session_user(ctx, token) is None
    with pytest.raises(LoginFailed, match="disabled"):
        authenticate(ctx, "lan", "mat-khau-dai", trusted_browser=False)
    with pytest.raises(InputError, match="No user"):
        disable_user(ctx, "khong-co")


def test_user_cli_add_list_disable_reset(tmp_path):
    home = tmp_path / "home"
    added = run_motcua("user", "add", "lan", "--name", "Trần Thị Lan", "--role", "head", "--password-stdin", "--json",
                       home=home, input="mat-khau-dai\n")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"username": "lan", "full_name": "Trần Thị Lan", "role": "head",
                                        "secret_kind": "password", "disabled": False}
    pin = run_motcua("user", "add", "an", "--name", "Võ An", "--role", "courier", "--pin", "--password-stdin",
                     home=home, input="12345\n")
    assert pin.returncode == 0, pin.stderr
    short = run_motcua("user", "add", "tu", "--name", "Lý Tú", "--password-stdin", home=home, input="ngan\n")
    assert short.returncode == 1 and "ít nhất 8 ký tự" in short.stderr and "Traceback" not in short.stderr
    bad_role = run_motcua("user", "add", "tu", "--name", "Lý Tú", "--role", "boss", "--password-stdin", home=home,
                          input="mat-khau-dai\n")
    assert bad_role.returncode == 2  # click's usage error names the allowed roles
    assert run_motcua("user", "disable", "an", home=home).returncode == 0
    listed = json.loads(run_motcua("user", "list", "--json", home=home).stdout)
    assert [(u["username"], u["role"], u["disabled"]) for u in listed] == [("an", "courier", True), ("lan", "head", False)]
    reset = run_motcua("user", "reset", "an", "--pin", "--password-stdin", home=home, input="5555\n")
    assert reset.returncode == 0, reset.stderr
    assert not json.loads(run_motcua("user", "list", "--json", home=home).stdout)[0]["disabled"]
    missing = run_motcua("user", "reset", "khong-co", "--password-stdin", home=home, input="mat-khau-dai\n")
    assert missing.returncode == 1 and "motcua user list" in missing.stderr


def test_init_creates_the_first_administrator(hub, tmp_path):
    home = tmp_path / "desk"
    done = run_motcua("init", "--hub", hub.url, "--token", hub.token(), "--site", SITE, "--admin", "quantri",
                      "--admin-name", "Đỗ Quản Trị", "--password-stdin", home=home, input="mat-khau-quan-tri\n")
    assert done.returncode == 0, done.stderr
    [admin] = json.loads(run_motcua("user", "list", "--json", home=home).stdout)
    assert (admin["username"], admin["role"]) == ("quantri", "admin")
    ctx = AgentContext.open(home)
    try:
        entries = AuditLog(home / "audit.db").entries()
        assert any(e["action"] == "user.added" and e["detail"]["role"] == "admin" for e in entries)
    finally:
        ctx.close()
