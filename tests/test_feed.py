"""Status feed: the provincial case system posts status changes; desks receive them once, in order."""
from __future__ import annotations

import json
import sqlite3

import requests

from agent.context import AgentContext
from agent.delivery.feed import pull_feed
from agent.delivery.enrolment import enrol
from agent.delivery.sync import sync_once

from .chaos.dossiers import make_dossier
from .conftest import AGENCY, queue_json, run_motcua


def _api_token(hub) -> str:
    out = run_motcua("hub", "status-token", "--data", str(hub.data_dir), "--name", "case-system")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _post(hub, token: str | None, body: dict) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(hub.url + "/v1/case-system/status", json=body, headers=headers, timeout=10)


def test_case_system_api_authenticates_validates_and_is_idempotent(hub, agent):
    dossier = make_dossier(agent, 3000)
    assert sync_once(agent).committed == [dossier.code]
    token = _api_token(hub)

    missing = _post(hub, None, {"dossier_code": dossier.code, "status": 2})
    assert missing.status_code == 401 and missing.json()["reason_vi"] and missing.json()["error"] == "api_token_missing"
    assert _post(hub, "mcs_wrong", {"dossier_code": dossier.code, "status": 2}).status_code == 401
    bad = _post(hub, token, {"dossier_code": dossier.code, "status": 11})
    assert bad.status_code == 400 and "1..10" in bad.json()["reason"]
    unknown = _post(hub, token, {"dossier_code": f"{AGENCY}-990101-0001", "status": 2})
    assert unknown.status_code == 404 and unknown.json()["error"] == "dossier_unknown"
    assert _post(hub, token, {"dossier_code": dossier.code, "status": 2, "extra": 1}).status_code == 400

    first = _post(hub, token, {"dossier_code": dossier.code, "status": "accepted", "event_id": "cs-1"})
    assert first.status_code == 201
    event = first.json()
    assert event["cursor"] == 1 and event["status"] == 2 and event["status_name"] == "accepted"
    again = _post(hub, token, {"dossier_code": dossier.code, "status": "accepted", "event_id": "cs-1"})
    assert again.status_code == 200 and again.json() == event  # a retried post is not a second event
    assert hub.sql("SELECT status FROM dossiers") == [(2,)]

    revoke = run_motcua("hub", "status-token", "--data", str(hub.data_dir), "--name", "case-system", "--revoke")
    assert revoke.returncode == 0
    assert _post(hub, token, {"dossier_code": dossier.code, "status": 4}).status_code == 401


def test_status_events_reach_the_desk_after_reconnect_exactly_once(hub, agent, agent_home, tmp_path):
    dossier = make_dossier(agent, 3000)
    assert sync_once(agent).committed == [dossier.code]
    hub.stop()  # the link is down while the province works on the dossier
    for status, note in (("4", "Đang thẩm định"), ("9", "Kết quả sẵn sàng")):
        posted = run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, status, "--note", note)
        assert posted.returncode == 0, posted.stderr
    offline = run_motcua("status", dossier.code, "--json", home=agent_home)
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["hub_unreachable"] is True

    hub.start()
    report = sync_once(agent)  # the first thing a pass does after reconnecting: pull the feed
    assert report.complete
    [row] = queue_json(agent_home)
    assert row["hub_status"]["status"] == 9 and row["hub_status"]["status_name_vi"] == "Đã xử lý xong"
    shown = json.loads(run_motcua("status", dossier.code, "--json", home=agent_home).stdout)
    assert [e["status"] for e in shown["events"]] == [4, 9] and all(e["applied"] for e in shown["events"])
    table = run_motcua("queue", home=agent_home)
    assert "Đã xử lý xong" in table.stdout

    # Pulling again, or a replay of the same page after a crash, applies nothing twice.
    assert pull_feed(agent)["fetched"] == 0
    conn = sqlite3.connect(agent_home / "outbox.db")
    assert conn.execute("SELECT COUNT(*) FROM feed_inbox").fetchone() == (2,)
    assert conn.execute("SELECT COUNT(*) FROM status_events").fetchone() == (2,)  # notifications' record, once each
    conn.execute("UPDATE device_state SET value='0' WHERE key='feed:cursor'")  # as if the cursor write was lost
    conn.commit()
    conn.close()
    assert pull_feed(agent)["fetched"] == 0
    assert json.loads(run_motcua("status", dossier.code, "--json", home=agent_home).stdout)["events"][-1]["status"] == 9


def test_a_desk_sees_only_its_own_sites_events(hub, agent, tmp_path):
    dossier = make_dossier(agent, 3000)
    assert sync_once(agent).committed == [dossier.code]
    posted = run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, "2")
    assert posted.returncode == 0, posted.stderr
    other = AgentContext.open(tmp_path / "other")
    try:
        enrol(other, hub.url, hub.token(site="UBND xã Khác", agency="000.00.02.H29"), "UBND xã Khác")
        assert pull_feed(other) == {"fetched": 0, "applied": 0, "cursor": 0}
    finally:
        other.close()
    assert pull_feed(agent)["fetched"] == 1


def test_feed_endpoint_refuses_unsigned_requests_and_bad_cursors(hub, agent):
    assert requests.get(hub.url + "/v1/feed?after=0", timeout=5).status_code == 401
    response = agent.hub._send("GET", "/v1/feed", params={"after": -1})
    assert response.status_code == 400 and response.json()["reason_vi"]
