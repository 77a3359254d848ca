"""Fetch the reference data version the feed announces, keep it in the outbox, hand it to subscribers.

The hub's feed page says which version is newest (`"refdata": {version, document_hash}`,
sync_protocol.refdata). When it is newer than the one fetched, `fetch_announced`
downloads `GET /v1/refdata/<version>`, checks the hub key's signature and the
announced hash, and stores the signed document in the outbox state (one
transaction). `apply_pending` then hands it to every handler registered with
`on_reference_data` (the desk: agent.desk.refdata.apply_refdata) and records the
version as applied. Delivery never looks inside the document; a handler that
refuses it leaves the error recorded and the old version in force. With no
handler in this process the document waits in the outbox.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable

from agent.errors import HubError, MotcuaError
from sync_protocol.errors import InvalidDocument, SignatureInvalid
from sync_protocol.refdata import verify_refdata
from sync_protocol.signed_document import Envelope

log = logging.getLogger("motcua.agent.reference_data")
FETCHED = "refdata:fetched"        # version of the stored signed document
DOCUMENT = "refdata:document"      # the signed document (JSON text)
APPLIED = "refdata:applied"        # version handed to the handlers successfully
ERROR = "refdata:error"            # why the last fetch or apply failed

ReferenceDataHandler = Callable[[Any, str], Any]
_handlers: list[ReferenceDataHandler] = []


def on_reference_data(handler: ReferenceDataHandler) -> ReferenceDataHandler:
    """Subscribe `handler(ctx, signed_json_text)` to every newly fetched version (once)."""
    if handler not in _handlers:
        _handlers.append(handler)
    return handler


def _int_state(ctx: Any, key: str) -> int:
    return int(ctx.outbox.get_state(key, "0") or 0)


def _record_error(ctx: Any, text: str) -> None:
    with ctx.outbox.transaction():
        ctx.outbox.set_state(ERROR, text[:300])


def fetch_announced(ctx: Any, version: int, document_hash: str) -> bool:
    """Fetch and store the announced version if it is newer than the one held; True if stored now."""
    if version <= _int_state(ctx, FETCHED):
        return False
    body = ctx.hub.refdata(version)
    try:
        envelope = Envelope.from_dict(body)
        document = verify_refdata(envelope, ctx.hub_key)
        if document["version"] != version or envelope.document_hash != document_hash:
            raise SignatureInvalid("the document is not the version the feed announced")
    except (InvalidDocument, SignatureInvalid) as exc:
        _record_error(ctx, f"version {version} refused: {exc}")
        log.warning("refdata_fetch_refused version=%d error=%s", version, type(exc).__name__)
        raise HubError(f"Dữ liệu danh mục phiên bản {version} từ trung tâm không hợp lệ (chữ ký sai); chưa áp dụng.",
                       f"Reference data version {version} from the hub failed verification: {exc}; not applied.",
                       "Báo quản trị viên tỉnh / tell the provincial administrator") from exc
    with ctx.outbox.transaction():
        ctx.outbox.set_state(DOCUMENT, json.dumps(envelope.to_dict(), ensure_ascii=False))
        ctx.outbox.set_state(FETCHED, str(version))
    log.info("refdata_fetched version=%d", version)
    return True


def apply_pending(ctx: Any) -> int:
    """Hand a fetched, not yet applied version to the subscribers; the version applied now, or 0."""
    fetched = _int_state(ctx, FETCHED)
    if not _handlers or fetched <= _int_state(ctx, APPLIED):
        return 0
    text = ctx.outbox.get_state(DOCUMENT) or ""
    try:
        for handler in _handlers:
            handler(ctx, text)
    except MotcuaError as exc:
        _record_error(ctx, f"version {fetched}: {exc.message_en}")
        return 0
    with ctx.outbox.transaction():
        ctx.outbox.set_state(APPLIED, str(fetched))
        ctx.outbox.set_state(ERROR, "")
    return fetched


def follow(ctx: Any, announced: tuple[int, str] | None) -> None:
    """After a feed pull: fetch what was announced, then apply what is pending. Never raises for the hub."""
    try:
        if announced is not None:
            fetch_announced(ctx, *announced)
    except HubError as exc:
        log.warning("refdata_fetch_failed error=%s", exc.message_en[:200])
    apply_pending(ctx)


def state(ctx: Any) -> dict[str, Any]:
    return {"fetched": _int_state(ctx, FETCHED), "applied": _int_state(ctx, APPLIED),
            "error": ctx.outbox.get_state(ERROR) or ""}
