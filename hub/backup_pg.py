"""Backup and restore of a hub on PostgreSQL + an S3 object store: pg_dump plus an object inventory.

Backup directory layout (same `backup.json` and `keys/` as the SQLite backup, hub.backup):
  backup.json      format, time, schema version, counts, "database": "postgresql"
  hub.pgdump       `pg_dump --format=custom` of the metadata database: one consistent
                   snapshot taken while every instance keeps serving
  inventory.txt    "<sha256> <size>" of every object copied, sorted
  objects/ab/…     every payload object, content-addressed and re-hashed on copy
  keys/*.pem       the hub keys (agents pinned the signing key)

Order matters as with SQLite: the dump first, then the objects. Objects are only
ever added, so every object the dump refers to is in the store when it is copied
(checked against the owners known before the dump). Restore needs an empty
database (create it first, `createdb`) and an empty or new bucket, runs
`pg_restore`, brings the schema forward (`motcua hub migrate` semantics), copies
the objects back re-hashing each, and forgets unfinished uploads (agents start
those again). Larger provinces may prefer continuous WAL archiving plus bucket
versioning (docs/operations.md); this is the procedure the tests exercise.
"""
from __future__ import annotations

import glob
import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

from sync_protocol.castore import ContentStore, fsync_dir, write_file_atomic
from sync_protocol.errors import ObjectCorrupt
from sync_protocol.timestamps import format_utc

from .config import HubConfig
from .storage import open_storage

log = logging.getLogger("motcua.hub.backup_pg")
Progress = Callable[[int, int], None]
DUMP = "hub.pgdump"


def pg_tool(name: str) -> str:
    """pg_dump / pg_restore: on PATH, else the newest Debian cluster's."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                                                   key=lambda p: int(p.split("/")[4]), reverse=True)), None)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (Debian package postgresql-client)")
    return found


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        # stderr of pg tools names tables and the server, never row contents
        raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-500:]}")


def _open(config: HubConfig, error: Callable[[str, str], Exception]):  # type: ignore[no-untyped-def]
    try:
        return open_storage(config)
    except Exception as exc:  # noqa: BLE001 - unreachable database or bucket: say so, no traceback
        raise error(f"Không kết nối được cơ sở dữ liệu / kho tệp của trung tâm ({type(exc).__name__}).",
                    f"Cannot reach the hub's database or object store ({type(exc).__name__}: "
                    f"{str(exc)[:200]}).") from exc


def backup_postgres(config: HubConfig, dest: Path, error: Callable[[str, str], Exception],
                    on_progress: Progress | None = None) -> dict[str, Any]:
    storage = _open(config, error)
    try:
        referenced = {r["sha256"] for r in storage.db.query("SELECT DISTINCT sha256 FROM object_owners")}
        dest.mkdir(parents=True, exist_ok=True)
        try:
            _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dest / DUMP}",
                  f"--dbname={config.database_url}"])
        except (RuntimeError, FileNotFoundError) as exc:
            raise error(f"pg_dump không chạy được: {exc}", f"pg_dump failed: {exc}") from exc
        schema = storage.db.schema_version()
        dossiers = storage.db.one("SELECT COUNT(*) AS n FROM dossiers")["n"]
        out, inventory, size = ContentStore(dest / "objects"), [], 0
        ids = sorted(getattr(storage.objects, "store", storage.objects))  # FileObjectStore wraps a ContentStore
        for n, sha in enumerate(ids, 1):
            with storage.objects.open(sha) as stream:
                got = out.put_stream(stream, expected_sha256=sha)[1]
            inventory.append(f"{sha} {got}")
            size += got
            if on_progress:
                on_progress(n, len(ids))
    finally:
        storage.close()
    missing = sorted(referenced - set(ids))
    if missing:
        raise error(f"{len(missing)} tệp mà cơ sở dữ liệu tham chiếu không có trong kho; sao lưu chưa đầy đủ.",
                    f"{len(missing)} objects the database refers to are missing from the store "
                    f"(first: {missing[0][:12]}…); the backup is incomplete.")
    write_file_atomic(dest / "inventory.txt", ("\n".join(inventory) + "\n").encode("ascii"))
    keys = _copy_keys(config, dest)
    summary = {"format": "motcua-hub-backup", "version": 1, "database": "postgresql", "created_at": format_utc(),
               "schema_version": schema, "dossiers": dossiers, "objects": len(ids), "object_bytes": size, "keys": keys}
    write_file_atomic(dest / "backup.json", json.dumps(summary, indent=2).encode("utf-8"))
    fsync_dir(dest)
    log.info("hub_backup_pg dest=%s dossiers=%d objects=%d bytes=%d", dest, dossiers, len(ids), size)
    return summary


def _copy_keys(config: HubConfig, dest: Path) -> list[str]:
    keys_dir = dest / "keys"
    keys_dir.mkdir(exist_ok=True)
    names = []
    for path, name in ((config.key_path, "hub_key.pem"), (config.encryption_key_path, "hub_x25519.pem")):
        if path.is_file():
            write_file_atomic(keys_dir / name, path.read_bytes(), mode=0o600)
            names.append(name)
    return names


def restore_postgres(src: Path, summary: dict[str, Any], config: HubConfig, error: Callable[[str, str], Exception],
                     *, force: bool = False, on_progress: Progress | None = None) -> dict[str, Any]:
    import psycopg

    inventory = [line.split() for line in (src / "inventory.txt").read_text("ascii").splitlines() if line]
    objects = ContentStore(src / "objects")
    for n, (sha, size) in enumerate(inventory, 1):  # every copy is checked before anything at the target changes
        try:
            if objects.verify(sha) != int(size):
                raise ObjectCorrupt(f"size differs from the inventory ({size})")
        except ObjectCorrupt as exc:
            raise error(f"Tệp {sha[:12]}… trong bản sao lưu bị hỏng; không khôi phục.",
                        f"Object {sha[:12]}… in the backup is damaged ({exc}); nothing was restored.") from exc
        if on_progress:
            on_progress(n, 2 * len(inventory))
    with psycopg.connect(config.database_url, autocommit=True) as conn:  # type: ignore[arg-type]
        in_use = conn.execute("SELECT to_regclass('dossiers') IS NOT NULL").fetchone()[0]
    if in_use and not force:
        raise error("Cơ sở dữ liệu đích đã có dữ liệu trung tâm; tạo cơ sở dữ liệu mới hoặc dùng --force.",
                    "The target database already holds a hub; create a new one (createdb) or pass --force.")
    try:
        _run([pg_tool("pg_restore"), "--no-owner", "--exit-on-error", *(["--clean", "--if-exists"] if in_use else []),
              f"--dbname={config.database_url}", str(src / DUMP)])
    except (RuntimeError, FileNotFoundError) as exc:
        raise error(f"pg_restore không chạy được: {exc}", f"pg_restore failed: {exc}") from exc
    config.data_dir.mkdir(parents=True, exist_ok=True)
    for key in summary.get("keys", []):
        target = config.key_path if key == "hub_key.pem" else config.encryption_key_path
        if not target.exists() or force:
            write_file_atomic(target, (src / "keys" / key).read_bytes(), mode=0o600)
        elif target.read_bytes() != (src / "keys" / key).read_bytes():
            raise error(f"Khoá {key} khác với khoá trong bản sao lưu; các máy đã ghim khoá cũ.",
                        f"Key {key} differs from the backup's; agents pinned the backed-up key. Use --force.")
    storage = _open(config, error)  # migrates an older dump forward
    try:
        for n, (sha, _) in enumerate(inventory, 1):
            storage.objects.put_file(objects.path(sha), sha)  # conditional write: present objects stay
            if on_progress:
                on_progress(len(inventory) + n, 2 * len(inventory))
        forgotten = storage.db.execute("DELETE FROM uploads")
        known = {sha for sha, _ in inventory}
        missing = [r["sha256"] for r in storage.db.query("SELECT DISTINCT sha256 FROM object_owners")
                   if r["sha256"] not in known]
        schema = storage.db.schema_version()
    finally:
        storage.close()
    if missing:
        raise error(f"Khôi phục thiếu {len(missing)} tệp.", f"Restore is missing {len(missing)} objects.")
    log.info("hub_restore_pg src=%s dossiers=%s objects=%d", src, summary.get("dossiers"), len(inventory))
    return {**summary, "restored_objects": len(inventory), "forgotten_uploads": forgotten, "schema_version_now": schema}
