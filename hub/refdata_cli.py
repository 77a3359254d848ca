"""`motcua hub refdata import|show|publish`: the province's reference data (thin wrappers over hub.refdata)."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .config import HubConfig
from .errors import HubError

_data = click.option("--data", "data", type=click.Path(file_okay=False, path_type=Path), default=Path("hub-data"),
                     show_default=True, envvar="MOTCUA_HUB_DATA", help="Hub data directory.")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _state(data: Path):  # type: ignore[no-untyped-def]
    from .state import HubState

    return HubState.open(HubConfig.from_env(data))


def _fail(exc: HubError) -> click.ClickException:
    return click.ClickException(f"{exc.reason_vi}\n{exc.reason}")


@click.group("refdata")
def refdata() -> None:
    """Reference data every desk follows: holiday calendar, procedure catalogue, agency names, message templates.

    Dữ liệu dùng chung do tỉnh công bố: lịch ngày nghỉ, danh mục thủ tục, tên cơ quan, mẫu tin nhắn.
    """


@refdata.command("import")
@_data
@click.argument("kind", type=click.Choice(["calendar", "catalogue", "agencies", "templates"]))
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_json
def import_cmd(data: Path, kind: str, source: Path, as_json: bool) -> None:
    """Check a CSV/JSON file and make it the draft of one set (nothing is imported if any row is bad).

    Example: motcua hub refdata import catalogue danh-muc.csv
    """
    from .refdata import import_set

    try:
        result = import_set(_state(data), kind, source)
    except HubError as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps(result, ensure_ascii=False) if as_json else
               f"Đã nhập {result['entries']} mục vào bản nháp {kind} / imported {result['entries']} entries into the {kind} draft")


@refdata.command("show")
@_data
@_json
def show_cmd(data: Path, as_json: bool) -> None:
    """Show each set's origin (imported file or the hub's default) and the published versions."""
    from .refdata import show

    result = show(_state(data))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for kind, info in result["sets"].items():
        click.echo(f"{kind:10} {info['entries']:5} entries  {info['source']}  {info['imported_at'] or ''}")
    for version in result["versions"]:
        click.echo(f"v{version['version']}  {version['published_at']}  {version['document_hash'][:16]}")
    if not result["versions"]:
        click.echo("Chưa công bố phiên bản nào / nothing published yet")


@refdata.command("publish")
@_data
@_json
def publish_cmd(data: Path, as_json: bool) -> None:
    """Sign the drafts as the next version; desks fetch it after their next feed pull.

    Example: motcua hub refdata publish
    """
    from .refdata import publish

    try:
        result = publish(_state(data))
    except HubError as exc:
        raise _fail(exc) from exc
    click.echo(json.dumps(result) if as_json else
               f"Đã công bố phiên bản {result['version']} / published version {result['version']} ({result['document_hash'][:16]})")


def register(group: click.Group) -> None:
    group.add_command(refdata)
