"""`motcua hub …`: run and administer the provincial hub (thin layer over hub.*)."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from .config import HubConfig
from .errors import HubError


def _state(data: Path):
    from .state import HubState

    return HubState.open(HubConfig(data_dir=data))


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
def serve(data: Path, host: str, port: int, log_level: str) -> None:
    """Run the hub HTTP API.  Example: motcua hub serve --data /var/lib/motcua-hub --port 8470"""
    import uvicorn

    from .app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(HubConfig(data_dir=data))
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)


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
        click.echo(f"{r['device_id']}  {r['agency_code']}/{r['code_block']}  {r['site']}  last_seen={r['last_seen_at']}  {status}")


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
