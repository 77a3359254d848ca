"""Named crash points in the hub: where a test may SIGKILL a hub instance to prove crash safety.

Set MOTCUA_HUB_CRASH_AT to a comma-separated list of point names; the hub kills
itself with SIGKILL (no cleanup, like `kill -9` or a power cut) the first time
it reaches one. Unset in production, a crash point costs one environment lookup.
The agent has its own list (agent/crashpoints.py); the hub never imports agent/.
"""
from __future__ import annotations

import os
import signal

ENV = "MOTCUA_HUB_CRASH_AT"

#: the steps of finishing an upload (hub.upload_completion), in order
POINTS = (
    "upload_last_chunk_durable",  # the last chunk has arrived (the bytes before it are durable); offset not yet moved
    "upload_staged",              # the whole upload is assembled locally; not yet in the object store
    "upload_adopted",             # the object is in the object store; offset and owner not yet recorded
    "upload_recorded",            # offset, finished_at and owner committed; upload bytes not yet deleted
)


def crash_point(name: str) -> None:
    wanted = os.environ.get(ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
