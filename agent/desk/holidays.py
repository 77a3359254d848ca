"""The working-day calendar: weekends, Vietnamese public holidays, yearly swaps.

Holidays come from a versioned data table (agent/desk/data/holidays.json, or a
province's edited copy in the agent home): fixed solar days, lunar days
computed by `agent.desk.lunar` (Tết, Hùng Kings' day), National Day with its
adjacent day, rules with an effective date, and per-year tables of what the
government announced (the actual Tết days, compensatory days off, make-up
working Saturdays). Years without a table get computed defaults, and a holiday
that falls on a weekend gives the next working day off (Labour Code 2019
art. 111(3)); a rule may turn that off for itself (`compensate_weekend`), as
the province decides where the law is unsettled.

Which table: the version the province published through the hub
(agent.desk.refdata), else a copy edited in the agent home, else the shipped
table. Every entry cites its `source`; a rule marked `"verified": false` or a
year without an announced table makes due dates that cross it "unconfirmed"
(`unconfirmed_between`), and `warnings` tells doctor and the dashboard.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from agent.desk.lunar import lunar_to_solar, tet
from agent.desk.refdata_store import current_file, read_document
from agent.errors import InputError
from sync_protocol.reference_tables import check_calendar

DEFAULT_TABLE = Path(__file__).parent / "data" / "holidays.json"
SCHEMA = "motcua.holidays/1"


def _bad(path: Path, where: str, problem: str) -> InputError:
    return InputError(f"Bảng ngày nghỉ {path}: mục {where} {problem[0]}",
                      f"Holiday table {path}: {where} {problem[1]}",
                      "Sửa tệp theo mẫu agent/desk/data/holidays.json / fix it after agent/desk/data/holidays.json")


def _parse_time(value: Any, path: Path, where: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise _bad(path, where, (f"không phải giờ dạng HH:MM: {value!r}", f"is not an HH:MM time: {value!r}")) from None


@dataclass(frozen=True)
class YearTable:
    """What was announced for one year: it replaces the computed days of the rules it names."""

    holidays: dict[str, tuple[date, ...]]
    days_off: tuple[date, ...]
    working_days: tuple[date, ...]
    status: str = "announced"


@dataclass
class HolidayCalendar:
    """Working days for Vietnamese public offices."""

    rules: list[dict[str, Any]]
    years: dict[int, YearTable]
    cutoff: time = time(15, 0)
    close: time = time(17, 0)
    workweek: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    weekend_compensation: bool = True
    version: str = ""
    source: str = ""
    _cache: dict[int, dict[date, str]] = field(default_factory=dict, repr=False)

    # -- loading -----------------------------------------------------------------
    @classmethod
    def load(cls, path: Path | str | None = None) -> "HolidayCalendar":
        path = Path(path) if path else DEFAULT_TABLE
        try:
            data = json.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise InputError(f"Không đọc được bảng ngày nghỉ {path}.", f"Cannot read holiday table {path}: {exc}",
                             "Kiểm tra đường dẫn / check the path") from exc
        except ValueError as exc:
            raise InputError(f"Bảng ngày nghỉ {path} không phải JSON hợp lệ (dòng {getattr(exc, 'lineno', '?')}).",
                             f"Holiday table {path} is not valid JSON: {exc}",
                             "Sửa tệp theo mẫu agent/desk/data/holidays.json / fix it after the shipped table") from exc
        return cls.from_dict(data, path)

    @classmethod
    def for_home(cls, home: Path | str | None) -> "HolidayCalendar":
        """The calendar the province published (agent.desk.refdata), else an edited table in the agent home,
        else the shipped table."""
        published = current_file(home)
        if published is not None:
            return _cached_published(str(published), published.stat().st_mtime_ns)
        local = Path(home) / "holidays.json" if home else None
        path = local if local and local.exists() else DEFAULT_TABLE
        return _cached_load(str(path), path.stat().st_mtime_ns)

    @classmethod
    def from_dict(cls, data: Any, path: Path | str = DEFAULT_TABLE, version: str | None = None) -> "HolidayCalendar":
        """Build from a `motcua.holidays/1` table; the first problem found is raised naming its entry."""
        path = Path(path)
        problems = check_calendar(data)
        if problems:
            where, vi, en = problems[0]
            raise _bad(path, where, (vi, en))
        hours = data.get("office_hours", {})
        years = {int(key): YearTable(
            holidays={rid: tuple(map(date.fromisoformat, v)) for rid, v in (table.get("holidays") or {}).items()},
            days_off=tuple(map(date.fromisoformat, table.get("days_off") or [])),
            working_days=tuple(map(date.fromisoformat, table.get("working_days") or [])),
            status=str(table.get("status", "announced"))) for key, table in data.get("years", {}).items()}
        return cls(rules=data.get("rules", []), years=years,
                   cutoff=_parse_time(hours.get("cutoff", "15:00"), path, "office_hours.cutoff"),
                   close=_parse_time(hours.get("close", "17:00"), path, "office_hours.close"),
                   workweek=frozenset(hours.get("workweek", [0, 1, 2, 3, 4])),
                   weekend_compensation=bool(data.get("weekend_compensation", True)),
                   version=version or str(data.get("version", "")), source=str(path))

    # -- holidays -------------------------------------------------------------------
    def _rule_days(self, rule: dict[str, Any], year: int) -> list[date]:
        kind = rule["kind"]
        if kind == "solar":
            return [date(year, rule["month"], rule["day"])]
        if kind == "lunar":
            return [lunar_to_solar(rule["day"], rule["month"], year)]
        if kind == "tet":
            first = tet(year)
            return [first + timedelta(days=i) for i in range(-rule.get("days_before", 1), rule.get("days_after", 3) + 1)]
        national = date(year, 9, 2)  # kind == "national_day": default adjacent day when not announced
        adjacent = national - timedelta(days=1) if national.weekday() in (1, 6) else national + timedelta(days=1)
        return [national, adjacent]

    def holidays(self, year: int) -> dict[date, str]:
        """Every day off in `year` that is not a plain weekend, with its name (Vietnamese)."""
        if year in self._cache:
            return self._cache[year]
        table = self.years.get(year)
        days: dict[date, str] = {}
        computed: list[date] = []  # days from rules, not as announced: they get the weekend compensation
        for rule in self.rules:
            announced = bool(table and rule["id"] in table.holidays)
            found = list(table.holidays[rule["id"]]) if announced else self._rule_days(rule, year)
            for day in found:
                if self._in_force(rule, day):
                    days[day] = rule.get("name_vi", rule["id"])
                    if not announced and rule.get("compensate_weekend", self.weekend_compensation):
                        computed.append(day)
        for day in sorted(d for d in computed if d.weekday() not in self.workweek):
            substitute = day + timedelta(days=1)
            while substitute.weekday() not in self.workweek or substitute in days:
                substitute += timedelta(days=1)
            days[substitute] = f"Nghỉ bù ({days[day]})"
        if table:
            for day in table.days_off:
                days.setdefault(day, "Nghỉ bù / hoán đổi")
            for day in table.working_days:
                days.pop(day, None)
        self._cache[year] = days
        return days

    @staticmethod
    def _in_force(rule: dict[str, Any], day: date) -> bool:
        start = date.fromisoformat(rule["effective_from"]) if "effective_from" in rule else date.min
        end = date.fromisoformat(rule["effective_to"]) if "effective_to" in rule else date.max
        return start <= day <= end

    # -- how sure we are ---------------------------------------------------------------
    def unverified_days(self, start: date, end: date) -> list[tuple[date, str]]:
        """Days off in [start, end] that come from a rule marked unverified ("verified": false)."""
        found = []
        for rule in (r for r in self.rules if r.get("verified") is False):
            for year in range(start.year, end.year + 1):
                for day in self._rule_days(rule, year):
                    if start <= day <= end and self._in_force(rule, day):
                        found.append((day, rule.get("name_vi", rule["id"])))
        return sorted(found)

    def unannounced_years(self, start: date, end: date) -> list[int]:
        """Years in [start, end] with no table of what the government announced (computed guesses only)."""
        return [y for y in range(start.year, end.year + 1)
                if y not in self.years or self.years[y].status not in ("announced", "verified")]

    def unconfirmed_between(self, start: date, end: date) -> bool:
        """True when a due date counted over [start, end] rests on unannounced years or unverified days:
        the slip then says "lịch chưa xác nhận"."""
        return bool(self.unannounced_years(start, end) or self.unverified_days(start, end))

    def warnings(self, today: date) -> list[tuple[str, str]]:
        """(Vietnamese, English) warnings for doctor and the dashboard: the current or next year has no
        announced table, or days off in them are not verified."""
        found = []
        for year in self.unannounced_years(date(today.year, 1, 1), date(today.year + 1, 12, 31)):
            found.append((f"Lịch ngày nghỉ chưa có năm {year} (chưa xác nhận theo thông báo chính thức).",
                          f"The holiday calendar has no announced table for {year}."))
        for day, name in self.unverified_days(date(today.year, 1, 1), date(today.year + 1, 12, 31)):
            found.append((f"Ngày nghỉ {day:%d/%m/%Y} ({name}) chưa được xác nhận — cần đối chiếu.",
                          f"Day off {day:%d/%m/%Y} ({name}) is not verified against an official source."))
        return found

    def is_make_up_day(self, day: date) -> bool:
        table = self.years.get(day.year)
        return bool(table and day in table.working_days)

    def is_working_day(self, day: date) -> bool:
        if self.is_make_up_day(day):
            return True
        return day.weekday() in self.workweek and day not in self.holidays(day.year)

    def holiday_name(self, day: date) -> str | None:
        return self.holidays(day.year).get(day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        for _ in range(count):
            day = self.next_working_day(day)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count


@lru_cache(maxsize=8)
def _cached_load(path: str, _mtime_ns: int) -> HolidayCalendar:
    return HolidayCalendar.load(path)


@lru_cache(maxsize=8)
def _cached_published(path: str, _mtime_ns: int) -> HolidayCalendar:
    document = read_document(Path(path))
    return HolidayCalendar.from_dict(document["calendar"], f"refdata v{document['version']}",
                                     version=f"refdata-{document['version']}")
