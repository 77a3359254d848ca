"""What every `motcua` command module shares: error handling, output, the open agent.

Kept apart from agent/cli/main.py so command modules (capture_cli, desk_cli, ops_cli)
can import it: importing agent.cli itself from them would load it twice under
`python -m agent.cli`.
"""
from __future__ import annotations

import functools
import json
import logging
import sys
from typing import Any, Callable

import click

from agent.context import AgentContext
from agent.errors import MotcuaError

log = logging.getLogger("motcua.agent.cli")

#: `--json` flag for commands a script would read
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def emit(data: Any, as_json: bool, text: Callable[[], str]) -> None:
    """Print `data` as JSON, or the human text."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else text())


def handles_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into a clear message and exit code — never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_json = kwargs.get("as_json", False)
        try:
            return func(*args, **kwargs)
        except MotcuaError as exc:
            if as_json:
                click.echo(json.dumps(exc.to_json(), ensure_ascii=False))
            else:
                click.echo(exc.user_text(), err=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - last line of defence for desk staff
            log.exception("unexpected_error type=%s", type(exc).__name__)
            click.echo(f"Lỗi không mong đợi: {type(exc).__name__}. Hàng đợi không bị ảnh hưởng.\n"
                       f"Unexpected error: {type(exc).__name__}: {exc}. The queue is unaffected.\n"
                       "→ Chạy lại với --verbose và gửi cho quản trị viên / rerun with --verbose and report it", err=True)
            sys.exit(1)

    return wrapper


def agent_context(click_ctx: click.Context) -> AgentContext:
    """The agent opened for this command line (once; closed when the command ends)."""
    obj = click_ctx.ensure_object(dict)
    if "agent" not in obj:
        obj["agent"] = AgentContext.open(obj.get("home"))
    return obj["agent"]
