"""The `motcua` command: a thin click layer over the agent library and the hub.

Every command parses options, calls one library function and prints the
result (a table or `--json`). Errors print Vietnamese first, then English,
then a hint; exit codes: 0 ok, 1 error, 2 usage, 3 hub unreachable (will retry),
4 device not authorised by the hub.
"""
from __future__ import annotations

import functools
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import click

from .context import AgentContext
from .errors import MotcuaError

log = logging.getLogger("motcua.agent.cli")


def _emit(data: Any, as_json: bool, text: Callable[[], str]) -> None:
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


def _ctx(click_ctx: click.Context) -> AgentContext:
    return click_ctx.ensure_object(dict).setdefault("agent", AgentContext.open(click_ctx.obj.get("home")))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group()
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="MOTCUA_HOME",
              help="Agent data directory (default ~/.local/share/motcua).")
@click.option("-v", "--verbose", is_flag=True, help="Log details to stderr.")
@click.version_option("0.1.0", prog_name="motcua")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, verbose: bool) -> None:
    """motcua — số hoá và chuyển hồ sơ một cửa về trung tâm tỉnh, kể cả khi mất mạng.

    motcua — digitise one-stop dossiers and deliver them to the provincial hub, offline-first.
    """
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    ctx.ensure_object(dict)["home"] = home
    ctx.call_on_close(lambda: ctx.obj["agent"].close() if "agent" in ctx.obj else None)


@cli.command()
@click.option("--hub", "hub_url", required=True, help="Hub URL, e.g. http://hub.example:8470")
@click.option("--token", required=True, help="One-time enrolment token from the hub administrator.")
@click.option("--site", default=None, help="This desk's site name; must match the token's site.")
@click.option("--name", "device_name", default=None, help="Device name shown to the administrator.")
@click.option("--hub-key-id", default=None, help="Expected hub key id (pins the hub before trusting it).")
@json_option
@click.pass_context
@handles_errors
def init(ctx: click.Context, hub_url: str, token: str, site: str | None, device_name: str | None,
         hub_key_id: str | None, as_json: bool) -> None:
    """Enrol this desk with the hub (creates the device key).

    Example: motcua init --hub http://127.0.0.1:8470 --token mct_… --site "UBND xã Tân Phú"
    """
    from .identity import enrol

    result = enrol(_ctx(ctx), hub_url, token, site, device_name, hub_key_id)
    _emit(result, as_json, lambda: f"Đã đăng ký / enrolled: {result['device_id']} "
                                   f"({result['site']}, {result['agency_code']}, block {result['code_block']})\n"
                                   f"Khoá trung tâm đã ghim / pinned hub key: {result['hub_key_id']}")


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--procedure", "procedure_code", required=True, help="Procedure code, e.g. 1.001193.")
@click.option("--channel", type=click.Choice(["counter", "postal", "online"]), default="counter", show_default=True)
@click.option("--seal/--no-seal", "seal_now", default=False, help="Seal right after import.")
@json_option
@click.pass_context
@handles_errors
def import_cmd(ctx: click.Context, files: tuple[Path, ...], procedure_code: str, channel: str, seal_now: bool,
               as_json: bool) -> None:
    """Import scanned images/PDFs as one new dossier.

    Example: motcua import page1.jpg page2.png --procedure 1.001193 --channel postal
    """
    from .capture import import_files
    from .seal import seal_dossier

    agent = _ctx(ctx)
    dossier = import_files(agent, list(files), procedure_code, channel)
    if seal_now:
        dossier = seal_dossier(agent, dossier.id)
    _emit(dossier.summary(), as_json,
          lambda: f"Đã nhận hồ sơ / captured: {dossier.code}  ({dossier.page_count} trang/pages, {dossier.state})")


@cli.command()
@click.argument("dossiers", nargs=-1)
@json_option
@click.pass_context
@handles_errors
def seal(ctx: click.Context, dossiers: tuple[str, ...], as_json: bool) -> None:
    """Seal captured dossiers (all of them if none is named): sign the manifest, make it immutable."""
    from .seal import seal_all, seal_dossier

    agent = _ctx(ctx)
    agent.config.require_enrolled()
    sealed = [seal_dossier(agent, ref) for ref in dossiers] if dossiers else seal_all(agent)
    _emit([d.summary() for d in sealed], as_json,
          lambda: "\n".join(f"Đã niêm phong / sealed: {d.code}" for d in sealed) or "Không có hồ sơ cần niêm phong / nothing to seal")


@cli.command()
@click.option("--state", "states", multiple=True, type=click.Choice(
    ["captured", "sealed", "uploading", "committed", "purged", "rejected"]), help="Only these states.")
@json_option
@click.pass_context
@handles_errors
def queue(ctx: click.Context, states: tuple[str, ...], as_json: bool) -> None:
    """Show the outbox: code, state, size, attempts, last error."""
    rows = [d.summary() for d in _ctx(ctx).outbox.list(states or None)]

    def table() -> str:
        if not rows:
            return "Hàng đợi trống / queue is empty"
        lines = [f"{'MÃ HỒ SƠ / CODE':<28} {'TRẠNG THÁI/STATE':<16} {'SIZE':>10} {'TRIES':>5}  LỖI / LAST ERROR"]
        for r in rows:
            error = r["rejected_reason"] or r["last_error"] or ""
            lines.append(f"{r['code']:<28} {r['state']:<16} {r['size_bytes']:>10} {r['attempts']:>5}  {error[:80]}")
        return "\n".join(lines)

    _emit(rows, as_json, table)


@cli.command()
@json_option
@click.pass_context
@handles_errors
def sync(ctx: click.Context, as_json: bool) -> None:
    """Deliver sealed dossiers once; exit 3 if the hub could not be reached (they stay queued)."""
    from .errors import HubUnreachable
    from .sync import sync_once

    report = sync_once(_ctx(ctx))

    def text() -> str:
        lines = [f"Đã gửi / committed: {c}" for c in report.committed]
        lines += [f"Bị từ chối / rejected: {c}" for c in report.rejected]
        lines += [f"Chưa gửi được / not delivered yet: {c}" for c in report.failed]
        lines.append(f"Đã gửi {report.bytes_sent} byte / bytes sent")
        return "\n".join(lines)

    _emit(report.to_json(), as_json, text)
    if report.unreachable:
        raise HubUnreachable("Chưa kết nối được trung tâm; hồ sơ vẫn an toàn trong hàng đợi.",
                             f"Hub unreachable: {report.unreachable}; dossiers stay queued.",
                             "motcua run sẽ tự thử lại / `motcua run` retries automatically")


@cli.command()
@click.pass_context
@handles_errors
def run(ctx: click.Context) -> None:
    """Run the agent: seal and deliver continuously, backing off while the hub is away (Ctrl-C stops)."""
    from .runner import run_forever

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("motcua đang chạy / running — Ctrl-C để dừng / to stop", err=True)
    run_forever(_ctx(ctx), stop)


@cli.command()
@click.argument("dossier")
@json_option
@click.pass_context
@handles_errors
def status(ctx: click.Context, dossier: str, as_json: bool) -> None:
    """Show a dossier's local state and, if reachable, its status at the hub."""
    agent = _ctx(ctx)
    local = agent.outbox.get(dossier)
    result: dict[str, Any] = {"local": local.summary(), "hub": None}
    if local.state in ("committed", "purged"):
        result["hub"] = agent.hub.dossier_status(local.id)

    def text() -> str:
        out = f"{local.code}: {local.state} (tại máy / local)"
        if result["hub"]:
            h = result["hub"]
            out += f"\nTrung tâm / hub: {h['status_name_vi']} / {h['status_name']} (#{h['hub_sequence']}, {h['received_at']})"
        return out

    _emit(result, as_json, text)


def _add_hub_group() -> None:
    from hub.cli import hub

    cli.add_command(hub)


_add_hub_group()


def main() -> None:
    cli(prog_name="motcua")


if __name__ == "__main__":
    main()
