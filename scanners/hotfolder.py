"""Hot folder: consume files that network scanners drop on a share.

A file is taken only when it is complete: its size and mtime have not changed
for `settle_seconds` and it opens and decodes. Then `handler(path)` runs; the
file is moved to `done/` on success, or to `failed/` next to a `.reason.txt`
saying why (Vietnamese and English). Files are never deleted unprocessed; a folder made with
`delete_consumed` (chip ID card images: personal data) deletes each file once handled, and on
failure keeps only the `.reason.txt` in `failed/`.
watchdog's inotify events wake the loop at once; a polling pass every
`poll_interval` seconds covers SMB/NFS mounts where inotify sees nothing.
Exactly-once across restarts is the handler's job (the agent records each
file's content hash with the dossiers it made, in the same transaction).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import CaptureError, InputFileError
from .file_import import inspect_file

log = logging.getLogger("motcua.scanners.hotfolder")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", "~", ".reason.txt")
#: a stable file that still does not decode is failed after this many settle periods
DECODE_PATIENCE = 5


@dataclass(frozen=True)
class Consumed:
    name: str
    ok: bool
    note: str


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


@dataclass
class HotFolder:
    inbox: Path
    handler: Callable[[Path], str]
    settle_seconds: float = 2.0
    poll_interval: float = 2.0
    clock: Callable[[], float] = time.monotonic
    delete_consumed: bool = False
    _seen: dict[str, _Seen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.inbox = Path(self.inbox)
        self.done = self.inbox / "done"
        self.failed = self.inbox / "failed"
        for directory in (self.inbox, self.failed) if self.delete_consumed else (self.inbox, self.done, self.failed):
            directory.mkdir(parents=True, exist_ok=True)

    def _candidates(self) -> list[Path]:
        files = []
        for entry in os.scandir(self.inbox):
            if entry.is_file() and not entry.name.startswith(".") and not entry.name.endswith(IGNORED_SUFFIXES):
                files.append(Path(entry.path))
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def scan_once(self) -> list[Consumed]:
        """One pass: consume every file that has settled; return what was consumed."""
        now = self.clock()
        results = []
        present = set()
        for path in self._candidates():
            present.add(path.name)
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            seen = self._seen.get(path.name)
            if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                self._seen[path.name] = _Seen(stat.st_size, stat.st_mtime_ns, now)
                continue
            stable_for = now - seen.since
            if stable_for < self.settle_seconds:
                continue
            try:
                inspect_file(path)
            except InputFileError as exc:
                if stable_for < self.settle_seconds * DECODE_PATIENCE:
                    continue  # a slow copy may still be on its way
                results.append(self._fail(path, exc.message_vi, exc.message_en))
                continue
            results.append(self._consume(path))
        for name in list(self._seen):
            if name not in present:
                del self._seen[name]
        return results

    def _consume(self, path: Path) -> Consumed:
        self._seen.pop(path.name, None)
        try:
            note = self.handler(path)
        except CaptureError as exc:
            return self._fail(path, exc.message_vi, exc.message_en)
        except Exception as exc:  # noqa: BLE001 - the watcher must survive any one bad file
            vi = getattr(exc, "message_vi", None)
            en = getattr(exc, "message_en", None)
            if vi is None:
                log.exception("hotfolder_handler_error file_error=%s", type(exc).__name__)
                vi, en = f"Lỗi không mong đợi: {type(exc).__name__}", f"Unexpected error: {type(exc).__name__}: {exc}"
            return self._fail(path, vi, en or vi)
        if self.delete_consumed:
            size = path.stat().st_size
            path.unlink()
            log.info("hotfolder_done_deleted file_bytes=%d", size)
            return Consumed(path.name, True, note)
        target = _free_name(self.done, path.name)
        os.replace(path, target)
        log.info("hotfolder_done file_bytes=%d", target.stat().st_size)
        return Consumed(path.name, True, note)

    def _fail(self, path: Path, message_vi: str, message_en: str) -> Consumed:
        self._seen.pop(path.name, None)
        target = _free_name(self.failed, path.name)
        reason = target.with_name(target.name + ".reason.txt")
        reason.write_text(f"{message_vi}\n{message_en}\n", encoding="utf-8")
        if self.delete_consumed:
            path.unlink(missing_ok=True)
        else:
            os.replace(path, target)
        log.warning("hotfolder_failed reason_file=%s", reason.name)
        return Consumed(path.name, False, message_en)

    def run(self, stop: threading.Event, on_consumed: Callable[[Consumed], None] | None = None,
            use_inotify: bool = True) -> None:
        """Watch until `stop` is set."""
        wake = threading.Event()
        observer = _start_observer(self.inbox, wake) if use_inotify else None
        try:
            while not stop.is_set():
                for consumed in self.scan_once():
                    if on_consumed:
                        on_consumed(consumed)
                wait = self.poll_interval if not self._seen else min(self.poll_interval, self.settle_seconds / 2)
                wake.wait(wait)
                wake.clear()
        finally:
            if observer is not None:
                observer.stop()
                observer.join(5)


def _free_name(directory: Path, name: str) -> Path:
    target = directory / name
    counter = 1
    while target.exists() or target.with_name(target.name + ".reason.txt").exists():
        stem, dot, suffix = name.partition(".")
        target = directory / f"{stem}-{counter}{dot}{suffix}"
        counter += 1
    return target


def _start_observer(inbox: Path, wake: threading.Event):
    """watchdog observer that sets `wake` on any change directly in `inbox`; None if inotify is unavailable."""
    try:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
    except ImportError:
        return None

    class Wake(FileSystemEventHandler):
        def on_any_event(self, event) -> None:  # noqa: ANN001
            wake.set()

    observer = Observer()
    try:
        observer.schedule(Wake(), str(inbox), recursive=False)
        observer.start()
    except OSError:
        log.warning("hotfolder_inotify_unavailable polling_only=1")
        return None
    return observer
