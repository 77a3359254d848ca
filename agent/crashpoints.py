"""Named crash points: where a test may SIGKILL the agent to prove crash safety.

Set MOTCUA_CRASH_AT to a comma-separated list of point names; the agent kills
itself with SIGKILL (no cleanup, like a power cut) the first time it reaches
one. Unset in production, a crash point costs one dictionary lookup.
"""
from __future__ import annotations

import os
import signal

POINTS = (
    "after_capture_blob",   # blob written, dossier row not yet
    "before_seal_commit",   # manifest built and signed, transaction not committed
    "after_upload_create",  # hub created the upload, URL not yet stored locally
    "after_first_chunk",    # one chunk acknowledged
    "after_upload",         # all bytes at the hub, commit not sent
    "after_commit_sent",    # hub committed, receipt not stored locally
    "before_purge",         # receipt stored, payload not yet deleted
)


def crash_point(name: str) -> None:
    wanted = os.environ.get("MOTCUA_CRASH_AT")
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
