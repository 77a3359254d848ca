"""One contract, every hub storage backend: SQLite + files, and PostgreSQL + S3 (real servers).

Each test states a guarantee from hub/storage/*.py docstrings and checks it
against `open_storage()` for both backends, the way the hub itself opens them.
"""
from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hub.config import HubConfig
from hub.storage import Storage, open_storage
from hub.storage.metadata import NO_LOCK, SCHEMA_VERSION, IntegrityError, read_in_sequence_order
from hub.storage.stats import STATS
from sync_protocol.errors import ObjectCorrupt

from .fixtures_servers import *  # noqa: F401,F403
from .fixtures_servers import BACKENDS, backend_config

@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path: Path):
    """(config, open storage) for one backend; a second `open_storage(config)` is a second hub instance."""
    config = backend_config(request.param, request, tmp_path / "hub")
    storage = open_storage(config)
    yield config, storage
    storage.close()


@pytest.fixture
def storage(backend) -> Storage:
    return backend[1]


def _file(tmp_path: Path, data: bytes, name: str = "payload.bin") -> tuple[Path, str]:
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _corrupt(config: HubConfig, storage: Storage, sha: str) -> None:
    """Damage a stored object behind the store's back (disk rot / a bad bucket write)."""
    if config.object_store_url is None:
        path = storage.objects.store.path(sha)  # type: ignore[attr-defined]
        path.chmod(0o644)
        path.write_bytes(b"rotten")
    else:
        objects = storage.objects
        objects.client.put_object(Bucket=objects.location.bucket, Key=objects._key(sha), Body=b"rotten")  # type: ignore[attr-defined]


# -- MetadataDB -------------------------------------------------------------------------
def test_fresh_database_is_migrated_to_the_current_schema(storage):
    assert storage.db.schema_version() == SCHEMA_VERSION
    assert storage.db.query("SELECT * FROM devices") == []


def test_rows_are_dicts_and_bigints_round_trip(storage):
    big = 2 ** 40 + 7
    storage.db.execute("INSERT INTO nonces(key_id, nonce, created) VALUES (?,?,?)", ("k1", "n%1", big))
    assert storage.db.one("SELECT key_id, nonce, created FROM nonces WHERE nonce LIKE '%1'") == \
        {"key_id": "k1", "nonce": "n%1", "created": big}
    assert storage.db.one("SELECT * FROM nonces WHERE key_id=?", ("nobody",)) is None


def test_on_conflict_do_nothing_reports_zero_rows(storage):
    sql = "INSERT INTO nonces(key_id, nonce, created) VALUES (?,?,?) ON CONFLICT DO NOTHING"
    assert storage.db.execute(sql, ("k", "n", 1)) == 1
    assert storage.db.execute(sql, ("k", "n", 2)) == 0
    assert storage.db.one("SELECT created FROM nonces")["created"] == 1


def test_unsynced_writes_commit_and_keep_conflict_semantics(storage):
    sql = "INSERT INTO nonces(key_id, nonce, created) VALUES (?,?,?) ON CONFLICT DO NOTHING"
    assert storage.db.execute_unsynced(sql, ("k", "n", 1)) == 1
    assert storage.db.execute_unsynced(sql, ("k", "n", 2)) == 0
    with storage.db.transaction() as tx:  # an ordinary commit afterwards still works
        tx.execute(sql, ("k", "m", 3))
    assert [r["created"] for r in storage.db.query("SELECT created FROM nonces ORDER BY created")] == [1, 3]
    assert storage.db.execute_unsynced(sql, ("k", "it's 100% '; DROP TABLE nonces; --", 4)) == 1  # values escaped
    with pytest.raises(IntegrityError):
        storage.db.execute_unsynced("INSERT INTO nonces(key_id, nonce, created) VALUES (?,?,?)", ("k", "n", 5))
    assert storage.db.execute_unsynced(sql, ("k", "after", 6)) == 1  # the connection is usable again
    assert [r["nonce"] for r in storage.db.query("SELECT nonce FROM nonces WHERE created >= 4 ORDER BY created")] == \
        ["it's 100% '; DROP TABLE nonces; --", "after"]


def test_uniqueness_violation_raises_integrity_error_and_rolls_back_the_whole_transaction(storage):
    storage.db.execute("INSERT INTO nonces(key_id, nonce, created) VALUES ('k','dup',1)")
    with pytest.raises(IntegrityError):
        with storage.db.transaction() as tx:
            tx.execute("INSERT INTO nonces(key_id, nonce, created) VALUES ('k','first',1)")
            tx.execute("INSERT INTO nonces(key_id, nonce, created) VALUES ('k','dup',1)")
    assert [r["nonce"] for r in storage.db.query("SELECT nonce FROM nonces")] == ["dup"]
    # the database (and this thread's connection) is usable afterwards
    with storage.db.transaction() as tx:
        tx.execute("INSERT INTO nonces(key_id, nonce, created) VALUES ('k','after',1)")
    assert storage.db.one("SELECT COUNT(*) AS n FROM nonces")["n"] == 2


def test_an_exception_inside_a_transaction_leaves_nothing_behind(storage):
    with pytest.raises(RuntimeError):
        with storage.db.transaction() as tx:
            tx.execute("INSERT INTO nonces(key_id, nonce, created) VALUES ('k','x',1)")
            raise RuntimeError("power cut")
    assert storage.db.query("SELECT * FROM nonces") == []


def test_concurrent_transactions_from_two_instances_never_hand_out_one_number_twice(backend):
    """The pattern commits use for hub_sequence: MAX()+1 under a UNIQUE constraint, retried on IntegrityError."""
    config, first = backend
    second = open_storage(config)  # a second hub instance on the same database
    try:
        def take_numbers(db, worker: int) -> list[int]:
            got = []
            for i in range(15):
                for _ in range(50):
                    try:
                        with db.transaction() as tx:
                            n = tx.one("SELECT COALESCE(MAX(created), 0) + 1 AS n FROM nonces")["n"]
                            tx.execute("INSERT INTO nonces(key_id, nonce, created) VALUES (?,?,?)",
                                       ("seq", f"{n:08d}", n))
                        got.append(n)
                        break
                    except IntegrityError:
                        continue
            return got

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda w: take_numbers(first.db if w % 2 else second.db, w), range(8)))
        numbers = sorted(n for r in results for n in r)
        assert numbers == list(range(1, 8 * 15 + 1))
    finally:
        second.close()


def test_a_cursor_read_waits_for_a_lower_hub_sequence_still_committing_but_commits_never_wait(pg_url, tmp_path):
    """PostgreSQL hands out hub sequence numbers before COMMIT, so number 1 may commit after 2. Commits
    must not wait for each other; a "hub_sequence > N" reader must see 1 and 2 together, never 2 alone."""
    config = HubConfig(data_dir=tmp_path / "hub", database_url=pg_url)
    first, second = open_storage(config), open_storage(config)  # two hub instances
    sql = "SELECT created FROM nonces WHERE key_id='seq' AND created > ? ORDER BY created"
    low_taken, low_may_commit, read = threading.Event(), threading.Event(), []

    def slow_commit() -> None:
        with first.db.transaction(lock=NO_LOCK) as tx:
            n = tx.next_hub_sequence()
            tx.execute("INSERT INTO nonces(key_id, nonce, created) VALUES ('seq', 'low', ?)", (n,))
            low_taken.set()
            assert low_may_commit.wait(60)

    try:
        writer = threading.Thread(target=slow_commit)
        writer.start()
        assert low_taken.wait(60)
        with second.db.transaction(lock=NO_LOCK) as tx:  # not blocked by the uncommitted lower number
            high = tx.next_hub_sequence()
            tx.execute("INSERT INTO nonces(key_id, nonce, created) VALUES ('seq', 'high', ?)", (high,))
        reader = threading.Thread(target=lambda: read.append(read_in_sequence_order(second.db, sql, (0,))))
        reader.start()
        reader.join(1.0)
        assert reader.is_alive() and read == []  # waits: returning only `high` would skip the lower number
        low_may_commit.set()
        writer.join(60)
        reader.join(60)
        assert [r["created"] for r in read[0]] == [high - 1, high]
    finally:
        low_may_commit.set()
        first.close()
        second.close()


# -- ObjectStore ------------------------------------------------------------------------
def test_object_put_has_open_verify_delete(storage, tmp_path):
    path, sha = _file(tmp_path, b"%PDF-1.7 dossier " * 1000)
    assert not storage.objects.has(sha)
    storage.objects.put_file(path, sha)
    storage.objects.put_file(path, sha)  # again: harmless
    assert storage.objects.has(sha)
    assert storage.objects.verify(sha) == path.stat().st_size
    with storage.objects.open(sha) as handle:
        assert handle.read() == path.read_bytes()
    assert storage.objects.delete(sha) is True
    assert not storage.objects.has(sha)
    assert storage.objects.delete(sha) is False


def test_object_whose_bytes_do_not_match_its_address_is_refused(storage, tmp_path):
    path, _ = _file(tmp_path, b"real bytes")
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    with pytest.raises(ObjectCorrupt):
        storage.objects.put_file(path, wrong)
    assert not storage.objects.has(wrong)


def test_adopted_file_is_taken_only_when_it_matches_its_address(storage, tmp_path):
    path, sha = _file(tmp_path, b"a finished upload")
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ObjectCorrupt):
        storage.objects.adopt_file(path, wrong)
    assert path.exists() and not storage.objects.has(wrong)  # left for the caller to discard
    storage.objects.adopt_file(path, sha)
    assert not path.exists() and storage.objects.verify(sha) == len(b"a finished upload")
    again, _ = _file(tmp_path, b"a finished upload")
    storage.objects.adopt_file(again, sha)  # already held: the temporary is just dropped
    assert not again.exists() and storage.objects.has(sha)


def test_missing_or_rotten_object_fails_verification(backend, tmp_path):
    config, storage = backend
    with pytest.raises(ObjectCorrupt):
        storage.objects.verify("0" * 64)
    path, sha = _file(tmp_path, b"will rot")
    storage.objects.put_file(path, sha)
    _corrupt(config, storage, sha)
    with pytest.raises(ObjectCorrupt):
        storage.objects.verify(sha)


def test_many_writers_storing_one_object_at_once_all_succeed(backend, tmp_path):
    config, first = backend
    second = open_storage(config)
    try:
        path, sha = _file(tmp_path, b"same scan from two instances " * 5000)
        stores = [first.objects, second.objects] * 4
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda store: store.put_file(path, sha), stores))
        assert first.objects.verify(sha) == path.stat().st_size == second.objects.verify(sha)
    finally:
        second.close()


def test_s3_put_is_a_conditional_write(pg_url, s3_url, tmp_path):
    """If-None-Match: * — an existing object is never overwritten, even by a racing writer."""
    from botocore.exceptions import ClientError

    storage = open_storage(HubConfig(data_dir=tmp_path / "hub", database_url=pg_url, object_store_url=s3_url))
    try:
        path, sha = _file(tmp_path, b"first")
        storage.objects.put_file(path, sha)
        objects = storage.objects
        with pytest.raises(ClientError) as refused:
            objects.client.put_object(Bucket=objects.location.bucket, Key=objects._key(sha), Body=b"second",
                                      IfNoneMatch="*")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
        assert objects.verify(sha) == 5 and objects.conditional_writes
    finally:
        storage.close()


def test_s3_server_refuses_bytes_that_do_not_match_their_sha256_checksum(s3_server, s3_url, tmp_path):
    """The ChecksumSHA256 every put carries is checked by the object store itself (SeaweedFS here):
    bytes damaged between hub and store are refused, not stored."""
    import base64

    from botocore.exceptions import ClientError

    from hub.storage.s3 import S3Location

    location = S3Location.parse(s3_url)
    client = s3_server.client()
    wrong = base64.b64encode(hashlib.sha256(b"what the hub hashed").digest()).decode()
    with pytest.raises(ClientError) as refused:
        client.put_object(Bucket=location.bucket, Key=f"{location.prefix}x", Body=b"what arrived", ChecksumSHA256=wrong)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    listed = client.list_objects_v2(Bucket=location.bucket, Prefix=location.prefix)
    assert listed.get("KeyCount", 0) == 0


# -- UploadStore ------------------------------------------------------------------------
UPLOAD = "0123456789abcdef0123456789abcdef"


def _staged(storage: Storage, upload_id: str = UPLOAD, length: int | None = None) -> bytes:
    path = storage.uploads.stage_complete(upload_id, length)
    try:
        return Path(path).read_bytes()
    finally:
        storage.uploads.cleanup_staged(upload_id, path)


def test_upload_appends_at_offsets_and_stages_the_whole(storage):
    storage.uploads.create(UPLOAD)
    storage.uploads.write_at(UPLOAD, 0, b"abcd")
    storage.uploads.write_at(UPLOAD, 4, b"efgh")
    storage.uploads.write_at(UPLOAD, 8, b"ij")
    assert _staged(storage) == b"abcdefghij"
    assert _staged(storage, length=10) == b"abcdefghij"  # knowing the length, S3 needs no LIST


def test_upload_rewrite_discards_unacknowledged_bytes_beyond_the_offset(storage):
    storage.uploads.create(UPLOAD)
    storage.uploads.write_at(UPLOAD, 0, b"abcd")
    storage.uploads.write_at(UPLOAD, 4, b"LOST-CHUNK")  # written, never acknowledged (crash)
    storage.uploads.write_at(UPLOAD, 4, b"ef")        # the client resends from the durable offset
    assert _staged(storage) == b"abcdef"
    storage.uploads.write_at(UPLOAD, 6, b"LOST-AGAIN")
    storage.uploads.write_at(UPLOAD, 6, b"g")
    assert _staged(storage) == _staged(storage, length=7) == b"abcdefg"


def test_a_completion_cut_short_can_stage_again_and_never_changes_an_adopted_object(storage, tmp_path):
    """Crash-proof completion (hub.upload_completion): the upload's bytes outlive an adopted
    staging, and re-sending the last chunk afterwards leaves the stored object intact."""
    data = b"head-" * 1000 + b"tail"
    sha = hashlib.sha256(data).hexdigest()
    storage.uploads.create(UPLOAD)
    storage.uploads.write_at(UPLOAD, 0, data[:5000])
    storage.uploads.write_at(UPLOAD, 5000, data[5000:])
    storage.objects.adopt_file(storage.uploads.stage_complete(UPLOAD), sha)  # … and the hub dies here
    storage.uploads.write_at(UPLOAD, 5000, data[5000:])  # the client re-sends its last chunk
    assert _staged(storage) == data
    staged = storage.uploads.stage_complete(UPLOAD)
    storage.objects.adopt_file(staged, sha)  # already stored: harmless
    storage.uploads.cleanup_staged(UPLOAD, staged)
    storage.uploads.write_at(UPLOAD, 5000, b"XXXX")  # even a different last chunk …
    assert storage.objects.verify(sha) == len(data)   # … never reaches the stored object
    storage.uploads.delete(UPLOAD)
    assert storage.objects.verify(sha) == len(data)


def test_the_last_chunk_is_staged_from_memory_and_an_s3_store_never_sees_it(backend):
    """upload_completion hands the last chunk to the staging: the staged whole is the stored bytes, then
    that chunk. On S3 it costs no request of its own: a one-chunk upload completes without any."""
    config, storage = backend
    storage.uploads.create(UPLOAD)
    storage.uploads.write_at(UPLOAD, 0, b"abcd")
    storage.uploads.write_at(UPLOAD, 4, b"LOST")  # unacknowledged, then the client ends the upload differently
    path = storage.uploads.stage_complete(UPLOAD, 7, tail=(4, b"efg"))
    assert Path(path).read_bytes() == b"abcdefg"
    storage.uploads.cleanup_staged(UPLOAD, path)
    storage.uploads.delete(UPLOAD)
    single = "f" * 32
    before = dict(STATS.snapshot()["object_requests"])
    storage.uploads.create(single)
    path = storage.uploads.stage_complete(single, 3, tail=(0, b"xyz"))
    assert Path(path).read_bytes() == b"xyz"
    storage.uploads.cleanup_staged(single, path)
    storage.uploads.delete(single)
    assert STATS.snapshot()["object_requests"] == before  # S3: no PUT, GET nor DeleteObjects


def test_open_verified_reads_once_and_refuses_rotten_bytes(backend, tmp_path):
    config, storage = backend
    path, sha = _file(tmp_path, b"sealed dossier bytes " * 500)
    storage.objects.put_file(path, sha)
    before = STATS.snapshot()["object_requests"].get("GetObject", 0)
    handle, size = storage.objects.open_verified(sha)
    with handle:
        assert size == path.stat().st_size and handle.read() == path.read_bytes()
    if config.object_store_url:
        assert STATS.snapshot()["object_requests"]["GetObject"] == before + 1
    _corrupt(config, storage, sha)
    with pytest.raises(ObjectCorrupt):
        storage.objects.open_verified(sha)
    with pytest.raises(ObjectCorrupt):
        storage.objects.open_verified("0" * 64)  # missing counts as corrupt


def test_upload_delete_forgets_bytes_and_unknown_ids_are_harmless(storage):
    storage.uploads.create(UPLOAD)
    storage.uploads.write_at(UPLOAD, 0, b"abc")
    storage.uploads.delete(UPLOAD)
    storage.uploads.delete("f" * 32)
    storage.uploads.create(UPLOAD)
    assert _staged(storage) == b""


def test_upload_ids_are_validated(storage):
    with pytest.raises(ValueError):
        storage.uploads.write_at("../../etc/passwd", 0, b"x")


# -- Locker -----------------------------------------------------------------------------
def test_lock_is_exclusive_and_released_after_use(storage):
    held = storage.locks.try_lock("upload:a")
    assert held is not None
    with held:
        assert storage.locks.try_lock("upload:a") is None
        other = storage.locks.try_lock("upload:b")
        assert other is not None
        with other:
            pass
    again = storage.locks.try_lock("upload:a")
    assert again is not None
    with again:
        pass


def test_lock_is_shared_by_all_instances_on_postgresql(pg_url, tmp_path):
    config = HubConfig(data_dir=tmp_path / "hub", database_url=pg_url)
    first, second = open_storage(config), open_storage(config)
    try:
        held = first.locks.try_lock("upload:shared")
        assert held is not None
        with held:
            assert second.locks.try_lock("upload:shared") is None
            seen: list[object] = []
            worker = threading.Thread(target=lambda: seen.append(first.locks.try_lock("upload:shared")))
            worker.start()
            worker.join()
            assert seen == [None]  # another thread of the same instance is refused too
        later = second.locks.try_lock("upload:shared")
        assert later is not None
        with later:
            pass
    finally:
        first.close()
        second.close()
