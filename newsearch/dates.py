"""Dates as news archives write them, and date bounds as users type them.

Two jobs, one vocabulary of formats:

* :func:`parse_article_date` reads the ``date`` of a post (``2021-12-25
  14:03:27 +0800``, ``2018-05-12 22:51``, ``2018-05-12``, ``2021/12/25``,
  ``2021年12月25日``, a Unix timestamp, or a value YAML already parsed).
* :func:`parse_bound` reads a ``--since``/``--until`` value (``2021``,
  ``2021-12``, ``2021年12月``, ``2021-12-25``) and widens it to the start or
  the end of the period it names.

Dates are kept as naive local time as written; a UTC offset, when present,
is returned separately so it can be shown again but never shifts the day.

Years run from 1 to 9999 (what ``datetime`` holds); a bound naming another year
is refused with that range.  The index stores a date as microseconds since
0001-01-01 00:00 and an undated article as 0, so the first representable
instant would read as undated: every date and bound here is at least
:data:`EARLIEST`, one microsecond later, which no day, month or year boundary
can reach and every display of the date (to the second) hides.

A bound may also name a span of periods, ``2020..2029`` (from the start of the
first to the end of the last), as the buckets of a wide date histogram do.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta, timezone

__all__ = ["EARLIEST", "FIRST_YEAR", "LAST_YEAR", "date_from_filename", "parse_article_date", "parse_bound"]

FIRST_YEAR, LAST_YEAR = 1, 9999
EARLIEST = datetime(FIRST_YEAR, 1, 1, 0, 0, 0, 1)
"""The earliest date kept: 0001-01-01 00:00 itself is the index's mark of an undated article."""
RANGE = ".."
"""Between the two ends of a span of periods: ``2020..2029``."""

_SEP = r"[-/.]"
_DATE_TIME_RE = re.compile(
    rf"""^\s*
    (?P<y>\d{{4}})(?:{_SEP}|年)\s*(?P<m>\d{{1,2}})(?:{_SEP}|月)\s*(?P<d>\d{{1,2}})日?
    (?:
        (?:[T\s]+|日)\s*
        (?P<H>\d{{1,2}})[:：时](?P<M>\d{{2}})分?(?:[:：](?P<S>\d{{2}})(?:[.,](?P<f>\d{{1,6}}))?秒?)?
    )?
    \s*(?P<tz>Z|UTC|GMT|[+-]\d{{2}}:?\d{{2}}|[+-]\d{{2}})?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_TIMESTAMP_RE = re.compile(r"^\s*\d{9,13}(?:\.\d+)?\s*$")
_FILENAME_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-")

_BOUND_RE = re.compile(
    rf"""^\s*
    (?P<y>\d+)年?
    (?:(?:{_SEP}|(?<=年))\s*(?P<m>\d{{1,2}})月?
        (?:(?:{_SEP}|(?<=月))\s*(?P<d>\d{{1,2}})日?)?
    )?
    \s*$""",
    re.VERBOSE,
)
_COMPACT_BOUND_RE = re.compile(r"^\s*(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})?\s*$")  # 202112, 20211225


def _offset_minutes(tz: str | None) -> int | None:
    if not tz:
        return None
    tz = tz.upper()
    if tz in {"Z", "UTC", "GMT"}:
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        raise ValueError(f"impossible UTC offset {tz!r}")
    return sign * (hours * 60 + minutes)


def parse_article_date(value: object) -> tuple[datetime | None, int | None]:
    """Parse a post's date into (naive local datetime, UTC offset in minutes).

    Returns ``(None, None)`` for an empty value; raises ``ValueError`` with a
    short reason for a value that is not a date or names an impossible one.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, datetime):
        offset = value.utcoffset()
        minutes = None if offset is None else int(offset.total_seconds() // 60)
        return _kept(value.replace(tzinfo=None)), minutes
    if isinstance(value, date):
        return _kept(datetime.combine(value, time())), None
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, (int, float)) and (abs(value) < 1e8 or abs(value) >= 1e13):
        raise ValueError(f"not a Unix timestamp: {value!r}")  # same 9 to 13 digits as in text
    if isinstance(value, (int, float)) or (isinstance(value, str) and _TIMESTAMP_RE.match(value)):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        try:
            moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"timestamp out of range: {value!r}") from None
        return moment.replace(tzinfo=None), 0
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    m = _DATE_TIME_RE.match(value)
    if not m:
        raise ValueError(f"unrecognised date {value.strip()!r}")
    try:
        moment = datetime(
            int(m["y"]),
            int(m["m"]),
            int(m["d"]),
            int(m["H"] or 0),
            int(m["M"] or 0),
            int(m["S"] or 0),
            int((m["f"] or "0").ljust(6, "0")),
        )
    except ValueError:
        raise ValueError(f"impossible date {value.strip()!r}") from None
    return _kept(moment), _offset_minutes(m["tz"])


def _kept(moment: datetime) -> datetime:
    """``moment``, or :data:`EARLIEST` for the one instant before it (which would read as undated)."""
    return moment if moment >= EARLIEST else EARLIEST


def date_from_filename(name: str) -> datetime | None:
    """The date of a Jekyll-style ``YYYY-MM-DD-slug`` file name, if it has a valid one."""
    m = _FILENAME_DATE_RE.match(name)
    if not m:
        return None
    try:
        return _kept(datetime(int(m[1]), int(m[2]), int(m[3])))
    except ValueError:
        return None


def parse_bound(value: str | date | datetime, *, end: bool = False) -> datetime:
    """Turn a date bound into a datetime: the start of the period, or its last instant.

    ``parse_bound("2021-12", end=True)`` is the last microsecond of December
    2021, so ``--until 2021-12`` includes the whole month.  A span of periods,
    ``2020..2029``, starts with the first and ends with the last.  Years outside
    1 to 9999 raise ``ValueError`` saying so.
    """
    if isinstance(value, datetime):
        return _kept(value.replace(tzinfo=None))
    if isinstance(value, date):
        moment = datetime.combine(value, time())
        return moment + timedelta(days=1, microseconds=-1) if end else _kept(moment)
    text = str(value).strip()
    if RANGE in text:
        first, _, last = text.partition(RANGE)
        if not first.strip() or not last.strip() or RANGE in last:
            raise ValueError(f"{text!r} is not a span of dates; write it FROM{RANGE}TO, as in 2020{RANGE}2029")
        start, finish = parse_bound(first), parse_bound(last, end=True)  # both checked, either way
        return finish if end else start
    m = _COMPACT_BOUND_RE.match(text) or _BOUND_RE.match(text)
    if m and m["m"] and len(m["y"]) < 4:
        m = None  # 21-12-25: a year of the 21st century more likely than the year 21
    if m:
        year = int(m["y"])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(f"{text!r} is out of range: years run from {FIRST_YEAR} to {LAST_YEAR}")
        month = int(m["m"]) if m["m"] else None
        day = int(m["d"]) if m["d"] else None
        try:
            if month is None:
                start, last_day = datetime(year, 1, 1), datetime(year, 12, 31)
            elif day is None:
                start = datetime(year, month, 1)
                last_day = start.replace(day=calendar.monthrange(year, month)[1])
            else:
                start = last_day = datetime(year, month, day)
        except (ValueError, calendar.IllegalMonthError):
            raise ValueError(f"{text!r} is not a real date") from None
        # From the last day, not the next period's start, which overflows in 9999.
        return last_day + timedelta(days=1, microseconds=-1) if end else _kept(start)
    try:
        written, _ = parse_article_date(text)
    except ValueError:
        written = None
    if written is None:
        raise ValueError(
            f"{text!r} is not a date; use YYYY, YYYY-MM, YYYY-MM-DD or 2021年12月25日"
        )
    return written
