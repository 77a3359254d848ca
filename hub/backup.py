"""Hub backup and restore (SQLite metadata + any object store).

Backup directory layout:
  backup.json      format, time, schema version, counts
  hub.db           consistent snapshot made with SQLite's online backup API
                   (the hub keeps serving; writers are not blocked for long)
  keys/*.pem       the hub's signing and encryption keys (mode 0600) — agents
                   pinned the signing key, so a restored hub must keep it
  objects/ab/…     every payload object, content-addressed and re-hashed on copy

Objects are immutable and only ever added, so copying them *after* the
database snapshot yields every object the snapshot refers to (checked).
Unfinished uploads are not backed up: restore forgets them and agents start
those uploads again (they get 404 and create a new one).

A hub on PostgreSQL (+ S3) is backed up by hub.backup_pg (pg_dump + an object
inventory) through the same two functions; see docs/operations.md.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable

from sync_protocol.castore import ContentStore, fsync_dir, write_file_atomic
from sync_protocol.errors import ObjectCorrupt
from sync_protocol.timestamps import format_utc

from .config import HubConfig
from .storage import open_storage

log = logging.getLogger("motcua.hub.backup")
FORMAT = "motcua-hub-backup"
Progress = Callable[[int, int], None]


class BackupError(Exception):
    """A backup or restore that cannot proceed; carries Vietnamese and English text."""

    def __init__(self, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.message_vi, self.message_en = message_vi, message_en


def _object_ids(objects: Any) -> Iterable[str]:
    return iter(getattr(objects, "store", objects))  # FileObjectStore wraps a ContentStore


def _key_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.glob("*.pem") if p.is_file())


def backup_hub(config: HubConfig, dest: Path, on_progress: Progress | None = None) -> dict[str, Any]:
    """Write a complete backup of the hub at `config` into the new directory `dest`."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"Thư mục sao lưu {dest} đã có dữ liệu; chọn thư mục mới.",
                          f"Backup directory {dest} is not empty; choose a new one.")
    if config.database_url:
        from .backup_pg import backup_postgres

        return backup_postgres(config, dest, BackupError, on_progress)
    if not config.db_path.exists():
        raise BackupError(f"Không thấy cơ sở dữ liệu trung tâm {config.db_path}.", f"No hub database at {config.db_path}.")
    dest.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(config.db_path, timeout=30)
    target = sqlite3.connect(dest / "hub.db")
    try:
        source.backup(target, pages=1024)
        schema = target.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        dossiers = target.execute("SELECT COUNT(*) FROM dossiers").fetchone()[0]
        referenced = {r[0] for r in target.execute("SELECT DISTINCT sha256 FROM object_owners")}
    finally:
        target.close()
        source.close()
    keys_dir = dest / "keys"
    keys_dir.mkdir()
    keys = []
    for key in _key_files(config.data_dir):
        write_file_atomic(keys_dir / key.name, key.read_bytes(), mode=0o600)
        keys.append(key.name)
    storage = open_storage(config)
    copied, size = 0, 0
    try:
        out = ContentStore(dest / "objects")
        ids = sorted(_object_ids(storage.objects))
        for n, sha in enumerate(ids, 1):
            with storage.objects.open(sha) as stream:
                size += out.put_stream(stream, expected_sha256=sha)[1]
            copied += 1
            if on_progress:
                on_progress(n, len(ids))
        missing = sorted(sha for sha in referenced if not out.has(sha))
    finally:
        storage.close()
    if missing:
        raise BackupError(f"{len(missing)} tệp mà cơ sở dữ liệu tham chiếu không có trong kho; sao lưu chưa đầy đủ.",
                          f"{len(missing)} objects the database refers to are missing from the store "
                          f"(first: {missing[0][:12]}…); the backup is incomplete.")
    summary = {"format": FORMAT, "version": 1, "created_at": format_utc(),
               "schema_version": schema, "dossiers": dossiers, "objects": copied, "object_bytes": size, "keys": keys}
    write_file_atomic(dest / "backup.json", json.dumps(summary, indent=2).encode("utf-8"))
    fsync_dir(dest)
    log.info("hub_backup dest=%s dossiers=%d objects=%d bytes=%d", dest, dossiers, copied, size)
    return summary


def read_backup(src: Path) -> dict[str, Any]:
    try:
        summary = json.loads((Path(src) / "backup.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} không phải bản sao lưu của trung tâm (thiếu hoặc hỏng backup.json).",
                          f"{src} is not a hub backup (backup.json missing or damaged).") from exc
    if summary.get("format") != FORMAT:
        raise BackupError(f"{src}: định dạng sao lưu không đúng.", f"{src}: not a {FORMAT} directory.")
    return summary


def restore_hub(src: Path, config: HubConfig, *, force: bool = False,
                on_progress: Progress | None = None) -> dict[str, Any]:
    """Restore the backup at `src` into the (empty, unless `force`) hub data directory of `config`
    (and, on PostgreSQL, its empty database and bucket)."""
    src = Path(src)
    summary = read_backup(src)
    if (summary.get("database") == "postgresql") != bool(config.database_url):
        raise BackupError("Bản sao lưu và trung tâm đích dùng loại cơ sở dữ liệu khác nhau (SQLite / PostgreSQL).",
                          "The backup and the target hub use different databases (SQLite vs PostgreSQL); "
                          "set or unset MOTCUA_HUB_DATABASE_URL to match the backup.")
    if config.database_url:
        from .backup_pg import restore_postgres

        return restore_postgres(src, summary, config, BackupError, force=force, on_progress=on_progress)
    try:
        check = sqlite3.connect(f"file:{src / 'hub.db'}?mode=ro", uri=True)
        try:
            verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            check.close()
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    if verdict != "ok":
        raise BackupError(f"Cơ sở dữ liệu trong bản sao lưu bị hỏng: {verdict}", f"The backup's database is damaged: {verdict}")
    objects = ContentStore(src / "objects")
    ids = sorted(objects)
    for n, sha in enumerate(ids, 1):  # every copy is checked before anything at the target changes
        try:
            objects.verify(sha)
        except ObjectCorrupt as exc:
            raise BackupError(f"Tệp {sha[:12]}… trong bản sao lưu bị hỏng; không khôi phục.",
                              f"Object {sha[:12]}… in the backup is damaged ({exc}); nothing was restored.") from exc
        if on_progress:
            on_progress(n, 2 * len(ids))
    if config.db_path.exists() and not force:
        raise BackupError(f"Trung tâm ở {config.data_dir} đã có dữ liệu; dừng trung tâm và dùng --force để ghi đè.",
                          f"The hub at {config.data_dir} already has data; stop it and pass --force to overwrite.")
    for key in summary.get("keys", []):
        existing = config.data_dir / key
        if existing.exists() and existing.read_bytes() != (src / "keys" / key).read_bytes() and not force:
            raise BackupError(f"Khoá {key} khác với khoá trong bản sao lưu; các máy đã ghim khoá cũ.",
                              f"Key {key} differs from the backup's; agents pinned the backed-up key. Use --force.")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{config.db_path}{suffix}").unlink(missing_ok=True)
    tmp = config.db_path.with_name(".hub.db.restore")
    shutil.copyfile(src / "hub.db", tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, config.db_path)
    for key in summary.get("keys", []):
        write_file_atomic(config.data_dir / key, (src / "keys" / key).read_bytes(), mode=0o600)
    fsync_dir(config.data_dir)
    storage = open_storage(config)  # migrates an older backup forward
    try:
        for n, sha in enumerate(ids, 1):
            if not storage.objects.has(sha):
                storage.objects.put_file(objects.path(sha), sha)  # re-hashed once more on the way in
            if on_progress:
                on_progress(len(ids) + n, 2 * len(ids))
        forgotten = storage.db.execute("DELETE FROM uploads")
        missing = [r["sha256"] for r in storage.db.query("SELECT DISTINCT sha256 FROM object_owners")
                   if not storage.objects.has(r["sha256"])]
        schema = storage.db.schema_version()
    finally:
        storage.close()
    if missing:
        raise BackupError(f"Khôi phục thiếu {len(missing)} tệp.", f"Restore is missing {len(missing)} objects.")
    result = {**summary, "restored_objects": len(ids), "forgotten_uploads": forgotten, "schema_version_now": schema}
    log.info("hub_restore src=%s dossiers=%s objects=%d", src, summary.get("dossiers"), len(ids))
    return result
