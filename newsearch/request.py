"""What a search asks for: one value that the library, the CLI and the server build.

:class:`SearchRequest` is validated once, when it is made, and passed down
whole: adding a search option means one field here, one CLI flag and one
query parameter of the HTTP API.  :class:`Selection` (categories, tags, a date
range) is the part that topics share.  Both raise :class:`InvalidArgumentError`
naming the field, which the CLI and the server translate into their own
option and parameter names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, get_args

from .dates import parse_bound
from .errors import InvalidArgumentError

__all__ = ["SORTS", "DateLike", "SearchRequest", "Selection", "Sort", "check_limit", "offset_of_page"]

DateLike = str | date | datetime
Sort = Literal["relevance", "-date", "date", "recent"]
SORTS: tuple[str, ...] = get_args(Sort)
"""Best first; newest first; oldest first; relevance weighed down by age (``ranking.half_life_days``)."""


@dataclass(frozen=True, kw_only=True)
class Selection:
    """Which articles: any of ``category``, all of ``tags``, and dates from ``since`` to
    ``until`` inclusive (``2021``, ``2021-12``, ``2021-12-25``, ``2021年12月`` or a date).

    A single category or tag may be given as a string."""

    category: Sequence[str] = ()
    tags: Sequence[str] = ()
    since: DateLike | None = None
    until: DateLike | None = None
    start: datetime | None = field(default=None, init=False, repr=False, compare=False)
    """``since`` as the first instant of the period it names."""
    end: datetime | None = field(default=None, init=False, repr=False, compare=False)
    """``until`` as the last instant of the period it names."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "category", _strings("category", self.category))
        object.__setattr__(self, "tags", _strings("tags", self.tags))
        object.__setattr__(self, "start", _bound("since", self.since, end=False))
        object.__setattr__(self, "end", _bound("until", self.until, end=True))
        if self.start is not None and self.end is not None and self.start > self.end:
            raise InvalidArgumentError("since", f"{self.since} is after the end of the range, {self.until}.")

    @property
    def selects(self) -> bool:
        """Whether anything narrows the selection (else it is the whole archive)."""
        return bool(self.category or self.tags or self.start or self.end)


@dataclass(frozen=True, kw_only=True)
class SearchRequest(Selection):
    """One search: the query, the articles it may find (:class:`Selection`), and
    the page of results wanted.  See :meth:`newsearch.NewsIndex.search`."""

    query: str = field(default="", kw_only=False)
    """Keywords in the query language (``客服 机器人``, ``"离岸人民币" OR 港股``, ``title:晓多``)."""
    sort: Sort = "relevance"
    """``relevance`` (best first), ``-date`` (newest first), ``date`` (oldest first) or
    ``recent`` (relevance halved for every ``half_life_days`` of age)."""
    half_life_days: float | None = None
    """For ``recent``; None takes ``ranking.half_life_days`` from the configuration."""
    limit: int | None = 10
    """Hits on the page; None returns every match."""
    offset: int = 0
    """Matches skipped before the page (``(page - 1) * limit``)."""
    facets: bool = True
    """Count categories, tags and dates over all the matches."""
    facet_limit: int | None = 20
    """Values of each facet at most (None: all)."""
    collapse: bool = True
    """Fold near-duplicates of a hit into its ``versions`` instead of listing them."""
    explain: bool = False
    """Return how the query was read (``SearchResults.explain``) and each hit's score by part."""
    exact: bool = False
    """Only articles that hold every term as typed: no related matches (grep's answer)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.query, str):
            raise InvalidArgumentError("query", f"{self.query!r}; it must be text.")
        if self.sort not in SORTS:
            raise InvalidArgumentError("sort", f"{self.sort!r}; choose one of {', '.join(SORTS)} (-date: newest first).")
        days = self.half_life_days
        if days is not None and (isinstance(days, bool) or not isinstance(days, (int, float)) or not days > 0):
            raise InvalidArgumentError("half_life_days", f"{days!r}; it must be a positive number of days.")
        if self.limit is not None:
            check_limit(self.limit)
        if isinstance(self.offset, bool) or not isinstance(self.offset, int) or self.offset < 0:
            raise InvalidArgumentError("offset", f"{self.offset!r}; it must be zero or positive.")
        if self.facet_limit is not None:
            check_limit(self.facet_limit, "facet_limit")

    @property
    def page(self) -> int:
        """The 1-based page that ``offset`` and ``limit`` make."""
        return self.offset // self.limit + 1 if self.limit else 1


def offset_of_page(page: int, limit: int) -> int:
    """The ``offset`` of page ``page`` (from 1) of ``limit`` hits."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidArgumentError("page", f"{page!r}; pages are numbered from 1.")
    check_limit(limit)
    return (page - 1) * limit


def check_limit(limit: int, name: str = "limit") -> None:
    """A count of results asked for must be a positive whole number."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgumentError(name, f"{limit!r}; it must be a positive number.")


def _strings(name: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise InvalidArgumentError(name, f"{value!r}; give a string or a list of strings.")


def _bound(name: str, value: DateLike | None, *, end: bool) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_bound(value, end=end)
    except ValueError as exc:
        raise InvalidArgumentError(name, f"{exc}.") from None
