"""Exact string matching inside Whoosh: candidates from the unit index, verified on the text.

A query string matches an article when the article's normalized text contains
it — wherever jieba put its word boundaries.  Whoosh finds candidates cheaply
(every article that holds all the string's characters and Latin/number words,
see :func:`newsearch.analysis.units`); :class:`Contains` then keeps the
candidates whose stored normalized text really contains the string, and
scores them by how often it occurs there.

The pattern is :func:`newsearch.query.needle_pattern`, the single definition of
"contains" that highlighting uses too, so a highlight is always exactly a match.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable
from typing import Any

from whoosh import matching
from whoosh.query import WrappingQuery

from .readers import column_reader, term_postings

__all__ = ["Contains"]

def _plain_string(pattern: re.Pattern[str]) -> bytes | None:
    """The UTF-8 bytes of the one string ``pattern`` matches, when it is a plain string
    (no gaps, no checks at its ends); counting those bytes finds the same matches
    without decoding the text, since UTF-8 never matches inside another character."""
    text = pattern.pattern
    plain = re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)
    return plain.encode("utf-8") if plain and re.escape(plain) == text else None


class Contains(WrappingQuery):  # type: ignore[misc]
    """The documents of ``child`` whose text, in one of ``columns``, matches ``pattern``.

    ``columns`` pairs the name of a normalized-text column with a weight.  A
    kept document scores ``boost * Σ weight * (1 + log(occurrences))`` over the
    columns where the pattern occurs, so a match in the title, or one that
    occurs often, ranks higher.

    ``confirm`` lists (word field, term, weight): a document holding the term,
    an exact slice of its text, contains the string, so it is kept without
    reading its text (weighted once).

    ``gapped`` is (units field, plain string, gapped-pair terms) for a phrase
    whose pattern allows gaps: a document holding none of those terms has no
    gapped occurrence, so counting the plain string's bytes finds exactly the
    pattern's matches, without decoding the text or running the pattern.

    ``confirm`` and ``gapped`` save work and never change which documents match
    or how they score, so they take no part in equality.
    """

    def __init__(
        self,
        child: Any,
        pattern: re.Pattern[str],
        columns: tuple[tuple[str, float], ...],
        boost: float = 1.0,
        confirm: tuple[tuple[str, str, float], ...] = (),
        gapped: tuple[str, str, tuple[str, ...]] | None = None,
    ) -> None:
        super().__init__(child)
        self.pattern = pattern
        self.columns = columns
        self.boost = boost
        self.confirm = confirm
        self.gapped = gapped
        # Verified matches per segment reader: a search may ask for a matcher twice
        # (once to rank, once to count), and verification is the costly part.
        self._verified: dict[int, tuple[Any, array[int], list[float]]] = {}
        self._literal = _plain_string(pattern)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other.child == self.child
            and other.pattern == self.pattern
            and other.columns == self.columns
            and other.boost == self.boost
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.child, self.pattern.pattern, self.columns, self.boost))

    def __repr__(self) -> str:
        return f"Contains({self.pattern.pattern!r} in {'/'.join(c for c, _ in self.columns)})"

    def _rewrap(self, child: Any) -> Contains:
        return Contains(child, self.pattern, self.columns, self.boost, self.confirm, self.gapped)

    def with_boost(self, boost: float) -> Contains:
        return Contains(self.child, self.pattern, self.columns, boost, self.confirm, self.gapped)

    def estimate_min_size(self, ixreader: Any) -> int:
        return 0

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        reader = searcher.reader()
        cached = self._verified.get(id(reader))
        if cached is not None and cached[0] is reader:
            _, ids, weights = cached
        else:
            candidates = self.child.matcher(searcher, context)
            ids, weights = self.verify(reader, candidates.all_ids() if candidates.is_active() else ())
            self._verified[id(reader)] = (reader, ids, weights)
        if not ids:
            return matching.NullMatcher()
        return matching.ListMatcher(ids, weights=weights)

    def verify(self, reader: Any, candidates: Iterable[int]) -> tuple[array[int], list[float]]:
        """The ``candidates`` (document numbers of ``reader``) that contain the string,
        in the order given, with their scores."""
        ids: array[int] = array("I")
        weights: list[float] = []
        columns = [(column_reader(reader, name), weight) for name, weight in self.columns]
        confirmed: dict[int, float] = {}
        for field, term, weight in self.confirm:
            found = term_postings(reader, field, term)
            if found is not None:
                for docnum in found[0]:
                    confirmed[docnum] = confirmed.get(docnum, 0.0) + weight
        boost = self.boost
        # The bytes to count where the pattern can only match them exactly; else the pattern.
        plain = self._literal
        gapped: set[int] = set()
        if plain is None and self.gapped is not None:
            field, text, gap_terms = self.gapped
            plain = text.encode("utf-8")
            for term in gap_terms:
                found = term_postings(reader, field, term)
                if found is not None:
                    gapped.update(found[0])
        findall = self.pattern.findall
        log = math.log
        for docnum in candidates:
            known = confirmed.get(docnum)
            if known is not None:
                ids.append(docnum)
                weights.append(boost * known)
                continue
            score = 0.0
            counted = plain is not None and docnum not in gapped
            for column, weight in columns:
                data = column[docnum]
                n = data.count(plain) if counted else len(findall(data.decode("utf-8")))
                if n:
                    score += weight * (1.0 + log(n))
            if score:
                ids.append(docnum)
                weights.append(boost * score)
        return ids, weights
