"""The console's pages and actions. Reads need any logged-in role; revoking a device and
replaying a webhook need operator; enrolment tokens and staff accounts need administrator.
Each access to a dossier or document, and each action, is audited under the person's name.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from .. import enrolment, lagging
from ..errors import BadRequest, NotFound
from . import accounts, integrations, queries
from .enrol_qr import enrolment_payload, qr_svg
from .i18n import Translator

if TYPE_CHECKING:  # web imports this module to register the pages
    from .web import Console

LAGGING_DAYS = 2.0
MAX_TOKEN_HOURS = 24 * 14


def _safe_filename(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:100]
    return cleaned or "document"


def register(app: FastAPI, console: Console) -> None:
    state = console.state

    # -- incoming dossiers ----------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    async def dossiers(request: Request) -> HTMLResponse:
        session = await console.page(request)
        wanted = queries.DossierFilter.from_query(request.query_params)
        rows, more = await run_in_threadpool(queries.search_dossiers, state, wanted)
        if not wanted.is_empty():
            console.audit(session, "console.search", None, results=len(rows), page=wanted.page)
        return console.render(request, "dossiers.html", session=session, rows=rows, more=more, f=wanted,
                              sites=await run_in_threadpool(queries.sites, state),
                              statuses=queries.STATUS_NAMES)

    @app.get("/dossiers/{dossier_id}", response_class=HTMLResponse)
    async def dossier(request: Request, dossier_id: str) -> HTMLResponse:
        session = await console.page(request)
        detail = await run_in_threadpool(queries.dossier_detail, state, dossier_id)
        if detail is None:
            raise NotFound("the hub has no such dossier", "Trung tâm không có hồ sơ này")
        console.audit(session, "console.dossier_viewed", detail["dossier_id"])
        return console.render(request, "dossier.html", session=session, d=detail)

    @app.get("/dossiers/{dossier_id}/documents/{position}")
    async def document(request: Request, dossier_id: str, position: str) -> Response:
        session = await console.page(request)  # first: without a session nothing is said about the address
        found = (await run_in_threadpool(queries.document, state, dossier_id, int(position))
                 if position.isdigit() and len(position) < 6 else None)
        if found is None:
            raise NotFound("the dossier has no such document", "Hồ sơ không có tài liệu này")
        console.audit(session, "console.document_viewed", dossier_id, position=int(position),
                      sha256=found["plain_sha256"][:16])
        pdf = found["media_type"] == "application/pdf"
        try:
            handle = await run_in_threadpool(state.objects.open, found["plain_sha256"])
        except FileNotFoundError as exc:  # listed but gone from the store: say so, never a 500
            raise NotFound("the document's bytes are missing from the object store; restore it from a backup",
                           "Tệp của tài liệu không còn trong kho lưu trữ; cần khôi phục từ bản sao lưu") from exc

        def chunks() -> Any:
            with handle:
                while block := handle.read(1 << 20):
                    yield block

        disposition = "inline" if pdf else "attachment"
        return StreamingResponse(chunks(), media_type="application/pdf" if pdf else "application/octet-stream",
                                 headers={"Content-Length": str(found["plain_size"]),
                                          "Content-Disposition": f'{disposition}; filename="{_safe_filename(found["name"])}"',
                                          # the document's own scripts, forms and links run in no origin at all
                                          "Content-Security-Policy": "sandbox"})

    # -- devices and lagging sites --------------------------------------------------------------
    @app.get("/devices", response_class=HTMLResponse)
    async def devices(request: Request) -> HTMLResponse:
        session = await console.page(request)
        rows = await run_in_threadpool(enrolment.list_devices, state)
        behind = await run_in_threadpool(lagging.lagging_sites, state, LAGGING_DAYS)
        return console.render(request, "devices.html", session=session, devices=rows, lagging=behind,
                              days=LAGGING_DAYS, now=state.now())

    @app.post("/devices/{device_id}/revoke")
    async def revoke(request: Request, device_id: str) -> Response:
        session, form = await console.action(request, "operator")
        reason = str(form.get("reason", "")).strip()[:200]
        if not reason:
            raise BadRequest("give a reason: the desk officer will see it", "Cần nhập lý do: cán bộ tại quầy sẽ thấy")
        await run_in_threadpool(enrolment.revoke_device, state, device_id[:64], reason, session.user.actor)
        return console.back("/devices", Translator(console.lang(request)).revoke_done)

    # -- refused commits and unacknowledged dossiers -----------------------------------------------
    @app.get("/queues", response_class=HTMLResponse)
    async def queues(request: Request) -> HTMLResponse:
        session = await console.page(request)
        refused = await run_in_threadpool(queries.refused_commits, state)
        unacked, acks_known = await run_in_threadpool(integrations.unacknowledged, state)
        return console.render(request, "queues.html", session=session, refused=refused, unacked=unacked,
                              acks_known=acks_known)

    # -- webhook dead letters ------------------------------------------------------------------------
    @app.get("/webhooks", response_class=HTMLResponse)
    async def webhooks(request: Request) -> HTMLResponse:
        session = await console.page(request)
        letters = await run_in_threadpool(integrations.dead_letters, state)
        return console.render(request, "webhooks.html", session=session, letters=letters,
                              letter_id=integrations.dead_letter_id)

    @app.post("/webhooks/{dead_letter_id}/replay")
    async def replay(request: Request, dead_letter_id: str) -> Response:
        session, _ = await console.action(request, "operator")
        done = await run_in_threadpool(integrations.replay_dead_letter, state, dead_letter_id[:100], session.user.actor)
        t = Translator(console.lang(request))
        return console.back("/webhooks", t.replay_done if done is not None else t.not_configured)

    # -- enrolment tokens -------------------------------------------------------------------------------
    @app.get("/tokens", response_class=HTMLResponse)
    async def tokens(request: Request) -> HTMLResponse:
        session = await console.page(request)
        return console.render(request, "tokens.html", session=session, made=None, values={},
                              recent=await run_in_threadpool(_recent_tokens, console), now=state.now())

    @app.post("/tokens", response_class=HTMLResponse)
    async def create_token(request: Request) -> HTMLResponse:
        session, form = await console.action(request, "administrator")
        site, agency = str(form.get("site", "")).strip()[:200], str(form.get("agency", "")).strip().upper()[:40]
        hours = str(form.get("ttl_hours", "24")).strip()
        if not hours.isdigit() or not 1 <= int(hours) <= MAX_TOKEN_HOURS:
            raise BadRequest(f"validity must be 1 to {MAX_TOKEN_HOURS} hours",
                             f"Hiệu lực phải từ 1 đến {MAX_TOKEN_HOURS} giờ")
        token = await run_in_threadpool(enrolment.create_token, state, site, agency, int(hours) * 3600,
                                        session.user.actor)
        hub_url = f"{request.url.scheme}://{request.url.netloc}"
        payload = enrolment_payload(hub_url, state.hub_key_id, site, agency, token)
        made = {"token": token, "site": site, "agency": agency, "hours": int(hours), "hub": hub_url,
                "hub_key_id": state.hub_key_id, "svg": qr_svg(payload)}
        return console.render(request, "tokens.html", session=session, made=made, values={},
                              recent=await run_in_threadpool(_recent_tokens, console), now=state.now())

    # -- staff accounts ------------------------------------------------------------------------------------
    @app.get("/users", response_class=HTMLResponse)
    async def users(request: Request) -> HTMLResponse:
        session = await console.page(request)
        return console.render(request, "users.html", session=session,
                              users=await run_in_threadpool(accounts.list_users, state), now=state.now())

    @app.post("/users")
    async def add_user(request: Request) -> Response:
        session, form = await console.action(request, "administrator")
        await run_in_threadpool(accounts.add_user, state, str(form.get("username", "")), str(form.get("display_name", "")),
                                str(form.get("role", "")), str(form.get("password", "")), session.user.actor)
        return console.back("/users", Translator(console.lang(request)).saved)

    @app.post("/users/{username}/disable")
    async def disable_user(request: Request, username: str) -> Response:
        session, _ = await console.action(request, "administrator")
        await run_in_threadpool(accounts.disable_user, state, username, session.user.actor)
        return console.back("/users", Translator(console.lang(request)).saved)


def _recent_tokens(console: Console) -> list[dict[str, Any]]:
    """Tokens issued lately (never their value: only the hash is stored)."""
    return console.state.db.query("SELECT site, agency_code, created_at, expires_at, used_at, used_by FROM tokens"
                                  " ORDER BY created_at DESC LIMIT 20")
