"""The outbox: the agent's durable queue of dossiers (SQLite) and their payload blobs.

States:  captured -> sealed -> uploading -> committed -> purged,  or  rejected (with a reason).

Every state change is one SQLite transaction (WAL, synchronous=FULL); payload
bytes live in a content-addressed blob store written temp -> fsync -> rename.
A crash at any instant leaves the old state or the new one.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import sqlite_utils

from agent.errors import InputError, StorageError
from agent.outbox.ids import PER_DEVICE_DAILY_LIMIT, dossier_code, new_dossier_id, utc_timestamp, vietnam_day
from agent.outbox.hub_clock import intake_time
from sync_protocol.castore import ContentStore

STATES = ("captured", "sealed", "uploading", "committed", "purged", "rejected")
DELIVERABLE = ("sealed", "uploading")
SCHEMA_VERSION = 5


def _desk_tables(db: sqlite_utils.Database) -> None:
    from agent.outbox.desk_tables import create_desk_tables

    create_desk_tables(db)


def _sync_tables(db: sqlite_utils.Database) -> None:
    """Schema step 3 (reliable sync): due dates and upload progress for delivery priorities,
    and the status-feed inbox (agent.delivery.feed)."""
    columns = {c.name for c in db["dossiers"].columns}
    for name in ("due_at", "uploaded_at"):
        if name not in columns:
            db.execute(f"ALTER TABLE dossiers ADD COLUMN {name} TEXT")
    db["feed_inbox"].create({"cursor": int, "event": str, "fetched_at": str, "applied_at": str, "error": str},
                            pk="cursor", if_not_exists=True)


def _people_tables(db: sqlite_utils.Database) -> None:
    from agent.outbox.desk_tables import create_people_tables

    create_people_tables(db)


def _calendar_version(db: sqlite_utils.Database) -> None:
    """Schema step 5 (reference data): which calendar version computed each due date. Desks created
    at step 2 or later got it with the intake table; older ones get it here."""
    if "calendar_version" not in {c.name for c in db["intake"].columns}:
        db.execute("ALTER TABLE intake ADD COLUMN calendar_version TEXT")


#: forward migration steps: schema version -> step (applied in order to older databases)
MIGRATIONS: dict[int, Any] = {2: _desk_tables, 3: _sync_tables, 4: _people_tables, 5: _calendar_version}


@dataclass(frozen=True)
class Document:
    position: int
    name: str
    media_type: str
    sha256: str
    size: int
    pages: int


@dataclass(frozen=True)
class Dossier:
    id: str
    code: str
    procedure_code: str
    channel: str
    state: str
    received_at: str
    size_bytes: int
    page_count: int
    attempts: int
    last_error: str | None
    rejected_reason: str | None
    sequence: int | None
    manifest_hash: str | None
    signed_manifest: str | None
    receipt: str | None
    hub_sequence: int | None
    committed_at: str | None
    updated_at: str

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "code": self.code, "procedure_code": self.procedure_code, "channel": self.channel,
            "state": self.state, "size_bytes": self.size_bytes, "pages": self.page_count, "attempts": self.attempts,
            "last_error": self.last_error, "rejected_reason": self.rejected_reason, "hub_sequence": self.hub_sequence,
            "received_at": self.received_at, "updated_at": self.updated_at,
        }


class Outbox:
    """The local store. Open one per process; it is not shared between threads."""

    def __init__(self, db_path: Path, blobs_dir: Path):
        self.path = db_path
        conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA secure_delete=ON")  # deleted personal data is zeroed, not left in free space
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        self.blobs = ContentStore(blobs_dir)
        try:
            self._migrate()
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    # -- schema ---------------------------------------------------------------
    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            # Never let older code write into a newer queue: it could lose what it does not know.
            raise StorageError(f"Hàng đợi {self.path} thuộc phiên bản mới hơn ({version}); hãy cập nhật motcua.",
                               f"Outbox {self.path} has schema {version}, newer than this motcua ({SCHEMA_VERSION}).",
                               "Cài phiên bản motcua mới hơn / upgrade motcua")
        if version == SCHEMA_VERSION:
            return
        with self.transaction():
            self.db["dossiers"].create({
                "id": str, "code": str, "procedure_code": str, "channel": str, "state": str,
                "received_at": str, "created_at": str, "updated_at": str, "sealed_at": str,
                "size_bytes": int, "page_count": int, "attempts": int, "last_error": str, "rejected_reason": str,
                "sequence": int, "manifest_hash": str, "signed_manifest": str, "receipt": str,
                "hub_sequence": int, "committed_at": str, "purged_at": str, "metadata": str,
            }, pk="id", not_null={"code", "state", "procedure_code", "channel"}, defaults={"attempts": 0},
                if_not_exists=True)
            self.db["dossiers"].create_index(["code"], unique=True, if_not_exists=True)
            self.db["dossiers"].create_index(["state"], if_not_exists=True)
            self.db["documents"].create({
                "dossier_id": str, "position": int, "name": str, "media_type": str, "sha256": str,
                "size": int, "pages": int,
            }, pk=("dossier_id", "position"), if_not_exists=True)
            self.db["documents"].create_index(["sha256"], if_not_exists=True)
            self.db["uploads"].create({"sha256": str, "url": str, "length": int, "created_at": str},
                                      pk="sha256", if_not_exists=True)
            self.db["device_state"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
            for step in sorted(MIGRATIONS):
                if version < step:
                    MIGRATIONS[step](self.db)
            self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- device state (key/value) -------------------------------------------------
    def get_state(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM device_state WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        """Set a device-state value; call inside an open `transaction()`."""
        self.conn.execute("INSERT INTO device_state(key, value) VALUES (?, ?) "
                          "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    # -- capture --------------------------------------------------------------------
    def add_captured(self, *, procedure_code: str, channel: str, agency_code: str, code_block: int,
                     documents: list[tuple[str, str, str, int, int]], received_at: datetime | None = None,
                     metadata: dict[str, str] | None = None, code: str | None = None) -> Dossier:
        """Record a new captured dossier whose blobs are already stored.

        `documents` are (name, media_type, sha256, size, pages). The dossier id and
        code are assigned here, in the same transaction as the daily counter —
        or `code` is one reserved earlier by `reserve_code` (a printed cover
        sheet), whose reservation is spent in this transaction.
        """
        now = datetime.now(timezone.utc)
        hub_now, clock = intake_time(self)  # legal time: the desk clock corrected by the hub's
        received = received_at or hub_now
        day = vietnam_day(received)
        dossier_id = new_dossier_id()
        with self.transaction():
            if code is None:
                code = self._next_code(agency_code, code_block, day)
            elif self.get_state(f"reserved:{code}") is None:
                raise InputError(f"Mã hồ sơ {code} không do máy này cấp hoặc đã được dùng.",
                                 f"Dossier code {code} was not reserved on this desk or is already used.")
            else:
                self.conn.execute("DELETE FROM device_state WHERE key=?", (f"reserved:{code}",))
            self.conn.execute(
                "INSERT INTO dossiers(id, code, procedure_code, channel, state, received_at, created_at, updated_at,"
                " size_bytes, page_count, attempts, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,0,?)",
                (dossier_id, code, procedure_code, channel, "captured", utc_timestamp(received), utc_timestamp(now),
                 utc_timestamp(now), sum(d[3] for d in documents), sum(d[4] for d in documents),
                 json.dumps({**(metadata or {}), "clock": clock}, ensure_ascii=False)),
            )
            for position, (name, media_type, sha, size, pages) in enumerate(documents):
                self.conn.execute(
                    "INSERT INTO documents(dossier_id, position, name, media_type, sha256, size, pages) VALUES (?,?,?,?,?,?,?)",
                    (dossier_id, position, name, media_type, sha, size, pages),
                )
        return self.get(dossier_id)

    def clock_note(self, dossier_id: str) -> dict[str, Any] | None:
        """How the dossier's received_at was derived (agent.outbox.hub_clock); None for dossiers from before."""
        row = self.conn.execute("SELECT json_extract(metadata, '$.clock') FROM dossiers WHERE id=?",
                                (dossier_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def _next_code(self, agency_code: str, code_block: int, day: str) -> str:
        """Inside an open transaction: the next dossier code of `day` (bumps the daily counter)."""
        number = int(self.get_state(f"daily:{day}", "0")) + 1
        if number > PER_DEVICE_DAILY_LIMIT:
            raise InputError(f"Máy này đã cấp {PER_DEVICE_DAILY_LIMIT} mã hồ sơ trong ngày {day}.",
                             f"This device has issued {PER_DEVICE_DAILY_LIMIT} dossier codes on {day}.",
                             "Dùng máy khác của cơ quan / use another enrolled desk")
        self.set_state(f"daily:{day}", str(number))
        return dossier_code(agency_code, day, code_block, number)

    # -- cover-sheet reservations (agent.capture.stacks) -------------------------------------
    def reserve_code(self, *, agency_code: str, code_block: int, details: dict[str, str],
                     received_at: datetime | None = None) -> str:
        """Assign a dossier code now (for a printed cover sheet); the pages come later via add_captured(code=…)."""
        received = received_at or intake_time(self)[0]
        with self.transaction():
            code = self._next_code(agency_code, code_block, vietnam_day(received))
            self.set_state(f"reserved:{code}", json.dumps({**details, "received_at": utc_timestamp(received)},
                                                           ensure_ascii=False))
        return code

    def reservation(self, code: str) -> dict[str, str] | None:
        """The details stored when `code` was reserved, or None (unknown or already used)."""
        value = self.get_state(f"reserved:{code}")
        return json.loads(value) if value else None

    def find_by_source(self, source: str) -> list[Dossier]:
        """Dossiers captured from the input identified by `source` (metadata `source`: file sha256 or batch id)."""
        rows = self.conn.execute("SELECT * FROM dossiers WHERE json_extract(metadata, '$.source')=?", (source,))
        return [self._dossier(r) for r in rows]

    # -- reading ----------------------------------------------------------------
    def get(self, ref: str) -> Dossier:
        """Find a dossier by id or code."""
        row = self.conn.execute("SELECT * FROM dossiers WHERE id=? OR code=?", (ref, ref)).fetchone()
        if row is None:
            raise InputError(f"Không có hồ sơ {ref!r} trong hàng đợi.", f"No dossier {ref!r} in the queue.",
                             "motcua queue")
        return self._dossier(row)

    def _dossier(self, row: tuple) -> Dossier:
        cols = [c[0] for c in self.conn.execute("SELECT * FROM dossiers LIMIT 0").description]
        data = dict(zip(cols, row))
        return Dossier(**{k: data[k] for k in Dossier.__dataclass_fields__})

    def list(self, states: tuple[str, ...] | None = None) -> list[Dossier]:
        query = "SELECT * FROM dossiers"
        params: tuple = ()
        if states:
            query += f" WHERE state IN ({','.join('?' * len(states))})"
            params = states
        return [self._dossier(r) for r in self.conn.execute(query + " ORDER BY received_at, code", params)]

    def deliverable(self) -> list[Dossier]:
        """Sealed or half-uploaded dossiers, oldest first, smaller first on ties."""
        rows = self.conn.execute(
            f"SELECT * FROM dossiers WHERE state IN ({','.join('?' * len(DELIVERABLE))})"
            " ORDER BY received_at, size_bytes, code", DELIVERABLE)
        return [self._dossier(r) for r in rows]

    def documents(self, dossier_id: str) -> list[Document]:
        rows = self.conn.execute("SELECT position, name, media_type, sha256, size, pages FROM documents"
                                 " WHERE dossier_id=? ORDER BY position", (dossier_id,))
        return [Document(*r) for r in rows]

    def counts(self) -> dict[str, int]:
        found = dict(self.conn.execute("SELECT state, COUNT(*) FROM dossiers GROUP BY state").fetchall())
        return {state: found.get(state, 0) for state in STATES}

    # -- transitions --------------------------------------------------------------
    def _transition(self, dossier_id: str, allowed: tuple[str, ...], **fields: Any) -> None:
        fields["updated_at"] = utc_timestamp()
        assignments = ", ".join(f"{k}=?" for k in fields)
        cur = self.conn.execute(
            f"UPDATE dossiers SET {assignments} WHERE id=? AND state IN ({','.join('?' * len(allowed))})",
            (*fields.values(), dossier_id, *allowed),
        )
        if cur.rowcount != 1:
            current = self.get(dossier_id).state
            raise InputError(f"Hồ sơ đang ở trạng thái {current}, không thể chuyển.",
                             f"Dossier is {current}; expected one of {allowed}.")

    def record_seal(self, dossier_id: str, sequence: int, manifest_hash: str, signed_manifest: str) -> None:
        """Inside an open transaction: store the sealed manifest and advance the chain head."""
        self._transition(dossier_id, ("captured",), state="sealed", sealed_at=utc_timestamp(), sequence=sequence,
                         manifest_hash=manifest_hash, signed_manifest=signed_manifest)
        self.set_state("chain:sequence", str(sequence))
        self.set_state("chain:head", manifest_hash)

    def chain_head(self) -> tuple[int, str | None]:
        return int(self.get_state("chain:sequence", "0")), self.get_state("chain:head")

    def mark_uploading(self, dossier_id: str) -> None:
        with self.transaction():
            self.conn.execute("UPDATE dossiers SET state='uploading', attempts=attempts+1, updated_at=?"
                              " WHERE id=? AND state IN ('sealed','uploading')", (utc_timestamp(), dossier_id))

    def record_failure(self, dossier_id: str, error: str) -> None:
        with self.transaction():
            self.conn.execute("UPDATE dossiers SET last_error=?, updated_at=? WHERE id=?",
                              (error[:500], utc_timestamp(), dossier_id))

    def mark_rejected(self, dossier_id: str, reason: str) -> None:
        with self.transaction():
            self._transition(dossier_id, ("captured", "sealed", "uploading"), state="rejected",
                             rejected_reason=reason[:1000], last_error=reason[:500])

    def requeue_rejected(self, dossier_id: str) -> str:
        """The officer's retry for a rejected dossier: back to sealed (or captured if never sealed)."""
        with self.transaction():
            target = "sealed" if self.get(dossier_id).signed_manifest else "captured"
            self._transition(dossier_id, ("rejected",), state=target, rejected_reason=None, last_error=None)
        return target

    def mark_committed(self, dossier_id: str, receipt_json: str, hub_sequence: int) -> None:
        with self.transaction():
            self._transition(dossier_id, ("sealed", "uploading"), state="committed", receipt=receipt_json,
                             hub_sequence=hub_sequence, committed_at=utc_timestamp(), last_error=None)

    def mark_purged(self, dossier_id: str) -> None:
        with self.transaction():
            self._transition(dossier_id, ("committed",), state="purged", purged_at=utc_timestamp())

    def blobs_only_used_by(self, dossier_id: str) -> list[str]:
        """Blob addresses of this dossier that no other not-yet-purged dossier needs."""
        rows = self.conn.execute(
            "SELECT DISTINCT d.sha256 FROM documents d WHERE d.dossier_id=? AND NOT EXISTS ("
            " SELECT 1 FROM documents o JOIN dossiers x ON x.id=o.dossier_id"
            " WHERE o.sha256=d.sha256 AND o.dossier_id<>d.dossier_id AND x.state<>'purged')", (dossier_id,))
        return [r[0] for r in rows]

    # -- encryption at rest (agent.sealing.at_rest) --------------------------------------------
    def record_encrypted(self, dossier_id: str, replacements: list[tuple[int, str, int]],
                         plain_shas: list[str]) -> None:
        """Inside the seal transaction: point documents at their ciphertext blobs and
        queue the plaintext blobs for wiping (done after the transaction commits)."""
        for position, sha, size in replacements:
            self.conn.execute("UPDATE documents SET sha256=?, size=? WHERE dossier_id=? AND position=?",
                              (sha, size, dossier_id, position))
        self.conn.execute("UPDATE dossiers SET size_bytes=(SELECT COALESCE(SUM(size), 0) FROM documents"
                          " WHERE dossier_id=?) WHERE id=?", (dossier_id, dossier_id))
        for sha in plain_shas:
            self.set_state(f"wipe:{sha}", dossier_id)

    def pending_wipes(self) -> list[str]:
        """Plaintext blobs queued for wiping whose no captured dossier still needs them."""
        rows = self.conn.execute(
            "SELECT substr(s.key, 6) FROM device_state s WHERE s.key LIKE 'wipe:%' AND NOT EXISTS ("
            " SELECT 1 FROM documents d JOIN dossiers x ON x.id=d.dossier_id"
            " WHERE d.sha256=substr(s.key, 6) AND x.state='captured')")
        return [r[0] for r in rows]

    def wipe_done(self, sha256: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM device_state WHERE key=?", (f"wipe:{sha256}",))

    # -- upload bookkeeping ---------------------------------------------------------
    def upload_url(self, sha256: str) -> str | None:
        row = self.conn.execute("SELECT url FROM uploads WHERE sha256=?", (sha256,)).fetchone()
        return row[0] if row else None

    def set_upload_url(self, sha256: str, url: str, length: int) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO uploads(sha256, url, length, created_at) VALUES (?,?,?,?)",
                              (sha256, url, length, utc_timestamp()))

    def forget_upload(self, sha256: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM uploads WHERE sha256=?", (sha256,))

    def recorded_uploads(self) -> dict[str, tuple[str, int]]:
        return {sha: (url, length) for sha, url, length in self.conn.execute("SELECT sha256, url, length FROM uploads")}

    def queued_blobs(self) -> set[str]:
        """Blobs of the documents of dossiers still to be delivered (sealed or uploading)."""
        return {sha for (sha,) in self.conn.execute("SELECT d.sha256 FROM documents d JOIN dossiers x ON x.id ="
                                                    " d.dossier_id WHERE x.state IN ('sealed','uploading')")}
