"""`motcua hub pull` and `motcua hub webhooks …`: thin click wrappers over hub.case_system."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..config import HubConfig
from ..errors import HubError
from ..ops_cli import _data, _json  # the hub commands' shared --data / --json options


def _state(data: Path):  # type: ignore[no-untyped-def]
    from ..state import HubState

    return HubState.open(HubConfig.from_env(data))


def _fail(exc: HubError) -> None:
    click.echo(f"{exc.reason_vi} / {exc.reason}", err=True)
    sys.exit(1)


@click.command("pull")
@click.option("--url", required=True, help="Hub address, e.g. https://hub.tinh.gov.vn")
@click.option("--token", required=True, envvar="MOTCUA_CASE_SYSTEM_TOKEN",
              help="API token (motcua hub status-token --agency …); or MOTCUA_CASE_SYSTEM_TOKEN.")
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder the dossiers are written into (one sub-folder per dossier).")
@click.option("--follow", is_flag=True, help="Keep polling for new dossiers until stopped (Ctrl+C / SIGTERM).")
@click.option("--national", is_flag=True, help="Also write national.json (national portal field names).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200), help="Dossiers per request.")
@click.option("--poll", default=5.0, show_default=True, type=float, help="Seconds between polls with --follow.")
@click.option("--ca-bundle", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CA certificate file to trust for the hub's HTTPS certificate.")
def pull_cmd(url: str, token: str, dest: Path, follow: bool, national: bool, limit: int, poll: float,
             ca_bundle: str | None) -> None:
    """Pull committed dossiers with their documents into --to, each exactly once, in commit order.

    Lấy hồ sơ đã tiếp nhận về thư mục --to, mỗi hồ sơ đúng một lần, theo thứ tự.
    Example: motcua hub pull --url https://hub.example.vn --token mcs_… --to /srv/import --follow
    """
    import signal
    import threading

    from .client import PullError, pull_to_dir

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def written(cursor: str, code: str) -> None:
        click.echo(f"Đã lưu / written {cursor} {code}")

    try:
        report = pull_to_dir(url, token, dest, limit=limit, follow=follow, national=national,
                             verify=ca_bundle or True, poll_seconds=poll, on_written=written, stop=stop)
    except PullError as exc:
        click.echo(f"{exc.message_vi}\n{exc.message_en}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    click.echo(f"Xong / done: {len(report.written)} hồ sơ mới / new, {len(report.already_present)} đã có / "
               f"already present, {report.bytes_downloaded} byte")


@click.group("webhooks")
def webhooks() -> None:
    """Outbound webhooks to the case system: endpoints, outbox, dead letters, replay."""


@webhooks.command("add")
@_data
@click.option("--name", required=True, help="Endpoint name, e.g. case-system.")
@click.option("--url", required=True, help="https:// address that receives POSTed events.")
@click.option("--agency", "agencies", multiple=True, required=True, help="Agency code whose dossiers are sent (repeatable).")
@click.option("--from-start", is_flag=True, help="Also send every dossier already committed.")
def add_cmd(data: Path, name: str, url: str, agencies: tuple[str, ...], from_start: bool) -> None:
    """Register an endpoint; prints the HMAC signing secret once.

    Example: motcua hub webhooks add --name case-system --url https://mc.tinh.gov.vn/hooks --agency 000.00.01.H29
    """
    from .webhooks import add_endpoint

    try:
        click.echo(add_endpoint(_state(data), name, url, list(agencies), from_start))
    except HubError as exc:
        _fail(exc)


@webhooks.command("remove")
@_data
@click.argument("name")
def remove_cmd(data: Path, name: str) -> None:
    """Stop sending to an endpoint (its delivered history stays)."""
    from .webhooks import remove_endpoint

    if not remove_endpoint(_state(data), name):
        click.echo(f"Không có điểm nhận đang dùng tên {name} / no active endpoint named {name}", err=True)
        sys.exit(1)
    click.echo(f"removed {name}")


@webhooks.command("list")
@_data
@click.option("--state", "which", type=click.Choice(["pending", "delivered", "dead"]), default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@_json
def list_cmd(data: Path, which: str | None, limit: int, as_json: bool) -> None:
    """Outbox events, newest first (endpoints are listed first in text mode)."""
    from .webhooks import list_endpoints, list_outbox

    state = _state(data)
    rows = list_outbox(state, which, limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for endpoint in list_endpoints(state):
        status = "removed" if endpoint["revoked_at"] else "active"
        click.echo(f"endpoint {endpoint['name']}  {endpoint['url']}  {','.join(endpoint['agencies'])}  {status}")
    for r in rows:
        click.echo(f"{r['id']}  {r['state']:<9} {r['event']:<22} {r['idempotency_key']}  attempts={r['attempts']}"
                   f"  {r['last_error'] or ''}")


@webhooks.command("dead")
@_data
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@_json
def dead_cmd(data: Path, limit: int, as_json: bool) -> None:
    """Dead letters: events that exhausted their retries (exit 1 if any)."""
    from .webhooks import list_dead_letters

    rows = list_dead_letters(_state(data), limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
    elif not rows:
        click.echo("Không có thư chết / no dead letters")
    for r in rows if not as_json else []:
        click.echo(f"{r['id']}  {r['event']}  {r['dossier_id']}  {r['url']}  attempts={r['attempts']}  {r['last_error']}")
    sys.exit(1 if rows else 0)


@webhooks.command("replay")
@_data
@click.argument("dead_letter_id")
def replay_cmd(data: Path, dead_letter_id: str) -> None:
    """Send a dead letter again (a fresh retry budget).  Example: motcua hub webhooks replay wh_0123…"""
    from ..audit import admin_actor
    from .webhooks import replay_dead_letter

    try:
        replay_dead_letter(_state(data), dead_letter_id, admin_actor())
    except HubError as exc:
        _fail(exc)
    click.echo(f"Đã xếp gửi lại / queued again: {dead_letter_id}")


def register(group: click.Group) -> None:
    group.add_command(pull_cmd)
    group.add_command(webhooks)
