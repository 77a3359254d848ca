"""`motcua watch`: the hot folder feeding the capture pipeline (see scanners.hotfolder).

Each settled file is one stack: split at its cover sheets (or, with a
procedure code, one dossier if it has none) and queued. The file's content
hash is stored with its dossiers in the same transaction, so a file seen
again after a crash or restart is recognised and only moved to done/.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from agent.capture.stacks import capture_files
from agent.context import AgentContext
from scanners.hotfolder import Consumed, HotFolder

log = logging.getLogger("motcua.agent.hotfolder")


def hot_folder(ctx: AgentContext, inbox: Path, *, procedure_code: str | None = None, channel: str = "counter",
               settle_seconds: float | None = None, poll_interval: float = 2.0) -> HotFolder:
    """A HotFolder over `inbox` whose handler queues each stack as dossiers."""
    ctx.config.require_enrolled()

    def handle(path: Path) -> str:
        outcome = capture_files(ctx, [path], procedure_code=procedure_code, channel=channel)
        codes = [d.code for d in outcome.dossiers]
        if outcome.already_captured:
            return "already captured: " + ", ".join(outcome.already_captured + codes)
        removed = outcome.removed_content
        return "captured: " + ", ".join(codes) + (f" — {removed['message_en']}" if removed else "")

    settle = ctx.config.settings.hotfolder_settle_seconds if settle_seconds is None else settle_seconds
    return HotFolder(Path(inbox), handle, settle_seconds=settle, poll_interval=poll_interval)


def watch(ctx: AgentContext, inbox: Path, stop: threading.Event, *, procedure_code: str | None = None,
          channel: str = "counter", on_consumed: Callable[[Consumed], None] | None = None,
          use_inotify: bool = True) -> None:
    """Run the hot folder until `stop` is set."""
    hot_folder(ctx, inbox, procedure_code=procedure_code, channel=channel).run(stop, on_consumed, use_inotify)
