"""newsearch.dates: post dates as archives write them, and --since/--until bounds."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import serving
from conftest import write_post
from typer.testing import CliRunner

from newsearch import NewsIndex
from newsearch.cli import app
from newsearch.dates import EARLIEST, date_from_filename, parse_article_date, parse_bound
from newsearch.errors import InvalidArgumentError
from newsearch.request import SearchRequest, Selection

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


@pytest.mark.parametrize("value", ["0001-01-01", "0001-01-01 00:00:00", "0001-01-01T00:00:00Z", date(1, 1, 1), datetime.min])
def test_the_first_instant_of_year_1_is_kept_as_a_date(value: object) -> None:
    # The index marks an undated article with 0001-01-01 00:00: a post dated then is kept a
    # microsecond later, which every display of its date (to the second) hides.
    moment, _ = parse_article_date(value)
    assert moment == EARLIEST
    assert moment.isoformat(timespec="seconds") == "0001-01-01T00:00:00"
    assert date_from_filename("0001-01-01-slug.md") == EARLIEST
    assert parse_article_date("0001-01-01 00:00:01") == (datetime(1, 1, 1, 0, 0, 1), None)


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
        # 0001-01-01 00:00 marks an undated article in the index: year 1 starts a microsecond later.
        ("0001", EARLIEST, datetime(2, 1, 1) - LAST),
        ("1", EARLIEST, datetime(2, 1, 1) - LAST),
        ("0001-01-01", EARLIEST, datetime(1, 1, 2) - LAST),
        ("12", datetime(12, 1, 1), datetime(13, 1, 1) - LAST),
        ("202112", datetime(2021, 12, 1), datetime(2022, 1, 1) - LAST),
        ("20211225", datetime(2021, 12, 25), datetime(2021, 12, 26) - LAST),
        # A span of periods, as the buckets of a wide date histogram name them.
        ("2020..2029", datetime(2020, 1, 1), datetime(2030, 1, 1) - LAST),
        ("0001..0099", EARLIEST, datetime(100, 1, 1) - LAST),
        ("2021-07..2021-12", datetime(2021, 7, 1), datetime(2022, 1, 1) - LAST),
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
        ("0000", "'0000' is out of range: years run from 1 to 9999"),
        ("0", "'0' is out of range: years run from 1 to 9999"),
        ("10000", "'10000' is out of range: years run from 1 to 9999"),
        ("99999", "'99999' is out of range: years run from 1 to 9999"),
        ("10000-01", "'10000-01' is out of range: years run from 1 to 9999"),
        ("10000年1月", "'10000年1月' is out of range: years run from 1 to 9999"),
        ("1234567890", "'1234567890' is out of range: years run from 1 to 9999"),
        ("2021..99999", "'99999' is out of range: years run from 1 to 9999"),
        ("..2021", "'..2021' is not a span of dates; write it FROM..TO, as in 2020..2029"),
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


# --------------------------------------------------------------------------- dates in an index

YEAR_ONE, UNDATED, NOW, LAST_DAY = "year-one", "undated", "now", "last-day"


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four articles about 档案 (archives): dated 0001-01-01, undated, 2021-05-01 and 9999-12-31."""
    root = tmp_path_factory.mktemp("dates")
    posts = root / "_posts"
    write_post(posts, f"{YEAR_ONE}.md", "古代档案", "档案馆整理了秦汉时期的竹简。", date="0001-01-01")
    write_post(posts, f"{UNDATED}.md", "无日期档案", "档案里记载了恐龙化石的发现经过。", date=None)
    write_post(posts, f"{NOW}.md", "今日档案", "档案部门发布了考古新发现的陶器照片。", date="2021-05-01")
    write_post(posts, f"{LAST_DAY}.md", "未来档案", "档案中预言外星人将在遥远的未来访问地球。", date="9999-12-31")
    index = root / "index"
    NewsIndex.create(index).update([posts])
    return index


def ids(ix: NewsIndex, query: str, **filters: object) -> set[str]:
    return {h.id for h in ix.search(query, limit=None, collapse=False, **filters).hits}


def test_year_one_is_a_date_and_undated_articles_are_not_in_it(dated_index: Path) -> None:
    ix = NewsIndex.open(dated_index)
    assert ids(ix, "档案") == {YEAR_ONE, UNDATED, NOW, LAST_DAY}
    assert ids(ix, "date:0001") == {YEAR_ONE}
    assert ids(ix, "档案 date:[* TO 1900]") == {YEAR_ONE}
    assert ids(ix, "档案", until="1900") == {YEAR_ONE}
    assert ids(ix, "档案", since="0001", until="0001") == {YEAR_ONE}
    assert ids(ix, "档案", since="1") == {YEAR_ONE, NOW, LAST_DAY}
    assert ids(ix, "档案", since="9999-12-31") == {LAST_DAY}
    results = ix.search("档案", collapse=False)
    assert results.facets is not None and results.facets.dates.undated == 1
    dates = {h.id: h.date for h in results.hits}
    assert dates[UNDATED] is None and dates[YEAR_ONE] is not None and dates[YEAR_ONE].year == 1
    # Oldest first: year 1 leads and the undated article comes last.
    assert [h.id for h in ix.search("档案", sort="date", collapse=False).hits] == [YEAR_ONE, NOW, LAST_DAY, UNDATED]
    assert [h.id for h in ix.search("档案", sort="-date", collapse=False).hits] == [LAST_DAY, NOW, YEAR_ONE, UNDATED]


OUT_OF_RANGE = "is out of range: years run from 1 to 9999."


@pytest.mark.parametrize("value", ["10000", "99999", "0", "0000", 99999, "10000-01"])
@pytest.mark.parametrize("name", ["since", "until"])
def test_years_outside_1_to_9999_are_refused_by_the_library(name: str, value: object) -> None:
    for make in (Selection, SearchRequest):
        with pytest.raises(InvalidArgumentError) as info:
            make(**{name: value})
        assert (info.value.argument, info.value.message) == (name, f"{str(value)!r} {OUT_OF_RANGE}")


@pytest.mark.parametrize("value", ["1", "0001", "9999", "2021"])
def test_years_1_to_9999_are_accepted(value: str) -> None:
    selection = Selection(since=value, until=value)
    assert selection.start is not None and selection.end is not None
    assert selection.start.year == selection.end.year == int(value)


def test_the_cli_and_the_server_refuse_the_same_years(dated_index: Path) -> None:
    runner = CliRunner()
    for value in ("10000", "99999"):
        for option in ("--since", "--until"):
            result = runner.invoke(app, ["search", "档案", option, value, "--index", str(dated_index)])
            assert result.exit_code == 2, result.output
            assert f"Invalid value for {option}: {value!r} {OUT_OF_RANGE}" in result.output
            assert "Traceback" not in result.output
    accepted = runner.invoke(app, ["search", "档案", "--until", "1", "--json", "--index", str(dated_index)])
    assert accepted.exit_code == 0, accepted.output
    assert [h["id"] for h in json.loads(accepted.output)["hits"]] == [YEAR_ONE]
    with serving.running(dated_index, "--no-access-log") as server:
        for value in ("10000", "99999"):
            status, data = server.json("/api/search", {"q": "档案", "since": value})
            assert status == 422  # not of the form the API describes for a date (years 1 to 9999)
            assert data["error"]["parameter"] == "since"
            assert data["error"]["message"].startswith(f"Invalid value for since: {value!r} is not a date of year 1 to 9999")
        status, data = server.json("/api/search", {"q": "档案", "until": "1"})
        assert status == 200 and [h["id"] for h in data["hits"]] == [YEAR_ONE]
