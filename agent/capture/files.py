"""Capture: turn input files into one captured dossier in the outbox.

All files are validated before anything is stored, so a bad file means nothing
is queued. The assembled PDF goes into the blob store first; the dossier row
that points at it is written after, in one transaction — a crash in between
leaves only an unreferenced blob, never a dossier without its payload.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from agent.context import AgentContext
from agent.crashpoints import crash_point
from agent.errors import InputError, StorageError
from agent.outbox.store import Dossier
from scanners.errors import CaptureError
from scanners.file_import import InputFile, inspect_files, open_pages, removed_content
from scanners.pipeline import PipelineOptions, run_pipeline
from sync_protocol.manifest import CHANNELS

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


def pipeline_options(ctx: AgentContext, **overrides: object) -> PipelineOptions:
    """Pipeline options from the agent's settings (OCR: setting `ocr`, overridden by $MOTCUA_OCR)."""
    from scanners.encoding import EncodeOptions
    from scanners.ocr import ocr_available

    settings = ctx.config.settings
    mode = (os.environ.get("MOTCUA_OCR") or settings.ocr or "auto").lower()
    ocr = ocr_available() if mode == "auto" else mode in ("on", "1", "true", "yes")
    if not 150 <= settings.text_page_dpi <= 600:
        raise InputError(f"text_page_dpi = {settings.text_page_dpi} ngoài khoảng 150–600.",
                         f"text_page_dpi = {settings.text_page_dpi} is outside 150–600.",
                         "Sửa settings.text_page_dpi trong config.json / fix it in config.json (200 or 300)")
    values: dict = {"ocr": ocr, "blank_threshold": settings.blank_threshold,
                    "drop_blank": settings.blank_threshold > 0, "deskew": settings.deskew,
                    "cover_code_pattern": settings.cover_code_pattern,
                    "encode": EncodeOptions(bilevel_dpi=float(settings.text_page_dpi))}
    values.update(overrides)
    return PipelineOptions(**values)


def build_document(items: list[InputFile], options: PipelineOptions) -> tuple[bytes, int]:
    """All pages of `items` as one PDF (no cover-sheet splitting: every page is this dossier's)."""
    with open_pages(items) as pages:
        result = run_pipeline(pages, replace(options, allow_uncovered=True))
    documents = [d for part in result.parts for d in part.documents]
    if not documents:
        raise InputError("Mọi trang đều trống; không có gì để nhập.", "Every page is blank; nothing to import.",
                         "Kiểm tra mặt giấy khi quét / check the sides being scanned")
    if len(result.parts) != 1 or len(documents) != 1 or result.parts[0].code is not None:
        raise InputError("Tệp có phiếu tách hồ sơ/tài liệu; hãy dùng motcua scan hoặc thư mục quét.",
                         "The files contain cover or separator sheets; use `motcua scan` or the hot folder.",
                         "motcua import-stack …")
    return documents[0].pdf, documents[0].pages


def import_files(ctx: AgentContext, paths: list[Path | str], procedure_code: str, channel: str,
                 received_at: datetime | None = None,
                 extra_objects: list[tuple[str, str, bytes]] | None = None,
                 removed: dict[str, object] | None = None) -> Dossier:
    """Validate `paths`, assemble them into one PDF and queue a captured dossier.

    `extra_objects` are (name, media_type, bytes) payload objects added after the
    PDF, e.g. the intake form as `intake.json` (agent.desk.intake); they count 0 pages.
    `removed`, when given, is filled with what was left out of PDF inputs
    (scanners.file_import.removed_content) so the caller can tell the officer.
    """
    config = ctx.config.require_enrolled()
    check_procedure_and_channel(procedure_code, channel)
    try:
        items = inspect_files(list(paths))
        pdf, pages = build_document(items, pipeline_options(ctx))
        notice = removed_content(items)
    except CaptureError as exc:
        raise InputError(exc.message_vi, exc.message_en, exc.hint) from exc
    except OSError as exc:  # unreadable input (permissions, network share gone): name the file, queue nothing
        name = exc.filename or "?"
        raise InputError(f"{name}: không đọc được tệp ({exc.strerror}). Hàng đợi không thay đổi.",
                         f"{name}: cannot read the file ({exc.strerror}); the queue is unchanged.",
                         "Kiểm tra quyền đọc hoặc chép tệp vào máy rồi nhập lại / check read permission or "
                         "copy the file to this PC and import again") from exc
    sha, size = _store_blob(ctx, "document-1.pdf", pdf)
    documents = [("document-1.pdf", "application/pdf", sha, size, pages)]
    for name, media_type, data in extra_objects or []:
        extra_sha, extra_size = _store_blob(ctx, name, data)
        documents.append((name, media_type, extra_sha, extra_size, 0))
    crash_point("after_capture_blob")
    dossier = ctx.outbox.add_captured(
        procedure_code=procedure_code, channel=channel, agency_code=config.agency_code,
        code_block=config.code_block, documents=documents, received_at=received_at,
        metadata={"removed_content": ",".join(sorted(notice["features"]))} if notice else None,  # type: ignore[arg-type]
    )
    if removed is not None:
        removed.update(notice)
    log.info("captured dossier=%s pages=%d bytes=%d", dossier.id, pages, size)
    return dossier


def _store_blob(ctx: AgentContext, name: str, data: bytes) -> tuple[str, int]:
    """Put bytes in the blob store; a full disk is a clear message and an unchanged queue."""
    try:
        return ctx.outbox.blobs.put_bytes(data)
    except OSError as exc:
        raise StorageError("Không ghi được tệp vào ổ đĩa (có thể ổ đầy). Hàng đợi không thay đổi.",
                           f"Could not write {name} to disk ({exc.strerror}); the queue is unchanged.",
                           "Giải phóng dung lượng rồi nhập lại / free disk space and import again") from exc
