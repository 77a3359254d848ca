"""Adaptive chunk sizes (pure policy) and the connectivity-aware backoff sleep."""
from __future__ import annotations

import threading
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.delivery.connectivity import LinkWatch
from sync_protocol.chunking import KIB, ChunkPolicy


def test_a_slow_link_gets_small_chunks_and_a_fast_one_big_chunks():
    slow, fast = ChunkPolicy(), ChunkPolicy()
    for _ in range(20):
        slow.record_success(slow.size(), slow.size() / (32 * KIB))          # 256 kbit/s
        fast.record_success(fast.size(), fast.size() / (12_500 * KIB))      # 100 Mbit/s
    assert 64 * KIB <= slow.size() <= 128 * KIB   # ~3 s of a 3G modem: a cut costs at most that
    assert fast.size() == fast.max_size


def test_growth_is_gradual_and_failures_halve_the_chunk():
    policy = ChunkPolicy(initial_size=64 * KIB)
    policy.record_success(64 * KIB, 0.001)  # one lucky fast chunk
    assert policy.size() == 128 * KIB       # at most doubles
    size = policy.size()
    policy.record_failure()
    assert policy.size() == size // 2
    for _ in range(10):
        policy.record_failure()
    assert policy.size() == policy.min_size


def test_budget_follows_throughput_and_state_survives_a_restart():
    policy = ChunkPolicy()
    for _ in range(10):
        policy.record_success(policy.size(), policy.size() / (100 * KIB))
    assert abs(policy.budget_bytes(20) - 20 * 100 * KIB) < 20 * 10 * KIB
    again = ChunkPolicy()
    again.restore(policy.to_json())
    assert again.size() == policy.size() and again.throughput == policy.throughput
    again.restore({"size": "garbage", "throughput": -1})  # a damaged record keeps the defaults
    assert again.size() == policy.size()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.tuples(st.integers(1, 8 << 20), st.floats(0, 60)), st.none()), max_size=60))
def test_size_always_within_bounds_and_aligned(events):
    policy = ChunkPolicy()
    for event in events:
        if event is None:
            policy.record_failure()
        else:
            policy.record_success(*event)
        assert policy.min_size <= policy.size() <= policy.max_size
        assert policy.size() % policy.align == 0


class Probe:
    """A hub that is reachable from a given moment on (a real callable, not a mock of the network)."""

    def __init__(self, reachable_after: float):
        self.start = time.monotonic()
        self.reachable_after = reachable_after
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return time.monotonic() - self.start >= self.reachable_after


def test_backoff_ends_soon_after_the_link_returns():
    watch = LinkWatch(Probe(reachable_after=0.3), probe_interval=0.1, jitter=0.1)
    started = time.monotonic()
    assert watch.wait_or_reconnect(30, threading.Event(), link_down=True) == "reconnected"
    assert time.monotonic() - started < 0.3 + 0.15 + 0.1 + 0.2  # reachable + one probe interval + jitter + slack


def test_a_busy_hub_that_answers_probes_does_not_shorten_the_backoff():
    probe = Probe(reachable_after=0)
    watch = LinkWatch(probe, probe_interval=0.05, jitter=0)
    started = time.monotonic()
    assert watch.wait_or_reconnect(0.4, threading.Event(), link_down=False) == "timeout"
    assert time.monotonic() - started >= 0.39 and probe.calls >= 3


def test_reconnect_jitter_spreads_desks_out_and_stop_is_honoured():
    waits = []
    for seed in range(20):
        values = iter([0.5, seed / 20] * 10)
        watch = LinkWatch(lambda: True, probe_interval=0.01, jitter=0.2, rng=lambda: next(values))
        started = time.monotonic()
        watch.wait_or_reconnect(5, threading.Event(), link_down=True)
        waits.append(time.monotonic() - started)
    assert max(waits) - min(waits) > 0.1
    stop = threading.Event()
    stop.set()
    assert LinkWatch(lambda: False, probe_interval=0.01).wait_or_reconnect(5, stop, link_down=True) == "stopped"
