"""Canonical JSON (RFC 8785 style) and sha256 helpers.

Rules: UTF-8; object keys sorted by their UTF-16 code units; no insignificant
whitespace; strings escaped minimally (only `"`, `\\` and control characters);
integers only (no floats), within +/- 2**53-1 so every JSON reader agrees;
no NaN/Infinity; no lone surrogates. The same value always gives the same bytes,
which is what signatures and content hashes are computed over.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, BinaryIO

from .errors import CanonicalJSONError

MAX_SAFE_INTEGER = 2**53 - 1


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"{path}: integer {value} is outside +/-2^53-1")
        return
    if isinstance(value, float):
        raise CanonicalJSONError(f"{path}: floats are not allowed in canonical JSON; use an integer")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CanonicalJSONError(f"{path}: string is not valid Unicode (lone surrogate)") from exc
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: object key {key!r} is not a string")
            _check(key, f"{path}.<key>")
            _check(item, f"{path}.{key}")
        return
    raise CanonicalJSONError(f"{path}: type {type(value).__name__} cannot be encoded as JSON")


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=_utf16_key)}
    if isinstance(value, (list, tuple)):
        return [_sorted(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    """Return the canonical UTF-8 bytes of a JSON-compatible value."""
    _check(value, "$")
    # json.dumps keeps dict insertion order when sort_keys=False; _sorted gives
    # RFC 8785 (UTF-16) order, which differs from Python's code-point order
    # only outside the Basic Multilingual Plane.
    return json.dumps(_sorted(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def parse_canonical(data: bytes) -> Any:
    """Parse JSON bytes and insist they are already canonical (verify on read)."""
    try:
        value = json.loads(data.decode("utf-8"), parse_float=_reject_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CanonicalJSONError(f"not valid UTF-8 JSON: {exc}") from exc
    if canonical_json(value) != data:
        raise CanonicalJSONError("JSON is valid but not in canonical form")
    return value


def _reject_float(text: str) -> Any:
    raise CanonicalJSONError(f"floats are not allowed in canonical JSON: {text}")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(stream: BinaryIO, chunk_size: int = 1 << 20) -> tuple[str, int]:
    """Hash a binary stream from its current position; return (hex digest, byte count)."""
    digest = hashlib.sha256()
    size = 0
    while True:
        block = stream.read(chunk_size)
        if not block:
            return digest.hexdigest(), size
        digest.update(block)
        size += len(block)

