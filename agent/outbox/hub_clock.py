"""The hub's clock as this desk knows it: kept in the outbox, read whenever a dossier is taken in.

The hub client measures the offset at every contact (sync_protocol.clock via
DeviceAuth); `ClockRecorder.offer` keeps the tightest measurement in the
outbox's device state, so every process on the desk — `motcua run`, the web UI,
a `motcua import` — stamps the same corrected time. Writes are throttled: only
a measurement that changes what is known by more than `MIN_CHANGE` seconds, or
refreshes one older than `REFRESH_SECONDS`, costs a (synced) transaction.

`intake_time()` is the one source of a new dossier's `received_at` and of the
note the manifest carries about it (docs/protocol.md "Legal time").
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sync_protocol.clock import ClockOffset, better, clock_note, corrected

if TYPE_CHECKING:
    from agent.outbox.store import Outbox

log = logging.getLogger("motcua.agent.clock")

STATE_KEY = "clock:hub"
MIN_CHANGE = 0.25
REFRESH_SECONDS = 600.0


def known_offset(outbox: "Outbox") -> ClockOffset | None:
    """The kept measurement, or None when this desk has never measured the hub's clock."""
    raw = outbox.get_state(STATE_KEY)
    if not raw:
        return None
    try:
        return ClockOffset.from_json(json.loads(raw))
    except ValueError:
        return None


def intake_time(outbox: "Outbox", device_now: float | None = None) -> tuple[datetime, dict[str, Any]]:
    """(received_at, clock note) for a dossier taken in now: the device clock corrected by the hub's."""
    device_now = time.time() if device_now is None else device_now
    known = known_offset(outbox)
    return (datetime.fromtimestamp(corrected(known, device_now), timezone.utc).replace(microsecond=0),
            clock_note(known, device_now))


class ClockRecorder:
    """Receives every measurement from the hub client and keeps the best one in the outbox."""

    def __init__(self, outbox: "Outbox"):
        self.outbox = outbox
        self.kept = known_offset(outbox)
        # the outbox's SQLite connection belongs to the thread that opened it; a measurement made on
        # another thread (the sync's sender, agent.delivery.dossier_upload) waits for the next one here
        self._owner = threading.get_ident()

    def offer(self, measured: ClockOffset) -> None:
        if threading.get_ident() != self._owner:
            return
        chosen = better(self.kept, measured)
        if chosen is self.kept:
            return
        kept = self.kept
        if kept is not None and abs(chosen.offset - kept.offset) < MIN_CHANGE and \
                kept.uncertainty_at(chosen.learned_at) - chosen.uncertainty < MIN_CHANGE and \
                chosen.learned_at - kept.learned_at < REFRESH_SECONDS:
            return
        self.kept = chosen
        try:
            with self.outbox.transaction():
                self.outbox.set_state(STATE_KEY, json.dumps(chosen.to_json()))
        except Exception as exc:  # noqa: BLE001 - a busy outbox must never fail the request that measured
            log.warning("clock_offset_not_saved error=%s", type(exc).__name__)
            return
        log.info("hub_clock offset=%.1fs uncertainty=%.2fs", chosen.offset, chosen.uncertainty)
