"""Sync when the hub goes away: down before a pass, killed mid-upload, away while `motcua run` loops.

The hub is a real process, stopped or SIGKILLed and restarted on the same port
and data directory. Nothing is lost, nothing is sent twice that the hub had
already made durable, and the officer sees a clear message, never a traceback.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from agent.capture.files import import_files
from agent.capture.sample_pages import noise_pdf
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once

from .conftest import ROOT, assert_clean_failure, queue_json, run_motcua

pytestmark = pytest.mark.usefixtures("no_ocr")  # OCR is not what these tests are about


def test_hub_down_during_sync_keeps_the_dossier_and_the_next_sync_commits_it(hub, agent, agent_home, pages):
    dossier = seal_dossier(agent, import_files(agent, pages, "1.001193", "counter").id)
    hub.stop()

    result = run_motcua("sync", home=agent_home)
    assert_clean_failure(result, "Chưa kết nối được trung tâm", "Hub unreachable", "dossiers stay queued",
                         "Chưa gửi được / not delivered yet: " + dossier.code, exit_code=3)
    [row] = queue_json(agent_home)
    assert row["state"] in ("sealed", "uploading")
    assert "Cannot reach the hub" in row["last_error"]
    assert row["attempts"] >= 1

    # A script asking for JSON gets one JSON document it can parse, even on exit 3.
    scripted = run_motcua("sync", "--json", home=agent_home)
    assert scripted.returncode == 3
    report = json.loads(scripted.stdout)
    assert report["failed"] == [dossier.code] and report["unreachable"]

    hub.start()
    again = run_motcua("sync", "--json", home=agent_home)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["committed"] == [dossier.code]
    [row] = queue_json(agent_home)
    assert row["state"] == "purged" and row["last_error"] is None
    assert hub.sql("SELECT COUNT(*) FROM dossiers") == [(1,)]


def test_upload_resumes_from_the_hubs_durable_offset_after_the_hub_is_killed(hub, agent, tmp_path):
    chunk = 16 * 1024
    agent.config.settings.chunk_size = chunk
    # capture re-encodes the noise page by class (about 240 KiB of JPEG): still ~15 chunks
    big = noise_pdf(tmp_path / "big.pdf", 1536 * 1024)
    dossier = seal_dossier(agent, import_files(agent, [big], "1.004222", "counter").id)
    [document] = agent.outbox.documents(dossier.id)
    assert document.size > 10 * chunk

    acknowledged: list[int] = []

    def kill_after_three_chunks(code: str, offset: int, length: int) -> None:
        acknowledged.append(offset)
        if len(acknowledged) == 3:
            hub.kill()  # SIGKILL: like a power cut at the province

    first = sync_once(agent, on_progress=kill_after_three_chunks)
    assert first.committed == [] and first.unreachable
    assert acknowledged == [chunk, 2 * chunk, 3 * chunk]
    assert agent.outbox.get(dossier.id).state == "uploading"
    upload_url = agent.outbox.upload_url(document.sha256)
    assert upload_url, "the upload URL must survive for the resume"

    hub.start()
    durable = agent.hub.tus.offset(upload_url)  # what the restarted hub holds (HEAD)
    assert durable == 3 * chunk

    second = sync_once(agent)
    assert second.committed == [dossier.code]
    assert second.resumed_from == {dossier.code: durable}
    assert second.bytes_sent == document.size - durable
    assert hub.sql("SELECT COUNT(*) FROM dossiers") == [(1,)]
    assert agent.outbox.upload_url(document.sha256) is None


def test_run_loop_waits_for_the_hub_then_delivers_and_stops_cleanly_on_sigterm(hub, agent, agent_home, pages):
    config = json.loads((agent_home / "config.json").read_text("utf-8"))
    config.setdefault("settings", {}).update(max_backoff=1, idle_interval=1)
    (agent_home / "config.json").write_text(json.dumps(config), "utf-8")
    dossier = import_files(agent, pages, "2.000815", "counter")  # captured: the loop seals it
    hub.stop()

    loop = subprocess.Popen([sys.executable, "-m", "agent.cli", "run"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "MOTCUA_HOME": str(agent_home)})
    try:
        deadline = time.time() + 20
        while time.time() < deadline:  # the loop seals and tries, and fails while the hub is away
            [row] = queue_json(agent_home)
            if row["attempts"] >= 2:
                break
            time.sleep(0.2)
        assert row["state"] in ("sealed", "uploading") and row["attempts"] >= 2, row
        assert loop.poll() is None, "the loop must keep going while the hub is away"

        hub.start()
        back = time.monotonic()
        deadline = time.time() + 15
        while time.time() < deadline:
            [row] = queue_json(agent_home)
            if row["state"] == "purged":
                break
            time.sleep(0.2)
        assert row["state"] == "purged", row
        # max_backoff=1 s (the default is 300 s): delivery follows within seconds of the hub's return.
        assert time.monotonic() - back < 10
        assert hub.sql("SELECT dossier_code FROM dossiers") == [(dossier.code,)]
    finally:
        if loop.poll() is None:
            loop.send_signal(signal.SIGTERM)
        try:
            out, err = loop.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            loop.kill()
            out, err = loop.communicate()
            pytest.fail(f"motcua run did not stop on SIGTERM:\n{err}")
    assert loop.returncode == 0, err
    assert "Traceback" not in err


def test_revoked_device_gets_the_reason_and_exit_4(hub, agent, agent_home, pages):
    seal_dossier(agent, import_files(agent, pages, "1.001193", "postal").id)
    revoke = subprocess.run([sys.executable, "-m", "agent.cli", "hub", "revoke", "--data", str(hub.data_dir),
                             agent.config.device_id, "--reason", "máy bị mất cắp"],
                            cwd=ROOT, capture_output=True, text=True)
    assert revoke.returncode == 0, revoke.stderr
    result = run_motcua("sync", home=agent_home)
    assert_clean_failure(result, "Trung tâm từ chối máy này", "device revoked: máy bị mất cắp", exit_code=4)
    [row] = queue_json(agent_home)
    assert row["state"] in ("sealed", "uploading")  # kept, not dead-lettered: the device is the problem


def test_revoked_device_with_an_empty_queue_is_told_too(hub, agent, agent_home):
    """Nothing to send: the feed pull is the only request, and its 401 must still reach the officer."""
    revoke = run_motcua("hub", "revoke", "--data", str(hub.data_dir), agent.config.device_id, "--reason", "máy bị mất cắp")
    assert revoke.returncode == 0, revoke.stderr
    result = run_motcua("sync", home=agent_home)
    assert_clean_failure(result, "Trung tâm từ chối máy này", "device revoked: máy bị mất cắp", exit_code=4)
