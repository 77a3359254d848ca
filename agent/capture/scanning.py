"""`motcua scan`: scan batches that survive paper jams, then split and queue them.

A batch lives in `<home>/scans/<batch id>/` (page images + batch.json) until
its dossiers are captured; then it is deleted (scans hold personal data).
A scanner stop keeps the pages scanned so far and tells the operator how to
continue the same batch. A batch whose cover sheet cannot be read is held:
it stays on disk with `held.json` naming the page, and nothing is queued.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from agent.capture.stacks import StackOutcome, capture_stack
from agent.context import AgentContext
from agent.errors import InputError, MotcuaError
from agent.outbox.ids import new_dossier_id, utc_timestamp
from scanners.errors import BatchHeld, CaptureError, ScanError
from scanners.pages import Page
from scanners.sane import ScanSettings, scan_into, scanned_pages
from sync_protocol.castore import write_file_atomic

log = logging.getLogger("motcua.agent.scan_batches")


class ScanStopped(MotcuaError):
    """The scanner stopped mid-batch; the batch is kept and can be continued."""

    def __init__(self, error: ScanError, batch_id: str, pages: int):
        super().__init__(f"{error.message_vi}. Lô {batch_id} đang giữ {pages} trang đã quét.",
                         f"{error.message_en}. Batch {batch_id} keeps {pages} scanned page(s).",
                         f"Xử lý xong rồi chạy / then run: motcua scan --continue {batch_id}")
        self.batch_id = batch_id
        self.status = error.status
        self.pages = pages

    def to_json(self) -> dict[str, str]:
        return {**super().to_json(), "batch_id": self.batch_id, "status": self.status, "pages": str(self.pages)}


@dataclass
class ScanOutcome:
    batch_id: str
    pages_scanned: int
    finished: bool
    stack: StackOutcome | None

    def to_json(self) -> dict:
        return {"batch_id": self.batch_id, "pages_scanned": self.pages_scanned, "finished": self.finished,
                **(self.stack.to_json() if self.stack else {})}


def batches_dir(ctx: AgentContext) -> Path:
    return ctx.config.home / "scans"


def _load_batch(ctx: AgentContext, batch_id: str) -> tuple[Path, dict]:
    directory = batches_dir(ctx) / batch_id
    if not batch_id.replace("-", "").isalnum() or not (directory / "batch.json").exists():
        raise InputError(f"Không có lô quét {batch_id!r}.", f"No scan batch {batch_id!r}.", "motcua scan --list")
    return directory, json.loads((directory / "batch.json").read_text("utf-8"))


def open_batches(ctx: AgentContext) -> list[dict]:
    """Batches still on disk: interrupted, left open for more pages, or held for review."""
    found = []
    for meta in sorted(batches_dir(ctx).glob("*/batch.json")):
        data = json.loads(meta.read_text("utf-8"))
        held = meta.parent / "held.json"
        found.append({"batch_id": meta.parent.name, "pages": len(scanned_pages(meta.parent)),
                      "held": json.loads(held.read_text("utf-8")) if held.exists() else None,
                      "created_at": data.get("created_at")})
    return found


def scan(ctx: AgentContext, settings: ScanSettings, *, procedure_code: str | None = None, channel: str = "counter",
         continue_batch: str | None = None, more: bool = False, env: dict[str, str] | None = None) -> ScanOutcome:
    """Scan (a new batch, or more pages into `continue_batch`); unless `more`, split and queue the batch."""
    ctx.config.require_enrolled()
    if continue_batch:
        directory, meta = _load_batch(ctx, continue_batch)
        (directory / "held.json").unlink(missing_ok=True)
    else:
        batch_id = new_dossier_id()[:8] + "-" + new_dossier_id()[-4:]
        directory = batches_dir(ctx) / batch_id
        directory.mkdir(parents=True, mode=0o700)
        meta = {"procedure_code": procedure_code, "channel": channel, "resolution": settings.resolution,
                "created_at": utc_timestamp()}
        write_file_atomic(directory / "batch.json", json.dumps(meta).encode(), mode=0o600)
    batch_id = directory.name
    scanned = 0
    if settings.batch_count != 0:
        try:
            scanned = scan_into(directory, settings, env)
        except ScanError as exc:
            raise ScanStopped(exc, batch_id, len(scanned_pages(directory))) from exc
    if more:
        return ScanOutcome(batch_id, scanned, False, None)
    return ScanOutcome(batch_id, scanned, True, finish_batch(ctx, batch_id))


def finish_batch(ctx: AgentContext, batch_id: str) -> StackOutcome:
    """Split and queue a batch's pages; delete the batch once its dossiers are captured."""
    directory, meta = _load_batch(ctx, batch_id)
    files = scanned_pages(directory)
    if not files:
        raise InputError(f"Lô {batch_id} chưa có trang nào.", f"Batch {batch_id} has no pages yet.",
                         f"motcua scan --continue {batch_id}")
    dpi = float(meta.get("resolution") or 300)
    pages = [Page(n, f"lô/batch {batch_id} trang/page {n}", dpi, loader=_loader(path))
             for n, path in enumerate(files, start=1)]
    try:
        outcome = capture_stack(ctx, pages, f"scan:{batch_id}", procedure_code=meta.get("procedure_code"),
                                channel=meta.get("channel") or "counter")
    except InputError as exc:
        held = getattr(exc, "capture_error", None)
        if isinstance(held, (BatchHeld, CaptureError)):
            page = getattr(held, "page_number", None)
            write_file_atomic(directory / "held.json", json.dumps(
                {"page": page, "reason": getattr(held, "reason", type(held).__name__), "message_en": held.message_en,
                 "message_vi": held.message_vi}, ensure_ascii=False).encode(), mode=0o600)
            log.warning("batch_held batch=%s page=%s", batch_id, page)
            exc.hint = f"Lô {batch_id} được giữ tại / held in {directory}"
        raise
    shutil.rmtree(directory, ignore_errors=True)
    return outcome


def _loader(path: Path):
    def load() -> Image.Image:
        with Image.open(path) as image:
            image.load()
            return image.copy() if image.mode in ("RGB", "L", "1") else image.convert("RGB")
    return load
