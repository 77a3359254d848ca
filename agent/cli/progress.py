"""`motcua sync`'s progress: bytes of the whole queue, drawn by hub.progress's reporter (a bar on a
terminal, grep-able log lines otherwise)."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from hub.progress import progress_reporter


@contextlib.contextmanager
def sync_progress(ctx: "AgentContext", *, force: str | None = None) -> Iterator[Callable[[str, int, int], None] | None]:  # noqa: F821
    """An `on_progress(code, offset, length)` for sync_once showing bytes of the whole queue (None if empty)."""
    total = sum(d.size_bytes or 0 for d in ctx.outbox.deliverable())
    if total <= 0:
        yield None
        return
    with progress_reporter("sync", total, "B", force=force) as report:
        position = {"done": 0, "offset": 0, "length": 0}

        def on_progress(_: str, offset: int, length: int) -> None:
            if offset < position["offset"] or length != position["length"]:  # another object started
                position["done"] += position["offset"]
            position["offset"], position["length"] = offset, length
            report(min(total, position["done"] + offset), total)

        yield on_progress
