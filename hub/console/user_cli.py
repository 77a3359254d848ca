"""`motcua hub user add|list|disable|reset`: console staff accounts (thin layer over hub.console.accounts).

Passwords are read from a hidden prompt (typed twice) or, for scripts, from standard input
with --password-stdin; never from the command line, where `ps` and shell history would keep them.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import click

from ..config import HubConfig
from ..errors import HubError

_data = click.option("--data", "data", type=click.Path(file_okay=False, path_type=Path), default=Path("hub-data"),
                     show_default=True, envvar="MOTCUA_HUB_DATA", help="Hub data directory.")
_stdin = click.option("--password-stdin", is_flag=True, help="Read the password from standard input (one line).")


def _state(data: Path):  # type: ignore[no-untyped-def]
    from ..state import HubState

    return HubState.open(HubConfig.from_env(data))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Mật khẩu / password", hide_input=True, confirmation_prompt=True)


def _run(action: Callable[..., Any], *args: Any) -> Any:
    """Call an accounts function; a refusal becomes its bilingual message and exit status 1."""
    try:
        return action(*args)
    except HubError as exc:
        click.echo(f"{exc.reason_vi} / {exc.reason}", err=True)
        sys.exit(1)


@click.group("user")
def user() -> None:
    """Staff accounts of the web console (/console/): viewer, operator, administrator.

    Tài khoản cán bộ trung tâm dùng bảng điều khiển web.
    """


@user.command("add")
@_data
@click.argument("username")
@click.option("--role", type=click.Choice(["viewer", "operator", "administrator"]), required=True)
@click.option("--name", "display_name", default="", help="Full name shown in the console.")
@_stdin
def add(data: Path, username: str, role: str, display_name: str, password_stdin: bool) -> None:
    """Create an account.  Example: motcua hub user add lan.nguyen --role operator --name "Nguyễn Thị Lan\""""
    from .accounts import add_user

    created = _run(add_user, _state(data), username, display_name, role, _password(password_stdin))
    click.echo(f"Đã tạo / created: {created.username} ({created.role})")


@user.command("list")
@_data
@click.option("--json", "as_json", is_flag=True)
def list_cmd(data: Path, as_json: bool) -> None:
    """List accounts, their role and whether they are disabled or locked."""
    from sync_protocol.timestamps import format_utc

    from .accounts import list_users

    state = _state(data)
    rows = list_users(state)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        status = ("disabled" if r["disabled_at"] else
                  "locked until " + format_utc(r["locked_until"]) if r["locked_until"] and r["locked_until"] > state.now()
                  else "active")
        click.echo(f"{r['username']:<24} {r['role']:<14} {status:<32} {r['display_name']}")


@user.command("disable")
@_data
@click.argument("username")
def disable(data: Path, username: str) -> None:
    """Disable an account and end its sessions.  Example: motcua hub user disable lan.nguyen"""
    from .accounts import disable_user

    _run(disable_user, _state(data), username)
    click.echo(f"Đã khoá / disabled: {username}")


@user.command("reset")
@_data
@click.argument("username")
@_stdin
def reset(data: Path, username: str, password_stdin: bool) -> None:
    """Set a new password; also re-enables and unlocks the account.  Example: motcua hub user reset lan.nguyen"""
    from .accounts import reset_password

    _run(reset_password, _state(data), username, _password(password_stdin))
    click.echo(f"Đã đặt lại mật khẩu / password reset: {username}")
