"""The sync pass as a pipeline: the sender thread carries the bytes, the next dossier is prepared and the
previous one committed meanwhile, commits keep queue order (agent.delivery.dossier_upload)."""
from __future__ import annotations

import threading
import time

from agent.delivery.sync import sync_once
from agent.outbox.hub_clock import ClockRecorder, known_offset
from sync_protocol.clock import ClockOffset

from .chaos.dossiers import make_dossier


def test_next_dossier_is_prepared_before_the_previous_commit_and_commits_keep_queue_order(hub, agent):
    dossiers = [make_dossier(agent, 40_000, due_at=f"2030-01-0{i + 1}T00:00:00Z") for i in range(4)]
    code_of = {d.id: d.code for d in dossiers}
    sha_of = {agent.outbox.documents(d.id)[0].sha256: d.code for d in dossiers}
    events: list[str] = []
    hub_client = agent.hub
    real_create, real_commit = hub_client.create_upload, hub_client.commit

    def create_upload(length: int, sha256: str, name: str) -> str:
        events.append(f"create {sha_of[sha256]}")
        return real_create(length, sha256, name)

    def commit(*args):  # type: ignore[no-untyped-def]
        answer = real_commit(*args)
        events.append("commit")
        return answer

    hub_client.create_upload, hub_client.commit = create_upload, commit  # record the order; the calls are real
    threads: set[str] = set()
    report = sync_once(agent, on_progress=lambda code, offset, length: threads.add(threading.current_thread().name))

    assert report.committed == [d.code for d in dossiers] and report.complete
    assert threads and all(name.startswith("motcua-sender") for name in threads)  # bytes never on the sync thread
    # dossier N+1's upload exists before dossier N is committed: the link has its next bytes ready
    assert events[:3] == [f"create {dossiers[0].code}", f"create {dossiers[1].code}", "commit"], events
    sequences = {code_of[r[0]]: r[1] for r in agent.outbox.conn.execute("SELECT id, hub_sequence FROM dossiers")}
    assert [sequences[d.code] for d in dossiers] == sorted(sequences.values())
    assert report.bytes_sent == sum(doc.size for d in dossiers for doc in agent.outbox.documents(d.id))


def test_a_clock_measured_on_the_sender_thread_is_kept_by_the_next_one_on_the_sync_thread(agent):
    recorder = ClockRecorder(agent.outbox)
    before = known_offset(agent.outbox)
    measured = ClockOffset(offset=42.0, uncertainty=0.001, learned_at=time.time())
    failures: list[BaseException] = []

    def off_thread() -> None:
        try:
            recorder.offer(measured)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    worker = threading.Thread(target=off_thread)
    worker.start()
    worker.join()
    # not stored (the outbox's SQLite connection belongs to the sync thread) and not taken as kept either
    assert failures == [] and recorder.kept == before and known_offset(agent.outbox) == before
    recorder.offer(measured)  # the sync thread's next measurement is stored
    assert known_offset(agent.outbox) == measured
