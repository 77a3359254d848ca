"""The provincial case system takes dossiers out: pull in commit order, documents with Range, acks,
agency-scoped tokens, the national format, auditing, and `hub lagging` for a case system that stopped."""
from __future__ import annotations

import hashlib
import json

import requests

from agent.desk.intake import IntakeForm, take_in
from agent.delivery.sync import sync_once

from .chaos.dossiers import make_dossier
from .conftest import AGENCY, run_motcua
from .test_intake import GOOD

OTHER_AGENCY = "000.00.02.H29"


def case_token(hub, name: str = "case-system", *agencies: str) -> str:
    args = [a for agency in (agencies or (AGENCY,)) for a in ("--agency", agency)]
    out = run_motcua("hub", "status-token", "--data", str(hub.data_dir), "--name", name, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def get(hub, path: str, token: str | None, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.get(hub.url + path, headers=headers, timeout=30, **kwargs)


def post(hub, path: str, token: str, **kwargs) -> requests.Response:
    return requests.post(hub.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs)


def test_case_system_pulls_intake_and_documents_in_commit_order_and_acks(hub, agent, pages, no_ocr):
    first, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages)
    second = make_dossier(agent, 40_000)
    assert sorted(sync_once(agent).committed) == sorted([first.code, second.code])
    token = case_token(hub)

    page = get(hub, "/v1/case-system/dossiers", token, params={"limit": 1}).json()
    assert page["more"] is True and len(page["dossiers"]) == 1
    rest = get(hub, "/v1/case-system/dossiers", token, params={"after": page["next_after"]}).json()
    assert rest["more"] is False
    items = page["dossiers"] + rest["dossiers"]
    hub_order = [r[0] for r in hub.sql("SELECT dossier_id FROM dossiers ORDER BY hub_sequence")]
    assert [d["dossier_id"] for d in items] == hub_order  # commit order, each once
    assert [int(d["cursor"]) for d in items] == sorted(int(d["cursor"]) for d in items)

    taken = next(d for d in items if d["dossier_id"] == first.id)
    assert taken["applicant"]["citizen_id"] == GOOD["citizen_id"]  # decrypted at commit, readable now
    assert taken["applicant"]["applicant_name"] == GOOD["applicant_name"]
    assert taken["procedure_code"] == "1.004222" and taken["channel_code"] == 1 and taken["due_at"]
    assert taken["receipt"]["document"]["dossier_id"] == first.id and taken["manifest"]["signature"]
    assert taken["status"] == 1 and taken["acked"] is False

    padded = next(d for d in items if d["dossier_id"] == second.id)
    [doc] = padded["documents"]
    whole = get(hub, doc["url"], token)
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == doc["sha256"]
    assert len(whole.content) == doc["size"] and whole.headers["accept-ranges"] == "bytes"
    tail = get(hub, doc["url"], token, headers={"Range": "bytes=1000-"})
    assert tail.status_code == 206 and tail.content == whole.content[1000:]
    assert tail.headers["content-range"] == f"bytes 1000-{doc['size'] - 1}/{doc['size']}"
    assert get(hub, doc["url"], token, headers={"Range": "bytes=-10"}).content == whole.content[-10:]
    beyond = get(hub, doc["url"], token, headers={"Range": f"bytes={doc['size']}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{doc['size']}"
    assert beyond.json()["reason_vi"]

    # Unacknowledged dossiers stay visible; an ack is idempotent.
    assert post(hub, f"/v1/case-system/dossiers/{first.id}/ack", token).status_code == 201
    assert post(hub, f"/v1/case-system/dossiers/{first.id}/ack", token, json={"version": 1}).status_code == 200
    unacked = get(hub, "/v1/case-system/dossiers", token, params={"unacked": 1}).json()["dossiers"]
    assert [d["dossier_id"] for d in unacked] == [second.id]
    again = get(hub, "/v1/case-system/dossiers", token).json()["dossiers"]
    assert {d["dossier_id"]: d["acked"] for d in again} == {first.id: True, second.id: False}
    from hub.case_system.pull import acknowledged_at  # what the staff console shows
    from hub.config import HubConfig
    from hub.state import HubState

    console_view = acknowledged_at(HubState.open(HubConfig.from_env(hub.data_dir)), [first.id, second.id])
    assert list(console_view) == [first.id] and console_view[first.id] > 0

    # Every read of citizen data is audited: which token, which dossier (no personal data in the log).
    audit = json.loads(run_motcua("hub", "audit", "--json", "--data", str(hub.data_dir)).stdout)
    reads = [e for e in audit if e["actor"] == "api:case-system"]
    assert {e["action"] for e in reads} == {"case_system.read", "case_system.document", "case_system.acked"}
    assert {e["dossier_id"] for e in reads if e["action"] == "case_system.read"} == {first.id, second.id}
    assert GOOD["citizen_id"] not in json.dumps(audit) and GOOD["citizen_id"] not in hub.log_text()


def test_national_format_uses_portal_codes_and_vietnam_time(hub, agent, pages, no_ocr):
    dossier, record = take_in(agent, IntakeForm.from_mapping({**GOOD, "channel": "postal"}), pages)
    sync_once(agent)
    token = case_token(hub)
    [item] = get(hub, "/v1/case-system/dossiers", token, params={"format": "national"}).json()["dossiers"]
    assert item["MaHoSo"] == dossier.code and item["MaTTHC"] == "1.004222"
    assert item["KenhThucHien"] == 3 and item["TrangThaiHoSo"] == 1
    assert item["ChuHoSo"] == GOOD["applicant_name"] and item["SoGiayToChuHoSo"] == GOOD["citizen_id"]
    received = record.received_at  # UTC; the national form is Vietnam time (UTC+7)
    from datetime import datetime, timedelta

    expected = (datetime.strptime(received, "%Y-%m-%dT%H:%M:%SZ") + timedelta(hours=7)).strftime("%Y%m%d%H%M%S")
    assert item["NgayTiepNhan"] == expected and len(item["NgayHenTra"]) == 14
    assert item["motcua"]["dossier_id"] == dossier.id
    assert {t["TenTepDinhKem"] for t in item["TaiLieuNop"]} >= {"intake.json"}
    assert get(hub, "/v1/case-system/dossiers", token, params={"format": "xml"}).status_code == 400


def test_tokens_see_only_their_agencies_and_bad_input_is_a_clear_400(hub, agent):
    dossier = make_dossier(agent, 3000)
    sync_once(agent)
    mine, theirs = case_token(hub, "mine"), case_token(hub, "theirs", OTHER_AGENCY)
    legacy = run_motcua("hub", "status-token", "--data", str(hub.data_dir), "--name", "legacy").stdout.strip()

    [item] = get(hub, "/v1/case-system/dossiers", mine).json()["dossiers"]
    assert get(hub, "/v1/case-system/dossiers", theirs).json()["dossiers"] == []
    doc = item["documents"][0]["url"]
    assert get(hub, doc, theirs).status_code == 404  # another agency's document does not exist for it
    assert post(hub, f"/v1/case-system/dossiers/{dossier.id}/ack", theirs).status_code == 404
    status = post(hub, "/v1/case-system/status", theirs, json={"dossier_id": dossier.id, "status": 2})
    assert status.status_code == 404  # nor may it change that dossier's status
    assert post(hub, "/v1/case-system/status", mine, json={"dossier_id": dossier.id, "status": 2}).status_code == 201

    unscoped = get(hub, "/v1/case-system/dossiers", legacy)
    assert unscoped.status_code == 403 and unscoped.json()["error"] == "token_not_scoped"
    assert get(hub, "/v1/case-system/dossiers", None).status_code == 401
    assert get(hub, "/v1/case-system/dossiers", "mcs_forged").status_code == 401
    for params in ({"after": "abc"}, {"after": "-1"}, {"limit": 0}, {"limit": 1000}, {"limit": "x"}):
        bad = get(hub, "/v1/case-system/dossiers", mine, params=params)
        assert bad.status_code == 400 and bad.json()["reason_vi"], params
    assert get(hub, "/v1/case-system/documents/not-a-hash", mine).status_code == 404
    assert get(hub, doc, mine, headers={"Range": "bytes=oops"}).status_code == 416
    assert post(hub, f"/v1/case-system/dossiers/{dossier.id}/ack", mine, data=b"{not json").status_code == 400
    assert post(hub, f"/v1/case-system/dossiers/{dossier.id}/ack", mine, json={"version": 0}).status_code == 400
    assert post(hub, "/v1/case-system/dossiers/nope/ack", mine).status_code == 404
    bad_agency = run_motcua("hub", "status-token", "--data", str(hub.data_dir), "--name", "x", "--agency", "h29;drop")
    assert bad_agency.returncode == 1 and "Mã cơ quan" in bad_agency.stderr and "Traceback" not in bad_agency.stderr


def test_hub_lagging_reports_a_case_system_that_stopped_pulling(hub, agent):
    make_dossier(agent, 3000)
    sync_once(agent)
    token = case_token(hub)
    assert get(hub, "/v1/case-system/dossiers", token).status_code == 200
    fresh = run_motcua("hub", "lagging", "--json", "--data", str(hub.data_dir))
    assert fresh.returncode == 0 and json.loads(fresh.stdout) == []

    import sqlite3

    conn = sqlite3.connect(hub.data_dir / "hub.db")
    with conn:
        conn.execute("UPDATE api_tokens SET last_pull_at = last_pull_at - 3 * 86400")
    conn.close()
    stale = run_motcua("hub", "lagging", "--json", "--data", str(hub.data_dir))
    assert stale.returncode == 1
    [row] = json.loads(stale.stdout)
    assert row["kind"] == "case_system" and row["case_system"] == "case-system" and row["unacked"] == 1
    assert "case-system" in run_motcua("hub", "lagging", "--data", str(hub.data_dir)).stdout


def test_reference_client_resumes_a_cut_download_and_refuses_a_bad_token_clearly(hub, agent, tmp_path):
    from hub.case_system.client import CaseSystemClient, _Transient

    make_dossier(agent, 300_000)
    sync_once(agent)
    token = case_token(hub)
    [item] = get(hub, "/v1/case-system/dossiers", token).json()["dossiers"]
    [doc] = item["documents"]
    whole = get(hub, doc["url"], token).content
    client = CaseSystemClient(hub.url, token)

    target = tmp_path / "cut.pdf"
    target.write_bytes(whole[:120_000])  # the link died here last time
    assert client.download(doc, target) == doc["size"] - 120_000  # only the rest travels
    assert target.read_bytes() == whole
    audit = json.loads(run_motcua("hub", "audit", "--json", "--data", str(hub.data_dir)).stdout)
    assert [e["detail"]["start"] for e in audit if e["action"] == "case_system.document"][-1] == 120_000

    target.write_bytes(b"X" * 1000)  # a damaged partial file is not trusted: start that file again
    try:
        client.download(doc, target)
        raise AssertionError("a damaged file must not pass its sha256 check")
    except _Transient:
        assert not target.exists()
    client.download(doc, target)
    assert target.read_bytes() == whole

    refused = run_motcua("hub", "pull", "--url", hub.url, "--token", "mcs_wrong", "--to", str(tmp_path / "in"))
    assert refused.returncode == 1 and "401" in refused.stderr and "Traceback" not in refused.stderr
    done = run_motcua("hub", "pull", "--url", hub.url, "--token", token, "--to", str(tmp_path / "in"), "--national")
    assert done.returncode == 0, done.stderr
    [folder] = [p for p in (tmp_path / "in").iterdir() if not p.name.startswith(".")]
    assert json.loads((folder / "national.json").read_text("utf-8"))["MaHoSo"] == item["dossier_code"]
    again = run_motcua("hub", "pull", "--url", hub.url, "--token", token, "--to", str(tmp_path / "in"))
    assert again.returncode == 0 and "written" not in again.stdout  # nothing new: nothing written twice
