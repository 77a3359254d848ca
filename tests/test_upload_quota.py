"""Issues 12/18 follow-up: a desk whose open tus uploads fill its quota at the hub clears them itself.

Real hub processes on loopback with small quotas (MOTCUA_HUB_MAX_OPEN_UPLOADS), real desk agents,
real SQLite on both ends; requests counted by the hub's own /metrics.
"""
from __future__ import annotations

import logging
import threading
import time
from email.utils import formatdate

import requests
from prometheus_client.parser import text_string_to_metric_families

from agent.context import AgentContext
from agent.delivery.hub_client import retry_after_seconds
from agent.delivery.runner import run_forever
from agent.delivery.sync import sync_once
from agent.sealing.seal import seal_dossier

from .authority_support import AGENCY_1, enrolled_desk, refused, signed
from .conftest import SITE, HubProcess, run_motcua
from .test_hub_bounds import limited_hub  # noqa: F401 - a fixture (a hub with small limits)
from .trust_support import captured_dossier, small_pdf

TUS = {"Tus-Resumable": "1.0.0"}


def _requests(hub: HubProcess, route: str, method: str, status: int) -> float:
    """How many such requests the hub has answered (its Prometheus counter)."""
    text = requests.get(hub.url + "/metrics", timeout=10).text
    wanted = {"route": route, "method": method, "status": str(status)}
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "motcua_hub_requests_total" and s.labels == wanted)


def _open_uploads(hub: HubProcess, device_id: str) -> list[tuple]:
    return hub.sql("SELECT upload_id, upload_offset, length FROM uploads WHERE device_id=? AND finished_at IS NULL",
                   (device_id,))


def test_abandoned_uploads_are_cleared_and_the_dossier_delivered(limited_hub, tmp_path):
    hub = limited_hub(max_open_uploads="3")
    desk = enrolled_desk(hub, tmp_path / "desk", SITE, AGENCY_1)
    try:
        # (a) an upload recorded in the outbox for a dossier rejected since: no longer anyone's business
        gone = seal_dossier(desk, captured_dossier(desk, small_pdf("DA TU CHOI")).id)
        gone_doc = desk.outbox.documents(gone.id)[0]
        desk.outbox.set_upload_url(gone_doc.sha256, desk.hub.create_upload(gone_doc.size, gone_doc.sha256, "x.pdf"),
                                   gone_doc.size)
        desk.outbox.mark_rejected(gone.id, "test: refused by the officer")
        # (b) a stranger to the outbox (created, then the desk crashed before recording it)
        desk.hub.create_upload(500, "ef" * 32, "lost.pdf")
        # (c) half of the queued dossier's own document, whose record was lost (outbox restored from a backup)
        dossier = seal_dossier(desk, captured_dossier(desk, small_pdf("HO SO CAN GUI", pages=3)).id)
        doc = desk.outbox.documents(dossier.id)[0]
        half = desk.hub.create_upload(doc.size, doc.sha256, doc.name)
        with desk.outbox.blobs.open(doc.sha256) as stream:
            desk.hub.tus.patch(half, 0, stream.read(doc.size // 2))
        assert desk.outbox.conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0] == 1
        assert len(_open_uploads(hub, desk.config.device_id)) == 3  # the quota is full: the next creation is a 429

        report = sync_once(desk)

        assert report.committed == [dossier.code] and report.upload_quota is None, report.to_json()
        assert report.bytes_sent == doc.size - doc.size // 2  # the lost upload was resumed, not sent again
        assert _open_uploads(hub, desk.config.device_id) == []
        assert desk.outbox.conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0] == 0
        assert _requests(hub, "/v1/uploads", "POST", 429) == 1  # one refusal, then the clean-up sufficed
        assert _requests(hub, "/v1/uploads/{id}", "DELETE", 204) == 2  # (a) and (b)
        assert not [f for f in (hub.data_dir / "uploads").iterdir()]  # their bytes are gone at the hub too
    finally:
        desk.close()


def test_reserved_bytes_are_freed_too_and_a_file_beyond_the_whole_quota_is_rejected(limited_hub, tmp_path):
    hub = limited_hub(max_reserved_bytes="20000")
    desk = enrolled_desk(hub, tmp_path / "desk", SITE, AGENCY_1)
    try:
        desk.hub.create_upload(15000, "ef" * 32, "lost.pdf")  # forgotten by the desk; reserves most of the quota
        small = seal_dossier(desk, captured_dossier(desk, small_pdf("NHO")).id)
        assert 5000 < desk.outbox.documents(small.id)[0].size < 20000  # (signed and sealed)
        report = sync_once(desk)
        assert report.committed == [small.code] and report.upload_quota is None, report.to_json()
        assert _requests(hub, "/v1/uploads", "POST", 413) == 1 and _open_uploads(hub, desk.config.device_id) == []

        big = seal_dossier(desk, captured_dossier(desk, small_pdf("HO SO LON", pages=100)).id)
        assert desk.outbox.documents(big.id)[0].size > 20000
        report = sync_once(desk)  # no clean-up can make room for it: the rejected lane, with the reason
        assert report.rejected == [big.code] and report.failed == [], report.to_json()
        assert "20000" in desk.outbox.get(big.id).rejected_reason
    finally:
        desk.close()


def test_a_device_sees_and_deletes_only_its_own_uploads(hub, tmp_path):
    a = enrolled_desk(hub, tmp_path / "a", SITE, AGENCY_1)
    b = enrolled_desk(hub, tmp_path / "b", "Bưu điện Hoà Bình", AGENCY_1)
    try:
        url = a.hub.create_upload(300, "ab" * 32, "a.pdf")
        upload_id = url.rsplit("/", 1)[1]
        path = f"/v1/uploads/{upload_id}"
        mine = signed(hub, a, "GET", "/v1/uploads?mine=1")
        assert mine.status_code == 200, mine.text
        [entry] = mine.json()["uploads"]
        assert entry["id"] == upload_id and entry["url"] == path and entry["sha256"] == "ab" * 32
        assert (entry["length"], entry["offset"]) == (300, 0) and entry["created"].endswith("Z")

        assert signed(hub, b, "GET", "/v1/uploads?mine=1").json()["uploads"] == []  # not a's
        assert b.hub.list_own_uploads()["uploads"] == []
        refused(signed(hub, b, "GET", "/v1/uploads"), 403, "not_own_uploads")
        refused(signed(hub, b, "GET", "/v1/uploads?mine=0"), 403, "not_own_uploads")
        refused(signed(hub, b, "DELETE", path, **TUS), 404)
        # naming another device changes nothing: the listing is always the signer's own
        assert signed(hub, b, "GET", "/v1/uploads?mine=1&device=" + a.config.device_id).json()["uploads"] == []
        assert signed(hub, b, "HEAD", path, **TUS).status_code == 404
        refused(requests.get(hub.url + "/v1/uploads?mine=1", timeout=10), 401)  # unsigned
        assert [r[0] for r in _open_uploads(hub, a.config.device_id)] == [upload_id]  # b's attempts changed nothing
        b.hub.terminate_upload(hub.url + path)  # b's own client: "gone" for b, and a's upload stays
        assert [u["id"] for u in a.hub.list_own_uploads()["uploads"]] == [upload_id]
    finally:
        a.close()
        b.close()


def test_a_quota_that_stays_full_pauses_uploads_without_hammering(limited_hub, tmp_path, caplog):
    # a hub that admits no open upload at all: no clean-up can make room
    hub = limited_hub(max_open_uploads="0")
    home = tmp_path / "desk"
    desk = enrolled_desk(hub, home, SITE, AGENCY_1)
    try:
        codes = [seal_dossier(desk, captured_dossier(desk, small_pdf(f"HO SO {n}")).id).code for n in range(3)]

        report = sync_once(desk)

        assert report.committed == [] and sorted(report.failed) == sorted(codes), report.to_json()
        assert report.retry_after == 60 and report.unreachable is None and not report.complete
        assert "hạn mức" in report.upload_quota and "upload quota" in report.upload_quota
        # three dossiers, one pass: the first refusal, one clean-up, one retry — then no more creations
        assert _requests(hub, "/v1/uploads", "POST", 429) == 2
        assert _requests(hub, "/v1/uploads", "GET", 200) == 1
        waiting = desk.outbox.list(("uploading",))
        assert len(waiting) == 3 and all("upload quota" in d.last_error or "quota of unfinished uploads" in d.last_error
                                         for d in waiting), [d.last_error for d in waiting]

        cli = run_motcua("sync", home=home, timeout=180)
        assert cli.returncode == 3, cli.stderr
        assert "hạn mức phiên tải lên" in cli.stderr and "new uploads paused" in cli.stderr
        assert _requests(hub, "/v1/uploads", "POST", 429) == 4

        # `motcua run`: after its pass it waits the hub's Retry-After (60 s), not a tight loop
        stop = threading.Event()
        caplog.set_level(logging.INFO, logger="motcua.agent.runner")
        def run() -> None:
            ctx = AgentContext.open(home)  # SQLite connections stay in the thread that opened them
            try:
                run_forever(ctx, stop, seal_captured=False)
            finally:
                ctx.close()

        runner = threading.Thread(target=run)
        runner.start()
        try:
            deadline = time.monotonic() + 120
            while not any("sync_retry" in r.getMessage() for r in caplog.records):
                assert time.monotonic() < deadline and runner.is_alive(), "the runner never finished a pass"
                time.sleep(0.1)
            time.sleep(2)  # a tight loop would make several more passes in this time
            assert _requests(hub, "/v1/uploads", "POST", 429) == 6
        finally:
            stop.set()
            runner.join(60)
        [retry] = [r.getMessage() for r in caplog.records if "sync_retry" in r.getMessage()]
        waited = float(retry.split("wait=")[1].split("s")[0])
        assert waited >= 60, retry
    finally:
        desk.close()


def test_retry_after_is_read_as_seconds_or_a_date():
    assert retry_after_seconds("60") == 60
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert 100 < retry_after_seconds(formatdate(time.time() + 120, usegmt=True)) <= 120
    assert retry_after_seconds(formatdate(time.time() - 30, usegmt=True)) == 0
    assert retry_after_seconds("9" * 30) == 24 * 3600  # a hostile header does not park the desk for ages

