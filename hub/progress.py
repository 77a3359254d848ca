"""Progress of long operations (hub backup/restore, the desk's `motcua sync`): a tqdm bar on a terminal, plain log lines otherwise.

    with progress_reporter("sync", total=n, unit="B") as report:
        report(done, total)          # absolute position; total may change

On a TTY (stderr) a tqdm bar is drawn; under systemd, cron or a pipe nothing
is drawn and a grep-able line `progress op=sync done=… total=… pct=…` is
logged at INFO at most every `every_seconds` and at the end, so journals are
not flooded. `force` overrides detection ("bar" / "log"), for tests.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import time
from typing import Callable, Iterator

log = logging.getLogger("motcua.progress")
log.setLevel(logging.INFO)  # shown even when the CLI logs only warnings: these lines are the non-TTY progress

Report = Callable[[int, int], None]


def is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def progress_reporter(operation: str, total: int = 0, unit: str = "it", *, force: str | None = None,
                      every_seconds: float = 5.0) -> Iterator[Report]:
    """Yield `report(done, total)`; draws a bar or logs lines (see module docstring)."""
    mode = force or ("bar" if is_terminal() else "log")
    if mode == "bar":
        from tqdm import tqdm

        bar = tqdm(total=total or None, desc=operation, unit=unit, unit_scale=unit == "B", leave=True,
                   file=sys.stderr, dynamic_ncols=True)

        def report_bar(done: int, new_total: int) -> None:
            if new_total and bar.total != new_total:
                bar.total = new_total
            bar.update(max(0, done - bar.n))

        try:
            yield report_bar
        finally:
            bar.close()
        return

    state = {"done": 0, "total": total, "logged_at": 0.0, "logged_done": -1}

    def emit() -> None:
        done, tot = state["done"], state["total"]
        pct = f"{100.0 * done / tot:.0f}" if tot else "?"
        log.info("progress op=%s done=%d total=%d unit=%s pct=%s", operation, done, tot, unit, pct)
        state["logged_at"], state["logged_done"] = time.monotonic(), done

    def report_log(done: int, new_total: int) -> None:
        state["done"], state["total"] = done, new_total or state["total"]
        if time.monotonic() - state["logged_at"] >= every_seconds:
            emit()

    try:
        yield report_log
    finally:
        if state["logged_done"] != state["done"] or state["done"] == 0:
            emit()
