"""Dossier identifiers.

* `new_dossier_id()`: a UUIDv7 (RFC 9562) — time-ordered, unique without coordination.
* `dossier_code()`: the national-style code `<agency code>-<YYMMDD>-<NNNN>`.
  NNNN = code_block * 1000 + n, where the hub gave this device its own block
  (0-9) within the agency at enrolment and n counts 1..999 per day on this
  device, so devices of one agency never collide while offline. The day is the
  Vietnamese calendar day (UTC+7; Vietnam has no daylight saving).
"""
from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timedelta, timezone

from sync_protocol.timestamps import format_utc

VIETNAM = timezone(timedelta(hours=7), "ICT")
PER_DEVICE_DAILY_LIMIT = 999


def new_dossier_id(now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62 | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def vietnam_day(moment: datetime) -> str:
    """YYMMDD of the moment in Vietnam."""
    return moment.astimezone(VIETNAM).strftime("%y%m%d")


def dossier_code(agency_code: str, day: str, code_block: int, daily_number: int) -> str:
    if not 1 <= daily_number <= PER_DEVICE_DAILY_LIMIT:
        raise ValueError(f"daily number {daily_number} outside 1..{PER_DEVICE_DAILY_LIMIT}")
    if not 0 <= code_block <= 9:
        raise ValueError(f"code block {code_block} outside 0..9")
    return f"{agency_code}-{day}-{code_block * 1000 + daily_number:04d}"


def utc_timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 UTC to the second, the protocol's timestamp form."""
    return format_utc(moment)
