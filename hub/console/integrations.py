"""The console's view of the case-system integration (pull acknowledgements, webhook dead
letters), built by another part of the hub (hub.case_system). Imported lazily: a hub without
that module shows "chưa cấu hình / not configured" instead of failing.
"""
from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

from ..state import HubState

log = logging.getLogger("motcua.hub.console.integrations")


def _webhooks() -> ModuleType | None:
    try:
        return importlib.import_module("hub.case_system.webhooks")
    except ModuleNotFoundError:
        return None


def dead_letters(state: HubState, limit: int = 200) -> list[dict[str, Any]] | None:
    """Webhook deliveries that gave up, or None when webhooks are not part of this hub."""
    module = _webhooks()
    if module is None:
        return None
    return [dict(row) for row in module.list_dead_letters(state, limit)]


def replay_dead_letter(state: HubState, dead_letter_id: str, actor: str) -> Any:
    """Queue a dead letter for delivery again; None when webhooks are not part of this hub."""
    module = _webhooks()
    if module is None:
        return None
    return module.replay_dead_letter(state, dead_letter_id, actor)


def dead_letter_id(row: dict[str, Any]) -> str:
    return str(row.get("dead_letter_id", row.get("id", "")))


def acknowledgements(state: HubState, dossier_ids: list[str]) -> dict[str, Any] | None:
    """dossier id -> when the case system acknowledged it, or None while the pull API (and its
    acknowledgement table) is not part of this hub. Point this at the pull API's table once merged."""
    try:
        module = importlib.import_module("hub.case_system.pull")
    except ModuleNotFoundError:
        return None
    lookup = getattr(module, "acknowledged_at", None)
    return lookup(state, dossier_ids) if lookup is not None else None


def unacknowledged(state: HubState, limit: int = 200) -> tuple[list[dict[str, Any]], bool]:
    """Committed dossiers the case system has not acknowledged, oldest first; and whether
    acknowledgements are known at all (False: the oldest committed dossiers are listed)."""
    found: list[dict[str, Any]] = []
    after, known = 0, acknowledgements(state, []) is not None
    while len(found) < limit:
        rows = state.db.query("SELECT dossier_id, dossier_version, dossier_code, procedure_code, site, received_at,"
                              " hub_sequence FROM dossiers WHERE hub_sequence > ? ORDER BY hub_sequence LIMIT 500",
                              (after,))
        if not rows:
            break
        acks = acknowledgements(state, [r["dossier_id"] for r in rows])
        found.extend(r for r in rows if not acks or r["dossier_id"] not in acks)
        after = rows[-1]["hub_sequence"]
    return found[:limit], known
