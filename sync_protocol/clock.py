"""Legal time: the desk's clock corrected by the hub's, and the note a manifest carries about it (pure).

A desk PC's clock may be minutes or hours wrong. At every contact the agent
learns the offset of the hub's clock from the `Date` header of the answer
(1 s resolution): the hub stamped it at some instant between sending the
request (`sent`, device clock) and receiving the answer (`answered`), so

    offset      = Date + 0.5 s − (sent + answered) / 2       (hub − device)
    uncertainty = 0.5 s + (answered − sent) / 2

A new measurement replaces the kept one when it is at least as tight as the
kept one has become by now: a kept offset loses `DRIFT_PPM` of its age in
precision (a PC clock drifts, or is reset by hand).

The manifest's `received_at` is then `device time + offset`, and its optional
`clock` member says how that time was derived (docs/protocol.md "Legal time"):

    {"source": "hub", "offset_ms": …, "uncertainty_ms": …, "age_s": …}   corrected by the hub's clock
    {"source": "device"}                                                  offset never learned: desk clock as is

All members are integers (canonical JSON has no floats).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import InvalidDocument

#: precision a kept offset loses per second of age (100 ppm: 0.36 s an hour, 8.6 s a day)
DRIFT_PPM = 100
SOURCES = ("hub", "device")


@dataclass(frozen=True)
class ClockOffset:
    """What the device knows of the hub's clock."""

    offset: float        # seconds to add to the device clock to get hub time
    uncertainty: float   # ± seconds, at the time it was learned
    learned_at: float    # device Unix time of the measurement

    def uncertainty_at(self, device_now: float) -> float:
        return self.uncertainty + max(0.0, device_now - self.learned_at) * DRIFT_PPM / 1e6

    def to_json(self) -> dict[str, float]:
        return {"offset": self.offset, "uncertainty": self.uncertainty, "learned_at": self.learned_at}

    @classmethod
    def from_json(cls, data: Any) -> "ClockOffset | None":
        try:
            return cls(float(data["offset"]), float(data["uncertainty"]), float(data["learned_at"]))
        except (TypeError, KeyError, ValueError):
            return None


def measure(date_seconds: float, sent: float, answered: float) -> ClockOffset:
    """The offset told by one answer whose `Date` is `date_seconds`, for a request sent at `sent` and
    answered at `answered` (both device Unix time)."""
    round_trip = max(0.0, answered - sent)
    return ClockOffset(offset=date_seconds + 0.5 - (sent + answered) / 2, uncertainty=0.5 + round_trip / 2,
                       learned_at=answered)


def better(kept: ClockOffset | None, new: ClockOffset) -> ClockOffset:
    """The measurement to keep: `new` unless `kept` is still tighter after its drift allowance — or
    `new` if the two disagree beyond both uncertainties (a clock was reset: the old offset is void)."""
    if kept is None or new.uncertainty <= kept.uncertainty_at(new.learned_at):
        return new
    if abs(new.offset - kept.offset) > new.uncertainty + kept.uncertainty_at(new.learned_at):
        return new
    return kept


def clock_note(known: ClockOffset | None, device_now: float) -> dict[str, Any]:
    """The manifest's `clock` member for a dossier received at `device_now` (device clock)."""
    if known is None:
        return {"source": "device"}
    return {"source": "hub", "offset_ms": round(known.offset * 1000),
            "uncertainty_ms": round(known.uncertainty_at(device_now) * 1000),
            "age_s": max(0, round(device_now - known.learned_at))}


def corrected(known: ClockOffset | None, device_now: float) -> float:
    """Hub time for device time `device_now` (the device's own time while the offset is unknown)."""
    return device_now + (known.offset if known is not None else 0.0)


def check_clock_note(note: Any, where: str = "manifest.clock") -> dict[str, Any]:
    """Validate a `clock` member; raise InvalidDocument naming what is wrong."""
    if not isinstance(note, dict):
        raise InvalidDocument(f"{where}: must be an object")
    source = note.get("source")
    if source not in SOURCES:
        raise InvalidDocument(f"{where}.source: {source!r} is not one of {list(SOURCES)}")
    expected = {"source"} if source == "device" else {"source", "offset_ms", "uncertainty_ms", "age_s"}
    if set(note) != expected:
        raise InvalidDocument(f"{where}: for source {source!r} the members are exactly {sorted(expected)}")
    for name in expected - {"source"}:
        value = note[name]
        if not isinstance(value, int) or isinstance(value, bool) or (name != "offset_ms" and value < 0):
            raise InvalidDocument(f"{where}.{name}: must be an integer" + ("" if name == "offset_ms" else " >= 0"))
    return dict(note)
