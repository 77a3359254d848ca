"""The desk web UI (FastAPI + Jinja2, server-rendered, no build step).

Pages: dashboard (queue by state, hub link, last sync, rejected lane with
retry), intake form, dossier detail with the receipt slip, courier list,
handover and delivery recording, status events and citizen messages.
Each request opens its own AgentContext (SQLite connections are per thread).
POST forms carry a per-process CSRF token and the Host header must be a
local name, so a web page elsewhere cannot drive the desk (DNS rebinding).
"""
from __future__ import annotations

import base64
import contextlib
import json
import logging
import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from agent.context import AgentContext
from agent.desk.catalogue import Catalogue
from agent.errors import InputError, MotcuaError
from agent.outbox.ids import VIETNAM
from agent.web.i18n import Translator
from sync_protocol.timestamps import format_utc, parse_utc

log = logging.getLogger("motcua.agent.web")
HERE = Path(__file__).parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
MAX_UPLOAD = 200 * 1024 * 1024


def _local_time(value: str | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    if not value:
        return ""
    moment = parse_utc(value)
    return moment.astimezone(VIETNAM).strftime(fmt)


def create_app(home: Path | str, allowed_hosts: set[str] | None = None) -> FastAPI:
    from agent.desk.workflows import subscribe

    subscribe()
    home = Path(home)
    app = FastAPI(title="motcua desk", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.filters["local"] = _local_time
    csrf = secrets.token_urlsafe(24)
    hosts = LOCAL_HOSTS | (allowed_hosts or set())
    sync_lock = threading.Lock()

    @contextlib.contextmanager
    def agent() -> Iterator[AgentContext]:
        ctx = AgentContext.open(home)
        try:
            yield ctx
        finally:
            ctx.close()

    def lang_of(request: Request) -> str:
        return request.query_params.get("lang") or request.cookies.get("lang") or "vi"

    def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        t = Translator(lang_of(request))
        html = env.get_template(name).render(t=t, csrf=csrf, path=request.url.path, flash=request.query_params.get("msg"),
                                             **values)
        response = HTMLResponse(html, status_code=status)
        if "lang" in request.query_params:
            response.set_cookie("lang", t.lang, samesite="strict", max_age=365 * 86400)
        return response

    def back(url: str, msg: str = "") -> RedirectResponse:
        from urllib.parse import quote

        return RedirectResponse(url + (("&" if "?" in url else "?") + "msg=" + quote(msg) if msg else ""), status_code=303)

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if host not in hosts:
            return Response("Host not allowed", status_code=421)
        if request.method == "POST":
            form = await request.form(max_part_size=MAX_UPLOAD)
            if not secrets.compare_digest(str(form.get("csrf", "")), csrf):
                return Response("Phiên làm việc đã hết hạn, tải lại trang. / Stale form, reload the page.", status_code=403)
            request.state.form = form
        return await call_next(request)

    @app.exception_handler(MotcuaError)
    async def motcua_error(request: Request, exc: MotcuaError) -> HTMLResponse:
        return render(request, "error.html", status=400, error=exc)

    # -- dashboard ---------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def dashboard(request: Request) -> HTMLResponse:
        from agent.desk.notifications import list_notifications
        from agent.desk.refdata import calendar_warnings
        from agent.desk.refdata import status as refdata_status

        with agent() as ctx:
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
            return render(request, "dashboard.html", counts=ctx.outbox.counts(), link=link, enrolled=ctx.config.enrolled,
                          last_sync=last_sync, rejected=[d for d in dossiers if d.state == "rejected"],
                          recent=list(reversed(dossiers))[:15], due=due, site=ctx.config.site,
                          no_contact=sum(n["state"] == "no_contact" for n in notes),
                          failed=sum(n["state"] == "failed" for n in notes), open_tasks=open_tasks,
                          calendar_warnings=calendar_warnings(home), refdata=refdata_status(home))

    @app.post("/sync")
    def sync_now(request: Request) -> RedirectResponse:
        from agent.delivery.sync import sync_once
        from agent.desk.notifications import send_pending
        from agent.sealing.seal import seal_all

        with sync_lock, agent() as ctx:
            seal_all(ctx)
            report = sync_once(ctx)
            sent = send_pending(ctx)
            summary = {"at": format_utc(), "committed": len(report.committed),
                       "rejected": len(report.rejected), "unreachable": report.unreachable, "messages": sent["sent"]}
            with ctx.outbox.transaction():
                ctx.outbox.set_state("ui:last_sync", json.dumps(summary))
        t = Translator(lang_of(request))
        msg = (f"{t.sync_now}: {summary['committed']} ✓" if not report.unreachable else t.link_down)
        return back(str(request.state.form.get("next") or "/"), msg)

    @app.post("/dossiers/{ref}/retry")
    def retry(request: Request, ref: str) -> RedirectResponse:
        with agent() as ctx:
            dossier = ctx.outbox.get(ref)
            ctx.outbox.requeue_rejected(dossier.id)
        return back("/", f"{dossier.code}: {Translator(lang_of(request)).retry} ✓")

    # -- intake --------------------------------------------------------------------
    @app.get("/intake", response_class=HTMLResponse)
    def intake_form(request: Request) -> HTMLResponse:
        return render(request, "intake.html", catalogue=Catalogue.for_home(home), values={}, errors={})

    @app.post("/intake")
    async def intake_submit(request: Request) -> Response:
        from fastapi.concurrency import run_in_threadpool

        from agent.desk.intake import IntakeForm, IntakeInvalid, take_in

        form = request.state.form
        values = {k: form.get(k) for k in form.keys() if k not in ("scans", "csrf")}
        values["documents_received"] = form.getlist("documents_received")
        tmp = Path(tempfile.mkdtemp(prefix="motcua-intake-"))
        try:
            files = []
            for i, upload in enumerate(form.getlist("scans")):
                if not getattr(upload, "filename", None):
                    continue
                suffix = Path(upload.filename).suffix.lower()[:6]
                target = tmp / f"page-{i:03d}{suffix}"
                target.write_bytes(await upload.read())
                files.append(target)

            def run() -> Any:
                with agent() as ctx:
                    return take_in(ctx, IntakeForm.from_mapping(values), files)[0]

            try:
                dossier = await run_in_threadpool(run)
            except IntakeInvalid as exc:
                return render(request, "intake.html", status=422, catalogue=Catalogue.for_home(home), values=values,
                              errors=exc.errors)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return back(f"/dossiers/{dossier.code}?new=1")

    # -- dossier detail ------------------------------------------------------------
    @app.get("/dossiers/{ref}", response_class=HTMLResponse)
    def dossier_detail(request: Request, ref: str) -> HTMLResponse:
        from agent.desk.courier import records_of
        from agent.desk.intake import current_due, due_is_unconfirmed, get_intake, pauses_of
        from agent.desk.notifications import list_notifications, status_events
        from agent.desk.refdata import due_date_history

        with agent() as ctx:
            dossier = ctx.outbox.get(ref)
            record = get_intake(ctx, dossier.id)
            pauses = pauses_of(ctx.outbox.conn, dossier.id)
            return render(request, "dossier.html", d=dossier, intake=record, docs=ctx.outbox.documents(dossier.id),
                          due=current_due(ctx, record) if record else None, paused=any(p.end is None for p in pauses),
                          unconfirmed=due_is_unconfirmed(ctx, record) if record else False,
                          due_changes=due_date_history(ctx, dossier.id),
                          events=status_events(ctx, dossier.id), messages=list_notifications(ctx, dossier_id=dossier.id),
                          proofs=records_of(ctx, dossier.id), new=request.query_params.get("new"))

    @app.get("/dossiers/{ref}/slip.pdf")
    def slip(request: Request, ref: str, size: str = "A4") -> Response:
        from agent.desk.intake import slip_for

        if size not in ("A4", "A5"):
            return render(request, "error.html", status=400, error=InputError(
                f"Khổ giấy {size[:20]!r} không hợp lệ: chỉ A4 hoặc A5.", f"Paper size {size[:20]!r} is not A4 or A5.",
                "Dùng ?size=A4 hoặc ?size=A5 / use ?size=A4 or ?size=A5"))
        with agent() as ctx:
            code, pdf = slip_for(ctx, ref, size)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="phieu-hen-{code}-{size}.pdf"'})

    # -- status events and messages --------------------------------------------------
    @app.get("/events", response_class=HTMLResponse)
    def events(request: Request) -> HTMLResponse:
        from agent.desk.notifications import list_notifications, status_events

        with agent() as ctx:
            return render(request, "events.html", events=status_events(ctx), messages=list_notifications(ctx)[:200])

    @app.post("/notifications/send")
    def notifications_send(request: Request) -> RedirectResponse:
        from agent.desk.notifications import retry_failed, send_pending

        with agent() as ctx:
            if request.state.form.get("retry"):
                retry_failed(ctx)
            counts = send_pending(ctx)
        return back("/events", f"✓ {counts['sent']}  ✗ {counts['failed']}")

    # -- courier ------------------------------------------------------------------------
    @app.get("/courier", response_class=HTMLResponse)
    def courier_list(request: Request) -> HTMLResponse:
        from agent.desk.courier import list_tasks

        with agent() as ctx:
            return render(request, "courier.html", tasks=list_tasks(ctx), batch=request.query_params.get("batch"))

    @app.post("/courier/handover")
    def courier_handover(request: Request) -> RedirectResponse:
        from agent.desk.courier import handover

        form = request.state.form
        with agent() as ctx:
            batch, _ = handover(ctx, [str(v) for v in form.getlist("dossier")], str(form.get("courier", "")))
        return back(f"/courier?batch={batch}")

    @app.get("/courier/handover/{batch}.pdf")
    def handover_file(batch: str) -> Response:
        path = home / "handover" / f"{batch}.pdf"
        if not batch.replace("-", "").isalnum() or not path.exists():
            return Response("not found", status_code=404)
        return Response(path.read_bytes(), media_type="application/pdf")

    @app.get("/courier/{ref}", response_class=HTMLResponse)
    def courier_task(request: Request, ref: str) -> HTMLResponse:
        from agent.desk.courier import FAILURE_REASONS, _task

        with agent() as ctx:
            return render(request, "deliver.html", task=_task(ctx, ref), reasons=FAILURE_REASONS)

    @app.post("/courier/{ref}/deliver")
    async def courier_deliver(request: Request, ref: str) -> RedirectResponse:
        from fastapi.concurrency import run_in_threadpool

        from agent.desk.courier import record_delivery

        form = request.state.form
        signature = _data_url(str(form.get("signature") or ""))
        photo_upload = form.get("photo")
        photo = await photo_upload.read() if getattr(photo_upload, "filename", None) else None
        gps = _gps(form)

        def run() -> None:
            with agent() as ctx:
                record_delivery(ctx, ref, recipient_name=str(form.get("recipient_name", "")),
                                relation=str(form.get("relation", "")), id_last_digits=str(form.get("id_last_digits", "")),
                                signature=signature, photo=photo, gps=gps)

        await run_in_threadpool(run)
        return back("/courier", Translator(lang_of(request)).done)

    @app.post("/courier/{ref}/failed")
    def courier_failed(request: Request, ref: str) -> RedirectResponse:
        from agent.desk.courier import record_failed_attempt

        form = request.state.form
        with agent() as ctx:
            record_failed_attempt(ctx, ref, str(form.get("reason", "")), str(form.get("note", "")), _gps(form))
        return back("/courier", Translator(lang_of(request)).done)

    return app


def _data_url(value: str) -> bytes | None:
    """Bytes of a `data:image/png;base64,...` URL from the signature pad, or None."""
    if not value.startswith("data:image/") or ";base64," not in value:
        return None
    try:
        return base64.b64decode(value.split(",", 1)[1], validate=True)
    except ValueError:
        raise InputError("Chữ ký không đọc được, hãy ký lại.", "The signature could not be read; sign again.") from None


def _gps(form: Any) -> Any:
    from agent.desk.courier import Gps

    try:
        lat, lon = float(form.get("lat") or "nan"), float(form.get("lon") or "nan")
    except ValueError:
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    accuracy = form.get("accuracy")
    return Gps(lat, lon, float(accuracy) if accuracy else None)


def serve(home: Path | str, host: str = "127.0.0.1", port: int = 8480) -> None:
    """Run the UI until interrupted (`motcua ui`)."""
    import uvicorn

    extra = set() if host in ("127.0.0.1", "localhost", "::1") else {host}
    uvicorn.run(create_app(home, extra), host=host, port=port, log_level="warning")
