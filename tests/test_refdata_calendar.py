"""24/11 (Ngày Văn hóa Việt Nam) both ways, the art. 111(3) weekend flag, unconfirmed calendars, dossier codes.

Every due date below is counted by hand in the comment beside it.
"""
from __future__ import annotations

import json
from datetime import date

import pytest

from agent.desk.due_dates import due_at, due_unconfirmed, vn
from agent.desk.holidays import DEFAULT_TABLE, HolidayCalendar
from sync_protocol.errors import InvalidDocument
from sync_protocol.manifest import DOSSIER_CODE


def calendar(change=None) -> HolidayCalendar:  # type: ignore[no-untyped-def]
    data = json.loads(DEFAULT_TABLE.read_text("utf-8"))
    if change:
        change(data)
    return HolidayCalendar.from_dict(data)


def culture_rule(data: dict) -> dict:
    return next(r for r in data["rules"] if r["id"] == "culture_day")


def without_culture_day(data: dict) -> None:
    data["rules"] = [r for r in data["rules"] if r["id"] != "culture_day"]


def test_culture_day_2026_as_a_day_off():
    cal = calendar()
    # Mon 23 Nov 2026, 1 working day: [Tue 24 Nov off] -> Wed 25 Nov
    assert due_at(vn(2026, 11, 23, 9), 1, cal).date() == date(2026, 11, 25)
    # Fri 20 Nov 2026, 3 days: Mon 23 (1), [Tue 24 off], Wed 25 (2), Thu 26 (3)
    assert due_at(vn(2026, 11, 20, 9), 3, cal).date() == date(2026, 11, 26)
    # it is not verified: the slip says "lịch chưa xác nhận" for a due date across it, not for one before it
    assert due_unconfirmed(vn(2026, 11, 23, 9), due_at(vn(2026, 11, 23, 9), 1, cal), cal)
    assert not due_unconfirmed(vn(2026, 11, 16, 9), due_at(vn(2026, 11, 16, 9), 2, cal), cal)


def test_culture_day_2026_when_the_province_does_not_count_it():
    cal = calendar(without_culture_day)
    # Mon 23 Nov 2026, 1 working day: Tue 24 Nov is a working day
    assert due_at(vn(2026, 11, 23, 9), 1, cal).date() == date(2026, 11, 24)
    # Fri 20 Nov 2026, 3 days: Mon 23 (1), Tue 24 (2), Wed 25 (3)
    assert due_at(vn(2026, 11, 20, 9), 3, cal).date() == date(2026, 11, 25)
    assert not due_unconfirmed(vn(2026, 11, 23, 9), due_at(vn(2026, 11, 23, 9), 1, cal), cal)


def test_culture_day_not_before_1_july_2026():
    cal = calendar()
    assert cal.is_working_day(date(2025, 11, 24))  # Monday 24 Nov 2025: the rule was not in force yet


@pytest.mark.parametrize("compensate, expected", [
    # 24 Nov 2029 is a Saturday. With art. 111(3) applied: Mon 26 Nov off, so Fri 23 + 1 = Tue 27 Nov
    (True, date(2029, 11, 27)),
    # without it (the province's flag off): Fri 23 + 1 = Mon 26 Nov
    (False, date(2029, 11, 26)),
])
def test_weekend_compensation_for_24_11_is_a_flag_of_the_rule(compensate, expected):
    cal = calendar(lambda data: culture_rule(data).update(compensate_weekend=compensate))
    assert due_at(vn(2029, 11, 23, 9), 1, cal).date() == expected
    assert cal.is_working_day(date(2029, 11, 26)) is not compensate


def test_warnings_name_missing_years_and_unverified_days():
    cal = calendar()
    texts = [en for _, en in cal.warnings(date(2026, 11, 30))]
    assert any("2027" in t and "no announced table" in t for t in texts)
    assert any("24/11/2026" in t and "not verified" in t for t in texts)
    assert all(vi for vi, _ in cal.warnings(date(2026, 11, 30)))

    def announced_and_verified(data: dict) -> None:
        data["years"]["2027"] = {"status": "announced", "holidays": {}, "days_off": [], "working_days": []}
        culture_rule(data)["verified"] = True

    assert calendar(announced_and_verified).warnings(date(2026, 11, 30)) == []
    # a due date in an unannounced year is unconfirmed too
    cal_2027 = calendar(without_culture_day)
    assert due_unconfirmed(vn(2026, 12, 30, 9), due_at(vn(2026, 12, 30, 9), 3, cal_2027), cal_2027)


AGENCY_35 = "G01.000.00.01.H29." + "A" * 17
assert len(AGENCY_35) == 35


@pytest.mark.parametrize("code, ok", [
    ("000.00.01.H29-261127-0001", True),
    (AGENCY_35 + "B-261127-0001", False),  # 36 characters of agency ID
    (AGENCY_35 + "-261127-0001", True),
    ("000.00.01.H29-261127-1234567", True),  # 7-digit sequence from a case system
    ("000.00.01.H29-261127-12345678", False),
    ("000.00.01.H29-261127-123", False),
    ("000.00.01.h29-261127-0001", False),
])
def test_dossier_codes_accept_long_agency_ids_and_long_sequences(code, ok):
    assert bool(DOSSIER_CODE.match(code)) is ok


def test_manifest_with_a_case_system_code_is_valid():
    from sync_protocol.manifest import Manifest

    base = {"schema": "motcua.manifest/1", "dossier_id": "0190f3a2-1c2b-7d3e-8f40-123456789abc", "dossier_version": 1,
            "dossier_code": AGENCY_35 + "-261127-1234567", "procedure_code": "1.001193",
            "channel": "counter", "device_id": "dev_0123456789abcdef0123", "sequence": 1,
            "previous_manifest_hash": None, "created_at": "2026-11-27T01:00:00Z",
            "received_at": "2026-11-27T00:59:00Z", "metadata": {},
            "objects": [{"name": "a.pdf", "media_type": "application/pdf", "sha256": "e3" * 32, "size": 1}]}
    assert Manifest.from_dict(base).dossier_code.endswith("-1234567")
    with pytest.raises(InvalidDocument):
        Manifest.from_dict({**base, "dossier_code": "X" * 36 + "-261127-0001"})


def test_hub_enrols_a_35_character_agency(hub, tmp_path):
    from agent.context import AgentContext
    from agent.delivery.enrolment import enrol

    agency = AGENCY_35
    ctx = AgentContext.open(tmp_path / "desk35")
    try:
        enrol(ctx, hub.url, hub.token(site="Xã dài", agency=agency), "Xã dài")
        assert ctx.config.agency_code == agency
    finally:
        ctx.close()
