"""Parsing untrusted numbers and JSON without surprises: never a 5xx, never unbounded work.

* `header_int` / `ascii_int`: ASCII digits only (`"²".isdigit()` is true in
  Python, `int("²")` fails), at most 19 digits and within a range — so a
  5,000-digit number or a cursor past 2^63 is a 400, not an overflow deep in
  the database driver.
* `loads_bounded`: `json.loads` after a linear scan that refuses nesting deeper
  than MAX_JSON_DEPTH (Python's parser recurses and raises RecursionError on
  deep input, which no caller expects). Raises ValueError like `json.loads`.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .errors import BadRequest

MAX_INT64 = 2**63 - 1
MAX_JSON_DEPTH = 32
_DIGITS = re.compile(r"[0-9]{1,19}")
_OPEN, _CLOSE, _QUOTE, _BACKSLASH = frozenset(b"[{"), frozenset(b"]}"), ord('"'), ord("\\")


def ascii_int(value: str | None, name: str, maximum: int = MAX_INT64, minimum: int = 0) -> int:
    """`value` as an integer in minimum..maximum, or BadRequest naming `name`."""
    if value is None or not _DIGITS.fullmatch(value.strip()) or not minimum <= int(value) <= maximum:
        shown = (value or "")[:24]
        raise BadRequest(f"{name} must be ASCII digits in {minimum}..{maximum} (got {shown!r})",
                         f"{name} phải là số (chữ số ASCII) trong khoảng {minimum}..{maximum}", code="bad_number")
    return int(value)


def json_depth_ok(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Does `body` nest arrays/objects at most `max_depth` deep? (Strings are skipped, escapes honoured.)"""
    if body.count(b"[") + body.count(b"{") <= max_depth:  # the usual case: no scan needed
        return True
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > max_depth:
                return False
        elif byte in _CLOSE:
            depth -= 1
    return True


def loads_bounded(body: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads`, refusing (ValueError) input nested deeper than `max_depth`."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if not json_depth_ok(raw, max_depth):
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(body)
