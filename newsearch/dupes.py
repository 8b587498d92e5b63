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
one, the 32 values are also indexed as 16 band terms of two values each: two
articles with a similarity of 0.6 share a band term with probability 0.999, and
then their sketches decide.
"""

from __future__ import annotations

import re
import zlib
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import repeat
from operator import and_, mul
from struct import Struct
from typing import Any

__all__ = ["SKETCH_BYTES", "THRESHOLD", "band_terms", "similarity", "sketch"]

_BINS = 32
_SHIFT = 27  # a 32-bit hash's top five bits choose its bin
_ROWS = 2  # sketch values per band term
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
_SCAN = 64  # a segment with at most this many matches is scanned rather than looked up
THRESHOLD = 0.6
"""Articles whose estimated similarity reaches this are near-duplicates."""


def sketch(normalized: str) -> bytes:
    """The MinHash sketch of normalized text (see the module docstring)."""
    text = _DROP.sub("", normalized)
    # A short text without anchors falls back on all its shingles, or itself.
    shingles = _ANCHORED.findall(text) or _EVERY.findall(text) or ([text] if text else [])
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


def band_terms(sk: bytes) -> list[str]:
    """The index terms that near-duplicates of ``sk`` probably share with it."""
    if len(sk) != SKETCH_BYTES:
        return []
    return [f"{band:x}{chunk.hex()}" for band, chunk in enumerate(_bands(sk)) if chunk != _EMPTY_BAND]


def _bands(sk: bytes) -> list[bytes]:
    """The sketch's bands, empty ones included (a band of empty bins says nothing)."""
    return [sk[i : i + _BAND_BYTES] for i in range(0, SKETCH_BYTES, _BAND_BYTES)]


class Groups:
    """Near-duplicate groups among the matches of one search.

    Walks the matches best first: a match that no earlier representative has
    claimed becomes a representative and claims its near-duplicates among the
    matches, found through the band terms and confirmed on the sketches.  A
    segment with few matches has their bands read from the sketch column once,
    which is cheaper than looking up every representative's band terms in it.
    """

    def __init__(self, field: str, column: str, term_postings: Any, column_reader: Any) -> None:
        self._field = field
        self._column = column
        self._term_postings = term_postings
        self._column_reader = column_reader
        self._matched: list[tuple[Any, dict[int, float]]] = []  # (segment reader, its matches)
        self._claimed: set[tuple[int, int]] = set()  # (segment index, docnum)
        self._index_of: dict[int, int] = {}
        self._scanned: dict[int, list[dict[bytes, list[int]]]] = {}  # segment index -> per band: band -> docnums

    def add(self, reader: Any, scores: dict[int, float]) -> None:
        """Record one segment's matches (every segment that has some, before :meth:`representatives`)."""
        self._index_of[id(reader)] = len(self._matched)
        self._matched.append((reader, scores))

    def representatives(self, ranked: Iterable[Any]) -> Iterator[tuple[Any, list[tuple[Any, int]]]]:
        """For each match of ``ranked`` (best first) that leads a group: the match and
        its near-duplicates as (segment reader, docnum), best sketch match first."""
        for match in ranked:
            key = (self._index_of[id(match.reader)], match.docnum)
            if key in self._claimed:
                continue
            self._claimed.add(key)
            yield match, self._claim(match.reader, match.docnum)

    def _claim(self, reader: Any, docnum: int) -> list[tuple[Any, int]]:
        own = self._column_reader(reader, self._column)[docnum]
        terms = band_terms(own)
        bands = _bands(own)
        found: list[tuple[float, int, int, Any]] = []
        for index, (segment, scores) in enumerate(self._matched):
            candidates: set[int] = set()
            if len(scores) <= _SCAN:
                tables = self._scanned.get(index)
                if tables is None:
                    tables = self._scanned[index] = self._scan(segment, scores)
                for table, band in zip(tables, bands):
                    if band != _EMPTY_BAND:
                        candidates.update(table.get(band, ()))
            else:
                for term in terms:
                    postings = self._term_postings(segment, self._field, term)
                    if postings is not None:
                        candidates.update(postings[0])
            if not candidates:
                continue
            sketches = self._column_reader(segment, self._column)
            for other in candidates:
                key = (index, other)
                if other not in scores or key in self._claimed:
                    continue
                score = similarity(own, sketches[other])
                if score >= THRESHOLD:
                    self._claimed.add(key)
                    found.append((-score, index, other, segment))
        found.sort(key=lambda item: item[:3])
        return [(segment, other) for _, _, other, segment in found]

    def _scan(self, segment: Any, scores: dict[int, float]) -> list[dict[bytes, list[int]]]:
        sketches = self._column_reader(segment, self._column)
        tables: list[dict[bytes, list[int]]] = [{} for _ in range(SKETCH_BYTES // _BAND_BYTES)]
        for docnum in scores:
            for table, band in zip(tables, _bands(sketches[docnum])):
                if band != _EMPTY_BAND:
                    table.setdefault(band, []).append(docnum)
        return tables
