"""Near-duplicate articles: a sketch of each article's text at index time, and
groups of near-duplicates among a search's matches.

The sketch is a one-permutation MinHash over anchored shingles: of the text's
letters and digits (so punctuation, spacing and, through normalization,
traditional script and full-width forms do not count), the five characters
starting at each anchor (a character whose code point is a multiple of four,
about a quarter of them: the same positions in every copy of a text, and a
third of the hashing) are a shingle; each shingle is hashed, and the smallest
hash in each of 32 ranges of the hash space is kept.  The share of ranges
where two sketches hold the same value estimates the Jaccard similarity of
the two shingle sets.

To find an article's near-duplicates without comparing it with every other
one, the 32 values are also indexed as 16 bands of two values each
(:mod:`newsearch.sketchcolumn`): two articles with a similarity of 0.6 share a
band with probability 0.999, and then their sketches decide.

Short items (flashes, briefs: at most ``SHORT`` characters) are also grouped when
they report the same fact in other words.  Two short items are *reworded*
versions of one another when most words of the shorter one are in the other
(``REWORDED``), their numbers agree (北向资金净流入超40亿 is not 超50亿), and
they are dated within ``REWORDED_DAYS`` of each other.  A rewording ranks close
to the item it rewords (the same words match), so it is looked for among the
group leaders as they come, not among all matches: a second sketch, of the
item's words, is compared with those of the last ``_RECENT_LEADERS`` short
leaders before the words themselves are.
"""

from __future__ import annotations

import re
import zlib
from bisect import bisect_left
from functools import lru_cache
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from itertools import repeat
from operator import and_, mul
from struct import Struct
from typing import Any

from .analysis import word_weights

__all__ = [
    "REWORDED",
    "SHORT",
    "SKETCH_BYTES",
    "THRESHOLD",
    "Groups",
    "SketchTable",
    "Walk",
    "reword_sketch",
    "numbers_agree",
    "reworded",
    "share_a_band",
    "similarities",
    "similarity",
    "sketch",
]

_BINS = 32
_SHIFT = 27  # a 32-bit hash's top five bits choose its bin
_ROWS = 2  # sketch values per band
_SHINGLE = 5
_EMPTY = 0xFFFFFFFF  # a bin no shingle fell into
_PACK = Struct(f"<{_BINS}I")
_MIX = 0x9E3779B1  # an odd multiplier: spreads CRC-32's linear structure over the bins
_MASK = 0xFFFFFFFF
_DROP = re.compile(r"[\W_]+")
_ANCHORED = re.compile(
    "(?=([0-9a-z%s].{%d}))" % ("".join(chr(c) for c in range(0x3400, 0xA000) if c % 4 == 0), _SHINGLE - 1), re.S
)
_EVERY = re.compile("(?=(.{%d}))" % _SHINGLE, re.S)

SKETCH_BYTES = _PACK.size
_BAND_BYTES = 4 * _ROWS
_EMPTY_BAND = b"\xff" * _BAND_BYTES
_EMPTY_BAND_VALUE = (1 << (8 * _BAND_BYTES)) - 1  # the same, as an integer
_EMPTY_SKETCH = b"\xff" * SKETCH_BYTES
_SCAN = 64  # a segment with at most this many matches is scanned rather than looked up
THRESHOLD = 0.6
"""Articles whose estimated similarity reaches this are near-duplicates."""
SHORT = 600
"""Articles of at most this many characters (title and body, normalized) may be rewordings."""
REWORDED = 0.6
"""Share of the shorter item's words that the other must hold for a rewording."""
REWORDED_DAYS = 3
_REWORD_WORDS = 5  # fewer words than this say too little to tell one fact from another
_REWORD_BINS = 2  # word-sketch bins two rewordings share, nearly always (see reworded)
_RECENT_LEADERS = 256  # short group leaders a new one is compared with
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def sketch(normalized: str) -> bytes:
    """The MinHash sketch of normalized text (see the module docstring)."""
    text = _DROP.sub("", normalized)
    # A short text without anchors falls back on all its shingles, or itself.
    shingles = _ANCHORED.findall(text) or _EVERY.findall(text) or ([text] if text else [])
    return _minhash(shingles)


def _minhash(shingles: Iterable[str]) -> bytes:
    hashes = sorted(map(and_, map(mul, map(zlib.crc32, map(str.encode, shingles)), repeat(_MIX)), repeat(_MASK)))
    values = []
    n = len(hashes)
    for b in range(_BINS):
        i = bisect_left(hashes, b << _SHIFT)
        values.append(hashes[i] if i < n and hashes[i] >> _SHIFT == b else _EMPTY)
    return _PACK.pack(*values)


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two sketches."""
    if len(a) != SKETCH_BYTES or len(b) != SKETCH_BYTES:
        return 0.0
    same = counted = 0
    for x, y in zip(_PACK.unpack(a), _PACK.unpack(b)):
        if x == _EMPTY and y == _EMPTY:
            continue
        counted += 1
        same += x == y
    return same / counted if counted else 0.0


def similarities(sk: bytes, others: Any) -> list[float]:
    """:func:`similarity` of ``sk`` with each row of ``others`` (a numpy array of
    sketches' bytes, one row each), computed for all of them at once."""
    import numpy as np

    if len(sk) != SKETCH_BYTES or not len(others):
        return [0.0] * len(others)
    return _similarities_pairwise(np.frombuffer(sk, dtype=np.uint8).reshape(1, SKETCH_BYTES), others)


def _similarities_pairwise(owns: Any, others: Any) -> list[float]:
    """:func:`similarity` of each row of ``owns`` with the same row of ``others`` (numpy
    arrays of sketches' bytes, one row each; a single row of ``owns`` is compared with
    every row of ``others``), computed for all of them at once."""
    import numpy as np

    if not len(others):
        return []
    mine = np.ascontiguousarray(owns).view("<u4")
    rows = np.ascontiguousarray(others).view("<u4")
    empty = (rows == _EMPTY) & (mine == _EMPTY)
    counted = _BINS - empty.sum(axis=1)
    same = ((rows == mine) & ~empty).sum(axis=1)
    return [s / c if c else 0.0 for s, c in zip(same.tolist(), counted.tolist())]


def share_a_band(a: bytes, b: bytes) -> bool:
    """Whether two sketches hold the same values in one band (not all empty), which is
    how the index finds one from the other (:mod:`newsearch.sketchcolumn`)."""
    if len(a) != SKETCH_BYTES or len(b) != SKETCH_BYTES:
        return False
    return any(x == y != _EMPTY_BAND for x, y in zip(_bands(a), _bands(b)))


class SketchTable:
    """Sketches at hand ((key, sketch, normalized text of a short item or None)), to
    tell which of them :meth:`Groups.alike_sketch` would find alike a sketch among a
    search's matches: a band in common, the similarity threshold reached, and for two
    short items, figures that agree."""

    def __init__(self, items: Sequence[tuple[Any, bytes, str | None]]) -> None:
        import numpy as np

        held = [item for item in items if len(item[1]) == SKETCH_BYTES]
        self._keys = [key for key, _sketch, _text in held]
        self._texts = [text for _key, _sketch, text in held]
        self._rows = np.frombuffer(b"".join(sketch for _key, sketch, _text in held), dtype=np.uint8).reshape(len(held), SKETCH_BYTES)
        self._bands = self._rows.view("<u8")

    def alike(self, own: bytes, own_text: str | None = None) -> list[Any]:
        """The keys alike ``own`` (in no order: what this tells is who is claimed)."""
        import numpy as np

        if len(own) != SKETCH_BYTES or not self._keys:
            return []
        bands = np.frombuffer(own, dtype="<u8")
        sharing = np.flatnonzero(((self._bands == bands) & (bands != _EMPTY_BAND_VALUE)).any(axis=1)).tolist()
        if not sharing:
            return []
        found = []
        for i, score in zip(sharing, similarities(own, self._rows[sharing])):
            text = self._texts[i]
            if score >= THRESHOLD and (own_text is None or text is None or numbers_agree(own_text, text)):
                found.append(self._keys[i])
        return found


def _shared_bins(a: bytes, b: bytes) -> int:
    """How many bins two sketches fill with the same value."""
    return sum(x == y != _EMPTY for x, y in zip(_PACK.unpack(a), _PACK.unpack(b)))


@lru_cache(maxsize=4096)  # a representative's words, compared with each later one
def words_of(normalized: str) -> frozenset[str]:
    """The words that say what a short item reports: words of two characters or more,
    and numbers (without leading zeros: 00388 is 0388)."""
    found = {word for word in word_weights(normalized)[0] if len(word) > 1 and not word.isdigit()}
    return frozenset(found | numbers_of(normalized))


def numbers_of(normalized: str) -> frozenset[str]:
    return frozenset(n.lstrip("0") or "0" for n in _NUMBER.findall(normalized))


def reword_sketch(normalized: str) -> bytes:
    """The MinHash sketch of a short item's words (empty for a longer article)."""
    if len(normalized) > SHORT:
        return b""
    words = words_of(normalized)
    return _minhash(words) if len(words) >= _REWORD_WORDS else b""


def reworded(a: str, b: str, *, days_apart: int | None = None) -> bool:
    """Whether two short items (normalized text) report the same fact in other words."""
    if len(a) > SHORT or len(b) > SHORT or (days_apart is not None and days_apart > REWORDED_DAYS):
        return False
    wa, wb = words_of(a), words_of(b)
    smaller = min(len(wa), len(wb))
    if smaller < _REWORD_WORDS or len(wa & wb) < REWORDED * smaller:
        return False
    return numbers_agree(a, b)


def numbers_agree(a: str, b: str) -> bool:
    """Whether two short items give the same figures (most of the fewer), or one gives none."""
    na, nb = numbers_of(a), numbers_of(b)
    return not (na and nb) or len(na & nb) >= REWORDED * min(len(na), len(nb))


def _bands(sk: bytes) -> list[bytes]:
    """The sketch's bands, empty ones included (a band of empty bins says nothing)."""
    return [sk[i : i + _BAND_BYTES] for i in range(0, SKETCH_BYTES, _BAND_BYTES)]


def _band_values(sk: bytes) -> list[int]:
    """The sketch's bands as integers (as a segment's scan reads them: :meth:`Groups._scan`)."""
    return list(_BAND_VALUES.unpack(sk))


_BAND_VALUES = Struct(f"<{SKETCH_BYTES // _BAND_BYTES}Q")

Short = tuple[bytes, int, str]  # a short item's word sketch, day number and normalized text


class Walk:
    """Near-duplicate groups among ranked matches, whatever holds them: walks the matches
    best first, and a match that no earlier representative has claimed becomes one and
    claims its near-duplicates (``alike(key)``: all of them among the matches, best
    first).  A short representative that rewords an earlier one (:func:`reworded`) joins
    that one's group instead, with what it claimed (``short(key)``: its word sketch, day
    and text, or None for a longer article).  Keys are any hashable: a segment's
    documents for one index (:class:`Groups`), a shard's for a cluster."""

    def __init__(self, alike: Callable[[Any], list[Any]], short: Callable[[Any], Short | None]) -> None:
        self._alike = alike
        self._short_of = short
        self._claimed: set[Any] = set()
        # The last short representatives: (word sketch, day, normalized text, its group).
        self._short: deque[tuple[bytes, int, str, list[Any]]] = deque(maxlen=_RECENT_LEADERS)

    def fork(self, alike: Callable[[Any], list[Any]]) -> Walk:
        """A walk that goes on from where this one is, with other ``alike`` answers, and
        leaves this one as it is: to foresee which matches this one will ask about."""
        other = Walk(alike, self._short_of)
        other._claimed = set(self._claimed)
        other._short.extend((words, day, text, list(group)) for words, day, text, group in self._short)
        return other

    def representatives(self, ranked: Iterable[tuple[Any, Any]]) -> Iterator[tuple[Any, list[Any]]]:
        """For each (key, item) of ``ranked`` (best first) whose item leads a group: the
        item and the keys of its near-duplicates.  A group yielded earlier may still grow
        (by a rewording found later)."""
        claimed = self._claimed
        for key, item in ranked:
            if key in claimed:
                continue
            claimed.add(key)
            group = [other for other in self._alike(key) if other not in claimed]
            claimed.update(group)
            if self._joined_rewording(key, group):
                continue
            yield item, group

    def _joined_rewording(self, key: Any, group: list[Any]) -> bool:
        """Whether a short item rewords an earlier representative, and so joined its group
        (with ``group``); otherwise it is remembered as a short representative."""
        found = self._short_of(key)
        if found is None:
            return False
        words, day, text = found
        for other_words, other_day, other_text, other_group in reversed(self._short):
            apart = abs(day - other_day) if day and other_day else None
            if (apart is None or apart <= REWORDED_DAYS) and _shared_bins(words, other_words) >= _REWORD_BINS:
                if reworded(text, other_text, days_apart=apart):
                    other_group.append(key)
                    other_group.extend(group)
                    return True
        self._short.append((words, day, text, group))
        return False


class Groups:
    """Near-duplicate groups among the matches of one search (a :class:`Walk` over the
    segments' documents).

    A match's near-duplicates are found through the bands and confirmed on the
    sketches.  A segment with few matches has their bands read from the sketch
    column once, which is cheaper than looking up every representative's bands in it.

    ``words`` is the column of short items' word sketches (:func:`reword_sketch`);
    ``text(reader, docnum)`` gives an article's normalized title and body, and
    ``day(reader, docnum)`` its date as a day number (0 when undated): what
    rewordings are judged on.  ``tie(reader, docnum)`` orders equally similar
    near-duplicates (the id key: the same order whatever the segments).
    """

    def __init__(
        self,
        column: str,
        column_reader: Any,
        *,
        words: str | None = None,
        text: Callable[[Any, int], str] | None = None,
        day: Callable[[Any, int], int] | None = None,
        tie: Callable[[Any, int], int] | None = None,
    ) -> None:
        self._column = column
        self._column_reader = column_reader
        self._words = words if text is not None else None
        self._text = text
        self._day = day
        self._tie = tie
        self._matched: list[tuple[Any, Collection[int]]] = []  # (segment reader, its matches)
        self._scanned: dict[int, list[dict[int, list[int]]]] = {}  # segment index -> per band: band -> docnums
        self._walk = Walk(lambda key: [(r, d) for _score, _tie, r, d in self.alike(*key)], lambda key: self.short(*key))

    def add(self, reader: Any, scores: Collection[int]) -> None:
        """Record one segment's matches (every segment that has some, before :meth:`representatives`)."""
        self._matched.append((reader, scores))

    def representatives(self, ranked: Iterable[Any]) -> Iterator[tuple[Any, list[tuple[Any, int]]]]:
        """For each match of ``ranked`` (best first) that leads a group: the match and
        its near-duplicates as (segment reader, docnum), best sketch match first.  A
        group yielded earlier may still grow (by a rewording found later)."""
        return self._walk.representatives(((match.reader, match.docnum), match) for match in ranked)

    def short(self, reader: Any, docnum: int) -> Short | None:
        """A short item's word sketch, day and normalized text; None for a longer article."""
        if self._words is None or self._text is None or not self._is_short(reader, docnum):
            return None
        words: bytes = self._column_reader(reader, self._words)[docnum]
        day = self._day(reader, docnum) if self._day is not None else 0
        return words, day, self._text(reader, docnum)

    def sketch(self, reader: Any, docnum: int) -> bytes:
        """An article's sketch."""
        found: bytes = self._column_reader(reader, self._column)[docnum]
        return found

    def _is_short(self, reader: Any, docnum: int) -> bool:
        return self._words is not None and self._column_reader(reader, self._words)[docnum] != _EMPTY_SKETCH

    def alike(self, reader: Any, docnum: int) -> list[tuple[float, int, Any, int]]:
        """The near-duplicates of a match among all the matches (itself included)."""
        own_text = self._text(reader, docnum) if self._text is not None and self._is_short(reader, docnum) else None
        return self.alike_sketch(self.sketch(reader, docnum), own_text)

    def alike_sketch(self, own: bytes, own_text: str | None = None) -> list[tuple[float, int, Any, int]]:
        """(similarity, tie, segment reader, docnum) of the matches whose sketch is like
        ``own``, most alike first; for a short item (``own_text``), the short matches
        whose figures differ are not alike (the same flash, another day's numbers)."""
        return self.alike_sketches([(own, own_text)])[0]

    def alike_sketches(self, leaders: Sequence[tuple[bytes, str | None]]) -> list[list[tuple[float, int, Any, int]]]:
        """:meth:`alike_sketch` of each (sketch, text of a short item) of ``leaders``,
        looked up together: the candidates of all of them found in one pass over each
        segment's band table, and compared with their leader's sketch at once."""
        import numpy as np

        asked = [n for n, (own, _text) in enumerate(leaders) if len(own) == SKETCH_BYTES]
        held: list[tuple[int, Any, list[int], Any]] = []  # (leader, segment, candidates, their sketches)
        for index, (segment, scores) in enumerate(self._matched):
            column = self._column_reader(segment, self._column)
            if len(scores) <= _SCAN:
                tables = self._scanned.get(index)
                if tables is None:
                    tables = self._scanned[index] = self._scan(segment, scores)
                each: list[set[int]] = []
                for n in asked:
                    sharing: set[int] = set()
                    for table, band in zip(tables, _band_values(leaders[n][0])):
                        if band != _EMPTY_BAND_VALUE:
                            sharing.update(table.get(band, ()))
                    each.append(sharing)
            else:
                each = [set(found) for found in column.sharing_each([leaders[n][0] for n in asked])]
            among = getattr(scores, "intersection", None)  # a set of many matches answers at once
            for n, candidates in zip(asked, each):
                matched = among(candidates) if among is not None else (other for other in candidates if other in scores)
                kept = sorted(matched)
                if kept:
                    held.append((n, segment, kept, column.rows(kept)))
        found: list[list[tuple[float, int, Any, int]]] = [[] for _ in leaders]
        if not held:
            return found
        # Every leader's candidates compared with it at once.
        owns = np.frombuffer(b"".join(leaders[n][0] for n, _segment, kept, _rows in held for _ in kept), dtype=np.uint8)
        alike = iter(_similarities_pairwise(owns.reshape(-1, SKETCH_BYTES), np.concatenate([rows for *_, rows in held])))
        for n, segment, kept, _rows in held:
            own_text = leaders[n][1]
            into = found[n]
            for other, score in zip(kept, alike):
                if score < THRESHOLD:
                    continue
                if own_text is not None and self._text is not None and self._is_short(segment, other):
                    if not numbers_agree(own_text, self._text(segment, other)):
                        continue
                into.append((score, self._tie(segment, other) if self._tie is not None else other, segment, other))
        for into in found:
            into.sort(key=lambda item: (-item[0], item[1]))
        return found

    def _scan(self, segment: Any, scores: Collection[int]) -> list[dict[int, list[int]]]:
        docnums = list(scores)
        tables: list[dict[int, list[int]]] = [{} for _ in range(SKETCH_BYTES // _BAND_BYTES)]
        rows = self._column_reader(segment, self._column).rows(docnums)
        for docnum, bands in zip(docnums, rows.view("<u8").tolist()):
            for table, band in zip(tables, bands):
                if band != _EMPTY_BAND_VALUE:
                    table.setdefault(band, []).append(docnum)
        return tables
