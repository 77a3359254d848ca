"""The case-system HTTP routes (OpenAPI tag "case system") and the webhook dispatcher's lifetime.

`install(app, state)` is the one call hub.app makes: it adds the router and runs
the webhook dispatcher while the app serves. Handlers are thin: authenticate
the Bearer token (hub.case_system.access), call the library, shape the answer.
"""
from __future__ import annotations

import contextlib
import json
from typing import Any, AsyncIterator

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from ..errors import BadRequest, TooLarge
from ..state import HubState
from . import documents, pull
from .access import authenticate
from .national_format import national_dossier
from .webhooks import WebhookDispatcher

MAX_ACK_BODY = 4096
_AUTH = "Bearer API token from `motcua hub status-token --name NAME --agency CODE` (401 if missing or revoked, " \
        "403 if the token has no agency scope)."


def make_router(state: HubState) -> APIRouter:
    router = APIRouter(prefix="/v1/case-system", tags=["case system"])

    @router.get("/dossiers", summary="Committed dossiers in commit order, after a cursor",
                description="Each item carries the signed manifest and receipt, the applicant's intake data, "
                            "procedure, channel, received/due times and its documents (name, size, sha256, url). "
                            "Store `next_after` and ask again with `after=` it to get every dossier exactly once, in "
                            "order. `unacked=1` lists only dossiers this token has not acknowledged. "
                            "`format=national` uses the national portal's field names and encodings. " + _AUTH)
    async def list_dossiers(request: Request,
                            after: str | None = Query(None, max_length=40, description="next_after of the previous page"),
                            limit: int = Query(50, description=f"1..{pull.PAGE_MAX}"),
                            unacked: bool = Query(False, description="only dossiers not yet acknowledged"),
                            shape: str = Query("motcua", alias="format", pattern="^(motcua|national)$",
                                               description="motcua (default) or national")) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            client = authenticate(state, request.headers.get("authorization"))
            page = pull.dossiers_page(state, client, after, limit, unacked)
            if shape == "national":
                page["dossiers"] = [national_dossier(d) for d in page["dossiers"]]
            return page

        return await run_in_threadpool(run)

    @router.get("/documents/{sha256}", summary="Download a document of a pulled dossier (HTTP Range supported)",
                description="Streams the plaintext document. `Range: bytes=START-` resumes a download (206 with "
                            "Content-Range); an impossible range is 416. 404 for a document no dossier of the "
                            "token's agencies holds. " + _AUTH,
                response_class=StreamingResponse,
                responses={200: {"content": {"application/pdf": {}}}, 206: {"description": "Partial content"},
                           416: {"description": "Range not satisfiable"}})
    async def document(sha256: str, request: Request) -> StreamingResponse:
        def find() -> documents.DocumentSlice:
            client = authenticate(state, request.headers.get("authorization"))
            return documents.find_document(state, client, sha256, request.headers.get("range"))

        piece = await run_in_threadpool(find)
        return StreamingResponse(documents.stream(state, piece), status_code=206 if piece.partial else 200,
                                 media_type=piece.media_type, headers=piece.headers())

    @router.post("/dossiers/{dossier_id}/ack", summary="Acknowledge that the case system holds a dossier",
                 description="Body (optional): `{\"version\": N}` (default: the latest committed version). "
                             "Idempotent: 201 the first time, 200 after. An acknowledged dossier leaves "
                             "`unacked=1` and `motcua hub lagging`. " + _AUTH)
    async def ack(dossier_id: str, request: Request) -> JSONResponse:
        body = b""
        async for part in request.stream():
            body += part
            if len(body) > MAX_ACK_BODY:
                raise TooLarge(f"request body exceeds {MAX_ACK_BODY} bytes", f"Nội dung vượt quá {MAX_ACK_BODY} byte")
        version = None
        if body.strip():
            try:
                parsed = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadRequest("body must be JSON like {\"version\": 1} or empty",
                                 "Nội dung phải là JSON {\"version\": 1} hoặc để trống") from exc
            if not isinstance(parsed, dict) or set(parsed) - {"version"}:
                raise BadRequest("body may only hold {\"version\": N}", "Nội dung chỉ được có {\"version\": N}")
            version = parsed.get("version")

        def run() -> tuple[dict[str, Any], bool]:
            client = authenticate(state, request.headers.get("authorization"))
            return pull.ack(state, client, dossier_id, version)

        answer, created = await run_in_threadpool(run)
        return JSONResponse(answer, status_code=201 if created else 200)

    return router


def install(app: FastAPI, state: HubState) -> None:
    """Add the case-system routes and run the webhook dispatcher for as long as the app serves."""
    app.include_router(make_router(state))
    previous = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        dispatcher = WebhookDispatcher(state)
        dispatcher.start()
        try:
            async with previous(application) as inner:
                yield inner
        finally:
            await run_in_threadpool(dispatcher.stop)

    app.router.lifespan_context = lifespan
