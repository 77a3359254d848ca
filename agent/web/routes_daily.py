"""The desk's daily pages: search, due lists, and handing a result back at the counter (agent.desk.daily)."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response


def register(app: FastAPI, desk: "Desk") -> None:  # noqa: F821
    @app.get("/search", response_class=HTMLResponse)
    def search_page(request: Request, q: str = "") -> HTMLResponse:
        from agent.desk.daily import search

        with desk.agent(request) as ctx:
            results = search(ctx, q) if q.strip() else []
        return desk.render(request, "search.html", q=q, results=results)

    @app.get("/due", response_class=HTMLResponse)
    def due_page(request: Request) -> HTMLResponse:
        from agent.desk.daily import due_lists

        with desk.agent(request) as ctx:
            lists = due_lists(ctx)
        return desk.render(request, "due.html", lists=lists)

    def handback_page(request: Request, ref: str, errors: dict, values: dict, status: int = 200) -> HTMLResponse:
        from agent.desk.intake import get_intake

        with desk.agent(request) as ctx:
            dossier = ctx.outbox.get(ref)
            record = get_intake(ctx, dossier.id)
        return desk.render(request, "handback.html", status=status, d=dossier, intake=record, errors=errors,
                           values=values)

    @app.get("/dossiers/{ref}/handback", response_class=HTMLResponse)
    def handback_form(request: Request, ref: str) -> HTMLResponse:
        return handback_page(request, ref, {}, {})

    @app.post("/dossiers/{ref}/handback")
    def handback(request: Request, ref: str) -> Response:
        from agent.desk.daily import hand_back
        from agent.desk.intake import IntakeInvalid
        from agent.web.routes_courier import _data_url

        form = request.state.form
        values = {k: str(form.get(k) or "") for k in ("receiver_name", "relation", "receiver_id")}
        try:
            with desk.agent(request) as ctx:
                code = ctx.outbox.get(ref).code
                hand_back(ctx, ref, **values, signature=_data_url(str(form.get("signature") or "")),
                          officer=desk.user(request).full_name)
        except IntakeInvalid as exc:
            return handback_page(request, ref, exc.errors, values, status=422)
        return desk.back(f"/dossiers/{code}", desk.t(request).returned_ok)
