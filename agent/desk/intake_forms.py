"""Rendered intake forms: one idempotency key per form shown to an officer, and the scans attached to it.

Never twice: a double click, a refresh or a resent form arrives with the same key; the first
POST claims the key (`open` → `submitting`), the intake marks it `done` with the dossier id in the
same transaction as the intake record (agent.desk.intake.save_intake), and every later POST
with that key is answered with that dossier. A POST that finds the key `submitting` waits for
the first to finish. A claim left `submitting` by a crashed process is taken over after
`STALE_CLAIM`.

Scans uploaded with a form are kept under `<home>/forms/<key>/` until the intake succeeds (then
deleted) or the form expires (`FORM_TTL`), so an officer who must fix a field never attaches
them again. The directory holds personal data: mode 0700, purged with the form.
"""
from __future__ import annotations

import logging
import re
import secrets
import shutil
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from agent.context import AgentContext
from agent.errors import InputError
from sync_protocol.castore import write_file_atomic
from sync_protocol.timestamps import format_utc, parse_utc

log = logging.getLogger("motcua.agent.intake_forms")
FORM_TTL = timedelta(hours=24)
STALE_CLAIM = timedelta(minutes=10)
_KEY = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_SUFFIXES = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}


def forms_dir(ctx: AgentContext) -> Path:
    return ctx.config.home / "forms"


def new_form(ctx: AgentContext, username: str) -> str:
    """A fresh form key for `username`; also drops forms (and their scans) older than FORM_TTL."""
    key = secrets.token_urlsafe(24)
    now = datetime.now(timezone.utc)
    with ctx.outbox.transaction() as conn:
        stale = [r[0] for r in conn.execute("SELECT form_key FROM intake_forms WHERE created_at < ?",
                                            (format_utc(now - FORM_TTL),))]
        conn.execute("DELETE FROM intake_forms WHERE created_at < ?", (format_utc(now - FORM_TTL),))
        conn.execute("INSERT INTO intake_forms(form_key, username, state, created_at, updated_at) VALUES (?,?,?,?,?)",
                     (key, username, "open", format_utc(now), format_utc(now)))
    for old in stale:
        shutil.rmtree(forms_dir(ctx) / old, ignore_errors=True)
    return key


def _check_key(ctx: AgentContext, key: str, username: str) -> tuple[str, str | None, str]:
    row = ctx.outbox.conn.execute("SELECT state, dossier_id, updated_at, username FROM intake_forms WHERE form_key=?",
                                  (key,)).fetchone() if _KEY.match(key or "") else None
    if row is None or row[3] != username:
        raise InputError("Phiếu nhập này đã hết hạn hoặc không phải của bạn; mở lại trang Tiếp nhận.",
                         "This form has expired or is not yours; open the intake page again.")
    return row[0], row[1], row[2]


def keep_scans(ctx: AgentContext, key: str, username: str, uploads: list[tuple[str, bytes]]) -> None:
    """Store newly attached scans with the form (kept across validation errors)."""
    _check_key(ctx, key, username)
    folder = forms_dir(ctx) / key
    start = len(kept_scans(ctx, key))
    for i, (filename, data) in enumerate(uploads, start):
        suffix = Path(filename).suffix.lower()
        target = folder / f"scan-{i:03d}{suffix if suffix in _SUFFIXES else '.bin'}"
        write_file_atomic(target, data, mode=0o600)
    if folder.exists():
        folder.chmod(0o700)


def kept_scans(ctx: AgentContext, key: str) -> list[Path]:
    folder = forms_dir(ctx) / key
    return sorted(folder.glob("scan-*")) if _KEY.match(key or "") and folder.is_dir() else []


def drop_scans(ctx: AgentContext, key: str, names: list[str]) -> None:
    """Remove scans the officer unticked (names as listed by kept_scans)."""
    for path in kept_scans(ctx, key):
        if path.name in names:
            path.unlink(missing_ok=True)


def claim(ctx: AgentContext, key: str, username: str, wait_seconds: float = 300) -> str | None:
    """Claim the form for one submission: None if claimed (go ahead), else the dossier id it already made.

    Waits while another request is submitting the same form."""
    deadline = time.monotonic() + wait_seconds
    while True:
        state, dossier_id, updated = _check_key(ctx, key, username)
        if state == "done":
            return dossier_id
        now = datetime.now(timezone.utc)
        if state == "open" or parse_utc(updated) < now - STALE_CLAIM:
            with ctx.outbox.transaction() as conn:
                took = conn.execute("UPDATE intake_forms SET state='submitting', updated_at=? WHERE form_key=?"
                                    " AND state=? AND updated_at=?", (format_utc(now), key, state, updated)).rowcount
            if took:
                return None
        if time.monotonic() > deadline:
            raise InputError("Phiếu này đang được gửi ở một cửa sổ khác; chờ rồi tải lại trang.",
                             "This form is being submitted in another window; wait, then reload.")
        time.sleep(0.2)


def release(ctx: AgentContext, key: str) -> None:
    """The submission failed (bad field, bad scan): the form is open again, its scans kept."""
    with ctx.outbox.transaction() as conn:
        conn.execute("UPDATE intake_forms SET state='open', updated_at=? WHERE form_key=? AND state='submitting'",
                     (format_utc(), key))


def mark_done(conn: sqlite3.Connection, key: str, dossier_id: str) -> None:
    """Inside the intake's transaction: the form made `dossier_id`."""
    conn.execute("UPDATE intake_forms SET state='done', dossier_id=?, updated_at=? WHERE form_key=?",
                 (dossier_id, format_utc(), key))


def finish(ctx: AgentContext, key: str) -> None:
    """After a successful intake: the kept scans are in the dossier now, delete them here."""
    shutil.rmtree(forms_dir(ctx) / key, ignore_errors=True)
