"""Couriers at the doorstep: the phone app (PWA) the hub serves, and its API.

    GET  /courier/...               the app: index.html, app.js, sw.js, manifest, vendored libraries (static/)
    POST /v1/courier/pairings       desk-signed: a one-time pairing token for the QR (pairing.py)
    POST /v1/courier/enrol          unauthenticated: a phone spends the token with its P-256 key
    PUT  /v1/courier/tasks          desk-signed: hand tasks to one phone (tasks.py)
    GET  /v1/courier/tasks          phone-signed: the phone's own tasks

A phone (role `courier`) may call only the routes in COURIER_ROUTES: its tasks, tus
uploads of its evidence and its proofs. Everything else a desk may do is refused.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from ..auth import Device
from ..errors import BadRequest, Forbidden
from ..state import HubState
from . import pairing, tasks

STATIC = Path(__file__).resolve().parent / "static"
COURIER_ROUTES = ("/v1/courier/tasks", "/v1/uploads", "/v1/delivery-proofs", "/v1/objects/")


class CourierEnrol(BaseModel):
    token: str = Field(max_length=200)
    public_key: str = Field(max_length=120, description="The phone's P-256 public key: uncompressed point, base64url")
    device_name: str = Field(default="", max_length=80)


def refuse_courier_outside(state: HubState, device: Device, path: str) -> None:
    """Called for every device request: a courier phone is confined to COURIER_ROUTES."""
    if device.device_id.startswith("cou_") and not path.startswith(COURIER_ROUTES):
        raise Forbidden("a courier phone may not use this endpoint", "Điện thoại giao nhận không được dùng chức năng này",
                        code="courier_not_allowed")


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("body is not JSON", "Nội dung không phải JSON") from exc
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object", "Nội dung phải là đối tượng JSON")
    return value


def install(app: FastAPI, state: HubState,
            as_device: Callable[[Request, int, Callable[[Device, bytes], Any]], Awaitable[Any]]) -> None:
    """Add the courier routes and the static app to the hub's FastAPI app."""

    @app.post("/v1/courier/pairings", status_code=201, summary="Desk: one-time token to pair a courier phone")
    async def create_pairing(request: Request) -> dict[str, Any]:
        return await as_device(request, 4096, lambda desk, body: pairing.create_pairing(
            state, desk, _json(body).get("courier_name", "")))

    @app.post("/v1/courier/enrol", status_code=201, summary="Phone: spend a pairing token with its P-256 key")
    def enrol(req: CourierEnrol) -> dict[str, Any]:
        return pairing.enrol_courier(state, req.token, req.public_key, req.device_name)

    @app.put("/v1/courier/tasks", summary="Desk: hand doorstep tasks to one courier phone")
    async def publish(request: Request) -> dict[str, Any]:
        return await as_device(request, 512 * 1024, lambda desk, body: tasks.publish(state, desk, _json(body)))

    @app.get("/v1/courier/tasks", summary="Phone: its own doorstep tasks")
    async def download(request: Request) -> JSONResponse:
        found = await as_device(request, 0, lambda courier, _: tasks.tasks_of(state, courier))
        return JSONResponse(found, headers={"Cache-Control": "no-store"})

    app.mount("/courier", StaticFiles(directory=STATIC, html=True), name="courier_app")
