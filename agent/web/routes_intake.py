"""The intake page: a form with its own idempotency key (agent.desk.intake_forms), scans kept
server-side across errors, every field error at once, and the chip ID card reader
(POST /intake/card: a card image or the text a keyboard-wedge QR reader typed)."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from agent.desk.catalogue import Catalogue
from agent.errors import InputError

MAX_CARD_IMAGE = 15 * 1024 * 1024


def register(app: FastAPI, desk: "Desk") -> None:  # noqa: F821
    def page(request: Request, key: str, values: dict[str, Any], errors: dict[str, Any], status: int = 200,
             kept: list[Any] = ()) -> HTMLResponse:  # type: ignore[assignment]
        from agent.desk.intake import DOCUMENT_KINDS

        return desk.render(request, "intake.html", status=status, catalogue=Catalogue.for_home(desk.home),
                           values=values, errors=errors, form_key=key, kept=kept, kinds=DOCUMENT_KINDS)

    @app.get("/intake", response_class=HTMLResponse)
    def intake_form(request: Request) -> HTMLResponse:
        from agent.desk.intake_forms import new_form

        with desk.agent(request) as ctx:
            key = new_form(ctx, desk.user(request).username)
        return page(request, key, {}, {})

    @app.post("/intake")
    async def intake_submit(request: Request) -> Response:
        from agent.desk import intake_forms
        from agent.desk.intake import IntakeForm, IntakeInvalid, take_in

        form = request.state.form
        user = desk.user(request)
        key = str(form.get("form_key") or "")
        values = {k: form.get(k) for k in form.keys() if k not in ("scans", "csrf", "keep_scan", "card_image")}
        values["documents_received"] = form.getlist("documents_received")
        keep = [str(v) for v in form.getlist("keep_scan")]
        uploads = [(u.filename, await u.read()) for u in form.getlist("scans") if getattr(u, "filename", None)]

        def run() -> Any:
            with desk.agent(request) as ctx:
                made = intake_forms.claim(ctx, key, user.username)
                if made is not None:
                    return ctx.outbox.get(made), True, None
                done = False
                try:
                    intake_forms.drop_scans(ctx, key, [p.name for p in intake_forms.kept_scans(ctx, key)
                                                       if p.name not in keep])
                    intake_forms.keep_scans(ctx, key, user.username, uploads)
                    try:
                        dossier, _ = take_in(ctx, IntakeForm.from_mapping(values), intake_forms.kept_scans(ctx, key),
                                             officer={"username": user.username, "full_name": user.full_name},
                                             form_key=key)
                        done = True
                    except IntakeInvalid as exc:
                        kept = [(p.name, p.stat().st_size) for p in intake_forms.kept_scans(ctx, key)]
                        return None, False, (exc.errors, kept)
                finally:
                    if not done:
                        intake_forms.release(ctx, key)
                intake_forms.finish(ctx, key)
                return dossier, False, None

        dossier, again, invalid = await run_in_threadpool(run)
        if invalid is not None:
            errors, kept = invalid
            return page(request, key, values, errors, status=422, kept=kept)
        return desk.back(f"/dossiers/{dossier.code}?{'again' if again else 'new'}=1")

    @app.post("/intake/card")
    async def read_card(request: Request) -> JSONResponse:
        """Fields from the chip ID card: `card_image` (a scan or photo of the front) or `qr_text` (a wedge reader)."""
        from agent.desk.idcard import CardUnreadable, decode_card_image, parse_cccd_qr

        form = request.state.form
        t = desk.t(request)
        upload = form.get("card_image")
        try:
            if getattr(upload, "filename", None):
                data = await upload.read(MAX_CARD_IMAGE + 1)
                if len(data) > MAX_CARD_IMAGE:
                    raise CardUnreadable("Ảnh thẻ quá lớn (tối đa 15 MB).", "The card image is larger than 15 MB.")
                # The image is decoded in memory and dropped: the card is not kept unless the
                # procedure needs a copy, which the officer then attaches as a scan.
                card = await run_in_threadpool(decode_card_image, data)
            else:
                card = parse_cccd_qr(str(form.get("qr_text") or ""))
        except InputError as exc:
            return JSONResponse({"error": t.pick(exc.message_vi, exc.message_en),
                                 "hint": t.pick("Nhập tay các ô bên dưới.", "Type the fields below by hand.")},
                                status_code=422)
        return JSONResponse(card.form_fields())
