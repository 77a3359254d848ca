"""Vietnamese lunar calendar (âm lịch) conversions, computed — not tabulated.

An implementation of Hồ Ngọc Đức's published algorithm ("Thuật toán tính âm
lịch"): new moons from Meeus' series, the winter-solstice month 11 rule and the
leap-month rule by the sun's longitude, evaluated in UTC+7. The time zone
matters: Vietnam's calendar uses UTC+7 while China's uses UTC+8, so some years
differ from Chinese-calendar libraries (e.g. Tết 1985 fell on 21 Jan in Vietnam
but 20 Feb in China; Tết 2007 on 17 Feb versus 18 Feb).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

VIETNAM_TZ_HOURS = 7.0
_SYNODIC = 29.530588853
_K0 = 2415021.076998695


@dataclass(frozen=True)
class LunarDate:
    day: int
    month: int
    year: int
    leap: bool = False


def jd_from_date(d: date) -> int:
    """Julian day number of a Gregorian date."""
    return d.toordinal() + 1721425


def date_from_jd(jd: int) -> date:
    return date.fromordinal(jd - 1721425)


def _new_moon(k: int) -> float:
    """Julian day (fractional, UT) of the k-th new moon after 1900-01-01 (Meeus, ch. 49 simplified)."""
    t = k / 1236.85
    t2, t3 = t * t, t * t * t
    dr = math.pi / 180
    jd1 = 2415020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3
    jd1 += 0.00033 * math.sin((166.56 + 132.87 * t - 0.009173 * t2) * dr)
    m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3
    mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3
    f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3
    c1 = (0.1734 - 0.000393 * t) * math.sin(m * dr) + 0.0021 * math.sin(2 * dr * m)
    c1 += -0.4068 * math.sin(mpr * dr) + 0.0161 * math.sin(dr * 2 * mpr)
    c1 += -0.0004 * math.sin(dr * 3 * mpr)
    c1 += 0.0104 * math.sin(dr * 2 * f) - 0.0051 * math.sin(dr * (m + mpr))
    c1 += -0.0074 * math.sin(dr * (m - mpr)) + 0.0004 * math.sin(dr * (2 * f + m))
    c1 += -0.0004 * math.sin(dr * (2 * f - m)) - 0.0006 * math.sin(dr * (2 * f + mpr))
    c1 += 0.0010 * math.sin(dr * (2 * f - mpr)) + 0.0005 * math.sin(dr * (2 * mpr + m))
    if t < -11:
        delta_t = 0.001 + 0.000839 * t + 0.0002261 * t2 - 0.00000845 * t3 - 0.000000081 * t * t3
    else:
        delta_t = -0.000278 + 0.000265 * t + 0.000262 * t2
    return jd1 + c1 - delta_t


def _new_moon_day(k: int, tz: float) -> int:
    return math.floor(_new_moon(k) + 0.5 + tz / 24)


def _sun_longitude(jdn: float) -> float:
    """The sun's apparent longitude in radians, 0..2π."""
    t = (jdn - 2451545.0) / 36525
    t2 = t * t
    dr = math.pi / 180
    m = 357.52910 + 35999.05030 * t - 0.0001559 * t2 - 0.00000048 * t * t2
    l0 = 280.46645 + 36000.76983 * t + 0.0003032 * t2
    dl = (1.914600 - 0.004817 * t - 0.000014 * t2) * math.sin(dr * m)
    dl += (0.019993 - 0.000101 * t) * math.sin(dr * 2 * m) + 0.000290 * math.sin(dr * 3 * m)
    lon = (l0 + dl) * dr
    return lon - math.pi * 2 * math.floor(lon / (math.pi * 2))


def _sun_sector(day_number: int, tz: float) -> int:
    """Which 30° sector (0..11) the sun is in at local midnight starting `day_number`."""
    return math.floor(_sun_longitude(day_number - 0.5 - tz / 24) / math.pi * 6)


def _lunar_month_11(year: int, tz: float) -> int:
    """Julian day of the first day of lunar month 11 (the month holding the winter solstice) of `year`."""
    off = jd_from_date(date(year, 12, 31)) - 2415021
    k = math.floor(off / _SYNODIC)
    nm = _new_moon_day(k, tz)
    if _sun_sector(nm, tz) >= 9:
        nm = _new_moon_day(k - 1, tz)
    return nm


def _leap_month_offset(a11: int, tz: float) -> int:
    k = math.floor((a11 - _K0) / _SYNODIC + 0.5)
    i = 1
    arc = _sun_sector(_new_moon_day(k + i, tz), tz)
    while True:
        last = arc
        i += 1
        arc = _sun_sector(_new_moon_day(k + i, tz), tz)
        if arc == last or i >= 14:
            break
    return i - 1


def solar_to_lunar(d: date, tz: float = VIETNAM_TZ_HOURS) -> LunarDate:
    day_number = jd_from_date(d)
    k = math.floor((day_number - _K0) / _SYNODIC)
    month_start = _new_moon_day(k + 1, tz)
    while month_start > day_number:  # the published code steps back once; twice is needed on rare days (2054-05-07)
        k -= 1
        month_start = _new_moon_day(k + 1, tz)
    a11 = _lunar_month_11(d.year, tz)
    b11 = a11
    if a11 >= month_start:
        lunar_year = d.year
        a11 = _lunar_month_11(d.year - 1, tz)
    else:
        lunar_year = d.year + 1
        b11 = _lunar_month_11(d.year + 1, tz)
    lunar_day = day_number - month_start + 1
    diff = math.floor((month_start - a11) / 29)
    leap = False
    lunar_month = diff + 11
    if b11 - a11 > 365:
        leap_diff = _leap_month_offset(a11, tz)
        if diff >= leap_diff:
            lunar_month = diff + 10
            leap = diff == leap_diff
    if lunar_month > 12:
        lunar_month -= 12
    if lunar_month >= 11 and diff < 4:
        lunar_year -= 1
    return LunarDate(lunar_day, lunar_month, lunar_year, leap)


def lunar_to_solar(day: int, month: int, year: int, leap: bool = False, tz: float = VIETNAM_TZ_HOURS) -> date:
    """Gregorian date of a lunar date; ValueError for a leap month that year does not have."""
    if month < 11:
        a11, b11 = _lunar_month_11(year - 1, tz), _lunar_month_11(year, tz)
    else:
        a11, b11 = _lunar_month_11(year, tz), _lunar_month_11(year + 1, tz)
    k = math.floor(0.5 + (a11 - _K0) / _SYNODIC)
    off = month - 11
    if off < 0:
        off += 12
    if b11 - a11 > 365:
        leap_off = _leap_month_offset(a11, tz)
        leap_month = leap_off - 2
        if leap_month < 0:
            leap_month += 12
        if leap and month != leap_month:
            raise ValueError(f"lunar year {year} has no leap month {month}")
        if leap or off >= leap_off:
            off += 1
    elif leap:
        raise ValueError(f"lunar year {year} has no leap month")
    return date_from_jd(_new_moon_day(k + off, tz) + day - 1)


def tet(year: int) -> date:
    """Lunar New Year's day (mùng 1 Tết) falling in Gregorian `year`."""
    return lunar_to_solar(1, 1, year)


def lunar_new_years_eve(year: int) -> date:
    """The last day of the lunar year that ends in Gregorian `year` (29 or 30 of month 12)."""
    return tet(year) - timedelta(days=1)
