"""Connection-level limits of `motcua hub serve`: dead and stuck TCP connections are dropped.

uvicorn closes a connection idle *between* requests after `timeout_keep_alive`
and, on SIGTERM, waits `timeout_graceful_shutdown` for requests to end. This
module adds what it lacks, as a subclass of uvicorn's HTTP protocol:

* **no progress → drop.** A connection on which, for `no_progress_seconds`, the
  client neither sent a byte nor acknowledged one of ours (Linux TCP_INFO
  counters, sync_protocol.tcp_progress) is aborted — whether it never sent a
  request, stopped half-way through a body, or stopped reading our answer.
  Time the hub itself spends working on a fully received request does not count.
* **the kernel gives up too.** TCP_USER_TIMEOUT (= the same limit) and TCP
  keepalive on every accepted socket, so data or a FIN that a vanished client
  never acknowledges is not retransmitted for minutes (the kernel's default
  orphan retries), and an idle half-open connection is found.
* **dead peers get a RST.** A connection dropped for lack of progress, or still
  open when the shutdown bound is reached, is closed with SO_LINGER 0: freed at
  once, nothing left in FIN-WAIT for a peer that will never answer.
* **shutdown is bounded.** On SIGTERM every connection still open after
  `timeout_graceful_shutdown` (minus a margin) is aborted, so the process ends
  within the bound whatever clients do.

`limits_from_env()` is read in each worker process (uvicorn may spawn workers,
which cannot inherit Python objects), so `hub serve` passes its options in the
environment.
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any

from sync_protocol.tcp_progress import Progress, apply_socket_options, progress, reset_on_close, socket_options

# h11, not httptools: it bounds the headers it buffers (`h11_max_incomplete_event_size`), where
# httptools lets a stranger stream one header without end into the hub's memory (hub.cli serve)
from uvicorn.protocols.http.h11_impl import H11Protocol as _BaseProtocol

log = logging.getLogger("motcua.hub.connections")

NO_PROGRESS_ENV = "MOTCUA_HUB_NO_PROGRESS_SECONDS"
DEFAULT_NO_PROGRESS_SECONDS = 30.0
CHECK_INTERVAL = 1.0


@dataclass(frozen=True)
class ConnectionLimits:
    no_progress_seconds: float = DEFAULT_NO_PROGRESS_SECONDS


def limits_from_env() -> ConnectionLimits:
    raw = os.environ.get(NO_PROGRESS_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_NO_PROGRESS_SECONDS
    except ValueError:
        value = DEFAULT_NO_PROGRESS_SECONDS
    return ConnectionLimits(no_progress_seconds=max(1.0, value))


_LIMITS: ConnectionLimits | None = None


def _limits() -> ConnectionLimits:
    global _LIMITS
    if _LIMITS is None:
        _LIMITS = limits_from_env()
    return _LIMITS


class WatchedHttpProtocol(_BaseProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol plus the limits in the module docstring (pass as `uvicorn.run(http=…)`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._limit = _limits().no_progress_seconds
        self._sock = transport.get_extra_info("socket")
        if self._sock is not None:
            apply_socket_options(self._sock, socket_options(self._limit))
        self._seen: Progress | None = progress(self._sock) if self._sock is not None else None
        self._last_progress = self.loop.time()
        self._watch = self.loop.call_later(CHECK_INTERVAL, self._check)

    def data_received(self, data: bytes) -> None:
        self._last_progress = self.loop.time()  # also the fallback where TCP_INFO is missing
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        watch = getattr(self, "_watch", None)
        if watch is not None:
            watch.cancel()
        super().connection_lost(exc)

    def _hub_is_working(self, now: Progress | None) -> bool:
        """A fully received request whose answer is not written yet: the wait is ours, not the client's."""
        cycle: Any = self.cycle
        return (cycle is not None and not cycle.response_complete and not cycle.more_body
                and (now is None or now.in_flight == 0))

    def _check(self) -> None:
        # A closing transport still counts: close() waits for buffered data a dead peer never reads.
        now_t = self.loop.time()
        now = progress(self._sock) if self._sock is not None else None
        if now is not None and now.moved_since(self._seen):
            self._seen, self._last_progress = now, now_t
        elif self._hub_is_working(now):
            self._last_progress = now_t
        if now_t - self._last_progress >= self._limit:
            log.info("connection_dropped reason=no_progress seconds=%.0f", now_t - self._last_progress)
            self._abort()
            return
        self._watch = self.loop.call_later(CHECK_INTERVAL, self._check)

    def _abort(self) -> None:
        if self._sock is not None:
            reset_on_close(self._sock)
        self.transport.abort()

    def timeout_keep_alive_handler(self) -> None:
        # The client did not acknowledge our last answer: it is gone, a FIN would only be retransmitted.
        now = progress(self._sock) if self._sock is not None else None
        if now is not None and now.in_flight > 0:
            self._abort()
            return
        super().timeout_keep_alive_handler()

    def shutdown(self) -> None:
        super().shutdown()
        bound = getattr(self.config, "timeout_graceful_shutdown", None)
        if bound is not None:
            # Leave uvicorn a margin after the abort to cancel the request's task and exit in time.
            self.loop.call_later(max(0.0, bound - 1.0), self._abort_at_bound)

    def _abort_at_bound(self) -> None:
        if self in self.connections:  # still open (a closing transport may wait forever on a dead peer)
            log.info("connection_dropped reason=shutdown_bound")
            self._abort()
