"""Counters the storage backends keep about themselves, for /metrics and bench/bench_load.py.

Per process, cheap (a lock and an addition), no Prometheus dependency here:
hub.health exposes them. `transactions` counts metadata transactions,
`lock_wait_seconds` the time request threads spent waiting for transaction
locks (PostgreSQL advisory locks), `pool_wait_seconds` the time spent waiting
for a pooled connection, and `object_requests` the object-store HTTP requests
by operation (PutObject, GetObject, ListObjectsV2, …).
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class StorageStats:
    transactions: int = 0
    lock_waits: int = 0
    lock_wait_seconds: float = 0.0
    pool_wait_seconds: float = 0.0
    object_requests: Counter = field(default_factory=Counter)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def transaction(self) -> None:
        with self._guard:
            self.transactions += 1

    def waited_for_lock(self, seconds: float) -> None:
        with self._guard:
            self.lock_waits += 1
            self.lock_wait_seconds += seconds

    def waited_for_pool(self, seconds: float) -> None:
        with self._guard:
            self.pool_wait_seconds += seconds

    def object_request(self, operation: str) -> None:
        with self._guard:
            self.object_requests[operation] += 1

    def snapshot(self) -> dict:
        with self._guard:
            return {"transactions": self.transactions, "lock_waits": self.lock_waits,
                    "lock_wait_seconds": self.lock_wait_seconds, "pool_wait_seconds": self.pool_wait_seconds,
                    "object_requests": dict(self.object_requests)}


#: the process's counters (one hub instance = one process, or one uvicorn worker)
STATS = StorageStats()
