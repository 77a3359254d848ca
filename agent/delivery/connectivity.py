"""Connectivity awareness: a cheap probe of the hub, and a backoff sleep that ends when the link returns.

While the sync loop backs off (tenacity: exponential, full jitter, capped), it
sleeps through `wait_or_reconnect`, which probes `GET /v1/hello` every
`probe_interval` seconds (itself jittered by ±25 %). The sleep ends early when
the hub answers again after being unreachable — either the pass failed on the
link itself (connection refused, reset, timeout), or a probe during this sleep
failed and a later one succeeded — and then only after `random(0, jitter)`
seconds, so 500 desks that see a provincial outage end together do not all
reconnect in the same second. A hub that answers but refuses work (5xx, 429)
does not shorten the backoff: that is load, not a dead link.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import requests

from agent.context import AgentContext

log = logging.getLogger("motcua.agent.connectivity")


def probe_hub(ctx: AgentContext, timeout: float = 5.0) -> bool:
    """True when the hub answers its unauthenticated hello (a few hundred bytes)."""
    try:
        response = ctx.hub.session.get(ctx.hub.url("/v1/hello"), timeout=timeout)
        return response.status_code == 200 and response.json().get("service") == "motcua-hub"
    except (requests.RequestException, ValueError, AttributeError):
        return False


@dataclass
class LinkWatch:
    """Probe-driven sleeping; `probe` returns True when the hub is reachable."""

    probe: Callable[[], bool]
    probe_interval: float = 3.0
    jitter: float = 3.0
    rng: Callable[[], float] = field(default=random.random)
    clock: Callable[[], float] = field(default=time.monotonic)
    #: monotonic time the last wait noticed the hub back (for figures/tests)
    reconnected_at: float | None = None

    def wait_or_reconnect(self, seconds: float, stop: threading.Event, link_down: bool) -> str:
        """Sleep up to `seconds`. Returns 'stopped', 'reconnected' or 'timeout'."""
        deadline = self.clock() + seconds
        seen_down = False
        while True:
            left = deadline - self.clock()
            if left <= 0:
                return "timeout"
            step = min(left, self.probe_interval * (0.75 + 0.5 * self.rng()))
            if stop.wait(step):
                return "stopped"
            if self.clock() >= deadline:
                return "timeout"
            if self.probe():
                if link_down or seen_down:
                    self.reconnected_at = self.clock()
                    pause = min(self.jitter * self.rng(), max(0.0, deadline - self.clock()))
                    log.info("hub_reachable_again retry_in=%.1fs", pause)
                    return "stopped" if stop.wait(pause) else "reconnected"
            else:
                seen_down = True
