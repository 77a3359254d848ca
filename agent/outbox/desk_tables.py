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
    # failed attempts couriers' phones filed at the hub, learnt from the feed (one row per signed proof)
    db["courier_attempts"].create({
        "record_id": str, "dossier_id": str, "cursor": int, "at": str, "reason": str, "note": str,
        "next_attempt": str, "attempt": int, "received_at": str,
    }, pk="record_id", if_not_exists=True)
    db["courier_attempts"].create_index(["dossier_id"], if_not_exists=True)


#: the applicant fields the desk search index holds, kept in step with `intake` by triggers
_SEARCH_ROW = ("new.dossier_id, new.code, coalesce(json_extract(new.data, '$.applicant.applicant_name'), ''),"
               " coalesce(json_extract(new.data, '$.applicant.citizen_id'), ''),"
               " coalesce(json_extract(new.data, '$.applicant.phone'), '')")


def create_people_tables(db: sqlite_utils.Database) -> None:
    """Forward migration to schema 4: desk accounts and their sessions, browsers trusted for PIN login,
    rendered intake forms (idempotency keys), and the FTS5 search index over the desk's intakes.

    The search index is filled by triggers on `intake`, so it changes in the same transaction as
    the row (and a purge of personal data empties it too)."""
    db["desk_users"].create({
        "username": str, "full_name": str, "role": str, "secret_kind": str, "secret_hash": str, "disabled": int,
        "failed": int, "locked_until": str, "created_at": str, "updated_at": str,
    }, pk="username", defaults={"disabled": 0, "failed": 0}, if_not_exists=True)
    db["desk_sessions"].create({
        "token_hash": str, "username": str, "created_at": str, "last_seen": str, "expires_at": str,
    }, pk="token_hash", if_not_exists=True)
    db["desk_sessions"].create_index(["username"], if_not_exists=True)
    db["desk_browsers"].create({"token_hash": str, "created_at": str}, pk="token_hash", if_not_exists=True)
    db["intake_forms"].create({
        "form_key": str, "username": str, "state": str, "dossier_id": str, "created_at": str, "updated_at": str,
    }, pk="form_key", if_not_exists=True)
    if "gateway_answer" not in {c.name for c in db["notifications"].columns}:
        db.execute("ALTER TABLE notifications ADD COLUMN gateway_answer TEXT")  # the SMS gateway's answer
    if "courier_account" not in {c.name for c in db["courier_tasks"].columns}:
        db.execute("ALTER TABLE courier_tasks ADD COLUMN courier_account TEXT")  # the courier's desk login
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS desk_search USING fts5(dossier_id UNINDEXED, code, name,"
               " citizen_id, phone, tokenize = 'unicode61 remove_diacritics 2')")
    db.execute("CREATE TRIGGER IF NOT EXISTS intake_search_insert AFTER INSERT ON intake BEGIN"
               " DELETE FROM desk_search WHERE dossier_id = new.dossier_id;"
               f" INSERT INTO desk_search(dossier_id, code, name, citizen_id, phone) VALUES ({_SEARCH_ROW}); END")
    db.execute("CREATE TRIGGER IF NOT EXISTS intake_search_update AFTER UPDATE ON intake BEGIN"
               " DELETE FROM desk_search WHERE dossier_id = old.dossier_id;"
               f" INSERT INTO desk_search(dossier_id, code, name, citizen_id, phone) VALUES ({_SEARCH_ROW}); END")
    db.execute("CREATE TRIGGER IF NOT EXISTS intake_search_delete AFTER DELETE ON intake BEGIN"
               " DELETE FROM desk_search WHERE dossier_id = old.dossier_id; END")
    db.execute("DELETE FROM desk_search")
    db.execute(f"INSERT INTO desk_search(dossier_id, code, name, citizen_id, phone) SELECT {_SEARCH_ROW.replace('new.', '')}"
               " FROM intake")
