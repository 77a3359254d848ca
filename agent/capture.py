"""Capture: turn input files into one captured dossier in the outbox.

All files are validated before anything is stored, so a bad file means nothing
is queued. The assembled PDF goes into the blob store first; the dossier row
that points at it is written after, in one transaction — a crash in between
leaves only an unreferenced blob, never a dossier without its payload.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

from scanners.errors import CaptureError
from scanners.file_import import inspect_files
from scanners.pdf_assembly import assemble_pdf
from sync_protocol.manifest import CHANNELS

from .context import AgentContext
from .crashpoints import crash_point
from .errors import InputError, StorageError
from .outbox import Dossier

log = logging.getLogger("motcua.agent.capture")
PROCEDURE_CODE = re.compile(r"^[0-9]\.[0-9]{6}$")


def check_procedure_and_channel(procedure_code: str, channel: str) -> None:
    if not PROCEDURE_CODE.match(procedure_code):
        raise InputError(f"Mã thủ tục {procedure_code!r} không đúng dạng (ví dụ 1.001193).",
                         f"Procedure code {procedure_code!r} is not like 1.001193.",
                         "Tra mã trong danh mục thủ tục / look it up in the procedure catalogue")
    if channel not in CHANNELS:
        raise InputError(f"Kênh tiếp nhận {channel!r} không hợp lệ; chọn: {', '.join(CHANNELS)}.",
                         f"Channel {channel!r} is not one of {', '.join(CHANNELS)}.")


def import_files(ctx: AgentContext, paths: list[Path | str], procedure_code: str, channel: str,
                 received_at: datetime | None = None) -> Dossier:
    """Validate `paths`, assemble them into one PDF and queue a captured dossier."""
    config = ctx.config.require_enrolled()
    check_procedure_and_channel(procedure_code, channel)
    try:
        items = inspect_files(list(paths))
        pdf, pages = assemble_pdf(items)
    except CaptureError as exc:
        raise InputError(exc.message_vi, exc.message_en, exc.hint) from exc
    try:
        sha, size = ctx.outbox.blobs.put_bytes(pdf)
    except OSError as exc:
        raise StorageError("Không ghi được tệp vào ổ đĩa (có thể ổ đầy). Hàng đợi không thay đổi.",
                           f"Could not write the document to disk ({exc.strerror}); the queue is unchanged.",
                           "Giải phóng dung lượng rồi nhập lại / free disk space and import again") from exc
    crash_point("after_capture_blob")
    dossier = ctx.outbox.add_captured(
        procedure_code=procedure_code, channel=channel, agency_code=config.agency_code,
        code_block=config.code_block, documents=[("document-1.pdf", "application/pdf", sha, size, pages)],
        received_at=received_at,
    )
    log.info("captured dossier=%s pages=%d bytes=%d", dossier.id, pages, size)
    return dossier
