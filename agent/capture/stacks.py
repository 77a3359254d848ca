"""Stacks: cover sheets out, scanned stacks in — split into dossiers and queued.

`print_cover_sheet` reserves a dossier code and writes the A4 cover sheet
holding it as a QR code. `capture_stack` runs a scanned stack (from the
scanner, a hot folder or files) through the pipeline; each part behind a cover
sheet becomes that reserved dossier, an uncovered stack becomes one new
dossier when a procedure code is given. The whole stack is checked before
anything is stored, so a held stack (unreadable cover, unknown code) queues
nothing. Every dossier records its `source` (file sha256 or scan batch id):
capturing the same source again is a no-op, which is what makes the hot
folder and `scan --continue` safe to repeat after a crash.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from agent.capture.files import check_procedure_and_channel, pipeline_options
from agent.context import AgentContext
from agent.crashpoints import crash_point
from agent.errors import InputError, StorageError
from agent.outbox.store import Dossier
from scanners.cover_sheets import DOSSIER, SEPARATOR, cover_sheet_pdf
from scanners.errors import BatchHeld, CaptureError
from scanners.file_import import inspect_files, open_pages, removed_content
from scanners.pages import Page
from scanners.pipeline import BatchResult, PartResult, PipelineOptions, run_pipeline
from sync_protocol.castore import write_file_atomic

log = logging.getLogger("motcua.agent.batch_capture")


@dataclass
class StackOutcome:
    """What capturing one stack did."""

    dossiers: list[Dossier] = field(default_factory=list)
    already_captured: list[str] = field(default_factory=list)
    blank_pages: list[int] = field(default_factory=list)
    cover_pages: list[int] = field(default_factory=list)
    #: active content left out of PDF inputs (scanners.file_import.removed_content), {} if none
    removed_content: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"dossiers": [d.summary() for d in self.dossiers], "already_captured": self.already_captured,
                "blank_pages": self.blank_pages, "cover_pages": self.cover_pages,
                "removed_content": self.removed_content}


def print_cover_sheet(ctx: AgentContext, procedure_code: str, channel: str, output: Path,
                      received_at: datetime | None = None) -> dict[str, str]:
    """Reserve a dossier code and write its cover sheet PDF to `output`."""
    config = ctx.config.require_enrolled()
    check_procedure_and_channel(procedure_code, channel)
    code = ctx.outbox.reserve_code(agency_code=config.agency_code, code_block=config.code_block,
                                   details={"procedure_code": procedure_code, "channel": channel},
                                   received_at=received_at)
    lines = (f"Thủ tục / procedure: {procedure_code}", f"Kênh / channel: {channel}")
    _write(output, cover_sheet_pdf(DOSSIER, code, lines))
    log.info("cover_sheet_printed code=%s", code)
    return {"code": code, "procedure_code": procedure_code, "channel": channel, "file": str(output)}


def print_separator_sheet(label: str, output: Path) -> dict[str, str]:
    """Write a document separator sheet (starts a new document named `label` inside a dossier)."""
    try:
        pdf = cover_sheet_pdf(SEPARATOR, label, ("Tài liệu / document: " + label,))
    except ValueError as exc:
        raise InputError(f"Tên tài liệu {label!r} không hợp lệ (chỉ a-z, 0-9, '-').", str(exc)) from exc
    _write(output, pdf)
    return {"label": label, "file": str(output)}


def _write(output: Path, data: bytes) -> None:
    try:
        write_file_atomic(Path(output), data)
    except OSError as exc:
        raise StorageError(f"Không ghi được tệp {output}.", f"Cannot write {output}: {exc.strerror}",
                           "Chọn thư mục khác / choose another folder") from exc


def capture_stack(ctx: AgentContext, pages: list[Page], source: str, *, procedure_code: str | None = None,
                  channel: str = "counter", options: PipelineOptions | None = None) -> StackOutcome:
    """Split a scanned stack at its cover sheets and queue each part as its dossier (see module doc)."""
    config = ctx.config.require_enrolled()
    if procedure_code is not None:
        check_procedure_and_channel(procedure_code, channel)
    options = options or pipeline_options(ctx, allow_uncovered=procedure_code is not None)
    outcome = StackOutcome()
    done = {d.code: d for d in ctx.outbox.find_by_source(source)}
    try:
        result = run_pipeline(pages, options)
    except CaptureError as exc:
        raise _input_error(exc) from exc
    outcome.blank_pages, outcome.cover_pages = result.blank_pages, result.cover_pages
    plans = _plan(ctx, result, done, procedure_code, channel)
    for part, details in plans:
        if details is None:
            outcome.already_captured.append(part.code or next(iter(done)))
            continue
        documents = []
        for document in part.documents:
            try:
                sha, size = ctx.outbox.blobs.put_bytes(document.pdf)
            except OSError as exc:
                raise StorageError("Không ghi được tệp vào ổ đĩa (có thể ổ đầy).",
                                   f"Could not write {document.name} to disk ({exc.strerror}).",
                                   "Giải phóng dung lượng rồi quét/nhập lại / free disk space and retry") from exc
            documents.append((document.name, "application/pdf", sha, size, document.pages))
        crash_point("after_capture_blob")
        dossier = ctx.outbox.add_captured(
            procedure_code=details["procedure_code"], channel=details["channel"], agency_code=config.agency_code,
            code_block=config.code_block, documents=documents, code=part.code,
            received_at=datetime.fromisoformat(details["received_at"].replace("Z", "+00:00"))
            if details.get("received_at") else None,
            metadata={"source": source, "cover_page": str(part.cover_page or "")})
        outcome.dossiers.append(dossier)
        log.info("captured dossier=%s pages=%d documents=%d", dossier.id, part.page_count, len(documents))
    return outcome


def _plan(ctx: AgentContext, result: BatchResult, done: dict[str, Dossier], procedure_code: str | None,
          channel: str) -> list[tuple[PartResult, dict[str, str] | None]]:
    """Check every part before storing anything: (part, capture details) or (part, None) if already captured."""
    plans: list[tuple[PartResult, dict[str, str] | None]] = []
    for part in result.parts:
        if part.code is None:
            if done:  # this uncovered source was captured before
                plans.append((part, None))
            else:
                plans.append((part, {"procedure_code": procedure_code or "", "channel": channel}))
            continue
        if part.code in done:
            plans.append((part, None))
            continue
        details = ctx.outbox.reservation(part.code)
        if details is None and procedure_code is not None:
            # a page whose QR holds a dossier code inside a stack the officer said was one dossier:
            # it may be two citizens' papers; never merge them on a guess
            raise _input_error(BatchHeld(part.cover_page or 0, f"a page carries the dossier code {part.code} "
                                         "(a cover sheet from another system); the stack may hold several dossiers",
                                         f"có trang mang mã hồ sơ {part.code} (phiếu tách của hệ thống khác); "
                                         "tập quét có thể gồm nhiều hồ sơ", reason="dossier_code_in_stack"))
        if details is None:
            raise _input_error(BatchHeld(part.cover_page or 0, f"cover sheet {part.code} was not issued by this desk "
                                         "or its dossier is already captured",
                                         f"phiếu tách hồ sơ {part.code} không do máy này in hoặc hồ sơ đã được quét",
                                         reason="cover_unknown"))
        plans.append((part, details))
    return plans


def _input_error(exc: CaptureError) -> InputError:
    error = InputError(exc.message_vi, exc.message_en, exc.hint)
    error.capture_error = exc  # type: ignore[attr-defined]
    return error


def file_source_id(paths: list[Path]) -> str:
    """Identity of a set of input files: sha256 over their contents, in order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        digest.update(b"\0")
    return "sha256:" + digest.hexdigest()


def capture_files(ctx: AgentContext, paths: list[Path], *, procedure_code: str | None = None,
                  channel: str = "counter") -> StackOutcome:
    """Files (one stack, in order) → dossiers, split at cover sheets."""
    try:
        items = inspect_files(list(paths))
    except CaptureError as exc:
        raise _input_error(exc) from exc
    source = file_source_id([i.path for i in items])
    with open_pages(items) as pages:
        outcome = capture_stack(ctx, pages, source, procedure_code=procedure_code, channel=channel)
    outcome.removed_content = removed_content(items)
    return outcome
