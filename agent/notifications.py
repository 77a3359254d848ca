"""Citizen notifications and courier work derived from hub status events.

`on_status_event(ctx, event)` is called by the status feed (agent/feed.py) once
per new event, after the event is stored. Status event format (hub -> agent):

    {"cursor": 17, "dossier_id": "<uuid>", "dossier_code": "000.00.01.H29-261127-0001",
     "status": 9, "status_name": "decided", "at": "2026-11-27T08:00:00Z",
     "note": "<short text, no personal data>", "result_ready_for_delivery": true}

`status` uses the national portal codes 1..10 (see DESIGN.md).
"""
from __future__ import annotations

from typing import Any


def on_status_event(ctx: Any, event: dict[str, Any]) -> None:
    """Turn one status event into notification records / courier tasks (filled in by the desk-workflow work)."""
    return None
