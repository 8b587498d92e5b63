"""Facet counts over a search's whole match set: categories, tags and a date histogram.

Counting reads, for each segment, per-document arrays (numpy) built once from the
segment's own posting lists and date column, in whole-array steps, and kept with
its reader: each document's first, second, ... category or tag as a code of the
segment's terms, and its day as a code of the segment's distinct days.  A search
turns its matches into one array of document numbers and counts each layer with
``numpy.bincount`` over the codes of its matches: a few nanoseconds per match and
layer, where reading the document numbers out of the matches' dict or set (15 to
40 ns each) is most of the cost.  A layer that fewer than half of the documents
reach (a second category, a third tag) keeps only the documents it holds, and is
counted over those of them that match, found by bisection when the matches are
few, else through a mask of the matches; a document's terms beyond the fourth
(and beyond the layers most documents reach) are kept together the same way.
The counts are exact whatever the number of matches (no sampling).

At 100,000 articles (two segments), counting a one-word query's ~7,800 matches
takes about 0.8 ms and 52,000 matches about 3.5 ms (0.3 µs a match in Python
lists before), and the arrays of a segment of 95,000 articles are built in about
60 ms.  numpy is imported when counting first needs it, not with this module.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .dates import FIRST_YEAR, LAST_YEAR, RANGE
from .readers import date_array, reader_cache, term_postings
from .results import DateHistogram, Facets
from .fields import CATEGORIES, TAGS

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["FacetCounter", "day_numbers", "histogram", "keyword_lists"]

_DAY = 86_400 * 1_000_000  # Whoosh stores datetimes as microseconds since 0001-01-01
_LAYERS = 4  # layers kept apart, dense or not; a document's further terms are kept together
_BISECT = 32  # the documents of a layer are looked up by bisection when this many times fewer matches


class _Matches:
    """One segment's matches as an array of document numbers, and (made when first
    asked for) a mask of them over the whole segment."""

    def __init__(self, docs: Collection[int], count: int) -> None:
        import numpy as np

        if isinstance(docs, np.ndarray) or hasattr(docs, "__array__"):  # an array, or a set kept as one
            self.docs: NDArray[np.int32] = np.asarray(docs).astype(np.int32, copy=False)
        else:  # a dict of scores or a set: reading it is most of the cost of counting
            self.docs = np.fromiter(docs, dtype=np.int32, count=len(docs))
        self.count = count
        self._mask: NDArray[np.bool_] | None = None

    def mask(self) -> NDArray[np.bool_]:
        if self._mask is None:
            import numpy as np

            self._mask = np.zeros(self.count, dtype=np.bool_)
            self._mask[self.docs] = True
        return self._mask

    def among(self, held: NDArray[np.int32], *, once: bool = True) -> NDArray[np.intp]:
        """The positions in ``held`` (document numbers in ascending order, each
        ``once`` or possibly several times) of the documents that match."""
        import numpy as np

        if len(self.docs) * _BISECT >= len(held):
            return np.flatnonzero(self.mask()[held])
        # Few matches: each looked up by bisection.
        if once:
            at = np.minimum(np.searchsorted(held, self.docs), len(held) - 1)
            found: NDArray[np.intp] = at[held[at] == self.docs]
            return found
        first = np.searchsorted(held, self.docs, "left")
        sizes = np.searchsorted(held, self.docs, "right") - first
        present = sizes > 0
        first, sizes = first[present], sizes[present]
        # Each match's run of positions: first, first + 1, ... first + size - 1.
        before = np.cumsum(sizes) - sizes
        positions: NDArray[np.intp] = np.arange(int(sizes.sum()), dtype=np.intp) + np.repeat(first - before, sizes)
        return positions


class _Forward:
    """For one segment and one keyword field: each document's first, second, ...
    term as a code of :attr:`terms` (numpy arrays).

    A layer that at least half of the documents reach is dense: a code for every
    document, :attr:`none` where it has no such term.  A layer that fewer reach (a
    second category, a third tag) keeps the documents it holds in :attr:`sparse`
    and their codes; so do a document's terms beyond the fourth layer, together,
    in :attr:`more`."""

    def __init__(self, reader: Any, field: str) -> None:
        import numpy as np

        self.size = count = reader.doc_count_all()
        terms: list[str] = []
        sizes: list[int] = []
        every = array("I")  # the posting lists one after the other
        for raw in reader.lexicon(field):
            term = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            found = term_postings(reader, field, term)
            if found is None or not len(found[0]):
                continue
            ids = found[0]
            terms.append(term)
            sizes.append(len(ids))
            every.extend(ids if isinstance(ids, array) and ids.typecode == "I" else array("I", ids))
        self.terms = np.array(terms, dtype=object)
        self.none = len(terms)  # the code of no term
        code: type[np.unsignedinteger[Any]] | type[np.signedinteger[Any]] = np.uint16 if len(terms) < 65535 else np.int32
        docs = np.frombuffer(every, dtype=np.uintc).astype(np.int32)
        codes = np.repeat(np.arange(len(terms), dtype=code), sizes)
        order = np.argsort(docs, kind="stable")  # by document, each one's terms in the lexicon's order
        docs, codes = docs[order], codes[order]
        per_doc = np.bincount(docs, minlength=count)
        starts = (np.cumsum(per_doc) - per_doc).astype(np.int32)
        rank = np.arange(len(docs), dtype=np.int32) - starts[docs]  # each term's place in its document
        held = np.cumsum(np.bincount(per_doc)[::-1])[::-1][1:]  # documents that reach each layer
        self.layers: list[NDArray[Any] | None] = []  # dense layers (None for a sparse one)
        self.sparse: list[NDArray[np.int32] | None] = []  # a sparse layer's documents (None for a dense one)
        self._codes: list[NDArray[Any] | None] = []  # a sparse layer's codes
        depth = 0
        while depth < len(held) and (depth < _LAYERS or held[depth] * 2 >= count):
            at = rank == depth
            if held[depth] * 2 >= count:
                layer = np.full(count, self.none, dtype=code)
                layer[docs[at]] = codes[at]
                self.layers.append(layer)
                self.sparse.append(None)
                self._codes.append(None)
            else:
                self.layers.append(None)
                self.sparse.append(docs[at])
                self._codes.append(codes[at])
            depth += 1
        beyond = rank >= depth
        self.more: tuple[NDArray[np.int32], NDArray[Any]] = (docs[beyond], codes[beyond])

    def tally(self, matches: _Matches) -> NDArray[np.intp]:
        """How many of ``matches`` hold each term (by code; the last count is of no term)."""
        import numpy as np

        size = self.none + 1
        total = np.zeros(size, dtype=np.intp)
        for layer, held, codes in zip(self.layers, self.sparse, self._codes):
            if layer is not None:
                total += np.bincount(layer[matches.docs], minlength=size)
            elif held is not None and codes is not None:
                total += np.bincount(codes[matches.among(held)], minlength=size)
        held, codes = self.more
        if len(held):
            total += np.bincount(codes[matches.among(held, once=False)], minlength=size)
        return total

    def count(self, docs: Collection[int], into: Counter[str | None]) -> None:
        """Add the terms of ``docs`` (document numbers of this segment) to ``into``."""
        if len(docs):
            _add(into, self.terms, self.tally(_Matches(docs, self.size)))


def keyword_lists(reader: Any, field: str) -> _Forward:
    """Each document's values of a keyword field in one segment (built once per reader)."""
    cache = reader_cache(reader)
    key = ("facets", field)
    found = cache.get(key)
    if found is None:
        found = cache[key] = _Forward(reader, field)
    return found


class _Days:
    """Each document's day in one segment: a code of the segment's distinct day
    ordinals (``date.toordinal()``, 0 when undated), in :attr:`values`."""

    def __init__(self, reader: Any) -> None:
        import numpy as np

        stamps = date_array(reader)
        ordinals = np.where(stamps != 0, stamps // _DAY + 1, 0)
        values, codes = np.unique(ordinals, return_inverse=True)
        self.values: NDArray[np.int64] = values.astype(np.int64)
        self.codes: NDArray[Any] = codes.astype(np.uint16 if len(values) <= 65536 else np.int32)

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, docnum: int) -> int:
        return int(self.values[self.codes[docnum]])

    def tally(self, matches: _Matches) -> NDArray[np.intp]:
        """How many of ``matches`` fall on each day of :attr:`values`."""
        import numpy as np

        return np.bincount(self.codes[matches.docs], minlength=len(self.values))


def day_numbers(reader: Any) -> _Days:
    """Each document's date as a day ordinal (``date.toordinal()``), 0 when undated."""
    cache = reader_cache(reader)
    found = cache.get("facet_days")
    if found is None:
        found = cache["facet_days"] = _Days(reader)
    return found


def _add(into: Counter[Any], values: NDArray[Any], counts: NDArray[np.intp]) -> None:
    """Add the counts of ``values`` (those of them that are not zero) to ``into``."""
    import numpy as np

    found = np.flatnonzero(counts[: len(values)])
    into.update(dict(zip(values[found].tolist(), counts[found].tolist())))


class FacetCounter:
    """Adds up the facets of each segment's matches; :meth:`facets` gives the result."""

    def __init__(self) -> None:
        self.categories: Counter[str | None] = Counter()
        self.tags: Counter[str | None] = Counter()
        self._days: list[tuple[NDArray[np.int64], NDArray[np.intp]]] = []  # per segment: (day ordinals, counts)

    def add(self, reader: Any, docs: Collection[int]) -> None:
        """Count the documents ``docs`` (numbers in the segment ``reader``)."""
        if not len(docs):  # an array's truth is not its length
            return
        matches = _Matches(docs, reader.doc_count_all())
        for field, counts in ((CATEGORIES, self.categories), (TAGS, self.tags)):
            forward = keyword_lists(reader, field)
            _add(counts, forward.terms, forward.tally(matches))
        days = day_numbers(reader)
        self._days.append((days.values, days.tally(matches)))

    def absorb(self, other: FacetCounter) -> None:
        """Add the counts of ``other`` (another shard's matches) to these."""
        self.categories.update(other.categories)
        self.tags.update(other.tags)
        self._days.extend(other._days)  # noqa: SLF001

    def __getstate__(self) -> dict[str, Any]:
        """What a shard sends: its segments' days as one run of the days its matches
        hold, in small integers (a segment's counts cover every day it holds, and a
        narrow query matches few of them)."""
        import numpy as np

        values, counts = self._day_counts()
        small = np.uint16 if not len(counts) or int(counts.max()) <= np.iinfo(np.uint16).max else np.uint32
        return {"categories": self.categories, "tags": self.tags, "days": (values.astype(np.int32), counts.astype(small))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        import numpy as np

        self.categories, self.tags = state["categories"], state["tags"]
        values, counts = state["days"]
        self._days = [(values.astype(np.int64), counts.astype(np.intp))] if len(values) else []

    def facets(self, top: int | None = None) -> Facets:
        """The counts, most frequent first (ties alphabetically), at most ``top`` of each."""
        return Facets(_top(self.categories, top), _top(self.tags, top), _histogram(*self._day_counts()))

    def _day_counts(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(day ordinals in ascending order, their counts) over all segments, each day once."""
        import numpy as np

        if not self._days:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        values = np.concatenate([v for v, _ in self._days])
        counts = np.concatenate([n for _, n in self._days]).astype(np.int64)
        if len(self._days) > 1:  # each segment's days are in order: a stable sort merges the runs
            order = np.argsort(values, kind="stable")
            values, counts = _summed(values[order], counts[order])
        found = counts > 0
        return values[found], counts[found]


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


def _years_label(width: int) -> Callable[[int], tuple[str, str]]:
    def label(number: int) -> tuple[str, str]:
        first = max(number * width, FIRST_YEAR)
        return f"{first:04d}", f"{min(number * width + width - 1, LAST_YEAR):04d}"

    return label


def histogram(days: Mapping[int, int]) -> DateHistogram:
    """Day ordinals (0: undated) → counts per day when the matches span at most a
    month, per month when they span at most two years, else per year; every bucket
    of the span, empty ones included, up to :data:`MAX_BUCKETS`.

    A wider span shows each run of empty buckets as one bucket, and when that is
    still too many, puts years together by tens, hundreds or thousands.  A bucket
    of several periods is keyed ``FIRST..LAST`` (``2020..2029``, ``2022..2998``),
    which ``--since``/``--until`` read as that span.  The counts add up to the
    dated matches."""
    import numpy as np

    ordered = sorted(days.items())
    ordinals = np.fromiter((d for d, _ in ordered), dtype=np.int64, count=len(ordered))
    counts = np.fromiter((n for _, n in ordered), dtype=np.int64, count=len(ordered))
    return _histogram(ordinals, counts)


_EPOCH = date(1970, 1, 1).toordinal()  # numpy's day 0


def _histogram(ordinals: NDArray[np.int64], counts: NDArray[np.int64]) -> DateHistogram:
    """:func:`histogram` of distinct day ordinals in ascending order and their counts, grouped into months
    or years with numpy's calendar (the proleptic Gregorian one of :class:`date`)."""
    import numpy as np

    dated = ordinals != 0
    undated = int(counts[~dated].sum())
    if not dated.any():
        return DateHistogram("year", [], undated)
    ordinals, counts = ordinals[dated], counts[dated]
    first, last = _date(int(ordinals.min())), _date(int(ordinals.max()))
    label: Callable[[int], tuple[str, str]]
    if (last - first).days < 31:
        unit, label = "day", _day_label
        buckets = _grouped(ordinals, counts)
    elif (last.year - first.year) * 12 + last.month - first.month < 24:
        unit, label = "month", _month_label
        days = (ordinals - _EPOCH).astype("datetime64[D]")
        buckets = _grouped(days.astype("datetime64[M]").astype(np.int64) + 1970 * 12, counts)
    else:
        unit = "year"
        days = (ordinals - _EPOCH).astype("datetime64[D]")
        years = _grouped(days.astype("datetime64[Y]").astype(np.int64) + 1970, counts)
        for width in _YEAR_GROUPS:
            label = _years_label(width)
            buckets = Counter()
            for year, n in years.items():
                buckets[year // width] += n
            if width == _YEAR_GROUPS[-1] or len(_runs(buckets)) <= MAX_BUCKETS:
                break
    out = []
    for low, high, n in _runs(buckets):
        start, end = label(low)[0], label(high)[1]
        out.append((start if start == end else f"{start}{RANGE}{end}", n))
    return DateHistogram(unit, out, undated)


def _grouped(numbers: NDArray[np.int64], counts: NDArray[np.int64]) -> Counter[int]:
    """The sum of ``counts`` per bucket number (``numbers``, in ascending order: each
    count's bucket)."""
    keys, sums = _summed(numbers, counts)
    return Counter(dict(zip(keys.tolist(), sums.tolist())))


def _summed(keys: NDArray[np.int64], counts: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each key of ``keys`` (in ascending order, equal ones together) once, with the sum
    of its ``counts``."""
    import numpy as np

    if not len(keys):
        return keys, counts
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return keys[starts], np.add.reduceat(counts, starts)


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
