"""Adaptive chunk sizing for resumable uploads (pure: no clock, no I/O).

The hub makes every acknowledged chunk durable, so a link cut costs at most
the chunk in flight. Small chunks waste little on a bad link; big chunks waste
less on per-request overhead on a good one. `ChunkPolicy` aims each chunk at
`target_seconds` of transfer at the observed throughput:

  * after an acknowledged chunk of `n` bytes that took `t` seconds, the
    throughput estimate moves towards `n / t` (EWMA, weight `alpha`) and the
    next chunk may grow by at most `growth` times (slow start, so one lucky
    fast chunk does not bet a huge chunk on a link that just came back);
  * after a failed chunk the size halves (multiplicative decrease) and the
    throughput estimate is halved too, so a flapping link converges to
    `min_size` chunks;
  * the size is always a multiple of `align` within [min_size, max_size].

The caller measures time (it owns the clock) and tells the policy what
happened; `size()` is what to send next. `budget_bytes(seconds)` turns the
estimate into a byte budget for fair sharing of the link between dossiers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

KIB = 1024


@dataclass
class ChunkPolicy:
    """Chunk size that follows observed throughput; failures shrink it."""

    min_size: int = 16 * KIB
    max_size: int = 4 * 1024 * KIB
    initial_size: int = 64 * KIB
    target_seconds: float = 3.0
    alpha: float = 0.4
    growth: float = 2.0
    align: int = 4 * KIB
    #: bytes/second; None until the first chunk is measured
    throughput: float | None = None
    _size: int = field(default=0, repr=False)
    failures_in_a_row: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.min_size <= self.max_size:
            raise ValueError("need 0 < min_size <= max_size")
        if self.align <= 0 or self.target_seconds <= 0 or not 0 < self.alpha <= 1 or self.growth < 1:
            raise ValueError("align, target_seconds must be > 0, alpha in (0, 1], growth >= 1")
        self._size = self._clamp(self.initial_size)

    def _clamp(self, size: float) -> int:
        aligned = int(size) // self.align * self.align
        return max(self.min_size, min(self.max_size, aligned))

    def size(self) -> int:
        """Bytes to put in the next chunk."""
        return self._size

    def __call__(self) -> int:
        """A policy is also a plain `() -> int` chunk-size callable."""
        return self._size

    def record_success(self, nbytes: int, seconds: float) -> None:
        """A chunk of `nbytes` was acknowledged `seconds` after it was started."""
        if nbytes <= 0:
            return
        self.failures_in_a_row = 0
        rate = nbytes / max(seconds, 1e-3)
        self.throughput = rate if self.throughput is None else (1 - self.alpha) * self.throughput + self.alpha * rate
        wanted = self.throughput * self.target_seconds
        # A chunk shorter than the current size (the tail of an object) says little about a bigger one.
        ceiling = max(self._size, nbytes) * self.growth
        self._size = self._clamp(min(wanted, ceiling))

    def record_failure(self) -> None:
        """The chunk in flight was lost (timeout, reset, 5xx)."""
        self.failures_in_a_row += 1
        self._size = self._clamp(self._size / 2)
        if self.throughput is not None:
            self.throughput /= 2

    def budget_bytes(self, seconds: float, minimum: int = 256 * KIB) -> int:
        """About `seconds` worth of link at the estimated throughput (at least `minimum`)."""
        rate = self.throughput if self.throughput is not None else self._size / self.target_seconds
        return max(minimum, int(rate * seconds))

    def to_json(self) -> dict[str, float | int | None]:
        """What to persist so a restarted agent starts from what it learned."""
        return {"size": self._size, "throughput": self.throughput}

    def restore(self, data: dict) -> None:
        """Resume from `to_json()` output; garbage is ignored (the defaults stay)."""
        try:
            size = int(data.get("size", self._size))
            throughput = data.get("throughput")
            self._size = self._clamp(size)
            self.throughput = float(throughput) if throughput is not None and float(throughput) > 0 else None
        except (TypeError, ValueError, AttributeError):
            return
