"""Prometheus metrics: the hub's /metrics after real traffic, and the agent's `motcua metrics`."""
from __future__ import annotations

import json

import requests
from prometheus_client.parser import text_string_to_metric_families

from agent.sealing.seal import seal_all
from agent.delivery.sync import sync_once

from .conftest import SITE, run_motcua
from .fixtures_servers import quick_dossier


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_hub_metrics_count_uploads_commits_rejects_and_site_contact(hub, agent):
    quick_dossier(agent)
    seal_all(agent)
    report = sync_once(agent)
    assert len(report.committed) == 1
    # a refused request: no Tus-Resumable header
    refused = requests.post(hub.url + "/v1/uploads", headers={"Upload-Length": "10"}, timeout=5)
    assert refused.status_code >= 400
    reason = refused.json()["error"]

    response = requests.get(hub.url + "/metrics", timeout=5)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    m = _samples(response.text)
    assert m[("motcua_hub_commits_total", (("result", "created"),))] == 1
    assert m[("motcua_hub_uploads_created_total", ())] >= 1
    assert m[("motcua_hub_upload_bytes_total", ())] == report.bytes_sent > 0
    assert m[("motcua_hub_rejects_total", (("reason", reason),))] == 1
    assert m[("motcua_hub_dossiers_committed", ())] == 1
    assert m[("motcua_hub_database_up", ())] == 1
    assert m[("motcua_hub_devices", (("state", "active"),))] == 1
    assert m[("motcua_hub_site_seconds_since_contact", (("site", SITE),))] < 60
    assert ("motcua_hub_site_last_commit_timestamp_seconds", (("site", SITE),)) in m
    assert m[("motcua_hub_queue_lag_seconds", (("quantile", "0.5"),))] >= 0
    assert m[("motcua_hub_commit_seconds_count", ())] == 1
    assert m[("motcua_hub_requests_total", (("method", "PATCH"), ("route", "/v1/uploads/{id}"), ("status", "204")))] >= 1
    # no ids in labels: one series per route template
    assert not any("upload" in dict(labels).get("route", "") and len(dict(labels)["route"]) > 20 for _, labels in m)

    replay = sync_once(agent)  # nothing left to send
    assert replay.committed == []


def test_agent_metrics_show_queue_depth_oldest_unsent_and_last_sync(hub, agent, agent_home, tmp_path):
    quick_dossier(agent)
    before = _samples(run_motcua("metrics", home=agent_home).stdout)
    assert before[("motcua_agent_queue_dossiers", (("state", "captured"),))] == 1
    assert before[("motcua_agent_last_successful_sync_timestamp_seconds", ())] == 0
    assert before[("motcua_agent_oldest_unsent_age_seconds", ())] >= 0

    seal_all(agent)
    sync_once(agent)
    after = json.loads(run_motcua("metrics", "--json", home=agent_home).stdout)
    assert after["unsent"] == 0 and after["queue"]["captured"] == 0
    assert after["last_sync_ok"] is not None and after["last_sync_ok"] == after["last_sync_attempt"]

    prom = tmp_path / "motcua.prom"
    written = run_motcua("metrics", "--textfile", str(prom), home=agent_home)
    assert written.returncode == 0, written.stderr
    m = _samples(prom.read_text())
    assert m[("motcua_agent_last_successful_sync_timestamp_seconds", ())] > 0
    assert m[("motcua_agent_info", (("site", SITE),))] == 1


def test_failed_sync_records_the_attempt_but_not_a_success(hub, agent, agent_home):
    quick_dossier(agent)
    seal_all(agent)
    hub.stop()
    report = sync_once(agent)
    assert report.unreachable
    health = json.loads(run_motcua("metrics", "--json", home=agent_home).stdout)
    assert health["last_sync_attempt"] is not None and health["last_sync_ok"] is None
    assert health["unsent"] == 1


def test_metrics_on_a_desk_without_an_outbox_are_zero(tmp_path):
    result = run_motcua("metrics", "--json", home=tmp_path / "empty")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["unsent"] == 0
