"""Courier pages: results to deliver, handover to a courier (desk roles), and recording a delivery
or a failed attempt (a courier account sees and records only the tasks handed to it)."""
from __future__ import annotations

import base64
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from agent.errors import InputError


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


def register(app: FastAPI, desk: "Desk") -> None:  # noqa: F821
    def own(request: Request) -> str | None:
        """The courier login whose tasks alone this request may touch (None: a desk role, all tasks)."""
        user = desk.user(request)
        return None if user.may("desk") else user.username

    @app.get("/courier", response_class=HTMLResponse)
    def courier_list(request: Request) -> HTMLResponse:
        from agent.desk.accounts import list_users
        from agent.desk.courier import list_tasks

        mine = own(request)
        with desk.agent(request) as ctx:
            tasks = list_tasks(ctx, ("out", "delivered") if mine else None, courier_account=mine)
            couriers = [] if mine else [u for u in list_users(ctx, "courier") if not u.disabled]
            return desk.render(request, "courier.html", tasks=tasks, batch=request.query_params.get("batch"),
                               couriers=couriers, mine=mine)

    @app.post("/courier/handover")
    def courier_handover(request: Request) -> RedirectResponse:
        from agent.desk.accounts import get_user
        from agent.desk.courier import handover

        form = request.state.form
        account = str(form.get("courier_account") or "")
        with desk.agent(request) as ctx:
            name = str(form.get("courier", ""))
            if account:
                courier = get_user(ctx, account)
                if courier.role != "courier" or courier.disabled:
                    raise InputError(f"{account} không phải tài khoản nhân viên bưu chính đang hoạt động.",
                                     f"{account} is not an active courier account.")
                name = courier.full_name
            batch, _ = handover(ctx, [str(v) for v in form.getlist("dossier")], name,
                                courier_account=account or None, officer=desk.user(request).full_name)
        return desk.back(f"/courier?batch={batch}")

    @app.get("/courier/handover/{batch}.pdf")
    def handover_file(batch: str) -> Response:
        path = desk.home / "handover" / f"{batch}.pdf"
        if not batch.replace("-", "").isalnum() or not path.exists():
            return Response("not found", status_code=404)
        return Response(path.read_bytes(), media_type="application/pdf")

    @app.get("/courier/{ref}", response_class=HTMLResponse)
    def courier_task(request: Request, ref: str) -> HTMLResponse:
        from agent.desk.courier import FAILURE_REASONS, _task

        with desk.agent(request) as ctx:
            return desk.render(request, "deliver.html", task=_task(ctx, ref, own(request)), reasons=FAILURE_REASONS)

    @app.post("/courier/{ref}/deliver")
    async def courier_deliver(request: Request, ref: str) -> RedirectResponse:
        from fastapi.concurrency import run_in_threadpool

        from agent.desk.courier import _task, record_delivery

        form = request.state.form
        signature = _data_url(str(form.get("signature") or ""))
        photo_upload = form.get("photo")
        photo = await photo_upload.read() if getattr(photo_upload, "filename", None) else None
        gps = _gps(form)

        def run() -> None:
            with desk.agent(request) as ctx:
                _task(ctx, ref, own(request))
                record_delivery(ctx, ref, recipient_name=str(form.get("recipient_name", "")),
                                relation=str(form.get("relation", "")), id_last_digits=str(form.get("id_last_digits", "")),
                                signature=signature, photo=photo, gps=gps)

        await run_in_threadpool(run)
        return desk.back("/courier", desk.t(request).done)

    @app.post("/courier/{ref}/failed")
    def courier_failed(request: Request, ref: str) -> RedirectResponse:
        from agent.desk.courier import _task, record_failed_attempt

        form = request.state.form
        with desk.agent(request) as ctx:
            _task(ctx, ref, own(request))
            record_failed_attempt(ctx, ref, str(form.get("reason", "")), str(form.get("note", "")), _gps(form))
        return desk.back("/courier", desk.t(request).done)
