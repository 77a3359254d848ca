"""The hub's janitor: removes what finished or crashed uploads leave behind, and says what it removed.

One sweep (`sweep`) removes, each only when older than `grace` seconds:
  * finished upload rows (`finished_at` set; the object itself is kept — it is
    the dossier's payload) and any bytes a completion killed before its last
    step left in the upload store;
  * unfinished uploads past the tus expiry (hub.uploads.expire_stale_uploads);
  * upload bytes with no upload row at all — chunk objects in S3 or files on
    disk from an upload whose row is gone;
  * local staging files (assembled copies) a killed completion left.

Safe with several hub instances: a sweep runs only while it holds the
"janitor" lock (shared by all instances through the Locker), touches an
upload's bytes only while holding that upload's lock, and every removal is
idempotent. The age bound keeps it away from uploads being created right now
(the bytes of a new upload may appear just before its row). `start_janitor`
runs a sweep at start and then every `config.janitor_interval_seconds`.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

from .state import HubState
from .uploads import expire_stale_uploads

log = logging.getLogger("motcua.hub.janitor")


@dataclass
class SweepReport:
    ran: bool = True  # False: another instance was sweeping
    finished_rows: int = 0
    expired_uploads: int = 0
    orphan_uploads: int = 0
    staging_files: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sweep(state: HubState, *, grace: int | None = None, now: float | None = None) -> SweepReport:
    """One pass (see module docstring). `now` defaults to the clock (a test may pass a later time)."""
    grace = state.config.janitor_grace_seconds if grace is None else grace
    now = state.now() if now is None else now
    cutoff = now - grace
    locks, store = state.storage.locks, state.storage.uploads
    held = locks.try_lock("janitor")
    if held is None:
        return SweepReport(ran=False)
    report = SweepReport()
    with held:
        for row in state.db.query("SELECT upload_id FROM uploads WHERE finished_at IS NOT NULL AND finished_at < ?",
                                  (cutoff,)):
            if _remove(state, row["upload_id"], delete_row=True):
                report.finished_rows += 1
        report.expired_uploads = expire_stale_uploads(state)
        known = {r["upload_id"] for r in state.db.query("SELECT upload_id FROM uploads")}
        for upload_id, written in store.stored_uploads().items():
            if upload_id not in known and written < cutoff and _remove(state, upload_id, delete_row=False):
                report.orphan_uploads += 1
        for path in store.stale_staging(cutoff):
            path.unlink(missing_ok=True)
            report.staging_files += 1
    if report.finished_rows or report.expired_uploads or report.orphan_uploads or report.staging_files:
        log.info("janitor_swept finished_rows=%d expired_uploads=%d orphan_uploads=%d staging_files=%d",
                 report.finished_rows, report.expired_uploads, report.orphan_uploads, report.staging_files)
    return report


def _remove(state: HubState, upload_id: str, *, delete_row: bool) -> bool:
    lock = state.storage.locks.try_lock(f"upload:{upload_id}")
    if lock is None:
        return False  # a request is using it right now: not abandoned
    with lock:
        if delete_row:
            state.db.execute("DELETE FROM uploads WHERE upload_id=?", (upload_id,))
        state.storage.uploads.delete(upload_id)
    state.storage.locks.forget(f"upload:{upload_id}")
    return True


def start_janitor(state: HubState) -> threading.Event:
    """Sweep now and then periodically in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                sweep(state)
            except Exception as exc:  # noqa: BLE001 - e.g. database down: try again next period
                log.warning("janitor_failed error=%s", type(exc).__name__)
            if stop.wait(state.config.janitor_interval_seconds):
                return

    threading.Thread(target=loop, name="motcua-janitor", daemon=True).start()
    return stop
