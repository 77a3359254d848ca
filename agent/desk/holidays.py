"""The working-day calendar: weekends, Vietnamese public holidays, yearly swaps.

Holidays come from a versioned data table (agent/desk/data/holidays.json, or a
province's edited copy in the agent home): fixed solar days, lunar days
computed by `agent.desk.lunar` (Tết, Hùng Kings' day), National Day with its
adjacent day, rules with an effective date, and per-year tables of what the
government announced (the actual Tết days, compensatory days off, make-up
working Saturdays). Years without a table get computed defaults, and a holiday
that falls on a weekend gives the next working day off (Labour Code 2019).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from agent.desk.lunar import lunar_to_solar, tet
from agent.errors import InputError

DEFAULT_TABLE = Path(__file__).parent / "data" / "holidays.json"
SCHEMA = "motcua.holidays/1"


def _bad(path: Path, where: str, problem: str) -> InputError:
    return InputError(f"Bảng ngày nghỉ {path}: mục {where} {problem[0]}",
                      f"Holiday table {path}: {where} {problem[1]}",
                      "Sửa tệp theo mẫu agent/desk/data/holidays.json / fix it after agent/desk/data/holidays.json")


def _parse_date(value: Any, path: Path, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise _bad(path, where, (f"không phải ngày dạng YYYY-MM-DD: {value!r}",
                                 f"is not a YYYY-MM-DD date: {value!r}")) from None


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
        """The province's edited table in the agent home if there is one, else the shipped table."""
        local = Path(home) / "holidays.json" if home else None
        path = local if local and local.exists() else DEFAULT_TABLE
        return _cached_load(str(path), path.stat().st_mtime_ns)

    @classmethod
    def from_dict(cls, data: Any, path: Path = DEFAULT_TABLE) -> "HolidayCalendar":
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise _bad(path, "schema", (f"phải là {SCHEMA}", f"must be {SCHEMA}"))
        hours = data.get("office_hours", {})
        rules = data.get("rules", [])
        kinds = {"solar", "lunar", "tet", "national_day"}
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict) or rule.get("kind") not in kinds or not rule.get("id"):
                raise _bad(path, f"rules[{i}]", (f"cần id và kind thuộc {sorted(kinds)}",
                                                 f"needs an id and a kind in {sorted(kinds)}"))
            if rule["kind"] in ("solar", "lunar"):
                month, day = rule.get("month"), rule.get("day")
                if not (isinstance(month, int) and 1 <= month <= 12 and isinstance(day, int) and 1 <= day <= 31):
                    raise _bad(path, f"rules[{i}]", ("cần month 1–12 và day 1–31", "needs month 1-12 and day 1-31"))
            for key in ("effective_from", "effective_to"):
                if key in rule:
                    _parse_date(rule[key], path, f"rules[{i}].{key}")
        years: dict[int, YearTable] = {}
        for key, table in data.get("years", {}).items():
            if not key.isdigit() or not isinstance(table, dict):
                raise _bad(path, f"years.{key}", ("phải là năm và một đối tượng", "must be a year mapped to an object"))
            year = int(key)

            def dates(values: Any, where: str) -> tuple[date, ...]:
                found = tuple(_parse_date(v, path, where) for v in (values or []))
                if any(d.year != year for d in found):
                    raise _bad(path, where, (f"có ngày không thuộc năm {year}", f"holds a date outside {year}"))
                return found

            years[year] = YearTable(
                holidays={rid: dates(v, f"years.{key}.holidays.{rid}") for rid, v in table.get("holidays", {}).items()},
                days_off=dates(table.get("days_off"), f"years.{key}.days_off"),
                working_days=dates(table.get("working_days"), f"years.{key}.working_days"),
                status=str(table.get("status", "announced")))
        return cls(rules=rules, years=years,
                   cutoff=_parse_time(hours.get("cutoff", "15:00"), path, "office_hours.cutoff"),
                   close=_parse_time(hours.get("close", "17:00"), path, "office_hours.close"),
                   workweek=frozenset(hours.get("workweek", [0, 1, 2, 3, 4])),
                   weekend_compensation=bool(data.get("weekend_compensation", True)),
                   version=str(data.get("version", "")), source=str(path))

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
        for rule in self.rules:
            if table and rule["id"] in table.holidays:
                found = list(table.holidays[rule["id"]])
            else:
                found = self._rule_days(rule, year)
            start = date.fromisoformat(rule["effective_from"]) if "effective_from" in rule else date.min
            end = date.fromisoformat(rule["effective_to"]) if "effective_to" in rule else date.max
            for day in found:
                if start <= day <= end:
                    days[day] = rule.get("name_vi", rule["id"])
        if table is None and self.weekend_compensation:
            for day in sorted(d for d in days if d.weekday() not in self.workweek):
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
