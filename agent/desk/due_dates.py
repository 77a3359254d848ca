"""Due dates in working days, with the clock paused while a dossier waits on the citizen.

Conventions (written down so that staff and reports agree):

* A dossier received on a working day before the afternoon cut-off (15:00 by
  default) counts from that day; one received after the cut-off, or on a day
  off (a Saturday counter), is treated as received on the next working day.
* The due date is that receipt day plus N working days, at office closing time
  (17:00 by default). N = 0 ("trong ngày") means closing time of the receipt day.
* While the hub reports "supplement requested" (5) or "financial obligation
  requested" (6) the clock is paused. A pause from day A to day B adds the
  working days d with A < d <= B to the due date (a pause opened and closed on
  the same day costs nothing; a pause still open counts up to today).
* Lateness is measured against the pause-extended due date, so "late"
  statistics no longer blame the office for the citizen's waiting time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable

from agent.desk.holidays import HolidayCalendar
from agent.outbox.ids import VIETNAM

PAUSING_STATUSES = {5: "supplement", 6: "fees"}


@dataclass(frozen=True)
class ClockPause:
    """A period in which the processing clock stood still; `end` None = still paused."""

    start: datetime
    end: datetime | None
    reason: str = "supplement"


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(VIETNAM)


def receipt_day(received_at: datetime, calendar: HolidayCalendar) -> date:
    """The working day from which the processing time counts."""
    local = _local(received_at)
    day = local.date()
    if calendar.is_working_day(day) and local.time() < calendar.cutoff:
        return day
    return calendar.next_working_day(day)


def paused_working_days(pauses: Iterable[ClockPause], calendar: HolidayCalendar, now: datetime | None = None) -> int:
    """Working days the clock stood still (see the module conventions)."""
    now = now or datetime.now(timezone.utc)
    total = 0
    for pause in pauses:
        end = pause.end or now
        total += calendar.working_days_between(_local(pause.start).date(), _local(end).date())
    return total


def due_at(received_at: datetime, processing_days: int, calendar: HolidayCalendar,
           pauses: Iterable[ClockPause] = (), now: datetime | None = None) -> datetime:
    """When the result is due, in Vietnam time, extended by paused working days."""
    if processing_days < 0:
        raise ValueError("processing_days must be >= 0")
    start = receipt_day(received_at, calendar)
    day = calendar.add_working_days(start, processing_days + paused_working_days(pauses, calendar, now))
    return datetime.combine(day, calendar.close, tzinfo=VIETNAM)


def extend_due(base_due: datetime, pauses: Iterable[ClockPause], calendar: HolidayCalendar,
               now: datetime | None = None) -> datetime:
    """A stored due date (computed at intake, or recomputed with an audit entry) extended by paused working days."""
    paused = paused_working_days(pauses, calendar, now)
    if not paused:
        return _local(base_due)
    return datetime.combine(calendar.add_working_days(_local(base_due).date(), paused), calendar.close, tzinfo=VIETNAM)


def due_unconfirmed(received_at: datetime, due: datetime, calendar: HolidayCalendar) -> bool:
    """Does this due date rest on calendar entries nobody has confirmed? ("lịch chưa xác nhận")"""
    return calendar.unconfirmed_between(_local(received_at).date(), _local(due).date())


def late_working_days(received_at: datetime, processing_days: int, finished_at: datetime,
                      calendar: HolidayCalendar, pauses: Iterable[ClockPause] = ()) -> int:
    """Working days past the (pause-extended) due date; 0 when on time."""
    pauses = list(pauses)
    due = due_at(received_at, processing_days, calendar, pauses, now=finished_at)
    finished = _local(finished_at)
    if finished <= due:
        return 0
    return max(1, calendar.working_days_between(due.date(), finished.date()))


@dataclass(frozen=True)
class Finished:
    """One finished dossier for the statistics."""

    received_at: datetime
    processing_days: int
    finished_at: datetime
    pauses: tuple[ClockPause, ...] = ()


def late_statistics(items: Iterable[Finished], calendar: HolidayCalendar) -> dict[str, int]:
    """On-time/late counts, pause-aware, next to the naive count that ignores pauses."""
    stats = {"total": 0, "on_time": 0, "late": 0, "late_if_pauses_ignored": 0}
    for item in items:
        stats["total"] += 1
        late = late_working_days(item.received_at, item.processing_days, item.finished_at, calendar, item.pauses)
        naive = late_working_days(item.received_at, item.processing_days, item.finished_at, calendar)
        stats["late" if late else "on_time"] += 1
        stats["late_if_pauses_ignored"] += bool(naive)
    return stats


def format_due(moment: datetime) -> str:
    """'17 giờ 00 phút, ngày 25/02/2026' — the slip's wording."""
    local = _local(moment)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}"


def vn(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A Vietnam-time moment (handy in tests and scripts)."""
    return datetime(year, month, day, hour, minute, tzinfo=VIETNAM)


def update_pauses(conn: Any, event: dict[str, Any]) -> None:
    """Inside the desk's status-event transaction: pause the clock on 5/6, resume it on any other status."""
    open_pause = conn.execute("SELECT started_at FROM clock_pauses WHERE dossier_id=? AND ended_at IS NULL",
                              (event["dossier_id"],)).fetchone()
    if event["status"] in PAUSING_STATUSES:
        if open_pause is None:
            conn.execute("INSERT OR IGNORE INTO clock_pauses(dossier_id, started_at, ended_at, reason, cursor)"
                         " VALUES (?,?,NULL,?,?)", (event["dossier_id"], event["at"],
                                                    PAUSING_STATUSES[event["status"]], event["cursor"]))
    elif open_pause is not None:
        conn.execute("UPDATE clock_pauses SET ended_at=? WHERE dossier_id=? AND started_at=?",
                     (max(event["at"], open_pause[0]), event["dossier_id"], open_pause[0]))
