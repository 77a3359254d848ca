"""Prometheus families for this process's storage counters (hub.storage.stats).

Counted by this instance only (unlike the database gauges, which every
instance reads alike): metadata transactions, time request threads waited for
transaction locks and for pooled database connections, and object-store
requests by S3 operation. bench/bench_load.py divides them by dossiers.
"""
from __future__ import annotations

from typing import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from .storage.stats import STATS


class StorageStatsCollector(Collector):
    def collect(self) -> Iterator[CounterMetricFamily]:
        snap = STATS.snapshot()
        yield CounterMetricFamily("motcua_hub_db_transactions", "Metadata database transactions and autocommit statements",
                                  value=snap["transactions"])
        yield CounterMetricFamily("motcua_hub_db_lock_waits", "Transaction locks taken", value=snap["lock_waits"])
        yield CounterMetricFamily("motcua_hub_db_lock_wait_seconds", "Time spent waiting for transaction locks",
                                  value=snap["lock_wait_seconds"])
        yield CounterMetricFamily("motcua_hub_db_pool_wait_seconds", "Time spent waiting for a pooled connection",
                                  value=snap["pool_wait_seconds"])
        requests = CounterMetricFamily("motcua_hub_object_store_requests", "Object store requests by S3 operation",
                                       labels=["operation"])
        for operation, count in sorted(snap["object_requests"].items()):
            requests.add_metric([operation], count)
        yield requests
