"""Due dates across Tết, cut-offs, swaps and clock pauses — every case computed by hand (see comments)."""
from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.desk.due_dates import ClockPause, Finished, due_at, late_statistics, late_working_days, receipt_day, vn
from agent.errors import InputError
from agent.desk.holidays import DEFAULT_TABLE, HolidayCalendar
from agent.desk.lunar import lunar_to_solar, solar_to_lunar, tet


@pytest.fixture(scope="module")
def cal() -> HolidayCalendar:
    return HolidayCalendar.load()


# Tết per Vietnam's calendar (UTC+7). 1985 and 2007 are the years China's calendar (UTC+8) differs.
@pytest.mark.parametrize("year, expected", [
    (1985, date(1985, 1, 21)), (2007, date(2007, 2, 17)), (2020, date(2020, 1, 25)), (2021, date(2021, 2, 12)),
    (2022, date(2022, 2, 1)), (2023, date(2023, 1, 22)), (2024, date(2024, 2, 10)), (2025, date(2025, 1, 29)),
    (2026, date(2026, 2, 17)), (2027, date(2027, 2, 6)), (2028, date(2028, 1, 26)),
])
def test_tet_dates(year, expected):
    assert tet(year) == expected


def test_hung_kings_day_and_leap_month():
    assert lunar_to_solar(10, 3, 2024) == date(2024, 4, 18)
    assert lunar_to_solar(10, 3, 2025) == date(2025, 4, 7)
    assert lunar_to_solar(10, 3, 2023) == date(2023, 4, 29)  # after the leap 2nd month of 2023
    assert lunar_to_solar(1, 2, 2023, leap=True) == date(2023, 3, 22)
    with pytest.raises(ValueError):
        lunar_to_solar(1, 5, 2024, leap=True)  # 2024 has no leap month


@pytest.mark.parametrize("day", [date(2054, 5, 7), date(2062, 4, 9)])
def test_lunar_month_start_two_moons_back(day):
    """Days where the first new-moon guess is two lunations ahead (found by hypothesis)."""
    lunar = solar_to_lunar(day)
    assert lunar.day == 30 and lunar_to_solar(lunar.day, lunar.month, lunar.year, lunar.leap) == day


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2099, 12, 31)))
def test_lunar_round_trip(day):
    lunar = solar_to_lunar(day)
    assert 1 <= lunar.day <= 30
    assert lunar_to_solar(lunar.day, lunar.month, lunar.year, lunar.leap) == day


def test_holidays_2026_as_announced(cal):
    days = cal.holidays(2026)
    # Tết Bính Ngọ: off Sat 14 - Sun 22 Feb (statutory Mon 16 - Fri 20), no make-up day
    assert [d for d in days if d.month == 2] == [date(2026, 2, d) for d in range(14, 23)]
    # Hùng Kings' day is Sunday 26 Apr -> compensatory Monday 27 Apr
    assert date(2026, 4, 26) in days and date(2026, 4, 27) in days
    # National Day 2026 is 1 and 2 Sep (not 2 and 3); Mon 31 Aug off, swapped with Sat 22 Aug worked
    assert {date(2026, 8, 31), date(2026, 9, 1), date(2026, 9, 2)} <= set(days) and date(2026, 9, 3) not in days
    assert cal.is_working_day(date(2026, 8, 22)) and cal.is_working_day(date(2026, 9, 3))
    # New Year: Fri 2 Jan off, Sat 10 Jan worked
    assert not cal.is_working_day(date(2026, 1, 2)) and cal.is_working_day(date(2026, 1, 10))


def test_holidays_computed_for_a_year_without_a_table(cal):
    days = cal.holidays(2028)
    # Sat 2 Sep 2028 + adjacent Sun 3 Sep, both on the weekend: compensated Mon 4 and Tue 5 (art. 111(3))
    assert {date(2028, 9, 2), date(2028, 9, 3)} <= set(days)
    assert "Nghỉ bù" in days[date(2028, 9, 4)] and "Nghỉ bù" in days[date(2028, 9, 5)]


def test_announced_year_swaps(cal):
    # 2025: Tết 25 Jan - 2 Feb with NO swap: Sat 15 Feb 2025 was not a working day
    assert not cal.is_working_day(date(2025, 1, 27)) and not cal.is_working_day(date(2025, 2, 15))
    # the only 2025 swap: Fri 2 May off <-> Sat 26 Apr worked
    assert cal.is_working_day(date(2025, 4, 26)) and not cal.is_working_day(date(2025, 5, 2))
    assert not cal.is_working_day(date(2025, 9, 1))


@pytest.mark.parametrize("received, days, expected", [
    # Wed 11 Feb 2026, 5 days: Thu 12 (1), Fri 13 (2), [Tết 14-22], Mon 23 (3), Tue 24 (4), Wed 25 (5)
    (vn(2026, 2, 11, 9), 5, date(2026, 2, 25)),
    # Fri 13 Feb 2026 at 15:30, after the cut-off: counts from Mon 23 -> Tue 24, Wed 25, Thu 26
    (vn(2026, 2, 13, 15, 30), 3, date(2026, 2, 26)),
    # Fri 24 Jan 2025, 3 days: 25 Jan - 2 Feb off -> Mon 3 (1), Tue 4 (2), Wed 5 (3)
    (vn(2025, 1, 24, 10), 3, date(2025, 2, 5)),
    # Thu 13 Feb 2025, 2 days: Fri 14 (1), [Sat 15 is NOT a make-up day], Mon 17 (2)
    (vn(2025, 2, 13, 10), 2, date(2025, 2, 17)),
    # Thu 24 Apr 2025, 2 days: Fri 25 (1), Sat 26 make-up working day (2)
    (vn(2025, 4, 24, 10), 2, date(2025, 4, 26)),
    # New Year 2026: Wed 31 Dec 2025, 2 days: [Thu 1, Fri 2 off, weekend] Mon 5 Jan (1), Tue 6 (2)
    (vn(2025, 12, 31, 9), 2, date(2026, 1, 6)),
    # Fri 9 Jan 2026, 1 day: Sat 10 Jan is worked (swapped with Fri 2 Jan)
    (vn(2026, 1, 9, 10), 1, date(2026, 1, 10)),
    # Received on the working Saturday 10 Jan before the cut-off: a same-day procedure is due that day
    (vn(2026, 1, 10, 9), 0, date(2026, 1, 10)),
    # National Day 2026: Fri 21 Aug, 1 day: Sat 22 Aug is worked
    (vn(2026, 8, 21, 9), 1, date(2026, 8, 22)),
    # Fri 28 Aug 2026, 1 day: [Sat 29 - Wed 2 Sep off: weekend, Mon 31 swapped, 1-2 Sep] Thu 3 Sep
    (vn(2026, 8, 28, 10), 1, date(2026, 9, 3)),
    # Thu 27 Aug 2026, 3 days: Fri 28 (1), Thu 3 Sep (2), Fri 4 Sep (3)
    (vn(2026, 8, 27, 10), 3, date(2026, 9, 4)),
    # Same-day procedure: before the cut-off the same day, after it the next working day
    (vn(2026, 3, 2, 10), 0, date(2026, 3, 2)),
    (vn(2026, 3, 2, 15, 30), 0, date(2026, 3, 3)),
    # Received on a Saturday counter: counts from Monday -> Mon 2 Mar + 1 = Tue 3 Mar
    (vn(2026, 2, 28, 9), 1, date(2026, 3, 3)),
    # Across 30/4-1/5 2026 (Thu, Fri): Wed 29 Apr + 2 = Mon 4 May (1), Tue 5 May (2)
    (vn(2026, 4, 29, 9), 2, date(2026, 5, 5)),
    # Across Tết 2024 (8-14 Feb): Wed 7 Feb + 1 = Thu 15 Feb
    (vn(2024, 2, 7, 14, 59), 1, date(2024, 2, 15)),
])
def test_due_dates_by_hand(cal, received, days, expected):
    due = due_at(received, days, cal)
    assert due.date() == expected and (due.hour, due.minute) == (17, 0)


def test_pause_extends_due_date_and_late_statistics(cal):
    received = vn(2026, 2, 2, 9)
    # 10 days from Mon 2 Feb: Tue 3 .. Fri 13 is 9 days, Tết, Mon 23 is the 10th
    assert due_at(received, 10, cal).date() == date(2026, 2, 23)
    # Supplement requested Thu 5 Feb, supplied Tue 10 Feb: Fri 6, Mon 9, Tue 10 = 3 paused working days
    pause = ClockPause(vn(2026, 2, 5, 14), vn(2026, 2, 10, 9))
    assert due_at(received, 10, cal, [pause]).date() == date(2026, 2, 26)
    # Finished Wed 25 Feb: late by 2 days if pauses were ignored, on time when they count
    finished = vn(2026, 2, 25, 10)
    assert late_working_days(received, 10, finished, cal) == 2
    assert late_working_days(received, 10, finished, cal, [pause]) == 0
    stats = late_statistics([Finished(received, 10, finished, (pause,)),
                             Finished(received, 10, vn(2026, 2, 27, 10))], cal)
    assert stats == {"total": 2, "on_time": 1, "late": 1, "late_if_pauses_ignored": 2}
    # Paused and resumed the same day costs nothing; an open pause counts up to "now"
    assert due_at(received, 10, cal, [ClockPause(vn(2026, 2, 3, 8), vn(2026, 2, 3, 16))]).date() == date(2026, 2, 23)
    open_pause = ClockPause(vn(2026, 2, 5, 14), None)
    assert due_at(received, 10, cal, [open_pause], now=vn(2026, 2, 6, 9)).date() == date(2026, 2, 24)


def test_naive_times_are_refused(cal):
    from datetime import datetime

    with pytest.raises(ValueError):
        receipt_day(datetime(2026, 1, 5, 9), cal)


def test_province_table_overrides_and_bad_tables(tmp_path):
    data = json.loads(DEFAULT_TABLE.read_text("utf-8"))
    data["years"]["2026"] = {"holidays": {"tet": ["2026-02-14", "2026-02-15", "2026-02-16", "2026-02-17",
                                                  "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-21",
                                                  "2026-02-22"]},
                             "days_off": ["2026-02-23"], "working_days": ["2026-03-07"]}
    (tmp_path / "holidays.json").write_text(json.dumps(data), "utf-8")
    cal = HolidayCalendar.for_home(tmp_path)
    assert not cal.is_working_day(date(2026, 2, 23)) and cal.is_working_day(date(2026, 3, 7))
    assert due_at(vn(2026, 2, 13, 9), 1, cal).date() == date(2026, 2, 24)

    data["years"]["2026"]["days_off"] = ["2026-02-30"]
    (tmp_path / "bad.json").write_text(json.dumps(data), "utf-8")
    with pytest.raises(InputError) as err:
        HolidayCalendar.load(tmp_path / "bad.json")
    assert "years.2026.days_off" in err.value.message_en and "YYYY-MM-DD" in err.value.message_en
    (tmp_path / "broken.json").write_text("{not json", "utf-8")
    with pytest.raises(InputError) as err:
        HolidayCalendar.load(tmp_path / "broken.json")
    assert "broken.json" in err.value.message_vi
