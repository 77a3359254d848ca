"""Issue 12, items 4-7: nothing a client sends costs the hub unbounded memory, disk or time, and
nothing it sends gets a 5xx.

Real hub processes on loopback, limits lowered through their MOTCUA_HUB_* variables so the tests
stay small; raw sockets where a well-behaved HTTP client would not misbehave enough.
"""
from __future__ import annotations

import json
import hashlib
import os
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from agent.delivery.enrolment import rotate_device_key
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once
from sync_protocol.canonical import canonical_json
from sync_protocol.delivery_proof import LABEL as PROOF_LABEL
from sync_protocol.keys import generate_private_key, public_key_text
from sync_protocol.manifest import SCHEMA
from sync_protocol.request_signing import sign_request
from sync_protocol.signed_document import sign_document
from sync_protocol.tus_client import encode_metadata

from .authority_support import AGENCY_1, commit, enrolled_desk, manifest, refused, signed, upload
from .conftest import SITE, HubProcess, run_motcua
from .test_hostile_disk_full import small_disk  # noqa: F401 - a fixture (a real small tmpfs)
from .trust_support import captured_dossier, small_pdf

TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture
def limited_hub(tmp_path: Path):
    """A hub with small limits, so that reaching them is cheap."""
    servers: list[HubProcess] = []

    def start(**env: str) -> HubProcess:
        server = HubProcess(tmp_path / f"hub{len(servers)}", extra_env={f"MOTCUA_HUB_{k.upper()}": v
                                                                         for k, v in env.items()}).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        assert "Traceback" not in server.log_text(), server.log_text()[-3000:]
        server.stop()


def _vm(pid: int, field: str) -> int:
    """VmRSS / VmHWM (peak) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def _raw(hub: HubProcess, head: str, body: bytes = b"", timeout: float = 30) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", hub.port), timeout=timeout)
    sock.sendall(head.encode("latin-1") + body)
    return sock


def _status_line(sock: socket.socket) -> tuple[int, bytes]:
    """The status and the whole response (head and a Content-Length body) read from `sock`."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        part = sock.recv(65536)
        if not part:
            break
        data += part
    return int(data.split(b" ", 2)[1]), data


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


# -- 4. bounded before authenticated ---------------------------------------------------------------------
def test_unauthenticated_big_bodies_do_not_grow_hub_memory(hub):
    """24 strangers each send a 15 MiB chunk with a made-up signature at once: the hub refuses each from
    its headers (401) and never buffers the bodies; its peak RSS grows by far less than their 360 MiB."""
    pid = hub.proc.pid
    requests.get(hub.url + "/v1/hello", timeout=5)
    before = _vm(pid, "VmHWM")
    size, answers = 15 * 1024 * 1024, []
    fake = {"Signature-Input": 'motcua=("@method" "@path" "@query" "content-digest");created=%d;'
                               'nonce="abcdefghijklmnop";keyid="nobody";alg="ed25519"' % int(time.time()),
            "Signature": "motcua=:AAAA:", "Content-Digest": "sha-256=:" + "A" * 43 + "=:"}

    def stranger() -> None:
        head = (f"PATCH /v1/uploads/{'0' * 32} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                f"Content-Type: application/offset+octet-stream\r\nContent-Length: {size}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in fake.items()) + "\r\n")
        try:
            sock = _raw(hub, head)
            block = b"\0" * (1 << 20)
            try:
                for _ in range(size // len(block)):
                    sock.sendall(block)
            except OSError:
                pass  # the hub answered and closed: it does not want the body
            answers.append(_status_line(sock)[0])
            sock.close()
        except OSError as exc:
            answers.append(repr(exc))

    threads = [threading.Thread(target=stranger) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    grown_mib = (_vm(pid, "VmHWM") - before) / 1024
    print(f"hub peak RSS grew {grown_mib:.1f} MiB for 24 x 15 MiB unauthenticated bodies; "
          f"load average {os.getloadavg()[0]:.2f}")
    assert grown_mib < 60, grown_mib
    assert answers and all(a == 401 for a in answers if isinstance(a, int)), answers
    assert requests.get(hub.url + "/v1/hello", timeout=5).ok


def test_stalled_body_is_dropped_after_the_idle_time(limited_hub, tmp_path):
    hub = limited_hub(body_idle_seconds="2")
    desk = enrolled_desk(hub, tmp_path / "a", SITE, AGENCY_1)
    try:
        body = b'{"document": {}}' * 64
        sig = sign_request("POST", "/v1/commits", body, desk.device_key, int(time.time()))
        head = (f"POST /v1/commits HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sig.items()) + "\r\n")
        for path_head in (head, "POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                "Content-Length: 100\r\n\r\n"):
            started = time.monotonic()
            sock = _raw(hub, path_head, b'{"tok', timeout=60)  # then nothing more
            status, data = _status_line(sock)
            sock.close()
            assert status == 408 and b"body_timeout" in data, data[:400]
            assert 1.5 < time.monotonic() - started < 50
    finally:
        desk.close()


def test_upload_metadata_and_declared_body_sizes_are_bounded(hub, agent):
    metadata = encode_metadata({"sha256": "ab" * 32, "note": "x" * 5000})
    headers = {**sign_request("POST", "/v1/uploads", b"", agent.device_key, int(time.time())), **TUS,
               "Upload-Length": "10", "Upload-Metadata": metadata}
    refused(requests.post(hub.url + "/v1/uploads", headers=headers, timeout=10), 400, "header_too_large")
    assert hub.sql("SELECT COUNT(*) FROM uploads") == [(0,)]
    # a body declared larger than any route takes is refused before a byte of it is read
    sock = _raw(hub, "POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100000000000\r\n\r\n")
    status, data = _status_line(sock)
    sock.close()
    assert status == 413 and b"too_large" in data, data[:300]


def test_requests_in_progress_per_address_are_capped(limited_hub):
    hub = limited_hub(max_requests_per_address="4")
    stalled = [_raw(hub, "POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 100\r\n\r\n", timeout=60) for _ in range(4)]
    try:
        deadline = time.monotonic() + 60
        while True:  # the hub may take a moment to start handling all four
            answer = requests.get(hub.url + "/v1/hello", timeout=10)
            if answer.status_code == 429 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        body = refused(answer, 429, "too_many_connections")
        assert answer.headers["Retry-After"] and "4" in body["reason"]
    finally:
        for sock in stalled:
            sock.close()
    deadline = time.monotonic() + 60
    while requests.get(hub.url + "/v1/hello", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the hub never freed the closed requests' places"
        time.sleep(0.1)


# -- 5. quotas, full disk, leftovers ------------------------------------------------------------------
def _create(hub: HubProcess, ctx, length: int) -> requests.Response:
    headers = {**sign_request("POST", "/v1/uploads", b"", ctx.device_key, int(time.time())), **TUS,
               "Upload-Length": str(length), "Upload-Metadata": encode_metadata({"sha256": "cd" * 32})}
    return requests.post(hub.url + "/v1/uploads", headers=headers, timeout=10)


def test_per_device_upload_quotas(limited_hub, tmp_path):
    hub = limited_hub(max_open_uploads="3", max_reserved_bytes="1000")
    a = enrolled_desk(hub, tmp_path / "a", SITE, AGENCY_1)
    b = enrolled_desk(hub, tmp_path / "b", "Bưu điện", AGENCY_1)
    try:
        made = [_create(hub, a, 100) for _ in range(3)]
        assert all(r.status_code == 201 for r in made)
        assert refused(_create(hub, a, 100), 429, "upload_quota")
        assert _create(hub, b, 100).status_code == 201  # another device's quota is its own
        path = made[0].headers["Location"]
        assert signed(hub, a, "DELETE", path, **TUS).status_code == 204
        refused(_create(hub, a, 900), 413, "byte_quota")  # 200 reserved + 900 > 1000
        assert _create(hub, a, 800).status_code == 201
        files = {p.name for p in (hub.data_dir / "uploads").iterdir()}
        assert files == {r[0] for r in hub.sql("SELECT upload_id FROM uploads")}  # no orphans either way
    finally:
        a.close()
        b.close()


def test_unknown_uploads_leave_no_lock_files_and_long_ids_are_404(hub, agent):
    for upload_id in ("0" * 32, "f" * 5000, "x" * 300):
        path = f"/v1/uploads/{upload_id}"
        for method in ("HEAD", "PATCH", "DELETE"):
            extra = {**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
            response = signed(hub, agent, method, path, b"abc" if method == "PATCH" else b"", **extra)
            assert response.status_code == 404, (method, upload_id[:10], response.status_code, response.text[:200])
    # (the janitor's own lock file, hub.janitor, is not an upload's)
    assert not [p for p in (hub.data_dir / "locks").iterdir() if p.name != "janitor"]


def test_interrupted_decryption_leftovers_are_removed_at_startup(hub):
    tmp = hub.data_dir / "tmp"
    tmp.mkdir(exist_ok=True)
    leftover = tmp / "open-4194303-half"  # a pid no process has here: a hub killed mid-decryption
    leftover.write_bytes(b"half a plaintext")
    hub.stop()
    hub.start()
    assert not leftover.exists()


# -- 6. robust parsing: never a 5xx ------------------------------------------------------------------
def test_hostile_numbers_and_json_get_400_not_500(hub, agent):
    deep = b"[" * 100_000 + b"]" * 100_000
    for body in (deep, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        refused(signed(hub, agent, "POST", "/v1/commits", body, **{"Content-Type": "application/json"}), 400)
    for bad in ("²", "9" * 5000, str(2**64), "-1", "12x"):
        headers = {**sign_request("POST", "/v1/uploads", b"", agent.device_key, int(time.time())), **TUS,
                   "Upload-Length": bad, "Upload-Metadata": encode_metadata({"sha256": "ab" * 32})}
        refused(requests.post(hub.url + "/v1/uploads", headers=headers, timeout=10), 400)
    url = agent.hub.create_upload(10, "ab" * 32, "x.pdf")
    path = "/v1/uploads/" + url.rsplit("/", 1)[1]
    for bad in ("²", "9" * 5000, str(2**64)):
        refused(signed(hub, agent, "PATCH", path, b"abc", **TUS, **{"Upload-Offset": bad,
                "Content-Type": "application/offset+octet-stream"}), 400)
    for query in ("after=%C2%B2", "after=" + "9" * 5000, f"after={2**63}", f"after={2**64}", "limit=" + "9" * 30,
                  "after=-5"):
        refused(signed(hub, agent, "GET", "/v1/feed?" + query), 400)
    assert signed(hub, agent, "GET", f"/v1/feed?after={2**63 - 1}").json()["events"] == []


def test_huge_sequence_numbers_are_bounded_and_reported_as_runs(hub, agent):
    data = small_pdf()
    objects = [("document-1.pdf", upload(agent, data), len(data))]
    code = f"{AGENCY_1}-260105-000%d"
    # canonical JSON cannot even carry such numbers: write the envelope by hand, as an attacker would
    body = canonical_json(sign_document(SCHEMA, manifest(agent, code % 1, objects, sequence=12345, prev="ab" * 32),
                                        agent.device_key).to_dict())
    for too_big in (2**53, 2**64, 10**30):
        forged = body.replace(b'"sequence":12345', b'"sequence":%d' % too_big)
        refused(signed(hub, agent, "POST", "/v1/commits", forged, **{"Content-Type": "application/json"}), 400,
                "invalid_manifest")
    assert commit(hub, agent, manifest(agent, code % 2, objects, sequence=2**53 - 1, prev="ab" * 32)
                  ).status_code == 201
    report = run_motcua("hub", "chain-report", "--data", str(hub.data_dir), "--json", timeout=60)
    assert report.returncode == 1, report.stderr
    [problem] = json.loads(report.stdout)
    assert problem["chain_gap_ranges"] == [[1, 2**53 - 2]] and problem["chain_missing"] == 2**53 - 2
    assert problem["chain_gaps"][:3] == [1, 2, 3] and len(problem["chain_gaps"]) == 100
    devices = run_motcua("hub", "devices", "--data", str(hub.data_dir), timeout=60)
    assert devices.returncode == 0 and f"GAPS=[1..{2**53 - 2}]" in devices.stdout, devices.stdout


def test_invalid_timestamps_are_refused_before_anything_is_stored(hub, agent):
    dossier = seal_dossier(agent, captured_dossier(agent).id)
    assert sync_once(agent).committed == [dossier.code]
    token = run_motcua("hub", "status-token", "--name", "case-system", "--data", str(hub.data_dir)).stdout.strip()
    for at in ("2026-13-45T99:99:99Z", "2026-02-30T00:00:00Z", "２０２６-01-01T00:00:00Z"):
        response = requests.post(hub.url + "/v1/case-system/status", timeout=10,
                                 headers={"Authorization": f"Bearer {token}"},
                                 json={"dossier_id": dossier.id, "status": 4, "at": at})
        refused(response, 400, "invalid_timestamp")
        proof = {"schema": PROOF_LABEL, "record_id": str(uuid.uuid4()), "kind": "failed", "dossier_id": dossier.id,
                 "dossier_code": dossier.code, "device_id": agent.config.device_id, "at": at, "attempt": 1,
                 "reason": "not_home", "note": ""}
        body = canonical_json(sign_document(PROOF_LABEL, proof, agent.device_key).to_dict())
        refused(signed(hub, agent, "POST", "/v1/delivery-proofs", body, **{"Content-Type": "application/json"}),
                400, "invalid_proof")
    assert hub.sql("SELECT COUNT(*) FROM status_events") == [(0,)]
    assert hub.sql("SELECT COUNT(*) FROM delivery_proofs") == [(0,)]
    deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    refused(requests.post(hub.url + "/v1/case-system/status", data=deep, timeout=10,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}), 400)


def test_reenrolling_a_rotated_away_key_is_refused_without_burning_the_token(hub, agent):
    old_public = public_key_text(agent.device_key)
    rotate_device_key(agent)
    token = hub.token()
    refused(requests.post(hub.url + "/v1/enrol", json={"token": token, "public_key": old_public}, timeout=10),
            409, "key_already_used")
    fresh = requests.post(hub.url + "/v1/enrol", json={"token": token, "public_key": public_key_text(
        generate_private_key())}, timeout=10)
    assert fresh.status_code == 201, fresh.text


def test_unknown_routes_and_methods_answer_the_documented_shape(hub):
    refused(requests.get(hub.url + "/no/such/route", timeout=10), 404, "not_found")
    refused(requests.delete(hub.url + "/v1/hello", timeout=10), 405, "method_not_allowed")


# -- 7. operational endpoints ----------------------------------------------------------------------
def test_metrics_need_the_admin_address_or_token_and_labels_stay_bounded(limited_hub):
    hub = limited_hub(metrics_allow="10.255.255.0/24", metrics_token="s3cret-metrics")
    refused(requests.get(hub.url + "/metrics", timeout=10), 403, "metrics_denied")
    refused(requests.get(hub.url + "/metrics", headers={"Authorization": "Bearer wrong"}, timeout=10), 403)
    for n in range(30):
        requests.get(hub.url + f"/v1/scan-{uuid.uuid4().hex}", timeout=10)
        requests.request(f"X{n}", hub.url + "/v1/hello", timeout=10)
    text = requests.get(hub.url + "/metrics", headers={"Authorization": "Bearer s3cret-metrics"}, timeout=10)
    assert text.status_code == 200
    assert "/v1/scan-" not in text.text and 'route="other"' in text.text and 'method="X1"' not in text.text


def test_enrolment_is_rate_limited_per_address(limited_hub):
    hub = limited_hub(enrol_per_minute="3")
    guesses = [requests.post(hub.url + "/v1/enrol", json={"token": f"mct_guess{n}", "public_key": public_key_text(
        generate_private_key())}, timeout=10) for n in range(4)]
    assert [g.status_code for g in guesses[:3]] == [401, 401, 401]
    refused(guesses[3], 429, "rate_limited")
    assert int(guesses[3].headers["Retry-After"]) > 0


def test_tus_delete_frees_space_on_a_full_disk(tmp_path, small_disk):
    """Fill the hub's disk with one upload until 507; deleting that upload must work (bytes first)
    and give the space back, and a creation that fails on the full disk leaves no file."""
    hub = HubProcess(small_disk(tmp_path / "hub", "3m")).start()
    desk = enrolled_desk(hub, tmp_path / "a", SITE, AGENCY_1)
    try:
        created = _create(hub, desk, 8 * 1024 * 1024)
        assert created.status_code == 201, created.text
        path, offset, chunk = created.headers["Location"], 0, os.urandom(256 * 1024)
        while True:
            answer = signed(hub, desk, "PATCH", path, chunk, **TUS, **{
                "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
            if answer.status_code != 204:
                break
            offset += len(chunk)
        refused(answer, 507, "insufficient_storage")
        # leave the database no room either: empty its write-ahead log, then fill what that freed
        conn = sqlite3.connect(hub.data_dir / "hub.db")
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass  # the disk is already too full to move the log into the database: full either way
        finally:
            conn.close()
        filler = os.open(hub.data_dir / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(filler)
        before = set((hub.data_dir / "uploads").iterdir())
        refused(_create(hub, desk, 10), 507)
        assert set((hub.data_dir / "uploads").iterdir()) == before  # no orphan file for the failed creation
        assert signed(hub, desk, "DELETE", path, **TUS).status_code == 204
        assert not (hub.data_dir / "uploads" / path.rsplit("/", 1)[1]).exists()
        assert hub.sql("SELECT COUNT(*) FROM uploads WHERE upload_id=?", (path.rsplit("/", 1)[1],)) == [(0,)]
        upload(desk, os.urandom(512 * 1024))  # the freed space takes a new upload
    finally:
        desk.close()
        hub.stop()


def test_endless_headers_do_not_grow_hub_memory(hub):
    """A stranger streams one header line of 100 MiB: the HTTP parser stops at max_header_bytes."""
    pid = hub.proc.pid
    before = _vm(pid, "VmHWM")
    sock = _raw(hub, "GET /v1/hello HTTP/1.1\r\nHost: x\r\nX-Endless: ")
    sent = 0
    try:
        for _ in range(100):
            sock.sendall(b"a" * (1 << 20))
            sent += 1
    except OSError:
        pass  # the hub closed the connection: what the test wants
    finally:
        sock.close()
    grown_mib = (_vm(pid, "VmHWM") - before) / 1024
    print(f"hub peak RSS grew {grown_mib:.1f} MiB while a client sent {sent} MiB of one header; "
          f"load average {os.getloadavg()[0]:.2f}")
    assert grown_mib < 30, grown_mib
    assert requests.get(hub.url + "/v1/hello", timeout=5).ok


def test_finished_uploads_do_not_count_against_the_quota(limited_hub, tmp_path):
    """A desk delivers far more dossiers than its open-upload quota, one after another (the quota is
    for uploads in progress; finished ones keep their row until the janitor sweeps it)."""
    hub = limited_hub(max_open_uploads="2", max_reserved_bytes="1000")
    a = enrolled_desk(hub, tmp_path / "a", SITE, AGENCY_1)
    try:
        for n in range(4):
            data = f"chunk {n}".encode()
            headers = {**sign_request("POST", "/v1/uploads", b"", a.device_key, int(time.time())), **TUS,
                       "Upload-Length": str(len(data)),
                       "Upload-Metadata": encode_metadata({"sha256": hashlib.sha256(data).hexdigest()})}
            created = requests.post(hub.url + "/v1/uploads", headers=headers, timeout=10)
            assert created.status_code == 201, (n, created.text)
            done = signed(hub, a, "PATCH", created.headers["Location"], data, **TUS, **{
                "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
            assert done.status_code == 204, (n, done.text)
    finally:
        a.close()
