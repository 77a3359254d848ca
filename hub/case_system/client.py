"""The reference case-system client: pull every committed dossier into a folder, exactly once, in order.

`motcua hub pull --url https://hub… --token mcs_… --to DIR` (or `pull_to_dir`)
is what a province can run as-is to drop dossiers into a folder its own system
imports. For each dossier, in commit order:

  1. download its documents into DIR/.motcua-pull/partial/<cursor>/ — a file
     that was cut off resumes with `Range: bytes=<size on disk>-`; every file is
     checked against its sha256 before it counts;
  2. write dossier.json (motcua's JSON; with `national=True` also national.json),
     fsync, and rename the folder to DIR/<cursor, 10 digits>_<dossier code>_v<version>
     — one atomic rename, so the importing system sees a whole dossier or none;
  3. acknowledge it to the hub, then store the cursor in DIR/.motcua-pull/cursor.json.
A crash between any two steps repeats at most the step it interrupted: a folder
that already exists is not written again and an acknowledgement is idempotent,
so across restarts each dossier lands once, in cursor order.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urljoin

import requests

from sync_protocol.castore import fsync_dir, write_file_atomic
from sync_protocol.errors import InvalidDocument
from sync_protocol.manifest import check_object_name

from .national_format import national_dossier

log = logging.getLogger("motcua.hub.case_system.client")
STATE_DIR = ".motcua-pull"
BLOCK = 256 * 1024


class PullError(Exception):
    """A problem retrying will not fix (bad token, bad answer): message in Vietnamese and English."""

    def __init__(self, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.message_vi, self.message_en = message_vi, message_en


class _Transient(Exception):
    """The hub is unreachable or busy: wait and retry."""


@dataclass
class PullReport:
    written: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    acked: int = 0
    bytes_downloaded: int = 0


def folder_name(entry: dict[str, Any]) -> str:
    """Sortable in commit order: `<cursor, 10 digits>_<dossier code>_v<version>`."""
    check_object_name(entry["dossier_code"], "dossier_code")
    return f"{int(entry['cursor']):010d}_{entry['dossier_code']}_v{int(entry['dossier_version'])}"


class CaseSystemClient:
    """HTTP calls to the hub's case-system API with the Bearer token; transient failures raise _Transient."""

    def __init__(self, url: str, token: str, verify: bool | str = True, timeout: float = 60):
        self.url, self.timeout = url.rstrip("/") + "/", timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.verify = verify

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            answer = self.session.request(method, urljoin(self.url, path.lstrip("/")), timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise _Transient(type(exc).__name__) from exc
        if answer.status_code in (408, 429) or answer.status_code >= 500:
            raise _Transient(f"HTTP {answer.status_code}")
        if answer.status_code >= 400 and answer.status_code != 416:
            try:
                problem = answer.json()
                vi, en = problem.get("reason_vi", ""), problem.get("reason", "")
            except ValueError:
                vi = en = answer.text[:200]
            raise PullError(f"Trung tâm từ chối ({answer.status_code}): {vi}", f"hub refused ({answer.status_code}): {en}")
        return answer

    def page(self, after: str, limit: int) -> dict[str, Any]:
        return self._call("GET", "v1/case-system/dossiers", params={"after": after, "limit": limit}).json()

    def ack(self, dossier_id: str, version: int) -> None:
        self._call("POST", f"v1/case-system/dossiers/{dossier_id}/ack", json={"version": version})

    def download(self, document: dict[str, Any], target: Path) -> int:
        """Fetch `document` into `target`, resuming a partial file; returns bytes transferred."""
        have = target.stat().st_size if target.exists() else 0
        if have > document["size"]:
            target.unlink()
            have = 0
        got = 0
        if have < document["size"]:
            headers = {"Range": f"bytes={have}-"} if have else {}
            answer = self._call("GET", document["url"], headers=headers, stream=True)
            with answer, open(target, "ab" if answer.status_code == 206 else "wb") as out:
                for block in answer.iter_content(BLOCK):
                    out.write(block)
                    got += len(block)
                out.flush()
                os.fsync(out.fileno())
        digest = hashlib.sha256()
        with open(target, "rb") as handle:
            for block in iter(lambda: handle.read(BLOCK), b""):
                digest.update(block)
        if digest.hexdigest() != document["sha256"]:
            target.unlink()  # start this file again from zero next time
            raise _Transient(f"document {document['sha256'][:12]} did not match its sha256")
        return got


def _save_dossier(client: CaseSystemClient, entry: dict[str, Any], dest: Path, national: bool) -> int:
    """Steps 1-2 for one dossier; returns bytes downloaded."""
    work = dest / STATE_DIR / "partial" / entry["cursor"]
    work.mkdir(parents=True, exist_ok=True)
    downloaded = 0
    for document in entry["documents"]:
        try:
            name = check_object_name(document["name"], "documents.name")
        except InvalidDocument as exc:
            raise PullError(f"Tên tài liệu không an toàn: {exc}", f"unsafe document name: {exc}") from exc
        if name in ("dossier.json", "national.json"):
            name = "document-" + name
        downloaded += client.download(document, work / name)
    write_file_atomic(work / "dossier.json", json.dumps(entry, ensure_ascii=False, indent=1).encode("utf-8"), 0o640)
    if national:
        write_file_atomic(work / "national.json", json.dumps(national_dossier(entry), ensure_ascii=False,
                                                         indent=1).encode("utf-8"))
    os.rename(work, dest / folder_name(entry))
    fsync_dir(dest)
    return downloaded


def _read_cursor(dest: Path) -> str:
    path = dest / STATE_DIR / "cursor.json"
    try:
        return str(json.loads(path.read_text("utf-8"))["after"])
    except FileNotFoundError:
        return ""
    except (ValueError, KeyError, TypeError) as exc:
        raise PullError(f"Tệp con trỏ {path} bị hỏng; sửa hoặc xoá nó (các hồ sơ đã có sẽ không bị ghi lại)",
                        f"cursor file {path} is damaged; fix or delete it (folders already written are kept)") from exc


def pull_to_dir(url: str, token: str, dest: Path, *, limit: int = 50, follow: bool = False, national: bool = False,
                verify: bool | str = True, poll_seconds: float = 5.0, give_up_after: float = 300.0,
                on_written: Callable[[str, str], None] | None = None,
                stop: threading.Event | None = None) -> PullReport:
    """Pull everything after the stored cursor into `dest`. Without `follow`, return when caught up;
    with it, keep polling until `stop` is set. Transient failures retry with backoff (for
    `give_up_after` seconds without progress unless following); PullError for the rest."""
    dest = Path(dest)
    (dest / STATE_DIR).mkdir(parents=True, exist_ok=True)
    client, report, stop = CaseSystemClient(url, token, verify), PullReport(), stop or threading.Event()
    after, failures, stuck_since = _read_cursor(dest), 0, time.monotonic()
    while not stop.is_set():
        try:
            page = client.page(after, limit)
            for entry in page["dossiers"]:
                name = folder_name(entry)
                if (dest / name).exists():
                    report.already_present.append(name)
                else:
                    report.bytes_downloaded += _save_dossier(client, entry, dest, national)
                    report.written.append(name)
                    if on_written is not None:
                        on_written(entry["cursor"], entry["dossier_code"])
                client.ack(entry["dossier_id"], int(entry["dossier_version"]))
                report.acked += 1
                after = entry["cursor"]
                write_file_atomic(dest / STATE_DIR / "cursor.json", json.dumps({"after": after}).encode())
            failures, stuck_since = 0, time.monotonic()
            if not page["more"]:
                if not follow:
                    break
                stop.wait(poll_seconds)
        except _Transient as exc:
            failures += 1
            if not follow and time.monotonic() - stuck_since > give_up_after:
                raise PullError(f"Không kết nối được trung tâm sau {give_up_after:.0f} giây ({exc})",
                                f"hub unreachable for {give_up_after:.0f} s ({exc})") from exc
            log.warning("pull_retry reason=%s failures=%d", exc, failures)
            stop.wait(random.uniform(0, min(30.0, 0.25 * 2 ** min(failures, 8))))
    return report
