"""Several hub worker processes on one SQLite hub: shared upload locks, exactly-once commits."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from agent.sealing.seal import seal_all
from agent.delivery.sync import sync_once
from hub.storage.locks import FileLocker

from .conftest import SITE, HubProcess
from .fixtures_servers import quick_dossier


def _hold_lock(root: str, ready, release) -> None:  # in a child process
    lock = FileLocker(root).try_lock("upload:abc")
    assert lock is not None
    with lock:
        ready.set()
        release.wait(30)


def test_file_lock_is_exclusive_across_processes_and_freed_when_the_holder_dies(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    holder.start()
    assert ready.wait(10)
    locker = FileLocker(tmp_path)
    assert locker.try_lock("upload:abc") is None  # held by the other process
    assert locker.try_lock("upload:other") is not None  # other names are independent
    os.kill(holder.pid, signal.SIGKILL)  # a worker dies mid-PATCH
    holder.join(10)
    lock = locker.try_lock("upload:abc")
    assert lock is not None  # the kernel released it
    with lock:
        assert FileLocker(tmp_path).try_lock("upload:abc") is None  # also exclusive between threads
    locker.forget("upload:abc")
    assert "upload_abc" not in {p.name for p in tmp_path.iterdir()}


def test_two_workers_commit_every_dossier_exactly_once(tmp_path):
    hub = HubProcess(tmp_path / "hub", extra_args=["--workers", "2"]).start()
    try:
        desks = []
        for i in range(6):
            desk = AgentContext.open(tmp_path / f"desk{i}")
            enrol(desk, hub.url, hub.token(), SITE)
            for _ in range(2):
                quick_dossier(desk, size=64 * 1024)
            seal_all(desk)
            desk.close()
            desks.append(desk.config.home)
        reports = {}

        def deliver(i: int, home) -> None:  # an outbox belongs to the thread that opened it
            desk = AgentContext.open(home)
            try:
                reports[i] = sync_once(desk)
            finally:
                desk.close()

        threads = [threading.Thread(target=deliver, args=(i, home)) for i, home in enumerate(desks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert all(len(r.committed) == 2 and r.complete for r in reports.values()), reports
        assert hub.sql("SELECT COUNT(*), COUNT(DISTINCT hub_sequence), MAX(hub_sequence) FROM dossiers") == [(12, 12, 12)]
        assert hub.log_text().count("Started server process") >= 2  # really two workers
    finally:
        hub.stop()
