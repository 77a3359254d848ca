"""The janitor removes what finished and crashed uploads leave — and nothing that is still in use.

Each backend (SQLite + files, PostgreSQL + SeaweedFS) gets the leftovers a real
hub can leave: a finished upload row whose bytes a killed completion never
deleted, bytes of an upload whose row is gone (chunk objects in S3), a staged
copy from a completion killed mid-way. Beside them: a live unfinished upload
and an orphan written just now. A sweep "an hour later" must remove exactly the
leftovers, report the counts, keep the payload object, and a second instance
sweeping at the same moment must stand aside.
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from hub.janitor import sweep
from hub.state import HubState

from .fixtures_servers import *  # noqa: F401,F403
from .fixtures_servers import BACKENDS, backend_config

pytestmark = pytest.mark.timeout(240)
FINISHED, LIVE, ORPHAN = ("a" * 32, "b" * 32, "c" * 32)


@pytest.fixture(params=BACKENDS)
def state(request, tmp_path: Path):
    hub = HubState.open(backend_config(request.param, request, tmp_path / "hub", pool=6))
    yield hub
    hub.storage.close()


def _upload_row(state: HubState, upload_id: str, sha: str, *, finished_at: int | None) -> None:
    now = state.now()
    state.db.execute("INSERT INTO uploads(upload_id, device_id, length, upload_offset, sha256, created_at, updated_at,"
                     " finished_at) VALUES (?,?,?,?,?,?,?,?)",
                     (upload_id, "dev", 4, 2 if finished_at is None else 4, sha, now, now, finished_at))


def test_sweep_removes_leftovers_older_than_the_bound_and_keeps_what_is_in_use(state: HubState, tmp_path):
    store, grace = state.storage.uploads, 3600
    payload = tmp_path / "payload"
    payload.write_bytes(b"data")
    sha = hashlib.sha256(b"data").hexdigest()
    state.objects.put_file(payload, sha)
    for upload_id in (FINISHED, LIVE, ORPHAN):
        store.create(upload_id)
        store.write_at(upload_id, 0, b"da")
    # a completion killed after recording, before deleting its bytes — two hours ago
    _upload_row(state, FINISHED, sha, finished_at=state.now() - 2 * grace)
    _upload_row(state, LIVE, sha, finished_at=None)
    staged = store.stage_complete(LIVE)  # a completion killed before adopting its staged copy …
    old = time.time() - 2 * grace
    os.utime(staged, (old, old))  # … two hours ago

    first = sweep(state, grace=grace)
    assert first.to_json() == {"ran": True, "finished_rows": 1, "expired_uploads": 0, "orphan_uploads": 0,
                               "staging_files": 1}
    assert not staged.exists()
    assert set(store.stored_uploads()) == {LIVE, ORPHAN}  # the orphan was written just now: left alone

    later = sweep(state, grace=grace, now=state.now() + 2 * grace)
    assert later.orphan_uploads == 1 and later.finished_rows == 0
    assert set(store.stored_uploads()) == {LIVE}
    assert [r["upload_id"] for r in state.db.query("SELECT upload_id FROM uploads")] == [LIVE]
    assert state.objects.verify(sha) == 4  # the payload object is never the janitor's


def test_a_second_instance_stands_aside_while_one_sweeps(state: HubState):
    held = state.storage.locks.try_lock("janitor")  # as another instance does during its sweep
    assert held is not None
    with held:
        assert sweep(state).ran is False
    assert sweep(state).ran is True
