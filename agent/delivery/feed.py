"""The agent's side of the status feed: pull hub status events, keep them, apply each once.

Two steps, each crash-safe:
  1. `pull_feed` asks the hub for events after the stored cursor
     (`GET /v1/feed?after=N`), validates them (sync_protocol.feed) and, in ONE
     outbox transaction, stores them in `feed_inbox` and advances the cursor —
     a crash leaves the old cursor (the page is fetched again; duplicates are
     ignored by cursor) or the new one with the events safely stored.
  2. `apply_pending` publishes every stored, not-yet-applied event, in cursor
     order, to the subscribers of agent.delivery.status_events (the desk's
     workflows record it in their own transaction, idempotently by cursor) and
     then marks it applied. A handler that fails leaves the event pending with
     its error; it is retried after the next pull and never blocks the feed.
     With no subscriber in this process, events stay pending.
Receipt bundles carried by hand (agent.delivery.bundles) feed events in through `store_events`.
A feed page may also announce the newest reference data version; agent.delivery.reference_data
fetches and stores it after the events.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from agent.context import AgentContext
from agent.delivery import reference_data, status_events
from agent.errors import DeviceNotAuthorised, HubError, HubUnreachable
from agent.outbox.ids import utc_timestamp
from sync_protocol.errors import InvalidDocument
from sync_protocol.feed import STATUS_NAMES, StatusEvent, parse_page
from sync_protocol.refdata import parse_announcement

log = logging.getLogger("motcua.agent.feed")
CURSOR_KEY = "feed:cursor"
PAGE = 200
MAX_PAGES = 50


def feed_cursor(ctx: AgentContext) -> int:
    return int(ctx.outbox.get_state(CURSOR_KEY, "0") or 0)


def store_events(ctx: AgentContext, events: list[StatusEvent], new_cursor: int | None = None) -> int:
    """Store events (ignoring cursors already held) and advance the cursor, in one transaction."""
    outbox = ctx.outbox
    stored = 0
    with outbox.transaction() as conn:
        for event in events:
            stored += conn.execute("INSERT OR IGNORE INTO feed_inbox(cursor, event, fetched_at) VALUES (?,?,?)",
                                   (event.cursor, json.dumps(event.to_dict(), ensure_ascii=False),
                                    utc_timestamp())).rowcount
        target = max([new_cursor or 0, *(e.cursor for e in events)])
        if target > feed_cursor(ctx):
            outbox.set_state(CURSOR_KEY, str(target))
    return stored


def apply_pending(ctx: AgentContext) -> int:
    """Apply stored events not yet applied, oldest first; return how many were applied now."""
    if not status_events.subscribers():
        return 0  # nobody here gives events a meaning yet: keep them pending for a process that does
    outbox = ctx.outbox
    rows = outbox.conn.execute("SELECT cursor, event FROM feed_inbox WHERE applied_at IS NULL ORDER BY cursor").fetchall()
    applied = 0
    for cursor, text in rows:
        event = json.loads(text)
        try:
            status_events.publish(ctx, event)
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the feed; it is kept and retried
            with outbox.transaction() as conn:
                conn.execute("UPDATE feed_inbox SET error=? WHERE cursor=?", (f"{type(exc).__name__}: {exc}"[:300], cursor))
            log.warning("status_event_apply_failed cursor=%d error=%s", cursor, type(exc).__name__)
            continue
        with outbox.transaction() as conn:
            conn.execute("UPDATE feed_inbox SET applied_at=?, error=NULL WHERE cursor=?", (utc_timestamp(), cursor))
        applied += 1
    return applied


def pull_feed(ctx: AgentContext) -> dict[str, int]:
    """Fetch every new event of this desk's site, store and apply them. Raises HubUnreachable."""
    fetched, announced = 0, None
    for _ in range(MAX_PAGES):
        after = feed_cursor(ctx)
        try:
            page = ctx.hub.feed(after, PAGE)
            events, next_after, more = parse_page(page)
            announced = parse_announcement(page) or announced
        except (ValueError, InvalidDocument) as exc:
            raise HubError("Trung tâm gửi danh sách trạng thái không hợp lệ.",
                           f"The hub sent an invalid status feed page: {exc}", "Báo quản trị viên / tell the administrator") from exc
        if any(e.cursor <= after for e in events):
            raise HubError("Trung tâm gửi lại sự kiện cũ.", "The hub's feed went backwards (cursor <= after).")
        fetched += store_events(ctx, events, next_after)
        if not more:
            break
    applied = apply_pending(ctx)
    reference_data.follow(ctx, announced)
    if fetched:
        log.info("feed_pulled events=%d applied=%d cursor=%d", fetched, applied, feed_cursor(ctx))
    return {"fetched": fetched, "applied": applied, "cursor": feed_cursor(ctx)}


def try_pull_feed(ctx: AgentContext) -> str | None:
    """pull_feed that reports a dead link as a string instead of raising (for the sync pass).

    A refused device still raises DeviceNotAuthorised: a revoked desk with an empty queue must be told too."""
    try:
        pull_feed(ctx)
    except HubUnreachable as exc:
        return exc.message_en
    except DeviceNotAuthorised:
        raise
    except HubError as exc:
        log.warning("feed_failed error=%s", exc.message_en)
    return None


def hub_statuses(ctx: AgentContext) -> dict[str, dict[str, Any]]:
    """Latest status event per dossier id, as received from the hub."""
    rows = ctx.outbox.conn.execute(
        "SELECT f.event FROM feed_inbox f JOIN (SELECT json_extract(event, '$.dossier_id') AS id, MAX(cursor) AS c"
        " FROM feed_inbox GROUP BY id) latest ON latest.c = f.cursor").fetchall()
    result = {}
    for (text,) in rows:
        event = json.loads(text)
        event["status_name_vi"] = STATUS_NAMES[event["status"]][1]
        result[event["dossier_id"]] = event
    return result


def events_of(ctx: AgentContext, dossier_id: str) -> list[dict[str, Any]]:
    """Every status event received for one dossier, oldest first (with the Vietnamese status name)."""
    rows = ctx.outbox.conn.execute(
        "SELECT event, applied_at FROM feed_inbox WHERE json_extract(event, '$.dossier_id')=? ORDER BY cursor",
        (dossier_id,)).fetchall()
    events = []
    for text, applied_at in rows:
        event = json.loads(text)
        event["status_name_vi"] = STATUS_NAMES[event["status"]][1]
        event["applied"] = applied_at is not None
        events.append(event)
    return events
