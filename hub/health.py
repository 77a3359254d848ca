"""Health probes for a load balancer and for systemd: `GET /livez` and `GET /readyz`.

* `/livez`  — the process answers HTTP. Never looks at its dependencies, so a
  database outage does not make an orchestrator restart every instance.
* `/readyz` — this instance can do useful work: the metadata database and the
  object store each answer a trivial request within `READY_TIMEOUT` seconds.
  200 `{"status": "ready", "checks": {...}}`, else 503 with the JSON error
  body every hub error has (`error`, `reason`, `reason_vi`) plus the checks.

Checks run in a small thread pool of their own and are abandoned after the
timeout, so a frozen object store or a database that stopped answering makes
the probe fail fast instead of hanging the load balancer's health check.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable

from fastapi.responses import JSONResponse

log = logging.getLogger("motcua.hub.health")

READY_TIMEOUT = 2.0
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="motcua-health")


def _ping_database(state: Any) -> None:
    row = state.db.one("SELECT 1 AS ok")
    if not row or row["ok"] != 1:
        raise RuntimeError("unexpected answer")


def _ping_objects(state: Any) -> None:
    state.objects.ping()


CHECKS: dict[str, Callable[[Any], None]] = {"database": _ping_database, "object_store": _ping_objects}


def check(state: Any, name: str, timeout: float = READY_TIMEOUT) -> str:
    """"ok", "timeout" or the failing exception's type name (no message: it may carry a URL)."""
    started = time.monotonic()
    future = _POOL.submit(CHECKS[name], state)
    try:
        future.result(timeout=timeout)
    except FutureTimeout:
        log.warning("ready_check_timeout check=%s seconds=%.1f", name, time.monotonic() - started)
        return "timeout"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        log.warning("ready_check_failed check=%s error=%s", name, type(exc).__name__)
        return type(exc).__name__
    return "ok"


def readiness(state: Any, timeout: float = READY_TIMEOUT) -> tuple[bool, dict[str, str]]:
    """(ready?, result of each check). The checks run concurrently; the whole takes ≤ `timeout`."""
    futures = {name: _POOL.submit(check, state, name, timeout) for name in CHECKS}
    results = {name: future.result() for name, future in futures.items()}
    return all(v == "ok" for v in results.values()), results


def install_health(app: Any, state: Any) -> None:
    """Add `GET /livez` and `GET /readyz` to the FastAPI app."""
    @app.get("/livez", summary="Liveness: the process answers (does not check dependencies)")
    def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", summary="Readiness: database and object store answer within a timeout, else 503")
    def readyz() -> JSONResponse:
        ready, checks = readiness(state)
        if ready:
            return JSONResponse({"status": "ready", "checks": checks}, headers={"Cache-Control": "no-store"})
        failing = ", ".join(f"{k}={v}" for k, v in checks.items() if v != "ok")
        return JSONResponse({"error": "not_ready", "reason": f"this hub instance cannot serve requests now ({failing})",
                             "reason_vi": f"Máy chủ trung tâm này tạm thời không phục vụ được ({failing})",
                             "checks": checks}, status_code=503, headers={"Cache-Control": "no-store"})
