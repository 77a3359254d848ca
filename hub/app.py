"""The hub's HTTP API (FastAPI). OpenAPI schema at /openapi.json.

Device endpoints are authenticated by the request signature (see
sync_protocol.request_signing). Every error is JSON:
`{"error": code, "reason": English, "reason_vi": Vietnamese}`.
"""
from __future__ import annotations

import os
import logging
import time
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sync_protocol import PROTOCOL_VERSION
from sync_protocol.tus_client import TUS_VERSION, decode_metadata

from . import commits, courier_app, delivery_proofs, enrolment, refdata, uploads
from . import feed as status_feed
from .auth import Device, authenticate
from .case_system.routes import install as install_case_system
from .config import HubConfig
from .errors import (BadRequest, Forbidden, HubError, InsufficientStorage, NotFound, PreconditionFailed,
                     UnsupportedMediaType, disk_full)
from .health import install_health
from .janitor import start_janitor
from .limits import AddressLimitMiddleware, RateLimiter, client_address, read_body
from .metrics import install_metrics
from .parsing import ascii_int, loads_bounded
from .sealed import remove_interrupted_decryptions
from .state import HubState

log = logging.getLogger("motcua.hub.app")
TUS_EXTENSIONS = "creation,checksum,termination,expiration"
MAX_JSON_BODY = 1024 * 1024
MAX_UPLOAD_METADATA = 4096
_HTTP_ERRORS = {404: ("not_found", "no such route; see /openapi.json", "Không có đường dẫn này; xem /openapi.json"),
                405: ("method_not_allowed", "this method is not allowed on this route",
                      "Phương thức này không dùng được cho đường dẫn này")}


class EnrolRequest(BaseModel):
    token: str = Field(max_length=200)
    public_key: str = Field(max_length=100)
    device_name: str = Field(default="desk", max_length=80)
    site: str | None = Field(default=None, max_length=200, description="Site the desk expects the token to be for")


class KeyRotation(BaseModel):
    new_public_key: str = Field(max_length=100, description="The device's new Ed25519 public key (base64url)")
    proof: str = Field(max_length=200, description="Signature by the new key over the rotation proof input")


def _invalid(errors: Any) -> BadRequest:
    """A 400 naming every field pydantic refused."""
    fields = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors)
    return BadRequest(f"invalid request: {fields}", f"Yêu cầu không hợp lệ: {fields}")


def app_from_env() -> FastAPI:
    """App factory for `motcua hub serve --workers N`: each worker builds its app from the environment."""
    return create_app(HubConfig.from_env(Path(os.environ["MOTCUA_HUB_DATA"])))


def create_app(config: HubConfig) -> FastAPI:
    state = HubState.open(config)
    remove_interrupted_decryptions(state)  # plaintexts a killed hub left half-written
    app = FastAPI(title="motcua hub", version="0.1.0",
                  description="Provincial receiver for dossiers sealed by motcua desk agents.")
    app.state.hub = state
    app.add_middleware(AddressLimitMiddleware, max_per_address=config.max_requests_per_address,
                       max_body=max(config.max_chunk_bytes, MAX_JSON_BODY))
    install_metrics(app, state)  # GET /metrics (Prometheus) and request counters (outermost: counts refusals too)
    enrol_limit = RateLimiter(config.enrol_per_minute)
    from .console import mount_console

    mount_console(app, state)  # the centre staff's web console at /console/ (hub.console)
    install_case_system(app, state)  # pull API, documents, acks, webhook dispatcher (hub.case_system)
    install_health(app, state)  # GET /livez and /readyz for load balancers
    app.state.janitor = start_janitor(state)  # sweeps leftovers now and every config.janitor_interval_seconds

    @app.exception_handler(HubError)
    async def hub_error(_: Request, exc: HubError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status, headers={"Tus-Resumable": TUS_VERSION, **exc.headers})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Unknown routes and methods answer in the documented {error, reason, reason_vi} shape."""
        code, reason, reason_vi = _HTTP_ERRORS.get(exc.status_code, ("http_error", str(exc.detail)[:200],
                                                                      str(exc.detail)[:200]))
        return JSONResponse({"error": code, "reason": reason, "reason_vi": reason_vi}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_invalid(exc.errors()).to_json(), status_code=400)

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

    async def as_device(request: Request, limit: int, handler: Callable[[Device, bytes], Any],
                        frees_space: bool = False) -> Any:
        """Authenticate the device from the headers, then read the body (bounded, hashed as it streams,
        checked against the signed Content-Digest), then run the handler in the thread pool."""
        device, verified = await run_in_threadpool(authenticate, state, request, frees_space)
        body = await read_body(request, limit, config.body_idle_seconds, verified)
        courier_app.refuse_courier_outside(state, device, request.url.path)  # phones: their routes only
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

    @app.post("/v1/enrol", status_code=201, summary="Exchange a one-time token for a device identity",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": EnrolRequest.model_json_schema()}}}})
    async def enrol(request: Request) -> dict[str, Any]:
        enrol_limit.check(client_address(request.scope))  # 429: tokens are not to be guessed at speed
        body = await read_body(request, 4096, config.body_idle_seconds)
        try:
            req = EnrolRequest.model_validate_json(body)
        except ValidationError as exc:
            raise _invalid(exc.errors()) from exc
        result = await run_in_threadpool(enrolment.enrol_device, state, req.token, req.public_key, req.device_name,
                                         req.site)
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
        length = ascii_int(request.headers.get("upload-length"), "Upload-Length (bytes)")
        raw_metadata = request.headers.get("upload-metadata", "")
        if len(raw_metadata) > MAX_UPLOAD_METADATA:
            raise BadRequest(f"Upload-Metadata is longer than {MAX_UPLOAD_METADATA} bytes",
                             f"Upload-Metadata dài quá {MAX_UPLOAD_METADATA} byte", code="header_too_large")
        try:
            metadata = decode_metadata(raw_metadata)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"Upload-Metadata is malformed: {exc}", "Upload-Metadata không hợp lệ") from exc

        def create(device: Device, _: bytes) -> str:
            return uploads.create_upload(state, device, length, metadata)

        upload_id = await as_device(request, 0, create)
        return Response(status_code=201, headers=tus_headers(Location=f"/v1/uploads/{upload_id}", **{
            "Upload-Offset": "0", "Upload-Expires": uploads.upload_expires(state, state.now())}))

    @app.get("/v1/uploads", summary="This device's own unfinished uploads (to resume or terminate them)")
    async def tus_list(request: Request, mine: str = "") -> dict[str, Any]:
        if mine != "1":  # explicit, so nobody reads it as a province-wide list: there is none for devices
            raise Forbidden("a device may list only its own uploads: GET /v1/uploads?mine=1",
                            "Thiết bị chỉ được xem các phiên tải lên của chính mình: GET /v1/uploads?mine=1",
                            code="not_own_uploads")
        found = await as_device(request, 0, lambda device, _: uploads.list_uploads(state, device))
        return {"uploads": found, "max_open_uploads": config.max_open_uploads,
                "max_reserved_bytes": config.max_reserved_bytes}

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
        offset = ascii_int(request.headers.get("upload-offset"), "Upload-Offset")

        def append(device: Device, body: bytes) -> int:
            return uploads.append_chunk(state, device, upload_id, offset, body,
                                        request.headers.get("upload-checksum"))

        new_offset = await as_device(request, config.max_chunk_bytes, append)
        return Response(status_code=204, headers=tus_headers(**{
            "Upload-Offset": str(new_offset), "Upload-Expires": uploads.upload_expires(state, state.now())}))

    @app.delete("/v1/uploads/{upload_id}", status_code=204, summary="tus termination")
    async def tus_delete(upload_id: str, request: Request) -> Response:
        require_tus(request)
        await as_device(request, 0, lambda device, _: uploads.terminate_upload(state, device, upload_id),
                        frees_space=True)
        return Response(status_code=204, headers=tus_headers())

    @app.head("/v1/objects/{sha256}", summary="Does the hub already hold this object from this device?")
    async def object_exists(sha256: str, request: Request) -> Response:
        if not uploads.is_sha256(sha256):
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
            raise NotFound("the hub has no such dossier for this agency", "Trung tâm chưa có hồ sơ này của cơ quan")
        return found

    @app.get("/v1/feed", summary="Status events of this device's site after a cursor (status feed)")
    async def feed(request: Request, after: int = 0, limit: int = 100, kinds: str = "") -> dict[str, Any]:
        wanted = tuple(k for k in kinds[:200].split(",") if k)  # event kinds beyond status changes the agent knows
        return await as_device(request, 0, lambda device, _: {
            **status_feed.feed_page(state, device.agency_code, after, limit, wanted), **refdata.feed_field(state)})

    @app.get("/v1/refdata/{version}", summary="A published version of the province's reference data (signed by the hub)")
    async def refdata_version(version: int, request: Request) -> dict[str, Any]:
        return await as_device(request, 0, lambda device, _: refdata.signed_version(state, version))

    @app.post("/v1/case-system/status", summary="Provincial case system: post a dossier status change (Bearer API token)")
    async def post_status(request: Request) -> JSONResponse:
        token = await run_in_threadpool(status_feed.api_token, state, request.headers.get("authorization"))
        body = await read_body(request, 64 * 1024, config.body_idle_seconds)  # only once the token is known
        try:
            parsed = loads_bounded(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("body is not JSON", "Nội dung không phải JSON") from exc
        event, created = await run_in_threadpool(status_feed.post_status, state, token["name"], parsed, token["agencies"])
        return JSONResponse(event, status_code=201 if created else 200)

    courier_app.install(app, state, as_device)  # couriers' phones: the PWA and its API
    return app
