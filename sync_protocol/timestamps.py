"""The protocol's timestamp form: RFC 3339 in UTC to the second, `YYYY-MM-DDTHH:MM:SSZ`.

Used in manifests, receipts, status events and bundles, and by both ends for
what they store; one formatter and one parser so no copy drifts.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_utc(moment: datetime | float | None = None) -> str:
    """A datetime (aware), a Unix time, or now, as the protocol's timestamp."""
    if moment is None:
        moment = datetime.now(timezone.utc)
    elif not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).strftime(FORMAT)


def parse_utc(text: str) -> datetime:
    """Parse a protocol timestamp into an aware UTC datetime; ValueError if it is not one."""
    return datetime.strptime(text, FORMAT).replace(tzinfo=timezone.utc)


_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def is_timestamp(text: object) -> bool:
    """Is `text` a protocol timestamp naming a real moment (ASCII digits, 2026-02-30 refused)?"""
    if not isinstance(text, str) or not _SHAPE.fullmatch(text):
        return False
    try:
        parse_utc(text)
    except ValueError:
        return False
    return True
