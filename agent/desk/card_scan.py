"""The chip ID card from the desk's scanners: the flatbed (one SANE scan from the intake form's
"Quét thẻ CCCD" button) and the hot folder's `card/` subfolder (a network scanner's drop).

Both decode the card's QR with agent.desk.idcard and never keep the image: the flatbed scan is
read in a private temporary directory and deleted, unless the chosen procedure asks for a copy of
the ID paper (then it is attached to the form like any other scan); a hot-folder image is deleted
once read (scanners.hotfolder `delete_consumed`). A hot-folder read waits for the intake form in
`<home>/card_reads/` (mode 0700) for `CARD_READ_TTL` and is deleted when an officer takes it or
when it expires. Logs say only that a card was read, never what it holds.
"""
from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from PIL import Image

from agent.context import AgentContext
from agent.desk import intake_forms
from agent.desk.idcard import CardUnreadable, QrUnreadable, decode_card_image
from agent.errors import InputError
from scanners.errors import CaptureError
from scanners.hotfolder import HotFolder
from scanners.sane import ScanSettings, scan_into, scanned_pages
from sync_protocol.castore import write_file_atomic
from sync_protocol.timestamps import format_utc, parse_utc

log = logging.getLogger("motcua.agent.card_scan")
#: the hot folder's subfolder for chip ID card images
CARD_SUBFOLDER = "card"
#: a card read from the hot folder is offered to the intake form for this long
CARD_READ_TTL = timedelta(minutes=5)
#: documents whose name says the procedure wants a copy of the applicant's ID paper
_ID_COPY = re.compile(r"giấy tờ tùy thân|căn cước|cccd|chứng minh nhân dân", re.IGNORECASE)
_READ_ID = re.compile(r"^[0-9TZ]{16}-[A-Za-z0-9_-]{8,}$")


def needs_card_copy(ctx: AgentContext, procedure_code: str | None) -> bool:
    """Does the procedure's document list ask for the applicant's ID paper (so a copy of the card is kept)?"""
    from agent.desk.catalogue import Catalogue

    if not procedure_code:
        return False
    try:
        procedure = Catalogue.for_home(ctx.config.home).get(procedure_code)
    except InputError:
        return False
    return any(_ID_COPY.search(name) for name in procedure.documents)


# -- the flatbed ---------------------------------------------------------------------------------------------
def card_scan_settings(ctx: AgentContext) -> ScanSettings:
    """One page from the desk's card scanner, only the corner of the glass where the card lies."""
    s = ctx.config.settings
    width, height = s.card_scan_area_mm
    return ScanSettings(device=s.card_scanner, resolution=s.card_scan_resolution, mode=s.card_scan_mode,
                        batch_count=1, options=("-l", "0", "-t", "0", "-x", str(width), "-y", str(height)))


def scan_card_image(ctx: AgentContext, env: dict[str, str] | None = None) -> bytes:
    """Scan the card on the flatbed (scanimage) and return the image as PNG bytes; nothing stays on disk."""
    work = ctx.config.home / "card_scan" / secrets.token_hex(8)
    work.mkdir(parents=True, mode=0o700)
    try:
        try:
            scan_into(work, card_scan_settings(ctx), env)
        except CaptureError as exc:  # no scanner, cover open, busy: the officer can still type the fields
            raise InputError(f"Không quét được thẻ: {exc.message_vi}.", f"The card could not be scanned: {exc.message_en}.",
                             exc.hint) from exc
        pages = scanned_pages(work)
        if not pages:
            raise InputError("Máy quét không trả về trang nào.", "The scanner returned no page.")
        with Image.open(pages[0]) as image:
            out = io.BytesIO()
            image.save(out, "PNG")
        return out.getvalue()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fill_from_card_image(ctx: AgentContext, image: bytes, *, form_key: str, username: str,
                         procedure_code: str | None = None) -> dict[str, str]:
    """The intake fields from a scanned card image; a copy joins the form's scans only when the procedure
    needs one, else the image is dropped. CardUnreadable (with what to do) when no CCCD QR is found."""
    try:
        card = decode_card_image(image)
    except QrUnreadable:  # the scanner's answer had no readable QR at all: say how to place the card
        raise CardUnreadable("Không thấy mã QR trên bản quét: đặt mặt trước thẻ úp lên góc kính rồi quét lại, "
                             "hoặc nhập tay các ô.",
                             "No QR found in the scan: put the card's front face down in the corner of the "
                             "glass and scan again, or type the fields.") from None
    fields = card.form_fields()
    if needs_card_copy(ctx, procedure_code):
        before = {p.name for p in intake_forms.kept_scans(ctx, form_key)}
        intake_forms.keep_scans(ctx, form_key, username, [("the-id-card.png", image)])
        fields["card_copy_kept"] = next(p.name for p in intake_forms.kept_scans(ctx, form_key) if p.name not in before)
    log.info("card_scanned source=flatbed copy_kept=%d", int("card_copy_kept" in fields))
    return fields


def scan_and_fill(ctx: AgentContext, *, form_key: str, username: str, procedure_code: str | None = None,
                  env: dict[str, str] | None = None,
                  source: Callable[[AgentContext, dict[str, str] | None], bytes] = scan_card_image) -> dict[str, str]:
    """What the intake form's "Quét thẻ CCCD" button runs: one scan from `source`, decoded and filled."""
    return fill_from_card_image(ctx, source(ctx, env), form_key=form_key, username=username,
                                procedure_code=procedure_code)


# -- the hot folder ------------------------------------------------------------------------------------------
def card_reads_dir(ctx: AgentContext) -> Path:
    return ctx.config.home / "card_reads"


def _save_read(ctx: AgentContext, entry: dict[str, Any]) -> None:
    _reads(ctx)  # drop expired reads first
    folder = card_reads_dir(ctx)
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "Z"
    entry = {"id": f"{stamp}-{secrets.token_urlsafe(9)}", "at": format_utc(), **entry}
    write_file_atomic(folder / f"{entry['id']}.json", json.dumps(entry, ensure_ascii=False).encode("utf-8"), mode=0o600)


def read_dropped_card(ctx: AgentContext, path: Path) -> str:
    """Hot-folder handler for one card image: decode it and leave the result for the intake form.

    A damaged QR is recorded too (so the form says so) and raised, so the watcher reports it."""
    try:
        card = decode_card_image(path.read_bytes())
    except CardUnreadable as exc:
        _save_read(ctx, {"error_vi": exc.message_vi, "error_en": exc.message_en})
        log.info("card_dropped ok=0")
        raise
    _save_read(ctx, {"fields": card.form_fields()})
    log.info("card_dropped ok=1")
    return "thẻ đã đọc, chờ ở trang Tiếp nhận / card read, waiting on the intake page"


def card_hot_folder(ctx: AgentContext, inbox: Path, *, settle_seconds: float | None = None,
                    poll_interval: float = 2.0) -> HotFolder:
    """The `card/` subfolder of the hot folder `inbox`: each image is read, then deleted."""
    settle = ctx.config.settings.hotfolder_settle_seconds if settle_seconds is None else settle_seconds
    return HotFolder(Path(inbox) / CARD_SUBFOLDER, lambda path: read_dropped_card(ctx, path), settle_seconds=settle,
                     poll_interval=poll_interval, delete_consumed=True)


def _reads(ctx: AgentContext) -> list[tuple[Path, dict[str, Any]]]:
    """Unexpired reads, newest first; expired ones are deleted on the way."""
    folder = card_reads_dir(ctx)
    if not folder.is_dir():
        return []
    oldest = datetime.now(timezone.utc) - CARD_READ_TTL
    found = []
    for path in sorted(folder.glob("*.json"), reverse=True):
        try:
            entry = json.loads(path.read_text("utf-8"))
            fresh = parse_utc(entry["at"]) >= oldest
        except (OSError, ValueError, KeyError):
            fresh = False
        if fresh:
            found.append((path, entry))
        else:
            path.unlink(missing_ok=True)
    return found


def purge_expired_card_reads(ctx: AgentContext) -> None:
    """Delete card reads older than CARD_READ_TTL (run after each delivery pass and before each new read)."""
    _reads(ctx)


def latest_card_read(ctx: AgentContext) -> dict[str, Any] | None:
    """The most recent card read from the hot folder within CARD_READ_TTL, without its personal data:
    {"id", "at", "ok"} plus the error messages when the QR could not be read."""
    reads = _reads(ctx)
    if not reads:
        return None
    entry = reads[0][1]
    return {"id": entry["id"], "at": entry["at"], "ok": "fields" in entry,
            **{k: entry[k] for k in ("error_vi", "error_en") if k in entry}}


def take_card_read(ctx: AgentContext, read_id: str) -> dict[str, str]:
    """The fields of one card read, handed to the officer once: the read is deleted as it is taken."""
    path = card_reads_dir(ctx) / f"{read_id}.json"
    if not _READ_ID.match(read_id or "") or path not in {p for p, _ in _reads(ctx)}:
        raise InputError("Thẻ vừa quét đã được dùng hoặc đã hết hạn; quét lại thẻ.",
                         "The card just scanned was already used or has expired; scan it again.")
    claimed = path.with_name(f".taken-{secrets.token_hex(6)}")
    try:
        os.rename(path, claimed)  # atomic: of two officers taking the same read, one gets it
    except FileNotFoundError:
        raise InputError("Thẻ vừa quét đã được dùng; quét lại thẻ.", "The card just scanned was already used.") from None
    try:
        entry = json.loads(claimed.read_text("utf-8"))
    finally:
        claimed.unlink(missing_ok=True)
    if "fields" not in entry:
        raise CardUnreadable(entry["error_vi"], entry["error_en"])
    return entry["fields"]
