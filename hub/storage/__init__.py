"""Hub storage behind small interfaces (in the manner of tusd's DataStore/Locker):

  metadata.MetadataDB   SQL metadata: devices, tokens, uploads, hash chain, dossiers, nonces
  objects.ObjectStore   immutable payload objects addressed by sha256
  uploads.UploadStore   bytes of unfinished tus uploads (append at offset, durable)
  locks.Locker          exclusive access to one upload while a PATCH writes it

Default implementations: SQLite (WAL, synchronous=FULL) and local files. The
hub logic (enrolment, uploads, commits) only speaks these interfaces, so a
production deployment can swap in PostgreSQL and an S3-compatible store.
`open_storage()` picks the implementations from the hub configuration.
"""
from __future__ import annotations

from dataclasses import dataclass

from .locks import InProcessLocker, Locker
from .metadata import MetadataDB
from .objects import FileObjectStore, ObjectStore
from .uploads import FileUploadStore, UploadStore


@dataclass
class Storage:
    db: MetadataDB
    objects: ObjectStore
    uploads: UploadStore
    locks: Locker


def open_storage(config: "HubConfig") -> Storage:  # noqa: F821 - avoid an import cycle
    from .sqlite_db import SQLiteDB

    config.ensure_dirs()
    db = SQLiteDB(config.db_path)
    return Storage(db=db, objects=FileObjectStore(config.objects_dir), uploads=FileUploadStore(config.uploads_dir),
                   locks=InProcessLocker())
