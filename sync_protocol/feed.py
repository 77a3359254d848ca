"""The status feed format (hub -> agent): per-site status events with a monotonic cursor.

One event, as JSON (see also agent/desk/notifications.py and docs/protocol.md):

    {"cursor": 17, "dossier_id": "<uuid>", "dossier_code": "000.00.01.H29-261127-0001",
     "status": 9, "status_name": "decided", "at": "2026-11-27T08:00:00Z",
     "note": "<short text, no personal data>", "result_ready_for_delivery": true}

* `cursor` is a positive integer assigned by the hub, strictly increasing in
  the order events were recorded. An agent asks for events after the highest
  cursor it has stored (`GET /v1/feed?after=N&limit=M`), so it sees every
  event of its site exactly once, in order, whatever the link does.
* `status` is the national portal status code 1..10 (STATUS_NAMES).
* `at` is when the status changed in the provincial case system (UTC).
A feed page is `{"events": [...], "next_after": N, "more": bool}`.

Event kinds: a status change has no `kind`. A courier's failed delivery attempt is
`"kind": "delivery_failed"` with the dossier's unchanged status and an `attempt` object
(`record_id` of the courier's signed proof, `reason`, `note`, `next_attempt`, `attempt`);
the hub sends it only to agents that list the kind in `GET /v1/feed?kinds=delivery_failed`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .delivery_proof import check_failure
from .errors import InvalidDocument

#: national portal status codes used by provincial systems (DESIGN.md): code -> (name, Vietnamese name)
STATUS_NAMES: dict[int, tuple[str, str]] = {
    1: ("new", "Mới tiếp nhận"),
    2: ("accepted", "Đã tiếp nhận"),
    3: ("not_accepted", "Không tiếp nhận"),
    4: ("processing", "Đang xử lý"),
    5: ("supplement_requested", "Yêu cầu bổ sung"),
    6: ("fees_requested", "Yêu cầu thực hiện nghĩa vụ tài chính"),
    7: ("withdrawn", "Công dân xin rút"),
    8: ("stopped", "Dừng xử lý"),
    9: ("decided", "Đã xử lý xong"),
    10: ("returned", "Đã trả kết quả"),
}
STATUS_CODES = {name: code for code, (name, _) in STATUS_NAMES.items()}
MAX_NOTE = 500
FEED_PAGE_MAX = 500

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")
_FIELDS = {"cursor", "dossier_id", "dossier_code", "status", "status_name", "at", "note", "result_ready_for_delivery"}
DELIVERY_FAILED = "delivery_failed"
#: kinds beyond plain status changes that this side understands (sent as ?kinds= to the hub)
EVENT_KINDS = (DELIVERY_FAILED,)
_ATTEMPT_FIELDS = {"record_id", "reason", "note", "next_attempt", "attempt"}


def status_code(value: Any) -> int:
    """Accept a code (1..10, int or digit string) or a status name; raise InvalidDocument naming the field."""
    if isinstance(value, str) and value in STATUS_CODES:
        return STATUS_CODES[value]
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in STATUS_NAMES:
        return value
    raise InvalidDocument(f"status: {value!r} is not a national status code 1..10 or one of {sorted(STATUS_CODES)}")


@dataclass(frozen=True)
class StatusEvent:
    cursor: int
    dossier_id: str
    dossier_code: str
    status: int
    at: str
    note: str = ""
    result_ready_for_delivery: bool = False
    #: only on a "delivery_failed" event: what the courier signed (see check_attempt)
    attempt: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return DELIVERY_FAILED if self.attempt is not None else "status"

    @property
    def status_name(self) -> str:
        return STATUS_NAMES[self.status][0]

    @property
    def status_name_vi(self) -> str:
        return STATUS_NAMES[self.status][1]

    def to_dict(self) -> dict[str, Any]:
        data = {"cursor": self.cursor, "dossier_id": self.dossier_id, "dossier_code": self.dossier_code,
                "status": self.status, "status_name": self.status_name, "at": self.at, "note": self.note,
                "result_ready_for_delivery": self.result_ready_for_delivery}
        if self.attempt is not None:  # status events keep their exact old shape
            data.update(kind=DELIVERY_FAILED, attempt=self.attempt)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "StatusEvent":
        """Validate one event; unknown fields are refused so a format change is noticed."""
        if not isinstance(data, dict):
            raise InvalidDocument("event: must be an object")
        missing, extra = _FIELDS - set(data), set(data) - _FIELDS - {"status_name_vi", "kind", "attempt"}
        if missing or extra:
            raise InvalidDocument(f"event: missing {sorted(missing)} / unknown {sorted(extra)} field(s)")
        cursor = data["cursor"]
        if not isinstance(cursor, int) or isinstance(cursor, bool) or cursor < 1:
            raise InvalidDocument("event.cursor: must be a positive integer")
        if not isinstance(data["dossier_id"], str) or not _UUID.match(data["dossier_id"]):
            raise InvalidDocument(f"event.dossier_id: {data['dossier_id']!r} is not a lower-case UUID")
        if not isinstance(data["dossier_code"], str) or not 0 < len(data["dossier_code"]) <= 64:
            raise InvalidDocument("event.dossier_code: must be a non-empty string")
        status = status_code(data["status"])
        if data["status_name"] != STATUS_NAMES[status][0]:
            raise InvalidDocument(f"event.status_name: {data['status_name']!r} does not match status {status}")
        if not isinstance(data["at"], str) or not _TIMESTAMP.match(data["at"]):
            raise InvalidDocument("event.at: must be YYYY-MM-DDTHH:MM:SSZ")
        if not isinstance(data["note"], str) or len(data["note"]) > MAX_NOTE:
            raise InvalidDocument(f"event.note: must be a string of at most {MAX_NOTE} characters")
        if not isinstance(data["result_ready_for_delivery"], bool):
            raise InvalidDocument("event.result_ready_for_delivery: must be true or false")
        attempt = None
        if "kind" in data or "attempt" in data:
            if data.get("kind") != DELIVERY_FAILED:
                raise InvalidDocument(f"event.kind: {str(data.get('kind'))[:40]!r} is not one of {EVENT_KINDS}")
            attempt = check_attempt(data.get("attempt"))
        return cls(cursor, data["dossier_id"], data["dossier_code"], status, data["at"], data["note"],
                   data["result_ready_for_delivery"], attempt)


def check_attempt(attempt: Any) -> dict[str, Any]:
    """The `attempt` of a delivery_failed event: exactly its fields, each checked."""
    if not isinstance(attempt, dict) or set(attempt) != _ATTEMPT_FIELDS:
        raise InvalidDocument(f"event.attempt: an object with exactly {sorted(_ATTEMPT_FIELDS)}")
    if not isinstance(attempt["record_id"], str) or not _UUID.match(attempt["record_id"]):
        raise InvalidDocument("event.attempt.record_id: must be a lower-case UUID")
    number = attempt["attempt"]
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 99:
        raise InvalidDocument("event.attempt.attempt: an integer 1..99")
    check_failure(attempt["reason"], attempt["note"], attempt["next_attempt"], "event.attempt")
    return attempt


def parse_page(data: Any) -> tuple[list[StatusEvent], int, bool]:
    """Validate a feed page; events must be in strictly increasing cursor order."""
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise InvalidDocument("feed page: must be an object with an 'events' list")
    events = [StatusEvent.from_dict(e) for e in data["events"]]
    for before, after in zip(events, events[1:]):
        if after.cursor <= before.cursor:
            raise InvalidDocument("feed page: cursors must increase strictly")
    next_after = data.get("next_after", events[-1].cursor if events else 0)
    if not isinstance(next_after, int) or isinstance(next_after, bool) or next_after < 0:
        raise InvalidDocument("feed page: next_after must be a non-negative integer")
    return events, next_after, bool(data.get("more", False))
