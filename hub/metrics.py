"""Prometheus metrics for the hub: `GET /metrics` (text exposition format).

Two kinds of figures:
  * counted by this instance as requests pass (an ASGI middleware, so no
    handler changes): requests by route and status, uploads created, chunk
    bytes received, commits (created / replayed) with their latency, and
    refusals by reason code (the `error` of the JSON error body);
  * read from the metadata database at scrape time, so they are the same on
    every instance: committed dossiers, stored bytes, unfinished uploads and
    the age of the oldest, devices, per-site last contact and last commit,
    and the queue lag (how long recent dossiers waited at the desk before the
    hub received them).
Site names (communes, post offices) are labels; no personal data is. Every
label is bounded: paths the hub does not serve collapse into one `other` route,
unknown methods into `OTHER`, so a scanner cannot grow the registry.

/metrics answers only clients in `metrics_allow` (default loopback) or bearing
`Authorization: Bearer <metrics_token>`; everyone else gets 403 (hub.config).
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Iterator

from fastapi import Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .storage_metrics import StorageStatsCollector
from . import clock_checks

log = logging.getLogger("motcua.hub.metrics")

_ROUTES = [
    (re.compile(r"^/v1/uploads/[^/]+$"), "/v1/uploads/{id}"),
    (re.compile(r"^/v1/objects/[^/]+$"), "/v1/objects/{sha256}"),
    (re.compile(r"^/v1/dossiers/[^/]+$"), "/v1/dossiers/{id}"),
]
_MAX_ERROR_BODY = 4096
RECENT_FOR_LAG = 200


_STATIC_ROUTES = frozenset({"/v1/hello", "/v1/enrol", "/v1/uploads", "/v1/commits", "/v1/devices/self/key",
                            "/v1/delivery-proofs", "/v1/feed", "/v1/case-system/status", "/metrics",
                            "/openapi.json", "/docs", "/livez", "/readyz"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"})


def route_of(path: str) -> str:
    """The route template for a path, so ids do not explode label cardinality; unknown paths are "other"."""
    for pattern, name in _ROUTES:
        if pattern.match(path):
            return name
    return path if path in _STATIC_ROUTES else "other"


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None


class DatabaseCollector(Collector):
    """Gauges read from the metadata database on each scrape."""

    def __init__(self, state: Any):
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        # All or nothing: a database that fails half-way must not leave half the families
        # (and `database_up` twice) in the exposition. A probe with a timeout first, so a
        # database that stopped answering cannot hang the scrape.
        from .health import check

        families: list[GaugeMetricFamily] = []
        if check(self.state, "database") == "ok":
            try:
                families = list(self._collect())
            except Exception as exc:  # noqa: BLE001 - a scrape must never take the hub down
                log.warning("metrics_db_unavailable error=%s", type(exc).__name__)
                families = []
        up = GaugeMetricFamily("motcua_hub_database_up", "1 if the metadata database answered the scrape")
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families

    def _collect(self) -> Iterator[GaugeMetricFamily]:
        db, now = self.state.db, time.time()
        row = db.one("SELECT COUNT(*) AS n, COALESCE(MAX(hub_sequence), 0) AS seq FROM dossiers")
        yield GaugeMetricFamily("motcua_hub_dossiers_committed", "Dossier versions committed (all instances)",
                                value=row["n"])
        yield GaugeMetricFamily("motcua_hub_sequence", "Highest hub sequence number issued", value=row["seq"])
        stored = db.one("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM object_owners")
        yield GaugeMetricFamily("motcua_hub_stored_bytes", "Bytes of payload objects held (per owning device)",
                                value=stored["bytes"])
        uploads = db.one("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM uploads WHERE finished_at IS NULL")
        yield GaugeMetricFamily("motcua_hub_uploads_in_progress", "Unfinished tus uploads", value=uploads["n"])
        yield GaugeMetricFamily("motcua_hub_oldest_upload_age_seconds", "Age of the oldest unfinished upload",
                                value=max(0.0, now - uploads["oldest"]) if uploads["oldest"] else 0.0)
        devices = GaugeMetricFamily("motcua_hub_devices", "Enrolled devices by state", labels=["state"])
        counts = db.one("SELECT COUNT(*) AS total, COUNT(revoked_at) AS revoked FROM devices")
        devices.add_metric(["active"], counts["total"] - counts["revoked"])
        devices.add_metric(["revoked"], counts["revoked"])
        yield devices
        contact = GaugeMetricFamily("motcua_hub_site_last_contact_timestamp_seconds",
                                    "When any active desk of the site last made an authenticated request",
                                    labels=["site"])
        silence = GaugeMetricFamily("motcua_hub_site_seconds_since_contact",
                                    "Seconds since the site's desks last reached the hub", labels=["site"])
        for r in db.query("SELECT site, MAX(COALESCE(last_seen_at, enrolled_at)) AS seen FROM devices"
                          " WHERE revoked_at IS NULL GROUP BY site ORDER BY site"):
            contact.add_metric([r["site"]], r["seen"])
            silence.add_metric([r["site"]], max(0.0, now - r["seen"]))
        yield contact
        yield silence
        commits = GaugeMetricFamily("motcua_hub_site_last_commit_timestamp_seconds",
                                    "When the hub last committed a dossier from the site", labels=["site"])
        for r in db.query("SELECT site, MAX(received_at) AS at FROM dossiers GROUP BY site ORDER BY site"):
            at = _epoch(r["at"])
            if at is not None:
                commits.add_metric([r["site"]], at)
        yield commits
        yield from self._lag(db)
        yield clock_checks.flag_gauge(db)

    def _lag(self, db: Any) -> Iterator[GaugeMetricFamily]:
        """Queue lag of the most recent commits: hub receipt time minus desk reception time."""
        lags = []
        for r in db.query("SELECT received_at, signed_manifest FROM dossiers ORDER BY hub_sequence DESC LIMIT ?",
                          (RECENT_FOR_LAG,)):
            try:
                desk = _epoch(json.loads(r["signed_manifest"])["document"]["received_at"])
            except (ValueError, KeyError, TypeError):
                continue
            hub_at = _epoch(r["received_at"])
            if desk is not None and hub_at is not None:
                lags.append(max(0.0, hub_at - desk))
        lag = GaugeMetricFamily("motcua_hub_queue_lag_seconds",
                                f"Desk-to-hub delay over the last {RECENT_FOR_LAG} commits", labels=["quantile"])
        lags.sort()
        for q in (0.5, 0.95, 1.0):
            lag.add_metric([str(q)], lags[min(len(lags) - 1, int(q * len(lags)))] if lags else 0.0)
        yield lag


class HubMetrics:
    """This instance's counters plus the database gauges, in one registry."""

    def __init__(self, state: Any):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("motcua_hub_requests", "HTTP requests", ["route", "method", "status"], registry=r)
        self.uploads_created = Counter("motcua_hub_uploads_created", "tus uploads created", registry=r)
        self.upload_chunks = Counter("motcua_hub_upload_chunks", "tus chunks made durable", registry=r)
        self.upload_bytes = Counter("motcua_hub_upload_bytes", "Payload bytes made durable", registry=r)
        self.commits = Counter("motcua_hub_commits", "Commits answered", ["result"], registry=r)
        self.commit_seconds = Histogram("motcua_hub_commit_seconds", "Commit latency (request in, receipt out)",
                                        buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10), registry=r)
        self.rejects = Counter("motcua_hub_rejects", "Requests refused, by reason code", ["reason"], registry=r)
        # the denominator of "share of request time spent waiting for locks" (motcua_hub_db_lock_wait_seconds)
        self.request_seconds = Counter("motcua_hub_request_seconds", "Time spent serving requests", registry=r)
        r.register(DatabaseCollector(state))
        r.register(StorageStatsCollector())

    def observe(self, method: str, path: str, status: int, content_length: int, seconds: float,
                error_code: str | None) -> None:
        route = route_of(path)
        self.requests.labels(route, method if method in _METHODS else "OTHER", str(status)).inc()
        self.request_seconds.inc(seconds)
        if route == "/v1/uploads" and method == "POST" and status == 201:
            self.uploads_created.inc()
        elif route == "/v1/uploads/{id}" and method == "PATCH" and status == 204:
            self.upload_chunks.inc()
            self.upload_bytes.inc(content_length)
        elif route == "/v1/commits" and status in (200, 201):
            self.commits.labels("created" if status == 201 else "replayed").inc()
            self.commit_seconds.observe(seconds)
        if status >= 400:
            self.rejects.labels(error_code or f"http_{status}").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class MetricsMiddleware:
    """Pure ASGI middleware: times each request and reads the error code from small JSON error bodies."""

    def __init__(self, app: Callable, metrics: HubMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, error_body = 500, bytearray()
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"0")
        content_length = int(length) if length.isdigit() and len(length) <= 19 else 0

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status >= 400 and len(error_body) < _MAX_ERROR_BODY:
                error_body.extend(message.get("body", b"")[:_MAX_ERROR_BODY])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            code = None
            if error_body:
                try:
                    code = str(json.loads(bytes(error_body)).get("error") or "") or None
                except (ValueError, AttributeError):
                    code = None
            self.metrics.observe(scope.get("method", ""), scope.get("path", ""), status, content_length,
                                 time.perf_counter() - started, code)


def _networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The comma-separated CIDRs of `metrics_allow` (ValueError names a bad one at startup)."""
    try:
        return [ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(f"metrics_allow: {exc}") from exc


def _may_scrape(request: Any, allowed: list, token: str | None) -> bool:
    if token:
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return any(address in network for network in allowed)


def install_metrics(app: Any, state: Any) -> HubMetrics:
    """Add the middleware and the `GET /metrics` route to the FastAPI app."""
    from fastapi import Response

    from .errors import Forbidden

    metrics = HubMetrics(state)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    allowed = _networks(state.config.metrics_allow)
    token = state.config.metrics_token

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        if not _may_scrape(request, allowed, token):
            raise Forbidden("metrics are for the monitoring address or the metrics token only",
                            "Chỉ địa chỉ giám sát hoặc mã truy cập số liệu mới xem được /metrics", code="metrics_denied")
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.state.metrics = metrics
    return metrics
