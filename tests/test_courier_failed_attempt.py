"""A courier phone's failed attempt reaches the desk through the status feed (issue 15), with a real hub process,
a real desk agent and `motcua ui`: the hub verifies the signed proof and puts a `delivery_failed` event on the feed of
the dossier's agency only; the desk's next sync counts the attempt on the courier task with its reason and next date
(dossier page, courier list, CLI; audited), and a replayed feed or a resent proof records nothing twice.
A phone filing an attempt for a dossier it was not handed (another agency's) gets 403 with a JSON reason.
"""
from __future__ import annotations

import json
import uuid

import pytest

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from agent.delivery.feed import CURSOR_KEY
from agent.delivery.sync import sync_once
from agent.desk.courier import handover, list_tasks, record_failed_attempt, records_of
from agent.desk.courier_phone import pair_phone, publish_to_phone
from agent.desk.intake import IntakeForm, take_in
from agent.ops.audit import AuditLog
from sync_protocol.delivery_proof import LABEL
from sync_protocol.signed_document import sign_document

from .conftest import run_motcua
from .test_courier_hub import Phone, _error
from .test_intake import GOOD
from .web_support import login_session, ui  # noqa: F401  (fixture: `motcua ui` with an officer account)

OTHER_AGENCY, OTHER_SITE = "000.00.02.H29", "UBND xã Bên Cạnh"


def _failed(phone: Phone, dossier_id: str, code: str, **fields) -> tuple[dict, object]:
    document = {"schema": LABEL, "record_id": str(uuid.uuid4()), "kind": "failed", "dossier_id": dossier_id,
                "dossier_code": code, "device_id": phone.identity["device_id"], "at": "2026-11-30T09:15:00Z",
                "attempt": 1, "courier": "Lê Văn Cường", "batch": "BG-1", "gps": None,
                "reason": "not_home", "note": "Gọi không nghe máy", "next_attempt": "2026-12-03", **fields}
    envelope = sign_document(LABEL, document, phone.signer)  # type: ignore[arg-type]
    return document, envelope


def _post(phone: Phone, envelope) -> object:
    return phone.call("POST", "/v1/delivery-proofs", data=envelope.to_bytes(), headers={"Content-Type": "application/json"})


def _decided(hub, ctx, pages, name: str) -> str:
    dossier, _ = take_in(ctx, IntakeForm.from_mapping({**GOOD, "applicant_name": name}), pages)
    assert dossier.code in sync_once(ctx).committed
    posted = run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, "9", "--note", "Có kết quả")
    assert posted.returncode == 0, posted.stderr
    sync_once(ctx)  # the feed's "result ready" opens the courier task
    return dossier.code


def test_failed_attempt_from_phone_reaches_its_desk_once(hub, agent, agent_home, pages, ui, tmp_path):  # noqa: F811
    code = _decided(hub, agent, pages, "Trần Văn Nam")
    [task] = list_tasks(agent)
    batch, _ = handover(agent, [code], "Lê Văn Cường")
    phone = Phone(hub.url, pair_phone(agent, "Lê Văn Cường")["token"])
    publish_to_phone(agent, batch, phone.identity["device_id"], [code])

    # another agency's desk, with its own decided dossier, enrolled at the same hub
    other = AgentContext.open(tmp_path / "other")
    try:
        enrol(other, hub.url, hub.token(site=OTHER_SITE, agency=OTHER_AGENCY), OTHER_SITE)
        other_code = _decided(hub, other, pages, "Phạm Thị Hoa")
        [other_task] = list_tasks(other)
        refused = _post(phone, _failed(phone, other_task["dossier_id"], other_code)[1])
        assert refused.status_code == 403 and _error(refused) == "not_handed_over", refused.text
        assert refused.json()["reason_vi"] == "Hồ sơ này không được bàn giao cho điện thoại này"

        # the hub checks what it will put on the feed: a reason off the list, an impossible date
        for bad, field in (({"reason": "dog"}, "proof.reason"), ({"next_attempt": "2026-02-30"}, "proof.next_attempt"),
                           ({"attempt": 0}, "proof.attempt"), ({"note": "x" * 201}, "proof.note")):
            answer = _post(phone, _failed(phone, task["dossier_id"], code, **bad)[1])
            assert answer.status_code == 400 and field in answer.json()["reason"], answer.text

        document, envelope = _failed(phone, task["dossier_id"], code)
        created = _post(phone, envelope)
        assert created.status_code == 201, created.text
        event = created.json()["status_event"]
        assert event["kind"] == "delivery_failed" and event["status"] == 9 and event["attempt"] == {
            "record_id": document["record_id"], "reason": "not_home", "note": "Gọi không nghe máy",
            "next_attempt": "2026-12-03", "attempt": 1}
        again = _post(phone, envelope)  # the phone resends (lost answer): same event, no new cursor
        assert again.status_code == 200 and again.json()["status_event"]["cursor"] == event["cursor"]
        assert hub.sql("SELECT status FROM dossiers WHERE dossier_code=?", (code,)) == [(9,)]  # status unchanged
        assert hub.sql("SELECT COUNT(*) FROM delivery_proofs") == [(1,)]  # the refused ones left nothing

        # only the dossier's agency hears of it; an agent that does not list the kind is not sent it
        sync_once(other)
        assert other.outbox.conn.execute("SELECT COUNT(*) FROM courier_attempts").fetchone() == (0,)
        old_style = agent.hub.session.get(hub.url + "/v1/feed?after=0", timeout=30).json()["events"]
        assert old_style and all("kind" not in e for e in old_style)
    finally:
        other.close()

    sync_once(agent)  # the desk's next sync
    [task] = list_tasks(agent)
    assert task["attempts"] == 1 and task["state"] == "out"
    assert task["last_failure"] == {"reason": "not_home", "note": "Gọi không nghe máy", "next_attempt": "2026-12-03",
                                    "at": "2026-11-30T09:15:00Z"}
    [entry] = [e for e in AuditLog(agent_home / "audit.db").entries(task["dossier_id"])
               if e["action"] == "courier.delivery_failed"]
    assert entry["detail"] == {"record": document["record_id"], "reason": "not_home", "next_attempt": "2026-12-03",
                               "cursor": event["cursor"]}

    # a second sync, then the whole feed replayed from cursor 0 (as after restoring a backup): nothing twice
    sync_once(agent)
    with agent.outbox.transaction() as conn:
        conn.execute("DELETE FROM feed_inbox")
    agent.outbox.set_state(CURSOR_KEY, "0")
    sync_once(agent)
    assert agent.outbox.conn.execute("SELECT applied_at IS NOT NULL FROM feed_inbox WHERE cursor=?",
                                     (event["cursor"],)).fetchone() == (1,)
    [task] = list_tasks(agent)
    assert task["attempts"] == 1
    assert [r["kind"] for r in records_of(agent, task["dossier_id"])] == ["failed"]
    assert len([e for e in AuditLog(agent_home / "audit.db").entries(task["dossier_id"])
                if e["action"] == "courier.delivery_failed"]) == 1

    # what the officer sees, in Vietnamese with the reason in words
    session = login_session(ui)
    dossier_page = session.get(f"{ui}/dossiers/{code}", timeout=60).text
    assert "Giao không thành công: Không có người nhận tại nhà" in dossier_page
    assert "hẹn giao lại 03/12/2026" in dossier_page and "trung tâm đã xác minh" in dossier_page
    courier_page = session.get(f"{ui}/courier", timeout=60).text
    assert "Chờ giao lại" in courier_page and "Không có người nhận tại nhà" in courier_page
    assert "03/12/2026" in courier_page
    listed = run_motcua("courier", "list", home=agent_home)
    assert listed.returncode == 0 and "Không có người nhận tại nhà" in listed.stdout and "2026-12-03" in listed.stdout

    # the courier's free-text note may name people: purging the dossier's personal data removes it, keeps the rest
    purged = run_motcua("purge-personal-data", code, home=agent_home)
    assert purged.returncode == 0, purged.stderr
    assert agent.outbox.conn.execute("SELECT reason, note, next_attempt FROM courier_attempts").fetchall() == [
        ("not_home", "", "2026-12-03")]
    notes = [r[0] for r in agent.outbox.conn.execute("SELECT event FROM feed_inbox") if "Gọi không nghe máy" in r[0]]
    assert notes == []


def test_desk_recorded_attempt_coming_back_on_the_feed_counts_once(hub, agent, pages):
    """A failed attempt recorded at the desk is sent to the hub like a phone's and comes back on the feed:
    the desk already counted it, so the event changes nothing."""
    code = _decided(hub, agent, pages, "Trần Văn Nam")
    handover(agent, [code], "Lê Văn Cường")
    record_failed_attempt(agent, code, "moved", "Chuyển vào Nam")
    sync_once(agent)  # the proof goes up
    sync_once(agent)  # its event comes back down
    [record] = hub.sql("SELECT attempt FROM status_events WHERE attempt IS NOT NULL")
    assert json.loads(record[0])["reason"] == "moved"
    assert agent.outbox.conn.execute("SELECT COUNT(*) FROM feed_inbox WHERE applied_at IS NOT NULL AND"
                                     " json_extract(event, '$.kind')='delivery_failed'").fetchone() == (1,)
    [task] = list_tasks(agent)
    assert task["attempts"] == 1 and task["last_failure"]["reason"] == "moved"
    assert agent.outbox.conn.execute("SELECT COUNT(*) FROM courier_attempts").fetchone() == (0,)
    assert [r["kind"] for r in records_of(agent, task["dossier_id"])] == ["failed"]


@pytest.mark.parametrize("event_patch, problem", [
    ({"kind": "delivery_failed"}, "event.attempt"),
    ({"kind": "weather", "attempt": None}, "event.kind"),
    ({"kind": "delivery_failed", "attempt": {"record_id": "x", "reason": "not_home", "note": "", "next_attempt": None,
                                              "attempt": 1}}, "record_id"),
    ({"kind": "delivery_failed", "attempt": {"record_id": str(uuid.uuid4()), "reason": "not_home", "note": "",
                                              "next_attempt": "03/12/2026", "attempt": 1}}, "next_attempt"),
])
def test_feed_refuses_malformed_attempt_events(event_patch, problem):
    from sync_protocol.errors import InvalidDocument
    from sync_protocol.feed import StatusEvent

    base = StatusEvent(5, str(uuid.uuid4()), "000.00.01.H29-261130-0001", 9, "2026-11-30T09:15:00Z").to_dict()
    assert StatusEvent.from_dict(base).kind == "status" and "kind" not in base
    with pytest.raises(InvalidDocument, match=problem):
        StatusEvent.from_dict({**base, **event_patch})
