"""Desk pages about dossiers: dashboard, sync, rejected-lane retry, dossier detail and slip,
status events and citizen messages."""
from __future__ import annotations

import json
import threading

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from agent.errors import InputError, MotcuaError
from sync_protocol.timestamps import format_utc


def register(app: FastAPI, desk: "Desk") -> None:  # noqa: F821
    sync_lock = threading.Lock()

    @app.get("/", response_class=HTMLResponse)
    def dashboard(request: Request) -> Response:
        from agent.desk.notifications import list_notifications
        from agent.desk.refdata import calendar_warnings
        from agent.desk.refdata import status as refdata_status

        if not desk.user(request).may("desk"):
            return RedirectResponse("/courier", status_code=303)
        with desk.agent(request) as ctx:
            link = None
            if ctx.config.enrolled:
                try:
                    from agent.delivery.hub_client import HubClient

                    client = HubClient(ctx.config.hub_url, None, timeout=1.5)
                    try:
                        link = bool(client.hello())
                    finally:
                        client.close()
                except MotcuaError:
                    link = False
            last_sync = json.loads(ctx.outbox.get_state("ui:last_sync", "null") or "null")
            dossiers = ctx.outbox.list()
            due = {r[0]: r[1] for r in ctx.outbox.conn.execute("SELECT dossier_id, due_at FROM intake")}
            notes = list_notifications(ctx, ("no_contact", "failed"))
            open_tasks = ctx.outbox.conn.execute(
                "SELECT COUNT(*) FROM courier_tasks WHERE state IN ('to_deliver','returned_to_desk')").fetchone()[0]
            return desk.render(request, "dashboard.html", counts=ctx.outbox.counts(), link=link,
                               enrolled=ctx.config.enrolled, last_sync=last_sync,
                               rejected=[d for d in dossiers if d.state == "rejected"],
                               recent=list(reversed(dossiers))[:15], due=due, site=ctx.config.site,
                               no_contact=sum(n["state"] == "no_contact" for n in notes),
                               failed=sum(n["state"] == "failed" for n in notes), open_tasks=open_tasks,
                               calendar_warnings=calendar_warnings(desk.home), refdata=refdata_status(desk.home))

    @app.post("/sync")
    def sync_now(request: Request) -> RedirectResponse:
        from agent.delivery.sync import sync_once
        from agent.desk.notifications import send_pending
        from agent.sealing.seal import seal_all

        with sync_lock, desk.agent(request) as ctx:
            seal_all(ctx)
            report = sync_once(ctx)
            sent = send_pending(ctx)
            summary = {"at": format_utc(), "committed": len(report.committed),
                       "rejected": len(report.rejected), "unreachable": report.unreachable, "messages": sent["handed"]}
            with ctx.outbox.transaction():
                ctx.outbox.set_state("ui:last_sync", json.dumps(summary))
        t = desk.t(request)
        msg = (f"{t.sync_now}: {summary['committed']} ✓" if not report.unreachable else t.link_down)
        if report.upload_quota and not report.unreachable:
            msg += f" — {report.upload_quota}"  # the hub's quota, not the link: say so (vi / en)
        target = str(request.state.form.get("next") or "/")
        return desk.back(target if target.startswith("/") and not target.startswith("//") else "/", msg)

    @app.post("/dossiers/{ref}/retry")
    def retry(request: Request, ref: str) -> RedirectResponse:
        with desk.agent(request) as ctx:
            dossier = ctx.outbox.get(ref)
            ctx.outbox.requeue_rejected(dossier.id)
        return desk.back("/", f"{dossier.code}: {desk.t(request).retry} ✓")

    @app.get("/dossiers/{ref}", response_class=HTMLResponse)
    def dossier_detail(request: Request, ref: str) -> HTMLResponse:
        from agent.desk.courier import records_of
        from agent.desk.intake import current_due, due_is_unconfirmed, get_intake, pauses_of
        from agent.desk.notifications import list_notifications, status_events
        from agent.desk.refdata import due_date_history

        with desk.agent(request) as ctx:
            dossier = ctx.outbox.get(ref)
            record = get_intake(ctx, dossier.id)
            pauses = pauses_of(ctx.outbox.conn, dossier.id)
            events = status_events(ctx, dossier.id)
            return desk.render(request, "dossier.html", d=dossier, intake=record, docs=ctx.outbox.documents(dossier.id),
                               due=current_due(ctx, record) if record else None,
                               paused=any(p.end is None for p in pauses), events=events,
                               unconfirmed=due_is_unconfirmed(ctx, record) if record else False,
                               due_changes=due_date_history(ctx, dossier.id),
                               portal_status=events[0]["status"] if events else None,
                               messages=list_notifications(ctx, dossier_id=dossier.id),
                               proofs=records_of(ctx, dossier.id), new=request.query_params.get("new"),
                               again=request.query_params.get("again"))

    @app.get("/dossiers/{ref}/slip.pdf")
    def slip(request: Request, ref: str, size: str = "A4") -> Response:
        from agent.desk.receipt_slip import slip_for

        if size not in ("A4", "A5"):
            return desk.render(request, "error.html", status=400, error=InputError(
                f"Khổ giấy {size[:20]!r} không hợp lệ: chỉ A4 hoặc A5.", f"Paper size {size[:20]!r} is not A4 or A5.",
                "Dùng ?size=A4 hoặc ?size=A5 / use ?size=A4 or ?size=A5"))
        with desk.agent(request) as ctx:
            code, pdf = slip_for(ctx, ref, size)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="phieu-hen-{code}-{size}.pdf"'})

    @app.get("/events", response_class=HTMLResponse)
    def events(request: Request) -> HTMLResponse:
        from agent.desk.notifications import list_notifications, status_events

        with desk.agent(request) as ctx:
            return desk.render(request, "events.html", events=status_events(ctx),
                               messages=list_notifications(ctx)[:200])

    @app.post("/notifications/send")
    def notifications_send(request: Request) -> RedirectResponse:
        from agent.desk.notifications import retry_failed, send_pending

        with desk.agent(request) as ctx:
            if request.state.form.get("retry"):
                retry_failed(ctx)
            counts = send_pending(ctx)
        t = desk.t(request)
        return desk.back("/events", f"{t.message_state('handed')}: {counts['handed']} · "
                                    f"{t.message_state('written')}: {counts['written']} · "
                                    f"{t.message_state('failed')}: {counts['failed']}")
