"""Make many small sealed dossiers fast, through the real outbox and the real seal step.

Scanning real pages is the capture tests' job; sync tests need many dossiers
of chosen sizes, so the payload is a real one-page PDF padded with an
incompressible random stream (sealing signs it, so it must be a PDF). Received dates are spread over days so one
device stays under its 999-codes-a-day limit.
"""
from __future__ import annotations

import io
import os
from datetime import datetime, timedelta, timezone

from agent.context import AgentContext
from agent.outbox.store import Dossier
from agent.sealing.seal import seal_dossier


def padded_pdf(size: int) -> bytes:
    """A valid one-page PDF of about `size` bytes (at least ~1 KB)."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.Root.MotcuaTestPadding = pdf.make_indirect(pikepdf.Stream(pdf, os.urandom(max(0, size - 900))))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def make_dossier(ctx: AgentContext, size: int, received_at: datetime | None = None, *, seal: bool = True,
                 due_at: str | None = None) -> Dossier:
    sha, stored = ctx.outbox.blobs.put_bytes(padded_pdf(size))
    dossier = ctx.outbox.add_captured(procedure_code="1.001193", channel="counter",
                                      agency_code=ctx.config.agency_code, code_block=ctx.config.code_block,
                                      documents=[("document-1.pdf", "application/pdf", sha, stored, 1)],
                                      received_at=received_at)
    if due_at is not None:
        with ctx.outbox.transaction() as conn:
            conn.execute("UPDATE dossiers SET due_at=? WHERE id=?", (due_at, dossier.id))
    return seal_dossier(ctx, dossier.id) if seal else dossier


def make_many(ctx: AgentContext, count: int, min_size: int = 2_000, max_size: int = 12_000, *,
              seal: bool = True) -> list[Dossier]:
    """`count` dossiers of random sizes, 500 per received day (newest day = today)."""
    start = datetime.now(timezone.utc) - timedelta(days=count // 500 + 1)
    made = []
    for i in range(count):
        size = min_size + int.from_bytes(os.urandom(4), "big") % max(1, max_size - min_size + 1)
        made.append(make_dossier(ctx, size, start + timedelta(days=i // 500, seconds=i), seal=seal))
    return made
