"""newsearch.dates: post dates as archives write them, and --since/--until bounds."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from newsearch.dates import date_from_filename, parse_article_date, parse_bound

# --------------------------------------------------------------------------- parse_article_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # The three shapes the real archives use.
        ("2021-12-25 14:03:27 +0800", (datetime(2021, 12, 25, 14, 3, 27), 480)),
        ("2018-05-12 22:51", (datetime(2018, 5, 12, 22, 51), None)),
        ("2018-05-12", (datetime(2018, 5, 12), None)),
        # Offsets: with and without a colon, hours only, negative, Z/UTC/GMT, no time of day.
        ("2021-12-25 14:03:27 +08:00", (datetime(2021, 12, 25, 14, 3, 27), 480)),
        ("2021-12-25 14:03:27 -05:30", (datetime(2021, 12, 25, 14, 3, 27), -330)),
        ("2021-12-25 14:03:27 +08", (datetime(2021, 12, 25, 14, 3, 27), 480)),
        ("2021-12-25T14:03:27Z", (datetime(2021, 12, 25, 14, 3, 27), 0)),
        ("2021-12-25 14:03:27 UTC", (datetime(2021, 12, 25, 14, 3, 27), 0)),
        ("2021-12-25 14:03:27 gmt", (datetime(2021, 12, 25, 14, 3, 27), 0)),
        ("2016-01-01  +0800", (datetime(2016, 1, 1), 480)),
        # ISO 8601 with fractions of a second.
        ("2021-12-25T14:03:27.5+08:00", (datetime(2021, 12, 25, 14, 3, 27, 500000), 480)),
        ("2021-12-25T14:03:27,123456", (datetime(2021, 12, 25, 14, 3, 27, 123456), None)),
        # Other separators, one-digit months and days, surrounding blanks.
        ("2021/12/25", (datetime(2021, 12, 25), None)),
        ("2021.12.25", (datetime(2021, 12, 25), None)),
        ("2021-1-5 9:07", (datetime(2021, 1, 5, 9, 7), None)),
        ("  2021-12-25 14:03  ", (datetime(2021, 12, 25, 14, 3), None)),
        # Chinese dates and times.
        ("2021年12月25日", (datetime(2021, 12, 25), None)),
        ("2021年1月5日", (datetime(2021, 1, 5), None)),
        ("2021年12月25日 14:03", (datetime(2021, 12, 25, 14, 3), None)),
        ("2021年12月25日14:03:27", (datetime(2021, 12, 25, 14, 3, 27), None)),
        ("2021年12月25日 14时03分", (datetime(2021, 12, 25, 14, 3), None)),
        ("2021年12月25日 14：03", (datetime(2021, 12, 25, 14, 3), None)),
        # Unix timestamps, in seconds or milliseconds, as text or numbers: UTC.
        ("1640412207", (datetime(2021, 12, 25, 6, 3, 27), 0)),
        ("1640412207000", (datetime(2021, 12, 25, 6, 3, 27), 0)),
        (1640412207, (datetime(2021, 12, 25, 6, 3, 27), 0)),
        (1640412207000, (datetime(2021, 12, 25, 6, 3, 27), 0)),
        (1640412207.25, (datetime(2021, 12, 25, 6, 3, 27, 250000), 0)),
        ("100000000", (datetime(1973, 3, 3, 9, 46, 40), 0)),  # the smallest: 9 digits of seconds
        ("100000000001", (datetime(1973, 3, 3, 9, 46, 40, 1000), 0)),  # 12 digits: milliseconds
        # Values YAML or TOML already parsed.
        (date(2018, 5, 12), (datetime(2018, 5, 12), None)),
        (datetime(2018, 5, 12, 22, 51), (datetime(2018, 5, 12, 22, 51), None)),
        (
            datetime(2021, 12, 25, 14, 3, 27, tzinfo=timezone(timedelta(hours=8))),
            (datetime(2021, 12, 25, 14, 3, 27), 480),
        ),
        (
            datetime(2021, 12, 25, 14, 3, tzinfo=timezone(-timedelta(hours=3, minutes=30))),
            (datetime(2021, 12, 25, 14, 3), -210),
        ),
        (datetime(2021, 12, 25, tzinfo=timezone.utc), (datetime(2021, 12, 25), 0)),
        # Nothing at all is not an error: the post is simply undated.
        (None, (None, None)),
        ("", (None, None)),
        ("   ", (None, None)),
    ],
)
def test_parse_article_date(value: object, expected: tuple) -> None:
    assert parse_article_date(value) == expected


def test_offset_never_shifts_the_local_day() -> None:
    moment, offset = parse_article_date("2021-12-25 00:30:00 +0800")
    assert moment == datetime(2021, 12, 25, 0, 30)
    assert moment.tzinfo is None
    assert offset == 480


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2021-13-45", "impossible date '2021-13-45'"),
        ("2021-02-29", "impossible date '2021-02-29'"),
        ("2021-04-31", "impossible date '2021-04-31'"),
        ("2021-00-10", "impossible date '2021-00-10'"),
        ("2021-12-25 24:00", "impossible date '2021-12-25 24:00'"),
        ("2021-12-25 23:60", "impossible date '2021-12-25 23:60'"),
        ("2021年2月30日", "impossible date '2021年2月30日'"),
        ("2021-12-25 14:03:27 +1500", "impossible UTC offset '+1500'"),
        ("2021-12-25 14:03:27 +08:75", "impossible UTC offset '+08:75'"),
        ("yesterday", "unrecognised date 'yesterday'"),
        ("2021-12", "unrecognised date '2021-12'"),
        ("25/12/2021", "unrecognised date '25/12/2021'"),
        ("12345678", "unrecognised date '12345678'"),
        ("2021-12-25 at noon", "unrecognised date '2021-12-25 at noon'"),
        (True, "not a date: True"),
        ([2021, 12, 25], "not a date: [2021, 12, 25]"),
        ({"y": 2021}, "not a date: {'y': 2021}"),
        (float("inf"), "not a Unix timestamp: inf"),
        (float("nan"), "timestamp out of range: nan"),
    ],
)
def test_parse_article_date_rejects(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_article_date(value)
    assert str(info.value) == message


@pytest.mark.parametrize("value", [20211225, 20211225140327, 2021, 0, 99999999])
def test_numbers_that_are_not_timestamps_are_rejected_like_their_text(value: int) -> None:
    # YAML reads ``date: 20211225`` as an int; it must not silently become 1970-08-22.
    with pytest.raises(ValueError):
        parse_article_date(str(value))
    with pytest.raises(ValueError):
        parse_article_date(value)


# --------------------------------------------------------------------------- date_from_filename


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2021-12-08-202112082206672930.md", datetime(2021, 12, 8)),
        ("2016-02-29-leap.md", datetime(2016, 2, 29)),
        ("2021-02-29-not-leap.md", None),
        ("2021-13-01-bad-month.md", None),
        ("2021-12-08.md", None),  # the prefix needs its trailing hyphen
        ("20211208-slug.md", None),
        ("post-2021-12-08-slug.md", None),
        ("2021-1-8-slug.md", None),
        ("000_7382423e0577ef0c.txt", None),
    ],
)
def test_date_from_filename(name: str, expected: datetime | None) -> None:
    assert date_from_filename(name) == expected


# --------------------------------------------------------------------------- parse_bound

LAST = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("2021", datetime(2021, 1, 1), datetime(2022, 1, 1) - LAST),
        ("2021年", datetime(2021, 1, 1), datetime(2022, 1, 1) - LAST),
        ("2021-12", datetime(2021, 12, 1), datetime(2022, 1, 1) - LAST),
        ("2021/12", datetime(2021, 12, 1), datetime(2022, 1, 1) - LAST),
        ("2021-1", datetime(2021, 1, 1), datetime(2021, 2, 1) - LAST),
        ("2021-02", datetime(2021, 2, 1), datetime(2021, 3, 1) - LAST),
        ("2024-02", datetime(2024, 2, 1), datetime(2024, 3, 1) - LAST),
        ("2021-04", datetime(2021, 4, 1), datetime(2021, 5, 1) - LAST),
        ("2021年12月", datetime(2021, 12, 1), datetime(2022, 1, 1) - LAST),
        ("2021年2月", datetime(2021, 2, 1), datetime(2021, 3, 1) - LAST),
        ("2021-12-25", datetime(2021, 12, 25), datetime(2021, 12, 26) - LAST),
        ("2021-12-31", datetime(2021, 12, 31), datetime(2022, 1, 1) - LAST),
        ("2021.12.25", datetime(2021, 12, 25), datetime(2021, 12, 26) - LAST),
        ("2021年12月25日", datetime(2021, 12, 25), datetime(2021, 12, 26) - LAST),
        ("2021年1月5日", datetime(2021, 1, 5), datetime(2021, 1, 6) - LAST),
        (" 2021-12 ", datetime(2021, 12, 1), datetime(2022, 1, 1) - LAST),
        # The last representable period still has a start and an end.
        ("9999", datetime(9999, 1, 1), datetime.max),
        ("9999-12", datetime(9999, 12, 1), datetime.max),
        ("9999-12-31", datetime(9999, 12, 31), datetime.max),
        ("0001", datetime(1, 1, 1), datetime(2, 1, 1) - LAST),
    ],
)
def test_parse_bound_widens_to_the_period(value: str, start: datetime, end: datetime) -> None:
    assert parse_bound(value) == start
    assert parse_bound(value, end=False) == start
    assert parse_bound(value, end=True) == end


def test_parse_bound_end_is_the_last_microsecond_of_the_day() -> None:
    assert parse_bound("2021-12-25", end=True) == datetime(2021, 12, 25, 23, 59, 59, 999999)
    assert parse_bound("2021年12月", end=True) == datetime(2021, 12, 31, 23, 59, 59, 999999)
    assert parse_bound("2021", end=True) == datetime(2021, 12, 31, 23, 59, 59, 999999)


def test_parse_bound_with_a_time_is_that_instant() -> None:
    # A bound with a time of day names one moment; end=True does not widen it.
    assert parse_bound("2021-12-25 14:03") == datetime(2021, 12, 25, 14, 3)
    assert parse_bound("2021-12-25 14:03", end=True) == datetime(2021, 12, 25, 14, 3)
    assert parse_bound("2021-12-25T14:03:27+08:00", end=True) == datetime(2021, 12, 25, 14, 3, 27)


def test_parse_bound_accepts_date_and_datetime_objects() -> None:
    assert parse_bound(date(2021, 12, 25)) == datetime(2021, 12, 25)
    assert parse_bound(date(2021, 12, 25), end=True) == datetime(2021, 12, 25, 23, 59, 59, 999999)
    assert parse_bound(date(9999, 12, 31), end=True) == datetime.max
    aware = datetime(2021, 12, 25, 14, 3, tzinfo=timezone(timedelta(hours=8)))
    assert parse_bound(aware) == datetime(2021, 12, 25, 14, 3)
    assert parse_bound(aware, end=True) == datetime(2021, 12, 25, 14, 3)
    assert parse_bound(aware).tzinfo is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2021-13", "'2021-13' is not a real date"),
        ("2021-00", "'2021-00' is not a real date"),
        ("2021-02-30", "'2021-02-30' is not a real date"),
        ("2021-12-32", "'2021-12-32' is not a real date"),
        ("2021年13月", "'2021年13月' is not a real date"),
        ("0000", "'0000' is not a real date"),
        ("", "'' is not a date; use YYYY, YYYY-MM, YYYY-MM-DD or 2021年12月25日"),
        ("last week", "'last week' is not a date; use YYYY, YYYY-MM, YYYY-MM-DD or 2021年12月25日"),
        ("21-12-25", "'21-12-25' is not a date; use YYYY, YYYY-MM, YYYY-MM-DD or 2021年12月25日"),
        ("2021-12-25 25:00", "'2021-12-25 25:00' is not a date; use YYYY, YYYY-MM, YYYY-MM-DD or 2021年12月25日"),
    ],
)
def test_parse_bound_rejects(value: str, message: str) -> None:
    for end in (False, True):
        with pytest.raises(ValueError) as info:
            parse_bound(value, end=end)
        assert str(info.value) == message
