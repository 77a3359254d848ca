"""`motcua hub lagging | clock-report | backup | restore | migrate | janitor`: operations commands
(thin wrappers over hub.lagging, hub.clock_checks, hub.backup, hub.storage, hub.janitor)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .config import HubConfig

_data = click.option("--data", "data", type=click.Path(file_okay=False, path_type=Path), default=Path("hub-data"),
                     show_default=True, envvar="MOTCUA_HUB_DATA", help="Hub data directory.")
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.command("lagging")
@_data
@click.option("--days", default=2.0, show_default=True, type=float, help="Silent for longer than this many days.")
@_json
def lagging(data: Path, days: float, as_json: bool) -> None:
    """List sites whose desks have not reached the hub for --days, and case systems that stopped
    pulling while dossiers wait (exit 1 if any).

    Liệt kê các điểm tiếp nhận chưa đồng bộ trong --days ngày.
    Example: motcua hub lagging --days 2
    """
    from .case_system.pull import format_lagging, lagging_case_systems
    from .lagging import format_lag, lagging_sites
    from .state import HubState

    state = HubState.open(HubConfig.from_env(data))
    rows, systems = lagging_sites(state, days), lagging_case_systems(state, days)
    if as_json:  # case systems follow the sites, marked "kind": "case_system"
        click.echo(json.dumps([r.to_json() for r in rows] + systems, ensure_ascii=False, indent=2))
    else:
        click.echo(format_lag(rows, days) + ("\n" + format_lagging(systems) if systems else ""))
    sys.exit(1 if rows or systems else 0)


@click.command("clock-report")
@_data
@click.option("--device", "device_id", default=None, help="Only this device id.")
@_json
def clock_report(data: Path, device_id: str | None, as_json: bool) -> None:
    """List committed dossiers whose manifest times look implausible (exit 1 if any).

    Liệt kê hồ sơ có thời điểm tiếp nhận bất thường (đồng hồ máy tiếp nhận sai, chưa từng đối chiếu giờ trung tâm…).
    Example: motcua hub clock-report --json
    """
    from .clock_checks import format_report, time_report
    from .state import HubState

    rows = time_report(HubState.open(HubConfig.from_env(data)).db, device_id)
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2) if as_json else format_report(rows))
    sys.exit(1 if rows else 0)


def _progress(operation: str):  # type: ignore[no-untyped-def]
    from hub.progress import progress_reporter

    return progress_reporter(operation, unit="obj")


@click.command("backup")
@_data
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@_json
def backup(data: Path, dest: Path, as_json: bool) -> None:
    """Back up the hub (consistent SQLite snapshot, keys, every object) into the new directory DEST.

    Sao lưu trung tâm vào thư mục mới DEST; trung tâm vẫn chạy trong lúc sao lưu.
    Example: motcua hub backup --data /var/lib/motcua-hub /srv/backup/hub-2026-01-15
    """
    from .backup import BackupError, backup_hub

    try:
        with _progress("backup") as report:
            summary = backup_hub(HubConfig.from_env(data), dest, report)
    except BackupError as exc:
        click.echo(f"{exc.message_vi}\n{exc.message_en}", err=True)
        sys.exit(1)
    click.echo(json.dumps(summary, indent=2) if as_json else
               f"Đã sao lưu / backed up: {summary['dossiers']} hồ sơ/dossiers, {summary['objects']} tệp/objects "
               f"({summary['object_bytes']} bytes) -> {dest}")


@click.command("restore")
@_data
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing hub database (stop the hub first).")
@_json
def restore(data: Path, src: Path, force: bool, as_json: bool) -> None:
    """Restore a backup made by `motcua hub backup` into --data (stop the hub first).

    Khôi phục bản sao lưu vào thư mục dữ liệu của trung tâm (dừng trung tâm trước).
    Example: motcua hub restore --data /var/lib/motcua-hub /srv/backup/hub-2026-01-15
    """
    from .backup import BackupError, restore_hub

    try:
        with _progress("restore") as report:
            result = restore_hub(src, HubConfig.from_env(data), force=force, on_progress=report)
    except BackupError as exc:
        click.echo(f"{exc.message_vi}\n{exc.message_en}", err=True)
        sys.exit(1)
    click.echo(json.dumps(result, indent=2) if as_json else
               f"Đã khôi phục / restored: {result['dossiers']} hồ sơ/dossiers, {result['restored_objects']} tệp/objects; "
               f"{result['forgotten_uploads']} phiên tải dở bị huỷ (máy sẽ gửi lại) / unfinished uploads dropped")


@click.command("migrate")
@_data
@click.option("--database-url", envvar="MOTCUA_HUB_DATABASE_URL", default=None,
              help="PostgreSQL URL (default: SQLite in --data).")
@_json
def migrate(data: Path, database_url: str | None, as_json: bool) -> None:
    """Bring the hub database to this version's schema (safe to run twice; refuses a newer database).

    Nâng cấp lược đồ cơ sở dữ liệu trung tâm. Run once before starting upgraded instances.
    Example: motcua hub migrate --database-url postgresql://motcua@db/motcua
    """
    from .storage import open_storage
    from .storage.metadata import SCHEMA_VERSION

    config = HubConfig(data_dir=data, database_url=database_url or None)
    try:
        storage = open_storage(config)
    except RuntimeError as exc:  # newer than this code, or the database cannot be reached
        raise click.ClickException(f"Không nâng cấp được cơ sở dữ liệu / cannot migrate: {exc}") from exc
    before = getattr(storage.db, "migrated_from", None)
    storage.close()
    result = {"schema_before": before, "schema_now": SCHEMA_VERSION, "changed": before != SCHEMA_VERSION}
    click.echo(json.dumps(result) if as_json else
               f"schema {before} -> {SCHEMA_VERSION}" + ("" if result["changed"] else " (already current)"))


@click.command("janitor")
@_data
@_json
def janitor(data: Path, as_json: bool) -> None:
    """Remove finished upload rows, orphan upload bytes and staging files older than the bound, once.

    Dọn dẹp các phiên tải lên đã xong hoặc bị bỏ dở. The hub also does this by itself every hour.
    """
    from .janitor import sweep
    from .state import HubState

    report = sweep(HubState.open(HubConfig.from_env(data)))
    click.echo(json.dumps(report.to_json()) if as_json else
               " ".join(f"{k}={v}" for k, v in report.to_json().items()))


def register(group: click.Group) -> None:
    for command in (lagging, clock_report, backup, restore, migrate, janitor):
        group.add_command(command)
