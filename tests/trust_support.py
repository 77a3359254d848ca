"""Helpers shared by the trust tests (test_trust_*, test_hostile_*, test_audit*, test_tls*).

`captured_dossier` queues a dossier straight into the real outbox with a small
real PDF, so these tests do not depend on the scanning pipeline's state.
"""
from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import pikepdf

from agent.context import AgentContext
from agent.outbox.store import Dossier

#: a made-up applicant: the log-scan test looks for these and must find none
APPLICANT = {"name": "Nguyễn Thị Hoà Bình", "id_number": "079190012345", "phone": "0912345678"}


def small_pdf(text: str = "GIAY KHAI SINH (MAU)", pages: int = 1) -> bytes:
    pdf = pikepdf.new()
    for n in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
        stream = pikepdf.Stream(pdf, f"BT /F1 12 Tf 72 770 Td ({text} {n + 1}) Tj ET".encode("latin-1"))
        pdf.pages[-1].Contents = stream
    buffer = io.BytesIO()
    pdf.save(buffer, deterministic_id=True)
    return buffer.getvalue()


def captured_dossier(ctx: AgentContext, data: bytes | None = None, procedure: str = "1.001193",
                     metadata: dict[str, str] | None = None, media_type: str = "application/pdf") -> Dossier:
    data = data if data is not None else small_pdf()
    sha, size = ctx.outbox.blobs.put_bytes(data)
    return ctx.outbox.add_captured(procedure_code=procedure, channel="counter", agency_code=ctx.config.agency_code,
                                   code_block=ctx.config.code_block,
                                   documents=[("document-1" + (".pdf" if media_type == "application/pdf" else ".jpg"),
                                               media_type, sha, size, 1)],
                                   metadata=metadata)


def blob_files(home: Path) -> list[Path]:
    return [p for p in (home / "blobs").rglob("*") if p.is_file() and p.parent.name != "tmp"]


def hub_rows(data_dir: Path, sql: str, params: tuple = ()) -> list[dict]:
    conn = sqlite3.connect(data_dir / "hub.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def signed_manifest_json(ctx: AgentContext, dossier_id: str) -> dict:
    return json.loads(ctx.outbox.get(dossier_id).signed_manifest or "{}")
