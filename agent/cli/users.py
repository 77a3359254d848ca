"""`motcua user …`: desk accounts (officer, head, courier, admin) over agent.desk.accounts."""
from __future__ import annotations

import sys

import click

from agent.cli.support import agent_context as _ctx
from agent.cli.support import emit as _emit
from agent.cli.support import handles_errors, json_option

secret_options = [
    click.option("--pin", "use_pin", is_flag=True, help="A 4-8 digit PIN instead of a password "
                                                        "(works only in a desk browser already logged in by password)."),
    click.option("--password-stdin", "from_stdin", is_flag=True, help="Read the password/PIN from stdin (scripts)."),
]


def _with_secret_options(func):  # type: ignore[no-untyped-def]
    for option in reversed(secret_options):
        func = option(func)
    return func


def read_secret(use_pin: bool, from_stdin: bool) -> tuple[str, str]:
    """(secret, kind) from stdin or an interactive hidden prompt asked twice."""
    kind = "pin" if use_pin else "password"
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), kind
    label = "Mã PIN / PIN" if use_pin else "Mật khẩu / password"
    return click.prompt(label, hide_input=True, confirmation_prompt=True), kind


@click.group("user")
def user() -> None:
    """Desk accounts: officers, heads of desk, couriers, administrators."""


@user.command("add")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="Full name, printed on slips and handover records.")
@click.option("--role", type=click.Choice(["officer", "head", "courier", "admin"]), default="officer", show_default=True)
@_with_secret_options
@json_option
@click.pass_context
@handles_errors
def user_add(ctx: click.Context, username: str, full_name: str, role: str, use_pin: bool, from_stdin: bool,
             as_json: bool) -> None:
    """Create an account (the first administrator too).

    Example: motcua user add lan --name "Trần Thị Lan" --role officer
    """
    from agent.desk.accounts import add_user

    secret, kind = read_secret(use_pin, from_stdin)
    account = add_user(_ctx(ctx), username, full_name, role, secret, kind)
    _emit(account.summary(), as_json, lambda: f"Đã tạo / created: {account.username} ({account.role})")


@user.command("list")
@json_option
@click.pass_context
@handles_errors
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List the desk's accounts."""
    from agent.desk.accounts import list_users

    users = [u.summary() for u in list_users(_ctx(ctx))]
    _emit(users, as_json, lambda: "\n".join(
        f"{u['username']:<16} {u['role']:<8} {u['secret_kind']:<8} {'DISABLED' if u['disabled'] else 'active':<8} "
        f"{u['full_name']}" for u in users) or "Chưa có tài khoản / no accounts: motcua user add NAME --role admin")


@user.command("disable")
@click.argument("username")
@json_option
@click.pass_context
@handles_errors
def user_disable(ctx: click.Context, username: str, as_json: bool) -> None:
    """Disable an account; its open sessions end at once."""
    from agent.desk.accounts import disable_user

    account = disable_user(_ctx(ctx), username)
    _emit(account.summary(), as_json, lambda: f"Đã vô hiệu hoá / disabled: {account.username}")


@user.command("reset")
@click.argument("username")
@_with_secret_options
@json_option
@click.pass_context
@handles_errors
def user_reset(ctx: click.Context, username: str, use_pin: bool, from_stdin: bool, as_json: bool) -> None:
    """Set a new password or PIN; unlocks and re-enables the account."""
    from agent.desk.accounts import reset_secret

    secret, kind = read_secret(use_pin, from_stdin)
    account = reset_secret(_ctx(ctx), username, secret, kind)
    _emit(account.summary(), as_json, lambda: f"Đã đặt lại / reset: {account.username}")


COMMANDS = [user]


def first_admin(agent: object, username: str | None, full_name: str | None, from_stdin: bool,
                interactive: bool) -> None:
    """At `motcua init`: create the first administrator if asked (--admin), or offer it at a terminal."""
    from agent.desk.accounts import add_user, has_admin

    if has_admin(agent):  # type: ignore[arg-type]
        return
    if username is None:
        if not (interactive and sys.stdin.isatty()):
            click.echo("Chưa có tài khoản quản trị; tạo bằng / no administrator yet; create one with: "
                       "motcua user add NAME --name \"Họ tên\" --role admin", err=True)
            return
        username = click.prompt("Tên đăng nhập quản trị đầu tiên / first administrator's username")
    full_name = full_name or click.prompt("Họ tên / full name")
    secret, kind = read_secret(False, from_stdin)
    add_user(agent, username, full_name, "admin", secret, kind)  # type: ignore[arg-type]
    click.echo(f"Đã tạo quản trị / administrator created: {username}", err=True)
