"""The hub's HTTP API (FastAPI). OpenAPI schema at /openapi.json.

Device endpoints are authenticated by the request signature (see
sync_protocol.request_signing). Every error is JSON:
`{"error": code, "reason": English, "reason_vi": Vietnamese}`.
"""
from __future__ import annotations

import errno
import json
import os
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sync_protocol import PROTOCOL_VERSION
from sync_protocol.tus_client import TUS_VERSION, decode_metadata

from . import commits, delivery_proofs, enrolment, uploads
from . import feed as status_feed
from .auth import Device, authenticate
from .config import HubConfig
from .errors import (BadRequest, HubError, InsufficientStorage, NotFound, PreconditionFailed, TooLarge,
                     UnsupportedMediaType)
from .metrics import install_metrics
from .state import HubState

log = logging.getLogger("motcua.hub.app")
TUS_EXTENSIONS = "creation,checksum,termination,expiration"
MAX_JSON_BODY = 1024 * 1024


class EnrolRequest(BaseModel):
    token: str = Field(max_length=200)
    public_key: str = Field(max_length=100)
    device_name: str = Field(default="desk", max_length=80)
    site: str | None = Field(default=None, max_length=200, description="Site the desk expects the token to be for")


class KeyRotation(BaseModel):
    new_public_key: str = Field(max_length=100, description="The device's new Ed25519 public key (base64url)")
    proof: str = Field(max_length=200, description="Signature by the new key over the rotation proof input")


def disk_full(exc: BaseException) -> bool:
    """Is this exception (or its cause) the disk or database being full?"""
    for _ in range(10):  # bounded: exception chains can loop
        if exc is None:
            return False
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def app_from_env() -> FastAPI:
    """App factory for `motcua hub serve --workers N`: each worker builds its app from the environment."""
    return create_app(HubConfig.from_env(Path(os.environ["MOTCUA_HUB_DATA"])))


def create_app(config: HubConfig) -> FastAPI:
    state = HubState.open(config)
    app = FastAPI(title="motcua hub", version="0.1.0",
                  description="Provincial receiver for dossiers sealed by motcua desk agents.")
    app.state.hub = state
    install_metrics(app, state)  # GET /metrics (Prometheus) and request counters

    @app.exception_handler(HubError)
    async def hub_error(_: Request, exc: HubError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status, headers={"Tus-Resumable": TUS_VERSION, **exc.headers})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return JSONResponse(BadRequest(f"invalid request: {fields}", f"Yêu cầu không hợp lệ: {fields}").to_json(),
                            status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        if disk_full(exc):  # anywhere (database, uploads, objects): a clear 507, never a 500
            log.error("disk_full type=%s", type(exc).__name__)
            full = InsufficientStorage("hub disk is full; nothing was stored, retry later",
                                       "Ổ đĩa trung tâm đã đầy; chưa lưu gì, thử lại sau")
            return JSONResponse(full.to_json(), status_code=full.status, headers={"Tus-Resumable": TUS_VERSION})
        log.exception("internal_error type=%s", type(exc).__name__)
        return JSONResponse({"error": "internal", "reason": "internal hub error; it was logged",
                             "reason_vi": "Lỗi nội bộ tại trung tâm; đã ghi nhật ký"}, status_code=500)

    async def read_body(request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"request body of {declared} bytes exceeds {limit}", f"Nội dung yêu cầu vượt quá {limit} byte")
        chunks, size = [], 0
        async for part in request.stream():
            size += len(part)
            if size > limit:
                raise TooLarge(f"request body exceeds {limit} bytes", f"Nội dung yêu cầu vượt quá {limit} byte")
            chunks.append(part)
        return b"".join(chunks)

    async def as_device(request: Request, limit: int, handler: Callable[[Device, bytes], Any]) -> Any:
        """Read the body, authenticate the device, run the handler in the thread pool."""
        body = await read_body(request, limit)
        device = await run_in_threadpool(authenticate, state, request, body)
        return await run_in_threadpool(handler, device, body)

    def require_tus(request: Request) -> None:
        if request.headers.get("tus-resumable") != TUS_VERSION:
            raise PreconditionFailed(f"Tus-Resumable: {TUS_VERSION} is required",
                                     f"Cần tiêu đề Tus-Resumable: {TUS_VERSION}", code="tus_version",
                                     headers={"Tus-Version": TUS_VERSION})

    def tus_headers(**extra: str) -> dict[str, str]:
        return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}

    @app.get("/v1/hello", summary="Protocol version, hub key and time (unauthenticated probe)")
    def hello() -> dict[str, Any]:
        return {"service": "motcua-hub", "protocol": PROTOCOL_VERSION, "hub_key_id": state.hub_key_id,
                "hub_public_key": state.hub_public_key, "hub_encryption_key": state.encryption_public_key,
                "hub_encryption_key_id": state.encryption_key_id, "time": int(time.time())}

    @app.post("/v1/enrol", status_code=201, summary="Exchange a one-time token for a device identity")
    def enrol(req: EnrolRequest) -> dict[str, Any]:
        result = enrolment.enrol_device(state, req.token, req.public_key, req.device_name, req.site)
        log.info("device_enrolled device=%s", result.device_id)
        return result.to_json(state)

    @app.options("/v1/uploads", status_code=204, summary="tus capabilities")
    def tus_options() -> Response:
        return Response(status_code=204, headers={
            "Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION, "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(config.max_upload_bytes), "Tus-Checksum-Algorithm": "sha1"})

    @app.post("/v1/uploads", status_code=201, summary="tus creation: start an upload")
    async def tus_create(request: Request) -> Response:
        require_tus(request)
        length_header = request.headers.get("upload-length", "")
        if not length_header.isdigit():
            raise BadRequest("Upload-Length header is required (bytes)", "Thiếu tiêu đề Upload-Length")
        try:
            metadata = decode_metadata(request.headers.get("upload-metadata", ""))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"Upload-Metadata is malformed: {exc}", "Upload-Metadata không hợp lệ") from exc

        def create(device: Device, _: bytes) -> str:
            return uploads.create_upload(state, device, int(length_header), metadata)

        upload_id = await as_device(request, 0, create)
        return Response(status_code=201, headers=tus_headers(Location=f"/v1/uploads/{upload_id}", **{
            "Upload-Offset": "0", "Upload-Expires": uploads.upload_expires(state, state.now())}))

    @app.head("/v1/uploads/{upload_id}", summary="tus: durable offset of an upload")
    async def tus_head(upload_id: str, request: Request) -> Response:
        require_tus(request)
        row = await as_device(request, 0, lambda device, _: uploads.get_upload(state, device, upload_id))
        return Response(status_code=200, headers=tus_headers(**{"Upload-Offset": str(row["upload_offset"]),
                                                                  "Upload-Expires": uploads.upload_expires(state, row["updated_at"]),
                                                                  "Upload-Length": str(row["length"])}))

    @app.patch("/v1/uploads/{upload_id}", status_code=204, summary="tus: append a chunk at Upload-Offset")
    async def tus_patch(upload_id: str, request: Request) -> Response:
        require_tus(request)
        if request.headers.get("content-type") != "application/offset+octet-stream":
            raise UnsupportedMediaType("Content-Type must be application/offset+octet-stream",
                                       "Content-Type phải là application/offset+octet-stream", code="content_type")
        offset_header = request.headers.get("upload-offset", "")
        if not offset_header.isdigit():
            raise BadRequest("Upload-Offset header is required", "Thiếu tiêu đề Upload-Offset")

        def append(device: Device, body: bytes) -> int:
            return uploads.append_chunk(state, device, upload_id, int(offset_header), body,
                                        request.headers.get("upload-checksum"))

        new_offset = await as_device(request, config.max_chunk_bytes, append)
        return Response(status_code=204, headers=tus_headers(**{
            "Upload-Offset": str(new_offset), "Upload-Expires": uploads.upload_expires(state, state.now())}))

    @app.delete("/v1/uploads/{upload_id}", status_code=204, summary="tus termination")
    async def tus_delete(upload_id: str, request: Request) -> Response:
        require_tus(request)
        await as_device(request, 0, lambda device, _: uploads.terminate_upload(state, device, upload_id))
        return Response(status_code=204, headers=tus_headers())

    @app.head("/v1/objects/{sha256}", summary="Does the hub already hold this object from this device?")
    async def object_exists(sha256: str, request: Request) -> Response:
        if len(sha256) != 64:
            raise BadRequest("object address must be 64 hex digits", "Địa chỉ đối tượng phải có 64 chữ số hex")
        found = await as_device(request, 0, lambda device, _: uploads.object_owned(state, device, sha256, verify=False))
        if found is None:
            raise NotFound("object not held", "Trung tâm chưa có tệp này")
        return Response(status_code=200, headers={"Content-Length": str(found["size"])})

    @app.post("/v1/commits", summary="Commit a signed manifest; returns the hub's signed receipt")
    async def commit(request: Request) -> JSONResponse:
        def run(device: Device, body: bytes) -> tuple[dict[str, Any], bool]:
            # the same function the USB bundle import calls (hub.bundles): one verification + dedupe path
            return commits.commit_body(state, device, body, request.headers.get("content-type", "application/json"))

        receipt, created = await as_device(request, MAX_JSON_BODY, run)
        return JSONResponse(receipt, status_code=201 if created else 200)

    @app.post("/v1/devices/self/key", summary="Rotate this device's key (request signed by the current key)")
    async def rotate_key(request: Request) -> dict[str, Any]:
        def run(device: Device, body: bytes) -> dict[str, Any]:
            try:
                data = KeyRotation.model_validate_json(body)
            except ValueError as exc:
                raise BadRequest("body must be {new_public_key, proof}", "Nội dung phải có new_public_key, proof") from exc
            return enrolment.rotate_device_key(state, device.device_id, data.new_public_key, data.proof)

        return await as_device(request, 4096, run)

    @app.post("/v1/delivery-proofs", summary="A courier's signed proof of delivery (or failed attempt)")
    async def delivery_proof(request: Request) -> JSONResponse:
        answer, created = await as_device(request, 64 * 1024,
                                          lambda device, body: delivery_proofs.accept_proof(state, device, body))
        return JSONResponse(answer, status_code=201 if created else 200)

    @app.get("/v1/dossiers/{dossier_id}", summary="Status of a dossier as the hub sees it")
    async def dossier(dossier_id: str, request: Request) -> dict[str, Any]:
        found = await as_device(request, 0, lambda device, _: commits.dossier_status(state, device, dossier_id))
        if found is None:
            raise NotFound("the hub has no such dossier for this site", "Trung tâm chưa có hồ sơ này của điểm tiếp nhận")
        return found

    @app.get("/v1/feed", summary="Status events of this device's site after a cursor (status feed)")
    async def feed(request: Request, after: int = 0, limit: int = 100) -> dict[str, Any]:
        return await as_device(request, 0, lambda device, _: status_feed.feed_page(state, device.site, after, limit))

    @app.post("/v1/case-system/status", summary="Provincial case system: post a dossier status change (Bearer API token)")
    async def post_status(request: Request) -> JSONResponse:
        body = await read_body(request, 64 * 1024)
        source = await run_in_threadpool(status_feed.check_api_token, state, request.headers.get("authorization"))
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("body is not JSON", "Nội dung không phải JSON") from exc
        event, created = await run_in_threadpool(status_feed.post_status, state, source, parsed)
        return JSONResponse(event, status_code=201 if created else 200)

    return app
