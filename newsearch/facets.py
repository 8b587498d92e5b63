"""Facet counts over a search's whole match set: categories, tags and a date histogram.

Counting reads, for each segment, per-document lists built once from the
segment's own posting lists and date column and kept with its reader: each
document's first, second, ... category or tag, and its day.  A search then
counts its matches with C-level ``Counter`` updates (about 0.3 µs per match
for all three facets at 100,000 articles) rather than reading every matching
document's stored fields; a layer that few documents reach (a second category, a
third tag) is counted over its intersection with the matches.  The counts are
exact whatever the number of matches (no sampling): 60,000 matches cost about
20 ms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from datetime import date
from functools import lru_cache
from typing import Any

from .dates import FIRST_YEAR, LAST_YEAR, RANGE
from .readers import reader_cache, term_postings
from .results import DateHistogram, Facets
from .fields import CATEGORIES, DATE, TAGS

__all__ = ["FacetCounter", "day_numbers", "histogram", "keyword_lists"]

_DAY = 86_400 * 1_000_000  # Whoosh stores datetimes as microseconds since 0001-01-01
_LAYERS = 4  # per-document terms kept in flat arrays; a document's further terms in a dict


class _Forward:
    """For one segment and one keyword field: each document's first, second, ...
    term, in lists of the segment's term strings (indexing a list is over twice
    as fast as an array, which makes a new int per lookup).

    A layer that fewer than half of the documents reach (a second category, a third
    tag) also keeps the set of those documents: a broad search counts that layer
    over its intersection with the matches (a C-level pass over the smaller of the
    two) rather than looking up every match."""

    def __init__(self, reader: Any, field: str) -> None:
        count = reader.doc_count_all()
        self.layers: list[list[str | None]] = []
        self.more: dict[int, list[str]] = {}  # docnum -> terms beyond the layers
        depth = bytearray(count)
        for raw in reader.lexicon(field):
            term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            found = term_postings(reader, field, term)
            if found is None:
                continue
            for docnum in found[0]:
                k = depth[docnum]
                if k < _LAYERS:
                    depth[docnum] = k + 1
                    if k == len(self.layers):
                        self.layers.append([None] * count)
                    self.layers[k][docnum] = term
                else:
                    self.more.setdefault(docnum, []).append(term)
        self.sparse: list[set[int] | None] = []  # per layer: the documents it holds a term for, when few
        for layer in self.layers:
            held = sum(term is not None for term in layer)
            self.sparse.append({d for d, term in enumerate(layer) if term is not None} if held * 2 < count else None)

    def count(self, docs: Collection[int], into: Counter[str | None]) -> None:
        """Add the terms of ``docs`` to ``into`` (and, for some, their missing ones as None)."""
        for layer, held in zip(self.layers, self.sparse):
            if held is not None and len(held) < len(docs):
                into.update(map(layer.__getitem__, held.intersection(docs)))
            else:
                into.update(map(layer.__getitem__, docs))
        if self.more:
            for docnum in self.more.keys() & docs:
                into.update(self.more[docnum])


def keyword_lists(reader: Any, field: str) -> _Forward:
    """Each document's values of a keyword field in one segment (built once per reader)."""
    cache = reader_cache(reader)
    key = ("facets", field)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _Forward(reader, field)
    return found


def day_numbers(reader: Any) -> list[int]:
    """Each document's date as a day ordinal (``date.toordinal()``), 0 when undated."""
    cache = reader_cache(reader)
    found = cache.get("facet_days")
    if found is None:
        column = reader.column_reader(DATE, translate=False)
        shared: dict[int, int] = {}  # one int object per day, not per document
        found = cache["facet_days"] = [shared.setdefault(v // _DAY + 1 if v else 0, v // _DAY + 1 if v else 0) for v in column]
    return found


class FacetCounter:
    """Adds up the facets of each segment's matches; :meth:`facets` gives the result."""

    def __init__(self) -> None:
        self.categories: Counter[str | None] = Counter()
        self.tags: Counter[str | None] = Counter()
        self.days: Counter[int] = Counter()

    def add(self, reader: Any, docs: Collection[int]) -> None:
        """Count the documents ``docs`` (numbers in the segment ``reader``)."""
        if not docs:
            return
        keyword_lists(reader, CATEGORIES).count(docs, self.categories)
        keyword_lists(reader, TAGS).count(docs, self.tags)
        self.days.update(map(day_numbers(reader).__getitem__, docs))

    def facets(self, top: int | None = None) -> Facets:
        """The counts, most frequent first (ties alphabetically), at most ``top`` of each."""
        return Facets(_top(self.categories, top), _top(self.tags, top), histogram(self.days))


def _top(counts: Counter[str | None], top: int | None) -> list[tuple[str, int]]:
    ranked = sorted(((v, n) for v, n in counts.items() if v is not None), key=lambda item: (-item[1], item[0]))
    return ranked if top is None else ranked[:top]


@lru_cache(maxsize=65536)
def _date(ordinal: int) -> date:
    return date.fromordinal(ordinal)


MAX_BUCKETS = 50
"""Buckets of a date histogram at most, whatever the dates: a span wider than this
in its unit shows runs of empty buckets as one, then groups years by ten, a hundred
or a thousand."""
_YEAR_GROUPS = (1, 10, 100, 1000)


def _day_label(number: int) -> tuple[str, str]:
    text = _date(number).isoformat()
    return text, text


def _month_label(number: int) -> tuple[str, str]:
    text = f"{number // 12:04d}-{number % 12 + 1:02d}"
    return text, text


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _year(day: date) -> int:
    return day.year


def _years_label(width: int) -> Callable[[int], tuple[str, str]]:
    def label(number: int) -> tuple[str, str]:
        first = max(number * width, FIRST_YEAR)
        return f"{first:04d}", f"{min(number * width + width - 1, LAST_YEAR):04d}"

    return label


def histogram(days: Counter[int]) -> DateHistogram:
    """Day ordinals (0: undated) → counts per day when the matches span at most a
    month, per month when they span at most two years, else per year; every bucket
    of the span, empty ones included, up to :data:`MAX_BUCKETS`.

    A wider span shows each run of empty buckets as one bucket, and when that is
    still too many, puts years together by tens, hundreds or thousands.  A bucket
    of several periods is keyed ``FIRST..LAST`` (``2020..2029``, ``2022..2998``),
    which ``--since``/``--until`` read as that span.  The counts add up to the
    dated matches."""
    undated = days.get(0, 0)
    dated = [d for d in days if d]
    if not dated:
        return DateHistogram("year", [], undated)
    first, last = _date(min(dated)), _date(max(dated))
    label: Callable[[int], tuple[str, str]]
    if (last - first).days < 31:
        unit, label = "day", _day_label
        counts = Counter({ordinal: n for ordinal, n in days.items() if ordinal})
    elif (last.year - first.year) * 12 + last.month - first.month < 24:
        unit, label = "month", _month_label
        counts = _counts(days, _month_number)
    else:
        unit = "year"
        years = _counts(days, _year)  # each day read once, whatever the grouping of years
        for width in _YEAR_GROUPS:
            label = _years_label(width)
            counts = Counter()
            for year, n in years.items():
                counts[year // width] += n
            if width == _YEAR_GROUPS[-1] or len(_runs(counts)) <= MAX_BUCKETS:
                break
    buckets = []
    for low, high, n in _runs(counts):
        start, end = label(low)[0], label(high)[1]
        buckets.append((start if start == end else f"{start}{RANGE}{end}", n))
    return DateHistogram(unit, buckets, undated)


def _counts(days: Counter[int], number: Callable[[date], int]) -> Counter[int]:
    """The dated counts of ``days`` per bucket number."""
    counts: Counter[int] = Counter()
    for ordinal, n in days.items():
        if ordinal:
            counts[number(_date(ordinal))] += n
    return counts


def _runs(counts: Counter[int]) -> list[tuple[int, int, int]]:
    """(first, last, count) of every bucket from the lowest number to the highest: one
    each, or when that is more than :data:`MAX_BUCKETS`, each run of empty ones as one."""
    numbers = sorted(counts)
    low, high = numbers[0], numbers[-1]
    if high - low < MAX_BUCKETS:
        return [(k, k, counts.get(k, 0)) for k in range(low, high + 1)]
    runs = []
    for k, following in zip(numbers, [*numbers[1:], None]):
        runs.append((k, k, counts[k]))
        if following is not None and following > k + 1:
            runs.append((k + 1, following - 1, 0))
    return runs
