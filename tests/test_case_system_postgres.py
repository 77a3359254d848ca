"""The case-system API on the scaled-out hub: two instances sharing PostgreSQL and an S3 store.
Both run a webhook dispatcher, and still every event reaches the receiver exactly once; a dossier
pulled from one instance downloads (with Range) and acks through the other."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import psycopg
import pytest
import requests

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from agent.delivery.sync import sync_once

from .chaos.dossiers import make_dossier
from .conftest import SITE, HubProcess
from .fixtures_servers import *  # noqa: F401,F403
from .test_case_system_pull import case_token
from .test_case_system_webhooks import Receiver, add_endpoint

pytestmark = pytest.mark.timeout(300)


def test_two_instances_on_postgresql_pull_ack_and_push_each_event_once(tmp_path: Path, pg_url, s3_url, monkeypatch):
    env = {"MOTCUA_HUB_DATABASE_URL": pg_url, "MOTCUA_HUB_OBJECT_STORE": s3_url,
           "MOTCUA_HUB_WEBHOOK_BACKOFF_BASE": "0.05", "MOTCUA_HUB_WEBHOOK_BACKOFF_CAP": "0.3",
           "MOTCUA_HUB_WEBHOOK_POLL": "0.05", "MOTCUA_HUB_WEBHOOK_MAX_ATTEMPTS": "60"}
    for name, value in env.items():  # for the `motcua hub …` commands the test runs
        monkeypatch.setenv(name, value)
    data = tmp_path / "hub"
    first = HubProcess(data, extra_env=env).start()
    second = HubProcess(data, extra_env=env).start()
    receiver = Receiver(fail_every=2)
    try:
        receiver.secret = add_endpoint(first, receiver.url)
        ctx = AgentContext.open(tmp_path / "desk")
        enrol(ctx, first.url, first.token(), SITE)
        made = [make_dossier(ctx, 20_000) for _ in range(8)]
        assert len(sync_once(ctx).committed) == 8
        receiver.wait_for({f"{d.id}:1" for d in made}, timeout=120)
        time.sleep(1)  # two dispatchers polling every 50 ms: a double send would show by now
        with receiver.lock:
            assert all(len(bodies) == 1 for bodies in receiver.accepted.values()), receiver.accepted.keys()
            assert len(receiver.accepted) == 8 and receiver.bad_signatures == 0

        token = case_token(first)
        auth = {"Authorization": f"Bearer {token}"}
        page = requests.get(first.url + "/v1/case-system/dossiers", headers=auth, timeout=30).json()
        with psycopg.connect(pg_url) as conn:
            hub_order = [r[0] for r in conn.execute("SELECT dossier_id FROM dossiers ORDER BY hub_sequence")]
        assert [d["dossier_id"] for d in page["dossiers"]] == hub_order and len(hub_order) == 8
        doc = page["dossiers"][0]["documents"][0]
        tail = requests.get(second.url + doc["url"], headers={**auth, "Range": "bytes=100-"}, timeout=30)
        head = requests.get(second.url + doc["url"], headers={**auth, "Range": "bytes=0-99"}, timeout=30)
        assert (head.status_code, tail.status_code) == (206, 206)
        assert hashlib.sha256(head.content + tail.content).hexdigest() == doc["sha256"]
        ack = requests.post(f"{second.url}/v1/case-system/dossiers/{made[0].id}/ack", headers=auth, timeout=30)
        assert ack.status_code == 201
        unacked = requests.get(first.url + "/v1/case-system/dossiers", headers=auth, params={"unacked": 1},
                               timeout=30).json()["dossiers"]
        assert [d["dossier_id"] for d in unacked] == [i for i in hub_order if i != made[0].id]
        ctx.close()
    finally:
        receiver.close()
        first.stop()
        second.stop()
