"""Status events from the hub become citizen messages in an outbox; clocks pause on supplement/fees."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from agent.desk.due_dates import vn
from agent.errors import InputError
from agent.desk.intake import IntakeForm, current_due, get_intake, take_in
from agent.desk.workflows import on_status_event
from agent.desk.notifications import (FileSender, WebhookSender, list_notifications, send_pending,
                                 sms_text, status_events)
from agent.delivery.sync import sync_once

from .conftest import run_motcua
from .test_intake import GOOD


def event(dossier, cursor, status, at="2026-02-12T03:00:00Z", note="", ready=False):
    return {"cursor": cursor, "dossier_id": dossier.id, "dossier_code": dossier.code, "status": status,
            "status_name": "", "at": at, "note": note, "result_ready_for_delivery": ready}


@pytest.fixture
def taken(agent, pages):
    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages, received_at=vn(2026, 2, 2, 9), seal=False)
    return dossier


def test_hub_status_change_reaches_the_citizen_outbox(hub, agent, pages, tmp_path):
    """The real path: hub case-system post -> feed -> on_status_event -> file sender."""
    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages)
    assert sync_once(agent).committed == [dossier.code]
    posted = run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, "9", "--note", "Đã ký quyết định")
    assert posted.returncode == 0, posted.stderr
    sync_once(agent)  # pulls the feed
    [seen] = status_events(agent)
    assert seen["status"] == 9 and seen["dossier_code"] == dossier.code
    [message] = list_notifications(agent)
    assert message["state"] == "queued" and message["recipient"] == "0912345678"
    assert dossier.code in message["text"] and "Bưu điện sẽ chuyển kết quả" in message["text"]
    out = tmp_path / "sms-out"
    assert send_pending(agent, FileSender(out)) == {"handed": 0, "written": 1, "failed": 0}
    [file] = out.iterdir()
    sent = json.loads(file.read_text("utf-8"))
    assert sent["to"] == "0912345678" and sent["sms_text"].isascii() and "Ho so" in sent["sms_text"]
    assert list_notifications(agent)[0]["state"] == "written"  # only in a folder: never called "sent"
    assert send_pending(agent, FileSender(out)) == {"handed": 0, "written": 0, "failed": 0}


def test_events_are_idempotent_and_pause_the_clock(agent, taken):
    record = get_intake(agent, taken.id)
    assert current_due(agent, record).date().isoformat() == "2026-02-11"  # 7 working days from Mon 2 Feb
    on_status_event(agent, event(taken, 1, 2, at="2026-02-02T03:00:00Z"))
    on_status_event(agent, event(taken, 1, 2, at="2026-02-02T03:00:00Z"))  # same cursor again: nothing new
    assert len(list_notifications(agent)) == 1
    # supplement requested Wed 4 Feb, supplied Mon 9 Feb: Thu 5, Fri 6, Mon 9 = 3 working days paused
    on_status_event(agent, event(taken, 2, 5, at="2026-02-04T03:00:00Z", note="Thiếu bản sao giấy tờ"))
    on_status_event(agent, event(taken, 3, 4, at="2026-02-09T02:00:00Z"))
    # Wed 11 Feb + 3 working days: Thu 12, Fri 13, [Tết 14-22], Mon 23
    assert current_due(agent, record).date().isoformat() == "2026-02-23"
    texts = [m["text"] for m in list_notifications(agent)]
    assert any("cần bổ sung" in t and "Thiếu bản sao" in t for t in texts)
    assert len(texts) == 2  # "processing" (4) sends nothing


def test_no_phone_is_visible_not_silent(agent, pages):
    dossier, _ = take_in(agent, IntakeForm.from_mapping({**GOOD, "phone": "", "return_method": "counter"}), pages,
                         seal=False)
    on_status_event(agent, event(dossier, 7, 9))
    [message] = list_notifications(agent)
    assert message["state"] == "no_contact" and "Mời ông/bà đến" in message["text"]
    assert send_pending(agent, FileSender(agent.config.home / "out")) == {"handed": 0, "written": 0, "failed": 0}


def test_malformed_event_is_refused(agent):
    with pytest.raises(InputError) as err:
        on_status_event(agent, {"cursor": 1, "dossier_id": "x", "dossier_code": "y", "status": 12, "at": "2026-01-01T00:00:00Z"})
    assert "1..10" in err.value.message_en
    with pytest.raises(InputError):
        on_status_event(agent, {"cursor": "1"})


class _Gateway(BaseHTTPRequestHandler):
    received: list = []
    fail = False

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Gateway.fail:
            self.send_response(503)
        else:
            _Gateway.received.append((self.headers.get("Authorization"), body))
            self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_sender_retries_until_the_gateway_answers(agent, taken):
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sender = WebhookSender(f"http://127.0.0.1:{server.server_port}/sms", token="gw-secret", timeout=5)
        on_status_event(agent, event(taken, 11, 9, ready=True))
        _Gateway.fail = True
        assert send_pending(agent, sender) == {"handed": 0, "written": 0, "failed": 1}
        [message] = list_notifications(agent)
        assert message["state"] == "queued" and "503" in message["last_error"]
        _Gateway.fail = False
        assert send_pending(agent, sender) == {"handed": 1, "written": 0, "failed": 0}
        [message] = list_notifications(agent)
        assert message["state"] == "handed" and message["gateway_answer"].startswith("HTTP 202")
        auth, body = _Gateway.received[-1]
        assert auth == "Bearer gw-secret" and body["dossier_code"] == taken.code and body["to"] == "0912345678"
    finally:
        server.shutdown()
    # a gateway that is gone: the message stays queued with a reason
    on_status_event(agent, event(taken, 12, 10))
    assert send_pending(agent, WebhookSender(f"http://127.0.0.1:{server.server_port}/sms", timeout=1))["failed"] == 1


def test_sms_text_is_unaccented_and_short():
    assert sms_text("Hồ sơ đã có kết quả. Đến nhận tại UBND xã") == "Ho so da co ket qua. Den nhan tai UBND xa"
    assert len(sms_text("ạ" * 400)) == 160


def test_cli_notify_list_and_send(agent, agent_home, taken):
    on_status_event(agent, event(taken, 21, 9))
    listed = run_motcua("notify", "list", "--json", home=agent_home)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["state"] == "queued"
    sent = run_motcua("notify", "send", "--json", home=agent_home)
    assert json.loads(sent.stdout) == {"handed": 0, "written": 1, "failed": 0}
    assert len(list((agent_home / "notifications-out").iterdir())) == 1
    (agent_home / "notify.json").write_text("{broken", "utf-8")
    bad = run_motcua("notify", "send", home=agent_home)
    assert bad.returncode == 1 and "notify.json" in bad.stderr and "Traceback" not in bad.stderr


def test_gammu_modem_path_with_the_dummy_driver(agent, taken, tmp_path):
    """python-gammu's `dummy` driver stands in for the USB GSM modem (the only part that cannot run here)."""
    from agent.desk.notifications import record_delivery_report, sender_from_config

    modem = tmp_path / "modem"
    modem.mkdir()
    (agent.config.home / "notify.json").write_text(json.dumps(
        {"sender": "gammu", "gammu": {"device": str(modem), "connection": "none", "model": "dummy"}}))
    on_status_event(agent, event(taken, 31, 9, ready=True))
    sender = sender_from_config(agent.config.home)
    assert send_pending(agent, sender) == {"handed": 1, "written": 0, "failed": 0}
    [message] = list_notifications(agent)
    assert message["state"] == "handed" and message["gateway_answer"].startswith("gammu ref ")
    assert taken.code in message["text"]  # (the dummy driver keeps no copy of sent messages to inspect)
    record_delivery_report(agent, message["id"], True, "status report: delivered")
    assert list_notifications(agent)[0]["state"] == "delivered"
    with pytest.raises(InputError):
        record_delivery_report(agent, message["id"], False, "again")  # only a handed message takes a report
    again = run_motcua("notify", "report", str(message["id"]), "--failed", home=agent.config.home)
    assert again.returncode == 1 and "not handed to a gateway" in again.stderr
    # A modem that is not there: the message stays queued with Gammu's reason.
    on_status_event(agent, event(taken, 32, 10))
    (agent.config.home / "notify.json").write_text(json.dumps(
        {"sender": "gammu", "gammu": {"device": "/dev/ttyMOTCUA-none", "connection": "at"}}))
    assert send_pending(agent, sender_from_config(agent.config.home))["failed"] == 1
    waiting = [m for m in list_notifications(agent) if m["state"] == "queued"]
    assert len(waiting) == 1 and waiting[0]["last_error"].startswith("gammu:")


def test_sms_never_cuts_the_code_or_the_due_date():
    from types import SimpleNamespace

    from agent.desk.notifications import render_text

    long_name = "Thủ tục cấp giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản khác gắn liền với đất lần đầu"
    intake = SimpleNamespace(return_method="post", procedure_code="1.000001", data={"procedure_name": long_name})
    code = "000.00.01.H29.TANPHU.BUUCUC.QUAY01-260211-1234567"
    ev = {"dossier_code": code, "status": 2, "note": ""}
    text = render_text(ev, intake, "Trung tâm Phục vụ hành chính công xã Tân Phú", vn(2026, 2, 27, 17))
    assert len(sms_text(text)) <= 160 and sms_text(text) == sms_text(text, 10_000)  # fits: nothing cut at the end
    assert code in text and "17 giờ 00 phút, ngày 27/02/2026" in text and "..." in text
    note = {"dossier_code": code, "status": 5, "note": "Thiếu bản sao giấy khai sinh của con " * 6}
    supplement = render_text(note, intake, "xã Tân Phú", None)
    assert code in supplement and len(sms_text(supplement)) <= 160
    short = render_text({"dossier_code": "X-1", "status": 3, "note": "Không đúng thẩm quyền"}, intake, "xã Tân Phú", None)
    assert "Không đúng thẩm quyền." in short  # the hub's note ends with a full stop
