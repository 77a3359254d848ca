"""`motcua hub …`: run and administer the provincial hub (thin layer over hub.*)."""
from __future__ import annotations

import json
import os
import logging
import sys
from pathlib import Path

import click

from .config import HubConfig
from .errors import HubError


def _state(data: Path):
    from .state import HubState

    return HubState.open(HubConfig.from_env(data))


data_option = click.option("--data", "data", type=click.Path(file_okay=False, path_type=Path), default=Path("hub-data"),
                           show_default=True, envvar="MOTCUA_HUB_DATA", help="Hub data directory.")


@click.group("hub")
def hub() -> None:
    """Provincial hub: serve the API, issue enrolment tokens, manage devices.

    Trung tâm cấp tỉnh: chạy dịch vụ, cấp mã đăng ký, quản lý thiết bị.
    """


@hub.command("serve")
@data_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8470, show_default=True, type=int)
@click.option("--log-level", default="info", show_default=True)
@click.option("--database-url", envvar="MOTCUA_HUB_DATABASE_URL", default=None,
              help="PostgreSQL metadata, e.g. postgresql://motcua@db:5432/motcua (default: SQLite in --data).")
@click.option("--object-store", "object_store", envvar="MOTCUA_HUB_OBJECT_STORE", default=None,
              help="S3-compatible payload store, e.g. s3://motcua/hub?endpoint=http://127.0.0.1:9000 "
                   "(credentials from AWS_* variables; default: files in --data).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              envvar="MOTCUA_HUB_TLS_CERT", help="Serve HTTPS with this certificate chain (PEM).")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              envvar="MOTCUA_HUB_TLS_KEY", help="Private key of --tls-cert (PEM).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), envvar="MOTCUA_HUB_WORKERS",
              help="Worker processes (about one per core); they share the database, objects and upload locks.")
@click.option("--keep-alive-timeout", default=5, show_default=True, type=click.IntRange(1, 300),
              help="Seconds an idle connection is kept open between requests.")
@click.option("--no-progress-timeout", default=30.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Drop a connection on which the client neither sent nor acknowledged a byte for this long.")
@click.option("--shutdown-timeout", default=10, show_default=True, type=click.IntRange(1, 600),
              help="On SIGTERM, seconds to let requests finish before connections are cut and the hub exits.")
def serve(data: Path, host: str, port: int, log_level: str, database_url: str | None, object_store: str | None,
          tls_cert: Path | None, tls_key: Path | None, workers: int, keep_alive_timeout: int,
          no_progress_timeout: float, shutdown_timeout: int) -> None:
    """Run the hub HTTP API.  Example: motcua hub serve --data /var/lib/motcua-hub --port 8470

    Several instances may serve one province behind a load balancer when they share
    --database-url (PostgreSQL), --object-store (S3) and the hub keys (MOTCUA_HUB_KEY_FILE and
    MOTCUA_HUB_ENCRYPTION_KEY_FILE, or the key files in --data). Probes: /livez, /readyz.
    """
    import uvicorn

    from .app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert và --tls-key phải đi cùng nhau / --tls-cert and --tls-key go together")
    server: dict = {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key)} if tls_cert else {}
    from .connections import NO_PROGRESS_ENV, WatchedHttpProtocol

    os.environ[NO_PROGRESS_ENV] = str(no_progress_timeout)  # read by every worker (hub.connections)
    server.update(http=WatchedHttpProtocol, timeout_keep_alive=keep_alive_timeout,  # type: ignore[dict-item]
               timeout_graceful_shutdown=shutdown_timeout, server_header=False)
    config = HubConfig.from_env(data, database_url=database_url, object_store_url=object_store)
    # WatchedHttpProtocol is uvicorn's h11 protocol: h11 bounds the headers it buffers (httptools lets a
    # stranger stream one header without end into the hub's memory); bodies are bounded by the app (hub.limits).
    server.update(h11_max_incomplete_event_size=config.max_header_bytes)
    if workers == 1:
        try:
            app = create_app(config)
        except (OSError, RuntimeError, ValueError) as exc:  # missing key file, unreachable store, newer schema
            raise click.ClickException(f"Không khởi động được trung tâm / the hub cannot start: {exc}") from exc
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, **server)
        return
    from .state import HubState

    # Migrate the database and create the hub keys once, here, before the workers race for them.
    HubState.open(config)
    os.environ.update({"MOTCUA_HUB_DATA": str(data), "MOTCUA_HUB_DATABASE_URL": database_url or "",
                       "MOTCUA_HUB_OBJECT_STORE": object_store or ""})
    uvicorn.run("hub.app:app_from_env", factory=True, workers=workers, host=host, port=port, log_level=log_level,
                access_log=False, **server)


@hub.command("token")
@data_option
@click.option("--site", required=True, help="Desk/site name, e.g. 'UBND xã Tân Phú'.")
@click.option("--agency", "agency_code", required=True, help="Agency code, e.g. 000.00.01.H29.")
@click.option("--ttl-hours", default=24, show_default=True, type=int, help="Hours before the token expires.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def token(data: Path, site: str, agency_code: str, ttl_hours: int, as_json: bool) -> None:
    """Make a one-time enrolment token.  Example: motcua hub token --site "Xã A" --agency 000.00.01.H29"""
    from .enrolment import create_token

    try:
        value = create_token(_state(data), site, agency_code, ttl_hours * 3600)
    except HubError as exc:
        raise click.ClickException(f"{exc.reason_vi} / {exc.reason}") from exc
    click.echo(json.dumps({"token": value, "site": site, "expires_in_hours": ttl_hours}) if as_json else value)


@hub.command("devices")
@data_option
@click.option("--json", "as_json", is_flag=True)
def devices(data: Path, as_json: bool) -> None:
    """List enrolled devices and when each was last seen."""
    from .enrolment import list_devices

    rows = list_devices(_state(data))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        status = f"REVOKED ({r['revoked_reason']})" if r["revoked_at"] else "active"
        chain = f"chain={r['chain_head']}" + (f" GAPS={_gaps(r)}" if r["chain_missing"] else "") + (
            f" FORKS_REFUSED={r['forks_refused']}" if r["forks_refused"] else "")
        click.echo(f"{r['device_id']}  {r['agency_code']}/{r['code_block']}  {r['site']}  "
                   f"last_seen={_when(r['last_seen_at'])}  {chain}  {status}")


def _gaps(report: dict) -> str:
    """Missing sequence numbers: listed when few ([2, 5]), as runs when many ([1..9007199254740990])."""
    if report["chain_missing"] == len(report["chain_gaps"]):
        return str(report["chain_gaps"])
    runs = ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in report["chain_gap_ranges"])
    return f"[{runs}] ({report['chain_missing']})"


def _when(ts: int | None) -> str:
    from sync_protocol.timestamps import format_utc

    return format_utc(ts) if ts else "never"


@hub.command("chain-report")
@data_option
@click.option("--json", "as_json", is_flag=True)
def chain_report_cmd(data: Path, as_json: bool) -> None:
    """Devices whose hash chain has gaps or refused forks (exit 1 if any).

    Báo cáo chuỗi băm: thiết bị có số thứ tự bị thiếu hoặc bản kê khai rẽ nhánh bị từ chối.
    """
    from .enrolment import list_devices

    problems = [r for r in list_devices(_state(data)) if not r["chain_ok"]]
    if as_json:
        click.echo(json.dumps(problems, ensure_ascii=False))
    elif not problems:
        click.echo("Chuỗi băm của mọi thiết bị liền mạch / every device's hash chain is intact")
    for r in problems if not as_json else []:
        click.echo(f"{r['device_id']} ({r['site']}): thiếu số thứ tự / missing sequence {_gaps(r)}; "
                   f"rẽ nhánh bị từ chối / forks refused: {r['forks_refused']}")
    sys.exit(1 if problems else 0)


@hub.command("audit")
@data_option
@click.option("--dossier", default=None, help="Only entries about this dossier id.")
@click.option("--verify", "verify_only", is_flag=True, help="Only check the hash chain (exit 1 if broken).")
@click.option("--json", "as_json", is_flag=True)
def audit_cmd(data: Path, dossier: str | None, verify_only: bool, as_json: bool) -> None:
    """Show the hub's audit log (who did what to which dossier, when) and verify its hash chain."""
    from . import audit

    state = _state(data)
    problems = audit.verify(state.db)
    if not verify_only:
        rows = audit.entries(state.db, dossier)
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False))
        else:
            for r in rows:
                click.echo(f"{r['seq']:>6} {_when(r['at'])} {r['actor']:<28} {r['action']:<22} "
                           f"{r['dossier_id'] or '-':<36} {json.dumps(r['detail'], sort_keys=True)}")
    for problem in problems:
        click.echo(f"NHẬT KÝ BỊ SỬA / AUDIT LOG TAMPERED: {problem}", err=True)
    if verify_only and not problems:
        click.echo("Nhật ký kiểm toán nguyên vẹn / audit log intact")
    sys.exit(1 if problems else 0)


@hub.command("transfer")
@data_option
@click.argument("dossier_id")
@click.option("--to", "to_device", required=True, help="Device id that may commit new versions from now on.")
def transfer(data: Path, dossier_id: str, to_device: str) -> None:
    """Let another device of the same agency commit new versions of a dossier (audited).

    Example: motcua hub transfer 0190a0b0-0000-7000-8000-000000000001 --to dev_0123456789abcdef0123
    """
    from .authority import transfer_dossier

    try:
        moved = transfer_dossier(_state(data), dossier_id, to_device)
    except HubError as exc:
        click.echo(f"{exc.reason_vi} / {exc.reason}", err=True)
        sys.exit(1)
    click.echo(f"Đã chuyển / transferred {moved['dossier_id']}: {moved['from']} -> {moved['to']}")


@hub.command("revoke")
@data_option
@click.argument("device_id")
@click.option("--reason", required=True)
def revoke(data: Path, device_id: str, reason: str) -> None:
    """Revoke a device: its next request is refused with the reason."""
    from .enrolment import revoke_device

    try:
        revoke_device(_state(data), device_id, reason)
    except HubError as exc:
        click.echo(f"{exc.reason_vi} / {exc.reason}", err=True)
        sys.exit(1)
    click.echo(f"revoked {device_id}")


# -- reliable sync (issue 5): USB bundles, case-system API token, status changes --------------------
@hub.command("import")
@data_option
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def import_cmd(data: Path, directory: Path, as_json: bool) -> None:
    """Import dossiers from a USB bundle (same checks and dedupe as HTTP); exit 1 if any failed.

    Example: motcua hub import /media/usb
    """
    from .bundles import import_bundles

    report = import_bundles(_state(data), directory)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        for code in report.imported:
            click.echo(f"Đã nhận / imported: {code}")
        for code in report.duplicates:
            click.echo(f"Đã có, bỏ qua / already held: {code}")
        for item in report.failed:
            click.echo(f"LỖI / FAILED {item['dossier']}: {item['reason_vi']} / {item['reason']}", err=True)
    if report.failed:
        sys.exit(1)


@hub.command("export-receipts")
@data_option
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--device", "devices_", multiple=True, help="Only these device ids (default: all).")
@click.option("--json", "as_json", is_flag=True)
def export_receipts_cmd(data: Path, directory: Path, devices_: tuple[str, ...], as_json: bool) -> None:
    """Write receipts and status events for desks to a drive.  Example: motcua hub export-receipts /media/usb"""
    from .bundles import export_receipts

    try:
        written = export_receipts(_state(data), directory, list(devices_) or None)
    except OSError as exc:
        click.echo(f"Không ghi được vào {directory}: {exc.strerror} / cannot write to {directory}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(written))
    else:
        for device_id, count in written.items():
            click.echo(f"{device_id}: {count} biên nhận / receipts")


@hub.command("status-token")
@data_option
@click.option("--name", required=True, help="Integration name, e.g. case-system.")
@click.option("--revoke", is_flag=True, help="Revoke the token with this name instead.")
@click.option("--agency", "agencies", multiple=True,
              help="Agency code the token may read dossiers of and post statuses for (repeatable); "
                   "needed for the pull API (docs/case-system.md).")
def status_token(data: Path, name: str, revoke: bool, agencies: tuple[str, ...]) -> None:
    """Create (or --revoke) the API token the provincial case system uses.

    Example: motcua hub status-token --name case-system --agency 000.00.01.H29   (then:
    GET /v1/case-system/dossiers, POST /v1/case-system/status, Authorization: Bearer <token>)
    """
    from .feed import create_api_token, revoke_api_token

    state = _state(data)
    if revoke:
        if not revoke_api_token(state, name):
            click.echo(f"Không có mã đang dùng tên {name} / no active token named {name}", err=True)
            sys.exit(1)
        click.echo(f"revoked {name}")
        return
    try:
        click.echo(create_api_token(state, name, list(agencies)))
    except HubError as exc:
        click.echo(f"{exc.reason_vi} / {exc.reason}", err=True)
        sys.exit(1)


@hub.command("post-status")
@data_option
@click.argument("dossier")
@click.argument("status")
@click.option("--note", default="", help="Short note for the desk (no personal data).")
@click.option("--ready/--not-ready", "ready", default=None, help="Result ready for home delivery (default: status 9).")
@click.option("--json", "as_json", is_flag=True)
def post_status_cmd(data: Path, dossier: str, status: str, note: str, ready: bool | None, as_json: bool) -> None:
    """Record a status change (code 1..10 or name) for a committed dossier (by code or id).

    Example: motcua hub post-status 000.00.01.H29-260105-0001 9 --note "Kết quả sẵn sàng"
    """
    from .feed import post_status

    key = "dossier_id" if len(dossier) == 36 and dossier.count("-") == 4 else "dossier_code"
    body: dict = {key: dossier, "status": status, "note": note}
    if ready is not None:
        body["result_ready_for_delivery"] = ready
    try:
        event, _ = post_status(_state(data), "cli", body)
    except HubError as exc:
        click.echo(f"{exc.reason_vi} / {exc.reason}", err=True)
        sys.exit(1)
    click.echo(json.dumps(event, ensure_ascii=False) if as_json else f"#{event['cursor']} {event['dossier_code']}: "
               f"{event['status']} {event['status_name']}")


def _add_ops_commands() -> None:
    """lagging, backup, restore (hub.ops_cli)."""
    from .case_system.cli import register as register_case_system
    from .ops_cli import register

    register(hub)
    register_case_system(hub)  # pull, webhooks
    from .refdata_cli import register as register_refdata

    register_refdata(hub)  # refdata import|show|publish


def _add_console_commands() -> None:
    """user add|list|disable|reset (hub.console.user_cli)."""
    from .console.user_cli import user

    hub.add_command(user)


_add_ops_commands()
_add_console_commands()
