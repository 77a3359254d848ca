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

from .locks import FileLocker, Locker
from .metadata import MetadataDB
from .objects import FileObjectStore, ObjectStore
from .uploads import FileUploadStore, UploadStore


@dataclass
class Storage:
    db: MetadataDB
    objects: ObjectStore
    uploads: UploadStore
    locks: Locker

    def close(self) -> None:
        for part in (self.db, self.locks):
            close = getattr(part, "close", None)
            if close is not None:
                close()


def open_storage(config: "HubConfig") -> Storage:  # noqa: F821 - avoid an import cycle
    """The implementations `config` asks for:

    database_url      None -> SQLiteDB(data_dir/hub.db);  postgresql://… -> PostgresDB
    object_store_url  None -> files under data_dir;        s3://…         -> S3 objects + S3 chunked uploads
    locks             PostgreSQL advisory locks whenever the database is PostgreSQL (shared by all
                      instances), else lock files under data_dir/locks (shared by the workers
                      of one machine).
    """
    config.ensure_dirs()
    if config.database_url:
        if not config.database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"database URL must start with postgresql:// (got {config.database_url.split(':', 1)[0]}:)")
        from .pg_locks import PgAdvisoryLocker
        from .postgres_db import PostgresDB

        pool = max(2, config.database_pool_size)
        db: MetadataDB = PostgresDB(config.database_url, max_size=pool)
        locks: Locker = PgAdvisoryLocker(config.database_url, max_size=pool)
    else:
        from .sqlite_db import SQLiteDB

        db, locks = SQLiteDB(config.db_path), FileLocker(config.data_dir / "locks")
    if config.object_store_url:
        from .s3 import S3Location, S3ObjectStore, S3UploadStore, check_bucket, make_client

        location = S3Location.parse(config.object_store_url)
        client = make_client(location)
        check_bucket(client, location)
        objects: ObjectStore = S3ObjectStore(client, location)
        uploads: UploadStore = S3UploadStore(client, location, config.staging_dir)
    else:
        objects, uploads = FileObjectStore(config.objects_dir), FileUploadStore(config.uploads_dir)
    return Storage(db=db, objects=objects, uploads=uploads, locks=locks)
