"""A parsed query + filters → ranked hits with snippets, read from one Whoosh searcher.

Everything returned is copied out of the index (:mod:`newsearch.results`),
so results stay valid after the searcher is closed.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from whoosh import query as wq
from whoosh.searching import Searcher

from .config import Config
from .dates import parse_bound
from .errors import InvalidArgumentError
from .highlight import make_snippet
from .query import ParsedQuery, compile_filters, compile_query, keyword_key, parse
from .results import Hit, IndexStats, SearchResults, Snippet
from .schema import BODY, CATEGORIES, DATE, PATH, TAGS, UTCOFFSET

__all__ = ["SORTS", "KeywordLexicon", "collect_stats", "run_search"]

SORTS = ("relevance", "date")
DateLike = str | date | datetime


class KeywordLexicon:
    """Case- and width-insensitive lookup of category and tag values in one reader."""

    def __init__(self, searcher: Searcher) -> None:
        self._reader = searcher.reader()
        self._maps: dict[str, dict[str, list[str]]] = {}

    def _map(self, field: str) -> dict[str, list[str]]:
        found = self._maps.get(field)
        if found is None:
            found = {}
            for raw in self._reader.lexicon(field):
                term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                found.setdefault(keyword_key(term), []).append(term)
            self._maps[field] = found
        return found

    def __call__(self, field: str, value: str) -> list[str]:
        return list(self._map(field).get(keyword_key(value), ()))


def _bound(name: str, value: DateLike | None, *, end: bool) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_bound(value, end=end)
    except ValueError as exc:
        raise InvalidArgumentError(name, f"{value!r} is not a date ({exc}); use YYYY, YYYY-MM or YYYY-MM-DD.") from None


def _as_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def check_paging(sort: str, limit: int | None, offset: int) -> None:
    if sort not in SORTS:
        raise InvalidArgumentError("sort", f"{sort!r}; choose one of {', '.join(SORTS)}.")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise InvalidArgumentError("limit", f"{limit!r}; it must be a positive number (or None for all).")
    if not isinstance(offset, int) or offset < 0:
        raise InvalidArgumentError("offset", f"{offset!r}; it must be zero or positive.")


def run_search(
    searcher: Searcher,
    config: Config,
    query: str | ParsedQuery,
    *,
    category: str | list[str] | tuple[str, ...] | None = None,
    tags: str | list[str] | tuple[str, ...] | None = None,
    since: DateLike | None = None,
    until: DateLike | None = None,
    sort: str = "relevance",
    limit: int | None = 10,
    offset: int = 0,
) -> SearchResults:
    """Search with ``searcher``; see :meth:`newsearch.NewsIndex.search`."""
    check_paging(sort, limit, offset)
    start = _bound("since", since, end=False)
    stop = _bound("until", until, end=True)
    if start is not None and stop is not None and start > stop:
        raise InvalidArgumentError("since", f"{since} is after --until {until}.")
    parsed = query if isinstance(query, ParsedQuery) else parse(query)
    lexicon = KeywordLexicon(searcher)
    q = compile_query(parsed, title_boost=config.ranking.title_boost, expand=lexicon)
    flt = compile_filters(
        categories=_as_list(category), tags=_as_list(tags), since=start, until=stop, expand=lexicon
    )
    if flt is wq.NullQuery or q is wq.NullQuery:
        return SearchResults(parsed.text, 0, [], offset, limit, sort)

    wanted = None if limit is None else offset + limit
    kwargs: dict[str, Any] = {"limit": wanted, "filter": flt}
    if sort == "date" or isinstance(q, wq.Every):
        kwargs["sortedby"] = DATE
        kwargs["reverse"] = True
    results = searcher.search(q, **kwargs)
    total = len(results)
    patterns = parsed.highlight_patterns()
    hits: list[Hit] = []
    for hit in results[offset:]:
        stored = hit.fields()
        body = stored.get(BODY, "")
        hits.append(
            Hit(
                id=stored["id"],
                title=stored.get("title", ""),
                path=stored.get(PATH, ""),
                date=stored.get(DATE),
                categories=list(stored.get(CATEGORIES) or ()),
                tags=list(stored.get(TAGS) or ()),
                url=stored.get("url"),
                score=float(hit.score or 0.0),
                snippet=make_snippet(body, patterns, config.snippets) if body else Snippet(),
                utcoffset_minutes=stored.get(UTCOFFSET),
            )
        )
    return SearchResults(parsed.text, total, hits, offset, limit, sort)


def collect_stats(searcher: Searcher, path: str, size_bytes: int, top: int | None = None) -> IndexStats:
    """Counts over the live (not deleted) documents of one searcher."""
    reader = searcher.reader()
    categories: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    first = last = None
    paths: set[str] = set()
    if reader.doc_count():
        dates = reader.column_reader(DATE)
        path_col = reader.column_reader(PATH)
        for docnum in reader.all_doc_ids():
            paths.add(path_col[docnum])
            value = dates[docnum]
            if value is None or value == datetime.min:
                continue
            if first is None or value < first:
                first = value
            if last is None or value > last:
                last = value
        for field, counter in ((CATEGORIES, categories), (TAGS, tags)):
            for raw in reader.lexicon(field):
                term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                n = sum(1 for _ in reader.postings(field, raw).all_ids())
                if n:
                    counter[term] = n
    return IndexStats(
        path=path,
        articles=reader.doc_count(),
        first_date=first,
        last_date=last,
        categories=categories.most_common(top),
        tags=tags.most_common(top),
        size_bytes=size_bytes,
        sources=len(paths),
    )
