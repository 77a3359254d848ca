"""The audit-log entry format shared by the hub and the agent: append-only and hash-chained.

An entry records who (a device id or an operator login) did what (an action
name) to which dossier (its id), and when — never personal data: `detail`
holds only short codes, ids, hashes and counts, and `check_detail` refuses
anything else. Each entry carries the hash of the one before it:

    entry_hash = sha256(canonical_json({seq, at, actor, action, dossier_id, detail, prev_hash}))

with prev_hash of entry 1 = 64 zeros. Editing, deleting or reordering any
entry breaks every hash after it, which `verify_entries` reports.
"""
from __future__ import annotations

import getpass
import os
import re
from typing import Any, Iterable

from .canonical import canonical_json, sha256_hex

GENESIS = "0" * 64
_ACTION = re.compile(r"^[a-z][a-z0-9_.]{1,63}$")
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: detail values are ids, codes, hashes, counts: short and free of spaces, so a name or an address cannot fit
_DETAIL_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+=-]{0,128}$")
FIELDS = ("seq", "at", "actor", "action", "dossier_id", "detail", "prev_hash")


def check_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """Refuse detail that could carry personal data (free text, long values)."""
    for key, value in detail.items():
        if not _DETAIL_KEY.match(key):
            raise ValueError(f"audit detail key {key!r} is not a short identifier")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError(f"audit detail {key}: only short strings and integers")
        if isinstance(value, str) and not _DETAIL_VALUE.match(value):
            raise ValueError(f"audit detail {key}: free text is not allowed (no personal data in the audit log)")
    return detail


def make_entry(seq: int, at: int, actor: str, action: str, dossier_id: str | None, detail: dict[str, Any],
               prev_hash: str) -> dict[str, Any]:
    """Build one entry (with its entry_hash) after the entry whose hash is `prev_hash`."""
    if not _ACTION.match(action):
        raise ValueError(f"audit action {action!r} is not a dotted identifier")
    if not _DETAIL_VALUE.match(actor) or not actor:
        raise ValueError("audit actor must be a device id or a login")
    entry = {"seq": seq, "at": at, "actor": actor, "action": action, "dossier_id": dossier_id,
             "detail": check_detail(dict(detail)), "prev_hash": prev_hash}
    entry["entry_hash"] = entry_hash(entry)
    return entry


def entry_hash(entry: dict[str, Any]) -> str:
    return sha256_hex(canonical_json({k: entry[k] for k in FIELDS}))


def verify_entries(entries: Iterable[dict[str, Any]]) -> list[str]:
    """Check a whole log in order; return problems found (empty list: intact)."""
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    for entry in entries:
        if entry["seq"] != expected_seq:
            problems.append(f"seq {entry['seq']}: expected {expected_seq} (entry missing or reordered)")
        if entry["prev_hash"] != prev:
            problems.append(f"seq {entry['seq']}: prev_hash does not match the previous entry")
        if entry_hash(entry) != entry["entry_hash"]:
            problems.append(f"seq {entry['seq']}: entry was altered (hash mismatch)")
        prev, expected_seq = entry["entry_hash"], entry["seq"] + 1
    return problems


def login_actor(prefix: str) -> str:
    """`<prefix>:<login>` for the person running this process: MOTCUA_OPERATOR, else the OS
    login, reduced to safe characters (an actor name, never free text)."""
    try:
        login = os.environ.get("MOTCUA_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return f"{prefix}:" + "".join(c for c in login if c.isalnum() or c in "._-")[:40]
