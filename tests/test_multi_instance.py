"""Two `motcua hub serve` processes on one PostgreSQL + one S3 bucket: still exactly once.

Desks talk to either instance (as behind a round-robin load balancer), uploads
start on one instance and finish on the other, and the same dossier is
committed through both instances at the same moment. The hub must end with
one row per dossier, unique hub sequence numbers and one receipt per dossier
that every caller received byte for byte.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from agent.sealing.at_rest import manifest_for_transport
from agent.context import AgentContext
from agent.delivery.hub_client import HubClient
from agent.delivery.enrolment import enrol
from agent.sealing.seal import seal_all
from agent.delivery.sync import sync_once
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope

from .conftest import SITE, HubProcess
from .fixtures_servers import *  # noqa: F401,F403
from .fixtures_servers import quick_dossier

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def instances(tmp_path: Path, pg_url: str, s3_url: str, monkeypatch):
    env = {"MOTCUA_HUB_DATABASE_URL": pg_url, "MOTCUA_HUB_OBJECT_STORE": s3_url}
    for name, value in env.items():  # for `motcua hub token` run by HubProcess.token()
        monkeypatch.setenv(name, value)
    data = tmp_path / "hub"  # shared: both instances must sign with the same hub keys
    hubs = [HubProcess(data, extra_env=env).start(), HubProcess(data, extra_env=env).start()]
    yield hubs
    for h in hubs:
        h.stop()


def _rows(pg_url: str, sql: str) -> list[tuple]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute(sql).fetchall()


def _desk(home: Path, hubs: list[HubProcess], n: int, pages: list[Path], dossiers: int) -> AgentContext:
    """Enrol through one instance, then talk to the other; queue `dossiers` sealed dossiers."""
    ctx = AgentContext.open(home)
    enrol(ctx, hubs[n % 2].url, hubs[n % 2].token(), SITE)
    ctx.config.hub_url = hubs[(n + 1) % 2].url
    for _ in range(dossiers):
        quick_dossier(ctx)
    seal_all(ctx)
    return ctx


def test_concurrent_desks_across_two_instances_commit_each_dossier_once(instances, tmp_path, pg_url, pages):
    desks = 8
    contexts = [_desk(tmp_path / f"desk{n}", instances, n, pages, 2) for n in range(desks)]
    for ctx in contexts:  # each thread opens its own outbox connection
        ctx.close()
    errors: list[BaseException] = []

    def deliver(n: int) -> list[str]:
        ctx = AgentContext.open(tmp_path / f"desk{n}")
        try:
            report = sync_once(ctx)
            assert report.complete, report.to_json()
            return report.committed
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            return []
        finally:
            ctx.close()

    with ThreadPoolExecutor(desks) as pool:
        committed = [code for codes in pool.map(deliver, range(desks)) for code in codes]
    assert not errors, errors
    assert len(committed) == len(set(committed)) == desks * 2
    # unique hub sequence numbers; gaps are allowed (a PostgreSQL sequence: docs/protocol.md)
    assert _rows(pg_url, "SELECT COUNT(*), COUNT(DISTINCT dossier_id), COUNT(DISTINCT hub_sequence), MIN(hub_sequence) > 0"
                         " FROM dossiers") == [(16, 16, 16, True)]
    # commits queue their audit entries (hub.audit_queue); the chain ends up whole and intact
    from hub import audit
    from hub.storage.postgres_db import PostgresDB

    db = PostgresDB(pg_url, max_size=2)
    try:
        logged = [e for e in audit.entries(db) if e["action"] == "dossier.committed"]
        assert sorted(e["dossier_id"] for e in logged) == sorted(r[0] for r in _rows(pg_url, "SELECT dossier_id FROM dossiers"))
        assert audit.verify(db) == [] and _rows(pg_url, "SELECT COUNT(*) FROM audit_pending") == [(0,)]
    finally:
        db.close()
    for h in instances:
        assert "Traceback" not in h.log_text()


def test_same_dossier_committed_through_both_instances_at_once_gets_one_identical_receipt(
        instances, tmp_path, pg_url, pages):
    ctx = _desk(tmp_path / "desk", instances, 0, pages, 1)
    try:
        [dossier] = ctx.outbox.deliverable()
        first, second = instances
        # Upload: the first chunk through one instance, the rest through the other.
        doc = ctx.outbox.documents(dossier.id)[0]
        a, b = HubClient(first.url, ctx.device_key), HubClient(second.url, ctx.device_key)
        url = a.create_upload(doc.size, doc.sha256, doc.name)
        with ctx.outbox.blobs.open(doc.sha256) as stream:
            head = stream.read(1024)
            a.tus.patch(url, 0, head)
            report = b.upload(url.replace(first.url, second.url), stream, doc.size, 4096)
        assert report.started_at_offset == 1024  # resumed where the other instance left off

        clients = [HubClient(h.url, ctx.device_key) for h in instances for _ in range(4)]
        barrier = threading.Barrier(len(clients))

        def commit(client: HubClient) -> str:
            barrier.wait()
            return json.dumps(client.commit(*manifest_for_transport(dossier.signed_manifest)), sort_keys=True)

        with ThreadPoolExecutor(len(clients)) as pool:
            receipts = set(pool.map(commit, clients))
        assert len(receipts) == 1
        receipt = verify_receipt(Envelope.from_dict(json.loads(receipts.pop())), ctx.hub_key, dossier.manifest_hash)
        assert _rows(pg_url, "SELECT dossier_id, hub_sequence FROM dossiers") == [(dossier.id, receipt.hub_sequence)]
        for client in (a, b, *clients):
            client.close()
    finally:
        ctx.close()


def test_an_upload_being_written_through_one_instance_is_refused_by_the_other(instances, tmp_path, pg_url, pages):
    """The tus lock is a PostgreSQL advisory lock shared by all instances: a PATCH racing one in
    progress on another instance gets 423, not interleaved bytes."""
    from hub.storage.pg_locks import PgAdvisoryLocker
    from sync_protocol.errors import UploadTransportError

    ctx = _desk(tmp_path / "desk", instances, 0, pages, 1)
    locker = PgAdvisoryLocker(pg_url, max_size=2)
    try:
        doc = ctx.outbox.documents(ctx.outbox.deliverable()[0].id)[0]
        client = HubClient(instances[1].url, ctx.device_key)
        url = client.create_upload(doc.size, doc.sha256, doc.name)
        held = locker.try_lock("upload:" + url.rsplit("/", 1)[-1])  # as instance A does during its PATCH
        assert held is not None
        with held:
            with pytest.raises(UploadTransportError) as refused:
                client.tus.patch(url, 0, b"x" * 10)
            assert refused.value.status == 423
        assert client.tus.patch(url, 0, b"x" * 10) == 10
        client.close()
    finally:
        locker.close()
        ctx.close()


def _object_requests(hub: HubProcess) -> dict[str, float]:
    """This instance's object-store requests by operation, from its /metrics."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[str, float] = {}
    for family in text_string_to_metric_families(requests.get(hub.url + "/metrics", timeout=30).text):
        for sample in family.samples:
            if sample.name == "motcua_hub_object_store_requests_total":
                found[sample.labels["operation"]] = sample.value
    return found


def test_a_one_chunk_dossier_costs_the_object_store_two_puts_and_one_get(instances, tmp_path):
    """The S3 budget per small dossier (bench_load): the last chunk is never stored on its own and the
    commit re-hashes and decrypts from one GET — PUT ciphertext, GET it back at commit, PUT plaintext."""
    hub = instances[0]
    ctx = AgentContext.open(tmp_path / "desk")
    try:
        enrol(ctx, hub.url, hub.token(), SITE)
        quick_dossier(ctx)
        seal_all(ctx)
        before = _object_requests(hub)
        report = sync_once(ctx)
        assert len(report.committed) == 1, report.to_json()
        after = _object_requests(hub)
    finally:
        ctx.close()
    spent = {op: after.get(op, 0) - before.get(op, 0) for op in ("PutObject", "GetObject", "DeleteObjects", "HeadObject")}
    assert spent == {"PutObject": 2, "GetObject": 1, "DeleteObjects": 0, "HeadObject": 0}
