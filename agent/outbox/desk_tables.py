"""Desk tables in the outbox database (schema step 2): intake records, clock
pauses, status events seen, citizen notifications, courier tasks and delivery proofs.

Personal data (names, ID numbers, phones, addresses) lives only in `intake.data`
and in notification/delivery rows; `purge_personal_data` blanks them once the
result has been handed over and the retention period has passed.
"""
from __future__ import annotations

import sqlite_utils


def create_desk_tables(db: sqlite_utils.Database) -> None:
    """Forward migration to schema 2 (idempotent; runs inside the outbox's migration transaction)."""
    db["intake"].create({
        "dossier_id": str, "code": str, "procedure_code": str, "channel": str, "return_method": str,
        "received_at": str, "processing_days": int, "due_at": str, "calendar_version": str,
        "data": str, "created_at": str, "purged_at": str,
    }, pk="dossier_id", if_not_exists=True)
    db["status_events"].create({
        "cursor": int, "dossier_id": str, "dossier_code": str, "status": int, "status_name": str, "at": str,
        "note": str, "result_ready_for_delivery": int, "received_at": str,
    }, pk="cursor", if_not_exists=True)
    db["status_events"].create_index(["dossier_id"], if_not_exists=True)
    db["clock_pauses"].create({
        "dossier_id": str, "started_at": str, "ended_at": str, "reason": str, "cursor": int,
    }, pk=("dossier_id", "started_at"), if_not_exists=True)
    db["notifications"].create({
        "id": int, "dossier_id": str, "dossier_code": str, "cursor": int, "channel": str, "recipient": str,
        "text": str, "state": str, "attempts": int, "last_error": str, "created_at": str, "sent_at": str,
    }, pk="id", defaults={"attempts": 0}, if_not_exists=True)
    db["notifications"].create_index(["dossier_id", "cursor", "channel"], unique=True, if_not_exists=True)
    db["notifications"].create_index(["state"], if_not_exists=True)
    db["courier_tasks"].create({
        "dossier_id": str, "dossier_code": str, "state": str, "attempts": int, "batch": str, "courier": str,
        "created_at": str, "updated_at": str, "cursor": int,
    }, pk="dossier_id", defaults={"attempts": 0}, if_not_exists=True)
    db["courier_tasks"].create_index(["state"], if_not_exists=True)
    db["delivery_records"].create({
        "id": str, "dossier_id": str, "kind": str, "envelope": str, "document_hash": str, "created_at": str,
        "synced_at": str,
    }, pk="id", if_not_exists=True)
    db["delivery_records"].create_index(["dossier_id"], if_not_exists=True)
