"""/livez, /readyz and /metrics as a load balancer and Prometheus see them, with dependencies failing.

A hub on PostgreSQL + SeaweedFS is probed while its object store is frozen
(SIGSTOP: the process is there but answers nothing) and while its database is
stopped. Readiness must turn 503 within its timeout and come back by itself;
liveness must stay 200; /metrics must stay valid Prometheus exposition (parsed
with prometheus_client's own parser) with `motcua_hub_database_up` exactly once.
"""
from __future__ import annotations

import os
import signal
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .conftest import HubProcess
from .fixtures_servers import *  # noqa: F401,F403
from .fixtures_servers import PostgresServer

pytestmark = pytest.mark.timeout(240)


def _families(url: str) -> dict[str, list]:
    response = requests.get(url + "/metrics", timeout=30)
    assert response.status_code == 200
    families: dict[str, list] = {}
    for family in text_string_to_metric_families(response.text):  # raises on invalid exposition
        assert family.name not in families, f"{family.name} exposed twice"
        families[family.name] = family.samples
    return families


def _value(families: dict[str, list], name: str) -> float:
    [sample] = families[name]
    return sample.value


def _wait_for(condition, seconds: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_sqlite_hub_is_alive_and_ready_and_its_metrics_parse(hub):
    assert requests.get(hub.url + "/livez", timeout=10).json() == {"status": "alive"}
    ready = requests.get(hub.url + "/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "object_store": "ok"}
    families = _families(hub.url)
    assert _value(families, "motcua_hub_database_up") == 1
    assert _value(families, "motcua_hub_uploads_in_progress") == 0
    assert "motcua_hub_db_transactions" in families


def test_frozen_object_store_makes_the_instance_unready_until_it_answers_again(tmp_path, pg_url, s3_url, s3_server):
    hub = HubProcess(tmp_path / "hub", extra_env={"MOTCUA_HUB_DATABASE_URL": pg_url,
                                                  "MOTCUA_HUB_OBJECT_STORE": s3_url}).start()
    try:
        assert requests.get(hub.url + "/readyz", timeout=10).status_code == 200
        os.killpg(s3_server.proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            frozen = requests.get(hub.url + "/readyz", timeout=30)
            took = time.monotonic() - started
            assert frozen.status_code == 503
            body = frozen.json()
            assert body["error"] == "not_ready" and body["reason_vi"] and body["checks"]["object_store"] == "timeout"
            assert body["checks"]["database"] == "ok"
            assert took < 15, f"readiness took {took:.1f} s to answer"
            assert requests.get(hub.url + "/livez", timeout=10).status_code == 200
        finally:
            os.killpg(s3_server.proc.pid, signal.SIGCONT)
        _wait_for(lambda: requests.get(hub.url + "/readyz", timeout=30).status_code == 200)
    finally:
        hub.stop()
    assert "Traceback" not in hub.log_text()


def test_database_down_gives_503_readiness_and_still_valid_metrics(tmp_path, s3_url):
    server = PostgresServer().start()  # its own cluster: this test stops it
    try:
        url = server.create_database()
        hub = HubProcess(tmp_path / "hub", extra_env={"MOTCUA_HUB_DATABASE_URL": url,
                                                      "MOTCUA_HUB_OBJECT_STORE": s3_url}).start()
        try:
            assert _value(_families(hub.url), "motcua_hub_database_up") == 1
            server._run(str(server.bindir / "pg_ctl"), "-D", str(server.dir / "data"), "-m", "immediate", "stop")
            down = requests.get(hub.url + "/readyz", timeout=30)
            assert down.status_code == 503
            assert down.json()["checks"]["database"] != "ok" and down.json()["checks"]["object_store"] == "ok"
            families = _families(hub.url)
            assert _value(families, "motcua_hub_database_up") == 0
            assert "motcua_hub_dossiers_committed" not in families  # no half-read database gauges
            assert "motcua_hub_requests" in families  # the instance's own counters are still there
            assert requests.get(hub.url + "/livez", timeout=10).status_code == 200
        finally:
            hub.stop()
        assert "Traceback" not in hub.log_text()
    finally:
        server.stop()
