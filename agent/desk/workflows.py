"""Desk workflows wired to delivery: what a status event means at the desk, and courier proofs to send.

`subscribe()` (called once at start-up by the CLI, the web UI and the demo) registers:
  - `on_status_event` with agent.delivery.status_events: in ONE desk transaction (a repeated cursor changes
    nothing) the event is kept for the desk's screens, the dossier's processing clock is paused on 5/6 and
    resumed otherwise (due_dates), the citizen's message is queued (notifications) and a result ready for home
    delivery opens a courier task (courier); a courier phone's failed attempt (kind delivery_failed) counts
    on the courier task with its reason and next date, and is audited;
  - the courier's signed proofs of delivery as an envelope job with agent.delivery.envelopes;
  - `apply_refdata` with agent.delivery.reference_data: a signed reference data version the feed
    announced is verified and applied by the desk (agent.desk.refdata);
  - the calendar check with agent.ops.doctor (missing years, unverified days off).
Delivery calls these through its registries and imports nothing from the desk.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from agent.context import AgentContext
from agent.delivery.envelopes import BlobRef, OutgoingEnvelope, register_envelope_job
from agent.delivery.reference_data import on_reference_data
from agent.delivery.status_events import on_status_event as subscribe_status_events
from agent.desk.courier import failure_from_event, mark_proofs_synced, pending_proofs, task_from_event
from agent.desk.due_dates import update_pauses
from agent.desk.notifications import check_event, queue_notification, send_pending
from agent.desk.refdata import doctor_check
from agent.ops.audit import audit_event
from agent.ops.doctor import register_check
from agent.outbox.ids import utc_timestamp
from sync_protocol.delivery_proof import evidence_of
from sync_protocol.feed import DELIVERY_FAILED

log = logging.getLogger("motcua.agent.desk")


def on_status_event(ctx: Any, event: dict[str, Any]) -> None:
    """Turn one status event into the desk's records (see the module docstring). Idempotent by cursor."""
    from agent.desk.intake import get_intake  # intake pulls in the capture pipeline: only when an event arrives

    event = check_event(event)
    outbox = ctx.outbox
    intake = get_intake(ctx, event["dossier_id"]) if _known(ctx, event["dossier_id"]) else None
    with outbox.transaction() as conn:
        cur = conn.execute(
            "INSERT OR IGNORE INTO status_events(cursor, dossier_id, dossier_code, status, status_name, at, note,"
            " result_ready_for_delivery, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (event["cursor"], event["dossier_id"], event["dossier_code"], event["status"],
             str(event.get("status_name") or ""), event["at"], str(event.get("note") or "")[:500],
             int(bool(event.get("result_ready_for_delivery"))), utc_timestamp()))
        if cur.rowcount == 0:
            return  # seen before
        if event.get("kind") == DELIVERY_FAILED:  # a phone's failed attempt: the status did not change
            failed = failure_from_event(conn, event)
        else:
            update_pauses(conn, event)
            queue_notification(ctx, conn, event, intake)
            task_from_event(conn, event, intake)
            failed = False
    if failed:  # ids, codes and a date only: the courier's note stays out of the audit log
        attempt = event["attempt"]
        audit_event(ctx, "courier.delivery_failed", event["dossier_id"], record=attempt["record_id"],
                    reason=attempt["reason"], next_attempt=attempt["next_attempt"] or "", cursor=event["cursor"])
    log.info("status_event cursor=%d dossier=%s status=%d kind=%s", event["cursor"], event["dossier_id"],
             event["status"], event.get("kind", "status"))


def _known(ctx: Any, dossier_id: str) -> bool:
    return ctx.outbox.conn.execute("SELECT 1 FROM dossiers WHERE id=?", (dossier_id,)).fetchone() is not None


class CourierProofJob:
    """Couriers' signed proofs of delivery, with their evidence images, for delivery to upload."""

    name = "delivery-proof"
    hub_path = "/v1/delivery-proofs"

    def pending(self, ctx: AgentContext) -> list[OutgoingEnvelope]:
        return [OutgoingEnvelope(record_id=envelope.document["record_id"],
                                 body=json.dumps(envelope.to_dict(), ensure_ascii=False).encode("utf-8"),
                                 blobs=[BlobRef(i["sha256"], i["size"], i["kind"]) for i in evidence_of(envelope.document)])
                for envelope in pending_proofs(ctx)]

    def mark_sent(self, ctx: AgentContext, record_id: str) -> None:
        mark_proofs_synced(ctx, [record_id])


def subscribe() -> None:
    """Register the desk's handlers with delivery (idempotent)."""
    subscribe_status_events(on_status_event)
    register_envelope_job(CourierProofJob())
    on_reference_data(_apply_refdata)
    register_check(doctor_check)


def _apply_refdata(ctx: Any, signed: str) -> None:
    from agent.desk.refdata import apply_refdata

    apply_refdata(ctx, signed)


def notify_citizens(ctx: AgentContext) -> None:
    """After each delivery pass: hand queued citizen messages to the configured sender.

    A sender or config problem is logged and retried next pass; it never stops delivery."""
    counts = send_pending(ctx)
    if any(counts.values()):
        log.info("notifications handed=%d written=%d failed=%d", counts["handed"], counts["written"], counts["failed"])


def purge_returned_personal_data(ctx: AgentContext) -> None:
    """After each delivery pass: remove citizens' data once results were returned and the retention passed."""
    from agent.desk.personal_data import purge_expired

    from agent.desk.card_scan import purge_expired_card_reads

    purged = purge_expired(ctx)
    if purged:
        log.info("personal_data_purged dossiers=%d", len(purged))
    purge_expired_card_reads(ctx)  # cards a hot folder read but no officer took


#: hooks for agent.delivery.runner.run_forever(after_pass=...)
AFTER_PASS = (notify_citizens, purge_returned_personal_data)
