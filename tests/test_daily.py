"""The daily view's library: due lists by urgency from the due-date engine, search query handling,
and the hand-back checks (what the browser test does not reach)."""
from __future__ import annotations

import pytest

from agent.desk.daily import due_lists, hand_back, search
from agent.desk.due_dates import vn
from agent.desk.intake import IntakeForm, IntakeInvalid, take_in
from agent.desk.workflows import on_status_event
from agent.errors import InputError

from .test_intake import GOOD


@pytest.fixture
def taken(agent, pages):
    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages, received_at=vn(2026, 2, 2, 9), seal=False)
    return dossier  # 7 working days: due Wed 11 Feb 2026, 17:00


def _where(agent, now) -> list[str]:
    return [key for key, items in due_lists(agent, now).items() if items]


def test_due_lists_follow_the_clock_and_the_status(agent, taken):
    assert _where(agent, vn(2026, 2, 6, 9)) == []
    assert _where(agent, vn(2026, 2, 10, 9)) == ["soon"]
    assert _where(agent, vn(2026, 2, 11, 9)) == ["today"]
    assert _where(agent, vn(2026, 2, 12, 9)) == ["overdue"]
    on_status_event(agent, {"cursor": 1, "dossier_id": taken.id, "dossier_code": taken.code, "status": 5,
                            "status_name": "", "at": "2026-02-09T03:00:00Z", "note": "Thiếu giấy tờ",
                            "result_ready_for_delivery": False})
    assert _where(agent, vn(2026, 2, 12, 9)) == ["paused"]  # waiting for the citizen is not late
    on_status_event(agent, {"cursor": 2, "dossier_id": taken.id, "dossier_code": taken.code, "status": 9,
                            "status_name": "", "at": "2026-02-13T03:00:00Z", "note": "",
                            "result_ready_for_delivery": False})
    assert _where(agent, vn(2026, 2, 20, 9)) == []  # decided: off the due lists


def test_search_queries_are_safe(agent, taken):
    assert [r["code"] for r in search(agent, "Tuyet 079190001234")] == [taken.code]
    for odd in ('"', "AND", "OR NOT", "*", "a:b", "(", "   "):
        assert search(agent, odd) == []


def test_hand_back_needs_a_result_and_a_matching_id(agent, taken):
    with pytest.raises(InputError, match="no result yet"):
        hand_back(agent, taken.code, receiver_name="Nguyễn Thị Ánh Tuyết", relation="Bản thân",
                  receiver_id="079190001234", signature=b"x", officer="Trần Thị Lan")
    on_status_event(agent, {"cursor": 3, "dossier_id": taken.id, "dossier_code": taken.code, "status": 9,
                            "status_name": "", "at": "2026-02-10T03:00:00Z", "note": "",
                            "result_ready_for_delivery": False})
    with pytest.raises(IntakeInvalid) as err:
        hand_back(agent, taken.code, receiver_name="Lê Văn Em", relation="Người được uỷ quyền",
                  receiver_id="003190001234", signature=None, officer="Trần Thị Lan")
    assert set(err.value.errors) == {"receiver_id", "signature"}


def test_a_reprint_after_a_pause_states_the_new_appointment(agent, taken, tmp_path):
    import subprocess

    from agent.desk.receipt_slip import slip_for

    for cursor, status, at in ((4, 5, "2026-02-04T03:00:00Z"), (5, 4, "2026-02-09T02:00:00Z")):
        on_status_event(agent, {"cursor": cursor, "dossier_id": taken.id, "dossier_code": taken.code,
                                "status": status, "status_name": "", "at": at, "note": "",
                                "result_ready_for_delivery": False})
    path = tmp_path / "reprint.pdf"
    path.write_bytes(slip_for(agent, taken.code)[1])
    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout.split())
    assert "17 giờ 00 phút, ngày 23/02/2026" in text  # 3 paused working days, then Tết
    assert "đã thay đổi so với hẹn ban đầu 17 giờ 00 phút, ngày 11/02/2026" in text
