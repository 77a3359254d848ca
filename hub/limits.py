"""Bounds on what any client — authenticated or not — can make the hub hold.

* `AddressLimitMiddleware` (pure ASGI): at most `max_requests_per_address`
  requests in progress per client address in this process (429 beyond), and a
  declared Content-Length above the largest body any route takes is refused
  (413) before a byte of it is read.
* `read_body`: read a request body up to a limit, dropping it (408) if the
  client sends nothing for `body_idle_seconds`, and — for signed device
  requests — hashing it as it streams in and comparing with the signed
  Content-Digest at the end (401 on a mismatch). Device routes authenticate
  from the headers first (hub.auth), so a stranger's body is never read.
* `RateLimiter`: a sliding one-minute window per client address (POST /v1/enrol).

All counters live in the process: with `--workers N` each worker applies its own
(a client may get up to N times the limit). Put the reverse proxy's limits in
front for a province-wide cap (docs/operations.md).
"""
from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import threading
import time
from typing import Any, Awaitable, Callable

from fastapi import Request
from starlette.requests import ClientDisconnect

from sync_protocol.request_signing import VerifiedRequest

from .errors import BadRequest, RequestTimeout, TooLarge, TooManyRequests, Unauthorized

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


def client_address(scope: dict) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _answer(send: Send, error: Any) -> None:
    body = json.dumps(error.to_json(), ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close"), *((k.lower().encode(), v.encode()) for k, v in error.headers.items())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AddressLimitMiddleware:
    """Requests in progress per client address, and declared body sizes, bounded before routing."""

    def __init__(self, app: Callable, max_per_address: int, max_body: int):
        self.app, self.max_per_address, self.max_body = app, max_per_address, max_body
        self.in_flight: collections.Counter[str] = collections.Counter()

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length and (len(length) > 19 or not length.isdigit() or int(length) > self.max_body):
            await _answer(send, TooLarge(f"request body larger than the hub accepts ({self.max_body} bytes)",
                                         f"Nội dung yêu cầu vượt quá {self.max_body} byte mà trung tâm nhận"))
            return
        address = client_address(scope)
        if self.in_flight[address] >= self.max_per_address:
            await _answer(send, TooManyRequests(
                f"too many requests in progress from {address} (limit {self.max_per_address}); retry later",
                f"Quá nhiều yêu cầu đồng thời từ {address} (tối đa {self.max_per_address}); thử lại sau",
                code="too_many_connections", headers={"Retry-After": "5"}))
            return
        self.in_flight[address] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight[address] -= 1
            if self.in_flight[address] <= 0:
                del self.in_flight[address]  # the counter never grows with addresses no longer here


async def read_body(request: Request, limit: int, idle_seconds: float,
                    verified: VerifiedRequest | None = None) -> bytes:
    """The body, at most `limit` bytes, each part arriving within `idle_seconds`; if `verified` is
    given, the body must hash to the Content-Digest its signature covered."""
    declared = request.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and (len(declared) > 19 or int(declared) > limit):
        raise TooLarge(f"request body of {declared} bytes exceeds {limit}", f"Nội dung yêu cầu vượt quá {limit} byte")
    chunks, size, digest = [], 0, hashlib.sha256()
    stream = request.stream().__aiter__()
    while True:
        try:
            part = await asyncio.wait_for(stream.__anext__(), idle_seconds)
        except StopAsyncIteration:
            break
        except ClientDisconnect as exc:  # nobody is left to answer; end the request quietly
            raise BadRequest("the client closed the connection before sending the whole body",
                             "Máy khách đóng kết nối trước khi gửi hết nội dung", code="client_disconnected") from exc
        except asyncio.TimeoutError as exc:
            raise RequestTimeout(f"request body stalled for more than {idle_seconds:g} s; dropped",
                                 f"Nội dung yêu cầu ngừng gửi quá {idle_seconds:g} giây; đã huỷ") from exc
        size += len(part)
        if size > limit:
            raise TooLarge(f"request body exceeds {limit} bytes", f"Nội dung yêu cầu vượt quá {limit} byte")
        digest.update(part)
        chunks.append(part)
    if verified is not None and not verified.body_matches(digest.digest()):
        raise Unauthorized("Content-Digest does not match the request body",
                           "Content-Digest không khớp nội dung yêu cầu", code="bad_signature")
    return b"".join(chunks)


class RateLimiter:
    """At most `per_minute` events per key in any sliding minute; remembers at most `max_keys` keys."""

    def __init__(self, per_minute: int, max_keys: int = 10_000):
        self.per_minute, self.max_keys = per_minute, max_keys
        self._seen: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()
        self._lock = threading.Lock()  # called from the thread pool

    def check(self, key: str, now: float | None = None) -> None:
        """Count one event for `key`, or raise TooManyRequests (429, Retry-After) if over the limit."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._seen.pop(key, None) or collections.deque()
            while times and times[0] <= now - 60:
                times.popleft()
            self._seen[key] = times
            while len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)
            if len(times) >= self.per_minute:
                wait = max(1, int(times[0] + 60 - now) + 1)
                raise TooManyRequests(f"too many enrolment attempts from this address; retry in {wait} s",
                                      f"Quá nhiều lần đăng ký từ địa chỉ này; thử lại sau {wait} giây",
                                      code="rate_limited", headers={"Retry-After": str(wait)})
            times.append(now)
