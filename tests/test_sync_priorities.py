"""Delivery order and resume details: receipts first, due dates, fair share, tus expiration."""
from __future__ import annotations

import sqlite3

import requests

from agent.delivery.sync import ordered_deliverable, sync_once
from sync_protocol.tus_client import TUS_HEADERS

from .chaos.dossiers import make_dossier


def test_due_date_orders_delivery_and_smaller_goes_first_on_ties(agent):
    late = make_dossier(agent, 3_000, due_at="2030-01-10T00:00:00Z")
    big_soon = make_dossier(agent, 30_000, due_at="2030-01-02T00:00:00Z")
    small_soon = make_dossier(agent, 3_000, due_at="2030-01-02T00:00:00Z")
    no_due = make_dossier(agent, 3_000)  # received now: due in default_due_days, i.e. before 2030
    assert [d.id for d in ordered_deliverable(agent)] == [no_due.id, small_soon.id, big_soon.id, late.id]
    with agent.outbox.transaction() as conn:  # bytes all at the hub, only the receipt missing: first of all
        conn.execute("UPDATE dossiers SET uploaded_at='2030-01-01T00:00:00Z' WHERE id=?", (late.id,))
    assert ordered_deliverable(agent)[0].id == late.id


def test_a_big_dossier_does_not_starve_small_urgent_ones(hub, agent):
    agent.config.settings.chunk_size = 32 * 1024   # many chunks for the big one
    agent.config.settings.fair_share_seconds = 0.001  # its turn ends after the first chunk
    big = make_dossier(agent, 600_000, due_at="2030-01-01T00:00:00Z")  # most urgent, but big
    small = [make_dossier(agent, 3_000, due_at="2030-01-05T00:00:00Z") for _ in range(3)]
    progress: list[str] = []
    report = sync_once(agent, on_progress=lambda code, offset, length: progress.append(code))
    assert sorted(report.committed) == sorted(d.code for d in [big, *small])
    order = [c for i, c in enumerate(progress) if i == 0 or progress[i - 1] != c]
    assert order[0] == big.code  # it starts (it is the most urgent) ...
    assert set(order[1:4]) == {d.code for d in small}  # ... then yields its turn to the small ones
    assert report.committed[-1] == big.code and report.bytes_sent == sum(
        doc.size for d in [big, *small] for doc in agent.outbox.documents(d.id))


def test_uploads_carry_upload_expires_and_an_expired_upload_is_gone(hub, agent):
    dossier = make_dossier(agent, 200_000)
    [doc] = agent.outbox.documents(dossier.id)
    url = agent.hub.create_upload(doc.size, doc.sha256, doc.name)
    head = agent.hub.session.head(url, headers=TUS_HEADERS, timeout=10)
    assert head.status_code == 200 and head.headers["Upload-Expires"].endswith("GMT")
    agent.outbox.set_upload_url(doc.sha256, url, doc.size)
    conn = sqlite3.connect(hub.data_dir / "hub.db")
    conn.execute("UPDATE uploads SET updated_at = updated_at - 8 * 24 * 3600")  # abandoned for 8 days
    conn.commit()
    conn.close()
    gone = agent.hub.session.head(url, headers=TUS_HEADERS, timeout=10)
    assert gone.status_code in (404, 410)
    report = sync_once(agent)  # the agent starts a new upload instead of failing
    assert report.committed == [dossier.code] and report.bytes_sent == doc.size
    assert hub.sql("SELECT COUNT(*) FROM uploads WHERE upload_id=?", (url.rsplit("/", 1)[1],)) == [(0,)]
    assert requests.get(hub.url + "/v1/hello", timeout=5).ok
