"""Progress watchdog: a request stuck on a dead TCP connection is abandoned as soon as it is stuck.

A link cut that outlasts TCP's retransmission back-off leaves the request in
flight on a connection that may not move again for tens of seconds after the
link returns. The watchdog follows the socket of every request the agent makes
(through `WatchedAdapter`, a requests HTTPAdapter) and reads the kernel's
counters (sync_protocol.tcp_progress): bytes the hub acknowledged, bytes it sent.

* No progress for `stall_seconds` → the request is *stalled*: the watchdog
  probes the hub on a new connection (`GET /v1/hello`, a few hundred bytes,
  unsigned) every `probe_interval` seconds, concurrently with the stuck request.
* The probe answers (the link is up) and the stuck connection still has bytes
  the hub has not acknowledged — or the probe failed earlier during this request
  (the answer may have been lost in the cut) → the connection is shut down, the
  blocked request fails at once, and `recovered()` tells the caller it may retry
  right away: the probe's fresh connection is back in the pool, so the retry
  (tus HEAD, then the next chunk) starts about one round trip after the link returned.
* All our bytes acknowledged and the link never seen down: the hub is working
  (e.g. opening a big dossier); the ordinary timeout still bounds the wait.

The sockets also carry TCP_USER_TIMEOUT and keepalive, so the kernel gives up
on a dead hub too. Where the kernel has no TCP_INFO (Windows), the watchdog
does nothing and the timeouts alone apply.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from sync_protocol.tcp_progress import Progress, progress, socket_options

log = logging.getLogger("motcua.agent.watchdog")

TICK = 0.2
#: time for a retransmitted segment and its acknowledgement to show in the counters
RETRANSMIT_GRACE = 0.4


@dataclass
class _Watch:
    """One request being watched."""

    started: float
    connection: Any = None
    seen: Progress | None = None
    last_progress: float = 0.0
    link_seen_down: bool = False
    probing: bool = False
    last_probe: float = float("-inf")
    aborted: bool = False
    #: the hub answered while this connection's retransmission was due soon: abort only if it stays stuck past this
    abort_after: float | None = None


@dataclass
class StallWatchdog:
    """Watches the request each thread has in flight; see the module docstring."""

    probe: Callable[[], bool]
    stall_seconds: float = 3.0
    probe_interval: float = 0.5
    #: after the hub answered, wait for the stuck connection's own retransmission if it is due within this
    retransmit_patience: float = 1.0
    clock: Callable[[], float] = field(default=time.monotonic)
    #: requests abandoned because they were stuck while the hub answered (figures, tests)
    aborts: int = 0

    def __post_init__(self) -> None:
        self._local = threading.local()
        self._watches: dict[int, _Watch] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- the caller's side -----------------------------------------------------------------
    @contextmanager
    def watching(self) -> Iterator[None]:
        """Watch the request this thread makes inside the block (probes are never watched)."""
        if getattr(self._local, "probing", False):
            yield
            return
        watch = _Watch(started=self.clock(), last_progress=self.clock())
        self._local.watch = watch
        self._local.recovered = False
        with self._lock:
            self._watches[threading.get_ident()] = watch
            self._ensure_thread()
        try:
            yield
        finally:
            with self._lock:
                self._watches.pop(threading.get_ident(), None)
            self._local.watch = None
            self._local.recovered = watch.aborted

    def attach(self, connection: Any) -> None:
        """The connection this thread's watched request is about to use (called by WatchedAdapter's connections)."""
        watch = getattr(self._local, "watch", None)
        if watch is not None:
            watch.connection = connection

    def recovered(self) -> bool:
        """True when this thread's last request was abandoned by the watchdog *because the hub answered a probe*:
        the link is up again and the request may be repeated at once."""
        return bool(getattr(self._local, "recovered", False))

    # -- the watching thread ---------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="motcua-watchdog", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(TICK)
            with self._lock:
                if not self._watches:
                    self._thread = None  # idle: the next watched request starts a new thread
                    return
                watches = list(self._watches.values())
            for watch in watches:
                self._check(watch)

    def _check(self, watch: _Watch) -> None:
        sock = getattr(watch.connection, "sock", None)
        if sock is None or watch.aborted:
            return
        now_t = self.clock()
        now = progress(sock)
        if now is None:
            return  # no counters on this OS: the plain timeouts apply
        if now.moved_since(watch.seen):
            watch.seen, watch.last_progress, watch.abort_after = now, now_t, None
            return
        if watch.abort_after is not None:
            if now_t >= watch.abort_after:
                self._abort(watch, sock, now)
            return
        if now_t - watch.last_progress < self.stall_seconds:
            return
        if watch.probing or now_t - watch.last_probe < self.probe_interval:
            return
        watch.probing, watch.last_probe = True, now_t
        threading.Thread(target=self._probe_for, args=(watch, sock), name="motcua-probe", daemon=True).start()

    def _probe_for(self, watch: _Watch, sock: Any) -> None:
        self._local.probing = True
        try:
            answered = self.probe()
        except Exception:  # a probe must never take the watchdog down
            answered = False
        finally:
            watch.probing = False
        if not answered:
            if not watch.link_seen_down:
                log.info("request_stalled link=down")
            watch.link_seen_down = True
            return
        now = progress(sock)
        if now is None or now.moved_since(watch.seen):
            return  # it moved meanwhile
        if now.in_flight == 0 and not watch.link_seen_down:
            # everything acknowledged and the link up all along: the hub is working; probe less often
            watch.last_probe = self.clock() + self.stall_seconds
            return
        if 0 < now.retransmit_in <= self.retransmit_patience:
            # the kernel retransmits very soon: that costs less than re-sending the whole chunk on a new connection
            watch.abort_after = self.clock() + now.retransmit_in + RETRANSMIT_GRACE
            return
        self._abort(watch, sock, now)

    def _abort(self, watch: _Watch, sock: Any, now: Progress) -> None:
        watch.aborted = True
        self.aborts += 1
        log.info("request_abandoned reason=stalled_while_hub_answers in_flight=%d", now.in_flight)
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # wakes the blocked send/recv (TLS too)
        except OSError:
            pass


class _WatchedConnectionMixin:
    watchdog: StallWatchdog | None = None

    def request(self, *args: Any, **kwargs: Any) -> Any:
        if self.watchdog is not None:
            self.watchdog.attach(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


def _pool_classes(watchdog: StallWatchdog) -> dict[str, type]:
    http_conn = type("WatchedHTTPConnection", (_WatchedConnectionMixin, HTTPConnection), {"watchdog": watchdog})
    https_conn = type("WatchedHTTPSConnection", (_WatchedConnectionMixin, HTTPSConnection), {"watchdog": watchdog})
    return {"http": type("WatchedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("WatchedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})}


class WatchedAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter whose sockets carry TCP_USER_TIMEOUT + keepalive and whose requests the watchdog follows."""

    def __init__(self, watchdog: StallWatchdog | None, user_timeout_seconds: float = 30.0, **kwargs: Any):
        self.watchdog = watchdog
        self.user_timeout_seconds = user_timeout_seconds
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["socket_options"] = HTTPConnection.default_socket_options + socket_options(self.user_timeout_seconds)
        super().init_poolmanager(*args, **kwargs)
        if self.watchdog is not None:
            self.poolmanager.pool_classes_by_scheme = _pool_classes(self.watchdog)
