"""The chip ID card from the desk's scanners (agent.desk.card_scan), for the intake form:

POST /intake/card/scan   the "Quét thẻ CCCD" button: one flatbed scan, decoded; the fields as JSON
GET  /intake/card/latest the card the hot folder's `card/` subfolder read in the last minutes ("thẻ vừa
                         quét"), without its personal data: when and whether it was readable
POST /intake/card/take   that card's fields, handed over once (the read is deleted)

Errors are JSON {"error", "hint"} with status 422; the officer then types the fields."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from agent.errors import InputError
from agent.ops.audit import audit_event


def register(app: FastAPI, desk: "Desk") -> None:  # noqa: F821
    def refused(request: Request, exc: InputError) -> JSONResponse:
        t = desk.t(request)
        return JSONResponse({"error": t.pick(exc.message_vi, exc.message_en),
                             "hint": t.pick("Nhập tay các ô bên dưới.", "Type the fields below by hand.")},
                            status_code=422)

    @app.post("/intake/card/scan")
    async def scan_card(request: Request) -> JSONResponse:
        from agent.desk.card_scan import scan_and_fill

        form = request.state.form
        user = desk.user(request)

        def run() -> dict[str, str]:
            with desk.agent(request) as ctx:
                fields = scan_and_fill(ctx, form_key=str(form.get("form_key") or ""), username=user.username,
                                       procedure_code=str(form.get("procedure_code") or "") or None)
                audit_event(ctx, "card_scanned", source="flatbed", copy_kept="card_copy_kept" in fields)
                return fields

        try:
            return JSONResponse(await run_in_threadpool(run))
        except InputError as exc:
            return refused(request, exc)

    @app.get("/intake/card/latest")
    def latest_card(request: Request) -> JSONResponse:
        from agent.desk.card_scan import latest_card_read

        t = desk.t(request)
        with desk.agent(request) as ctx:
            read: Any = latest_card_read(ctx)
        if read is None:
            return JSONResponse({})
        answer = {"id": read["id"], "at": desk.env.filters["local"](read["at"], "%H:%M"), "ok": read["ok"]}
        if not read["ok"]:
            answer["error"] = t.pick(read["error_vi"], read["error_en"])
            answer["hint"] = t.pick("Nhập tay các ô bên dưới.", "Type the fields below by hand.")
        return JSONResponse(answer)

    @app.post("/intake/card/take")
    def take_card(request: Request) -> JSONResponse:
        from agent.desk.card_scan import take_card_read

        try:
            with desk.agent(request) as ctx:
                fields = take_card_read(ctx, str(request.state.form.get("id") or ""))
                audit_event(ctx, "card_scanned", source="hot_folder")
        except InputError as exc:
            return refused(request, exc)
        return JSONResponse(fields)
