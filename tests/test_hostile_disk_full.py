"""A full disk at the hub (507, nothing half-written, service up) and at the desk (clear message, queue intact).

Real small filesystems: a tmpfs with size= mounted over the data directory
(the suite runs as root; elsewhere these tests skip, saying why).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from agent.context import AgentContext
from agent.errors import StorageError
from agent.delivery.enrolment import enrol
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once

from .conftest import SITE, HubProcess
from .trust_support import captured_dossier


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {done.stderr.decode().strip()}")


@pytest.fixture
def small_disk(tmp_path: Path):
    mounted: list[Path] = []

    def make(path: Path, size: str) -> Path:
        _mount_tmpfs(path, size)
        mounted.append(path)
        return path

    yield make
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_hub_disk_full_answers_507_and_keeps_nothing_half_written(tmp_path, small_disk):
    hub = HubProcess(small_disk(tmp_path / "hub", "3m")).start()
    ctx = AgentContext.open(tmp_path / "agent")
    try:
        enrol(ctx, hub.url, hub.token(), SITE)
        dossier = seal_dossier(ctx, captured_dossier(ctx, os.urandom(6 * 1024 * 1024), media_type="image/jpeg").id)
        report = sync_once(ctx)
        assert report.committed == [] and report.failed == [dossier.code]
        assert "507" in (ctx.outbox.get(dossier.id).last_error or "")
        assert ctx.outbox.get(dossier.id).state == "uploading"  # kept, retried later
        # the hub acknowledged only what it made durable, and is still serving
        [(offset, length)] = hub.sql("SELECT upload_offset, length FROM uploads")
        assert offset < length and (hub.data_dir / "uploads").exists()
        assert hub.sql("SELECT COUNT(*) FROM dossiers") == [(0,)]
        assert requests.get(hub.url + "/v1/hello", timeout=5).ok
        assert "Traceback" not in hub.log_text()
    finally:
        ctx.close()
        hub.stop()


def test_desk_disk_full_while_sealing_keeps_the_queue(tmp_path, small_disk):
    hub = HubProcess(tmp_path / "hub").start()
    home = small_disk(tmp_path / "agent", "4m")
    ctx = AgentContext.open(home)
    try:
        enrol(ctx, hub.url, hub.token(), SITE)
        dossier = captured_dossier(ctx, os.urandom(2_500_000), media_type="image/jpeg")  # fits once, not twice
        with pytest.raises(StorageError) as full:
            seal_dossier(ctx, dossier.id)
        assert "ổ đầy" in full.value.message_vi and "disk" in full.value.message_en
        after = ctx.outbox.get(dossier.id)
        assert after.state == "captured"
        ctx.outbox.blobs.verify(ctx.outbox.documents(dossier.id)[0].sha256)  # the plaintext is intact
        assert not any(ctx.outbox.blobs.tmp.iterdir())  # no half-written ciphertext left behind
    finally:
        ctx.close()
        hub.stop()
