"""The `motcua` command: a thin click layer over the agent library and the hub.

Every command parses options, calls one library function and prints the
result (a table or `--json`). Errors print Vietnamese first, then English,
then a hint; exit codes: 0 ok, 1 error, 2 usage, 3 hub unreachable (will retry),
4 device not authorised by the hub.
"""
from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from agent.cli.support import agent_context as _ctx
from agent.cli.support import emit as _emit
from agent.cli.support import handles_errors, json_option

log = logging.getLogger("motcua.agent.cli")


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
    from agent.desk.workflows import subscribe

    subscribe()  # the desk's handlers for status events and courier proofs, before any command syncs
    ctx.call_on_close(lambda: ctx.obj["agent"].close() if "agent" in ctx.obj else None)


@cli.command()
@click.option("--hub", "hub_url", required=True, help="Hub URL, e.g. http://hub.example:8470")
@click.option("--token", required=True, help="One-time enrolment token from the hub administrator.")
@click.option("--site", default=None, help="This desk's site name; must match the token's site.")
@click.option("--name", "device_name", default=None, help="Device name shown to the administrator.")
@click.option("--hub-key-id", default=None, help="Expected hub key id (pins the hub before trusting it).")
@click.option("--ca-bundle", default=None, type=click.Path(dir_okay=False),
              help="HTTPS: CA certificate(s) (PEM) to verify the hub with, instead of the system CAs.")
@click.option("--pin-sha256", "pin_sha256", default=None,
              help="HTTPS: also require this hub certificate (sha256 of its DER bytes, hex).")
@click.option("--admin", "admin_user", default=None, help="Also create the first desk administrator (username).")
@click.option("--admin-name", default=None, help="The administrator's full name (with --admin).")
@click.option("--password-stdin", "from_stdin", is_flag=True, help="Read the administrator's password from stdin.")
@json_option
@click.pass_context
@handles_errors
def init(ctx: click.Context, hub_url: str, token: str, site: str | None, device_name: str | None,
         hub_key_id: str | None, ca_bundle: str | None, pin_sha256: str | None, admin_user: str | None,
         admin_name: str | None, from_stdin: bool, as_json: bool) -> None:
    """Enrol this desk with the hub (creates the device key).

    Example: motcua init --hub https://hub.tinh.gov.vn:8470 --token mct_… --site "UBND xã Tân Phú" --ca-bundle ca.pem
    """
    from agent.delivery.enrolment import enrol

    result = enrol(_ctx(ctx), hub_url, token, site, device_name, hub_key_id, ca_bundle=ca_bundle,
                   hub_cert_sha256=pin_sha256)
    from agent.cli.users import first_admin

    first_admin(_ctx(ctx), admin_user, admin_name, from_stdin, interactive=not as_json)
    _emit(result, as_json, lambda: f"Đã đăng ký / enrolled: {result['device_id']} "
                                   f"({result['site']}, {result['agency_code']}, block {result['code_block']})\n"
                                   f"Khoá trung tâm đã ghim / pinned hub key: {result['hub_key_id']}")


@cli.command("import")
# readable=False: the library checks readability and names the file in Vietnamese and English.
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
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
    from agent.capture.files import import_files
    from agent.sealing.seal import seal_dossier

    agent = _ctx(ctx)
    removed: dict = {}
    dossier = import_files(agent, list(files), procedure_code, channel, removed=removed)
    if seal_now:
        dossier = seal_dossier(agent, dossier.id)
    summary = dossier.summary() | ({"removed_content": removed} if removed else {})
    _emit(summary, as_json,
          lambda: f"Đã nhận hồ sơ / captured: {dossier.code}  ({dossier.page_count} trang/pages, {dossier.state})"
          + (f"\n{removed['message_vi']}\n{removed['message_en']}" if removed else ""))


@cli.command()
@click.argument("dossiers", nargs=-1)
@json_option
@click.pass_context
@handles_errors
def seal(ctx: click.Context, dossiers: tuple[str, ...], as_json: bool) -> None:
    """Seal captured dossiers (all of them if none is named): sign the manifest, make it immutable."""
    from agent.sealing.seal import seal_all, seal_dossier

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
    """Show the outbox: code, state, size, attempts, hub status (from the status feed), last error."""
    from agent.delivery.feed import hub_statuses

    agent = _ctx(ctx)
    statuses = hub_statuses(agent)
    rows = [d.summary() for d in agent.outbox.list(states or None)]
    for r in rows:
        event = statuses.get(r["id"])
        r["hub_status"] = {k: event[k] for k in ("status", "status_name", "status_name_vi", "at", "note")} if event else None

    def table() -> str:
        if not rows:
            return "Hàng đợi trống / queue is empty"
        lines = [f"{'MÃ HỒ SƠ / CODE':<28} {'TRẠNG THÁI/STATE':<16} {'SIZE':>10} {'TRIES':>5}  "
                 f"{'TẠI TRUNG TÂM / AT HUB':<24} LỖI / LAST ERROR"]
        for r in rows:
            error = r["rejected_reason"] or r["last_error"] or ""
            hub_text = f"{r['hub_status']['status']} {r['hub_status']['status_name_vi']}" if r["hub_status"] else "-"
            lines.append(f"{r['code']:<28} {r['state']:<16} {r['size_bytes']:>10} {r['attempts']:>5}  "
                         f"{hub_text[:24]:<24} {error[:80]}")
        return "\n".join(lines)

    _emit(rows, as_json, table)


@cli.command()
@json_option
@click.pass_context
@handles_errors
def sync(ctx: click.Context, as_json: bool) -> None:
    """Deliver sealed dossiers once; exit 3 if the hub could not be reached (they stay queued)."""
    from agent.cli.progress import sync_progress
    from agent.delivery.sync import sync_once
    from agent.errors import HubUnreachable

    with sync_progress(_ctx(ctx)) as on_progress:  # a bar on a terminal, log lines otherwise
        report = sync_once(_ctx(ctx), on_progress)

    def text() -> str:
        lines = [f"Đã gửi / committed: {c}" for c in report.committed]
        lines += [f"Bị từ chối / rejected: {c}" for c in report.rejected]
        lines += [f"Chưa gửi được / not delivered yet: {c}" for c in report.failed]
        lines.append(f"Đã gửi {report.bytes_sent} byte / bytes sent")
        return "\n".join(lines)

    _emit(report.to_json(), as_json, text)
    if report.upload_quota and not report.unreachable:
        click.echo(report.upload_quota, err=True)  # nothing is lost; `motcua run` waits the hub's Retry-After
        sys.exit(HubUnreachable.exit_code)
    if report.unreachable:
        error = HubUnreachable("Chưa kết nối được trung tâm; hồ sơ vẫn an toàn trong hàng đợi.",
                               f"Hub unreachable: {report.unreachable}; dossiers stay queued.",
                               "motcua run sẽ tự thử lại / `motcua run` retries automatically")
        # To stderr even with --json: stdout stays one JSON document (the report already says "unreachable").
        click.echo(error.user_text(), err=True)
        sys.exit(error.exit_code)


@cli.command()
@click.option("--metrics-file", type=click.Path(dir_okay=False, path_type=Path), envvar="MOTCUA_METRICS_FILE",
              default=None, help="Keep Prometheus metrics in this .prom file (node_exporter textfile collector).")
@click.pass_context
@handles_errors
def run(ctx: click.Context, metrics_file: Path | None) -> None:
    """Run the agent: seal and deliver continuously, backing off while the hub is away (Ctrl-C stops)."""
    from agent.delivery.runner import run_forever
    from agent.desk.workflows import AFTER_PASS

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("motcua đang chạy / running — Ctrl-C để dừng / to stop", err=True)
    agent = _ctx(ctx)
    if metrics_file is not None:
        from agent.ops.metrics import start_textfile_writer

        start_textfile_writer(agent.config.db_path, metrics_file, agent.config.site, stop,
                              interval=max(5, agent.config.settings.idle_interval))
    run_forever(agent, stop, after_pass=AFTER_PASS)


@cli.command()
@click.argument("dossier")
@json_option
@click.pass_context
@handles_errors
def status(ctx: click.Context, dossier: str, as_json: bool) -> None:
    """Show a dossier's local state, its status events from the hub's feed and, if reachable, its status at the hub."""
    from agent.delivery.feed import events_of
    from agent.errors import HubUnreachable

    agent = _ctx(ctx)
    local = agent.outbox.get(dossier)
    result: dict[str, Any] = {"local": local.summary(), "hub": None, "events": events_of(agent, local.id)}
    if local.state in ("committed", "purged"):
        try:
            result["hub"] = agent.hub.dossier_status(local.id)
        except HubUnreachable:
            result["hub_unreachable"] = True  # offline: the events received so far still tell the story

    def text() -> str:
        out = f"{local.code}: {local.state} (tại máy / local)"
        if result["hub"]:
            h = result["hub"]
            out += f"\nTrung tâm / hub: {h['status_name_vi']} / {h['status_name']} (#{h['hub_sequence']}, {h['received_at']})"
        elif result.get("hub_unreachable"):
            out += "\nChưa kết nối được trung tâm; trạng thái theo tin đã nhận / hub unreachable; status as last received"
        for e in result["events"]:
            out += f"\n  {e['at']}  {e['status']:>2} {e['status_name_vi']} / {e['status_name']}  {e['note']}"
        return out

    _emit(result, as_json, text)


@cli.command("rotate-key")
@json_option
@click.pass_context
@handles_errors
def rotate_key(ctx: click.Context, as_json: bool) -> None:
    """Replace this desk's device key at the hub; the queue is kept (đổi khoá thiết bị, giữ hàng đợi)."""
    from agent.delivery.enrolment import rotate_device_key

    result = rotate_device_key(_ctx(ctx))
    _emit(result, as_json, lambda: f"Đã đổi khoá / key rotated: {result['old_key_id']} → {result['new_key_id']}")


@cli.command("audit")
@click.option("--dossier", default=None, help="Only entries about this dossier id.")
@json_option
@click.pass_context
@handles_errors
def audit_cmd(ctx: click.Context, dossier: str | None, as_json: bool) -> None:
    """Show this desk's audit log (who did what to which dossier) and check its hash chain (exit 1 if broken)."""
    from agent.ops.audit import AuditLog

    log_file = AuditLog(_ctx(ctx).config.home / "audit.db")
    try:
        rows, problems = log_file.entries(dossier), log_file.verify()
    finally:
        log_file.close()
    _emit({"entries": rows, "problems": problems}, as_json, lambda: "\n".join(
        [f"{r['seq']:>5} {r['at']} {r['actor']:<20} {r['action']:<20} {r['dossier_id'] or '-'} "
         f"{json.dumps(r['detail'], sort_keys=True)}" for r in rows]
        + [f"NHẬT KÝ BỊ SỬA / AUDIT LOG TAMPERED: {p}" for p in problems]))
    if problems:
        sys.exit(1)


# -- capture: cover sheets, scanner, stacks, hot folder (agent.capture.stacks, agent.capture.scanning) --------
@cli.group("bundle")
def bundle_group() -> None:
    """USB bundles: carry sealed dossiers to the hub and receipts back (chuyển hồ sơ bằng USB)."""


@bundle_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@json_option
@click.pass_context
@handles_errors
def bundle_export(ctx: click.Context, directory: Path, as_json: bool) -> None:
    """Write every undelivered sealed dossier to DIRECTORY (e.g. the USB drive).

    Example: motcua bundle export /media/usb   (at the hub: motcua hub import /media/usb)
    """
    from agent.delivery.bundles import export_bundle

    report = export_bundle(_ctx(ctx), directory)
    _emit(report.to_json(), as_json, lambda: "\n".join(
        [f"Đã xuất / exported: {c}" for c in report.exported]
        + [f"LỖI / FAILED {f['dossier']}: {f['reason_vi']} / {f['reason']}" for f in report.failed]
        + [f"→ {report.path}"]))
    if report.failed:
        sys.exit(1)


@bundle_group.command("import-receipts")
@click.argument("source", type=click.Path(path_type=Path))
@json_option
@click.pass_context
@handles_errors
def bundle_import_receipts(ctx: click.Context, source: Path, as_json: bool) -> None:
    """Apply receipts (and status news) the hub wrote to a drive: motcua hub export-receipts DIR.

    Example: motcua bundle import-receipts /media/usb
    """
    from agent.delivery.bundles import import_receipts

    report = import_receipts(_ctx(ctx), source)
    _emit(report.to_json(), as_json, lambda: "\n".join(
        [f"Đã có biên nhận / committed: {c}" for c in report.committed]
        + [f"Đã có từ trước / already committed: {c}" for c in report.already]
        + [f"LỖI / FAILED {f['dossier']}: {f['reason_vi']} / {f['reason']}" for f in report.failed]
        + [f"Tin trạng thái mới / new status events: {report.events}"]))
    if report.failed:
        sys.exit(1)


def _add_hub_group() -> None:
    from hub.cli import hub

    cli.add_command(hub)


_add_hub_group()


def _add_command_modules() -> None:
    """Commands that live in their own modules, by concern."""
    from agent.cli import capture as capture_cli
    from agent.cli import desk as desk_cli
    from agent.cli import ops as ops_cli
    from agent.cli import users as users_cli

    for module in (capture_cli, desk_cli, ops_cli, users_cli):
        for command in module.COMMANDS:
            cli.add_command(command)


_add_command_modules()


def main() -> None:
    cli(prog_name="motcua")


if __name__ == "__main__":
    main()
