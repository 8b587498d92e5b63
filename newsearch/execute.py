"""A compiled query → every matching document with its score, and the best N of them.

Whoosh answers a query by walking a tree of matcher objects one document at
a time, several Python calls per document and per tree level, and it scores
the optional (ranking-only) parts of a query over every document that holds
them, matched or not.  On a news archive, where a two-character word is in a
third of the articles, that costs hundreds of milliseconds.

Here each node of the query is evaluated over one segment as a whole: a term
is its posting list, read by the codec in one piece; ``And``/``Or``/``Not``
are set operations; scores are summed in dicts; the ranking-only side of an
``AndMaybe`` is scored only for the documents that matched.  The scores are
Whoosh's own (BM25F with the searcher's parameters, constant weights for
unscored fields, :class:`~newsearch.matching.Contains` weights), so results
equal Whoosh's — ``tests/test_execute.py`` checks that — in a fraction of the
time.  A term with a long posting list (``LONG_LIST``), alone or ranked by
other terms (``a ANDMAYBE (b OR c ...)``), is scored with numpy arrays instead
of one document at a time, to the same bits and in the same order.  A node
type this module does not know is evaluated by Whoosh's matchers.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.scoring import BM25F
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.util.times import datetime_to_long

from .matching import Contains
from .statistics import Statistics, local_statistics
from .readers import date_array, id_keys, reader_cache, term_postings
from .fields import DATE

__all__ = ["Candidate", "Match", "Segment", "candidates", "count", "length_of", "search"]

Scores = dict[int, float]


@dataclass(frozen=True)
class Match:
    """One matching document: its score and where it is."""

    score: float
    reader: Any  # the segment reader that holds it
    docnum: int  # its number in that segment
    related: bool = False  # a related match: it lacks some term as typed (newsearch.ranking)
    explanation: dict[str, Any] | None = None  # how its score was made, when the ranking read its text


class Candidate(NamedTuple):
    """One of a shard's best matches, with what places it among the other shards' (see
    :mod:`newsearch.gather`): picklable, and comparable across shards."""

    key: tuple[Any, ...]
    """Its place, larger first: in the order of the page (plain queries, orders by date),
    or by the first phase of the ranking (``ranking``'s orders by relevance)."""
    score: float
    """Its score, as shown unless it is in the head."""
    head: float | None
    """Its score read from its text (``ranking``), when it is in the shard's own head."""
    date: int
    tie: int
    """Its id key."""
    related: bool
    explanation: dict[str, Any] | None
    ref: tuple[int, int]
    """(segment number, docnum) in the searcher of the shard."""


def search(
    searcher: Any,
    q: Any,
    flt: Any = None,
    *,
    sort: str = "relevance",
    limit: int | None = 10,
    offset: int = 0,
    half_life_days: float = 30.0,
    each_segment: Callable[[Any, Scores], None] | None = None,
    statistics: Statistics | None = None,
) -> tuple[int, list[Match]]:
    """(number of matches, matches ``offset`` to ``offset + limit`` in the order of ``sort``).

    ``sort`` is ``relevance`` (best first), ``-date`` (newest first), ``date``
    (oldest first; undated articles come last either way) or ``recent``
    (relevance halved for every ``half_life_days`` of age).  ``flt``
    restricts the matches without scoring.  Ties go to the better score, then
    to the lower id key (:func:`newsearch.fields.id_key`): the same order whatever
    the index's segments, and pages never overlap.
    ``each_segment(reader, scores)`` sees every segment's matches (for facet counts).
    ``statistics``: the archive's, when the searcher's index is a shard of it.
    """
    total, best, leaves = _best(searcher, q, flt, sort, None if limit is None else offset + limit, half_life_days, each_segment, statistics)
    return total, [Match(item[-4], leaves[item[-2]][0].reader(), item[-1]) for item in best[offset:]]


def candidates(
    searcher: Any,
    q: Any,
    flt: Any = None,
    *,
    sort: str = "relevance",
    end: int | None = 10,
    half_life_days: float = 30.0,
    each_segment: Callable[[Any, Scores], None] | None = None,
    statistics: Statistics | None = None,
) -> tuple[int, list[Candidate]]:
    """:func:`search`'s matches up to ``end`` as a shard gives them (:class:`Candidate`)."""
    total, best, _leaves = _best(searcher, q, flt, sort, end, half_life_days, each_segment, statistics)
    return total, [Candidate(item[:-2], item[-4], None, 0, -item[-3], False, None, (item[-2], item[-1])) for item in best]


def _best(
    searcher: Any,
    q: Any,
    flt: Any,
    sort: str,
    wanted: int | None,
    half_life_days: float,
    each_segment: Callable[[Any, Scores], None] | None,
    statistics: Statistics | None,
) -> tuple[int, list[tuple[Any, ...]], list[Any]]:
    """(number of matches, the first ``wanted`` in order as sort keys, the leaf searchers)."""
    total = 0
    pool: list[tuple[Any, ...]] = []
    leaves = searcher.leaf_searchers()
    for number, (leaf, _base) in enumerate(leaves):
        segment = Segment(searcher, leaf, statistics)
        scores = segment.matches(q, flt)
        total += len(scores)
        if not scores:
            continue
        if each_segment is not None:
            each_segment(segment.reader, scores)
        items = _sort_keys(sort, segment, scores, number, half_life_days)
        # Each segment keeps at most its best ``wanted``; one sort or selection at the end
        # (merging into a running best list per segment made deep pages quadratic).
        if wanted is not None and wanted * 4 < len(scores):
            pool += heapq.nlargest(wanted, items)
        else:
            pool.extend(items)
    if wanted is not None and wanted * 8 < len(pool):
        best = heapq.nlargest(wanted, pool)
    else:
        pool.sort(reverse=True)
        best = pool if wanted is None else pool[:wanted]
    return total, best, leaves


_UNDATED_LAST = 2**64  # "oldest first" ranks an undated article (date 0) after every date
_MICROSECONDS_PER_DAY = 86_400 * 1_000_000


def _sort_keys(
    sort: str, segment: Segment, scores: Scores, number: int, half_life_days: float
) -> Iterable[tuple[Any, ...]]:
    """(key..., score, -id key, segment number, docnum): larger sorts first."""
    keys = id_keys(segment.reader)
    if sort == "relevance":
        return ((s, -keys[d], number, d) for d, s in scores.items())
    dates = segment.dates()
    if sort == "-date":
        return ((dates[d], s, -keys[d], number, d) for d, s in scores.items())
    if sort == "date":
        return (((-dates[d] if dates[d] else -_UNDATED_LAST), s, -keys[d], number, d) for d, s in scores.items())
    # recent: log(score · 2^(age / half-life)) up to a constant, which keeps old articles'
    # keys apart where the product itself would round to zero.
    rate = math.log(2) / (half_life_days * _MICROSECONDS_PER_DAY)
    log = math.log
    return ((log(s) + dates[d] * rate if s > 0 else -math.inf, s, -keys[d], number, d) for d, s in scores.items())


def count(searcher: Any, q: Any, flt: Any = None) -> int:
    """The number of documents matching ``q`` (and ``flt``)."""
    total = 0
    for leaf, _base in searcher.leaf_searchers():
        segment = Segment(searcher, leaf)
        within = segment.docs(flt) if flt is not None else None
        found = segment.docs(q, within)  # docs() skips the ranking-only parts
        total += len(found - segment.deleted) if segment.deleted else len(found)
    return total


class Segment:
    """Evaluates query nodes over one segment of the searcher's index."""

    def __init__(self, top: Any, leaf: Any, statistics: Statistics | None = None) -> None:
        self.top = top
        self.statistics = statistics if statistics is not None else local_statistics(top)
        self.leaf = leaf
        self.reader = leaf.reader()
        self.cache = reader_cache(self.reader)
        self.deleted: frozenset[int] = self.reader.deleted_docs_set if self.reader.has_deletions() else frozenset()
        self._postings: dict[tuple[str, str], Any] = {}
        self._arrays: dict[tuple[str, str], Any] = {}
        self._weights: dict[tuple[str, str], Any] = {}

    def postings(self, fieldname: str, text: str) -> tuple[Any, Any] | None:
        """A term's posting list (:func:`~newsearch.readers.term_postings`), decoded once
        per search however many nodes and phases ask for it."""
        key = (fieldname, text)
        if key not in self._postings:
            self._postings[key] = term_postings(self.reader, fieldname, text)
        found: tuple[Any, Any] | None = self._postings[key]
        return found

    # ------------------------------------------------------------------ results

    def matches(self, q: Any, flt: Any) -> Scores:
        within = self.docs(flt) if flt is not None else None
        scores = self.scores(q, within)
        if self.deleted:
            for docnum in self.deleted.intersection(scores):
                del scores[docnum]
        return scores

    def dates(self) -> Any:
        """Every document's date as Whoosh's long (0 when undated), read once per segment."""
        found = self.cache.get("dates")
        if found is None:
            column = self.reader.column_reader(DATE, translate=False)
            found = self.cache["dates"] = column.load()
        return found

    def date_array(self) -> Any:
        """:meth:`dates` as an int64 numpy array, made once per segment."""
        return date_array(self.reader)

    # ------------------------------------------------------------------ matching sets

    def docs(self, q: Any, within: set[int] | None = None) -> set[int]:
        """The documents of this segment that ``q`` matches (deleted ones included),
        limited to ``within`` when given."""
        if isinstance(q, wq.Term):
            found = self.postings(q.fieldname, q.text)
            if found is None:
                return set()
            return within.intersection(found[0]) if within is not None else set(found[0])
        if isinstance(q, wq.And):
            result = within
            for sub in self._positives(q):
                result = self.docs(sub, result)
                if not result:
                    return set()
            for sub in q.subqueries:
                if isinstance(sub, wq.Not):
                    result = result - self.docs(sub.query, result)  # type: ignore[operator]
            return result if result is not None else set()
        if isinstance(q, wq.Or):
            out: set[int] = set()
            for sub in q.subqueries:
                out |= self.docs(sub, within)
            return out
        if isinstance(q, wq.AndMaybe):
            return self.docs(q.a, within)
        if isinstance(q, wq.Not):
            base = within if within is not None else self._everything()
            return base - self.docs(q.query, base)
        if isinstance(q, Contains):
            return set(self._verified(q, within)[0])
        if isinstance(q, wq.Every):
            return set(within) if within is not None else self._everything()
        if isinstance(q, wq.DateRange) and q.fieldname == DATE:
            return self._date_range(q, within)
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return set()
        return set(self._by_whoosh(q, within, scored=False))

    def _everything(self) -> set[int]:
        return set(range(self.reader.doc_count_all()))

    def _date_range(self, q: Any, within: set[int] | None) -> set[int]:
        dates = self.dates()
        low = 1 if q.startdate is None else datetime_to_long(q.startdate) + (1 if q.startexcl else 0)
        high = None if q.enddate is None else datetime_to_long(q.enddate) - (1 if q.endexcl else 0)
        candidates = within if within is not None else range(len(dates))
        if high is None:
            return {d for d in candidates if dates[d] >= low}
        return {d for d in candidates if low <= dates[d] <= high}

    # ------------------------------------------------------------------ scores

    def scores(self, q: Any, within: set[int] | None = None) -> Scores:
        """Like :meth:`docs`, with each document's score."""
        if isinstance(q, (wq.Term, wq.AndMaybe)):
            docs = self._long_list(q, within)
            if docs is not None:
                found = self.scores_of(q, docs)
                if found is not None:
                    return found
        if isinstance(q, wq.Term):
            return self._term_scores(q, within)
        if isinstance(q, wq.And):
            # The most selective part first, then each of the others only over what matched.
            total: Scores | None = None
            for sub in self._positives(q):
                found = self.scores(sub, within if total is None else set(total))
                total = found if total is None else {d: total[d] + score for d, score in found.items()}
                if not total:
                    return {}
            assert total is not None
            negatives = [sub for sub in q.subqueries if isinstance(sub, wq.Not)]
            for sub in negatives:
                for docnum in self.docs(sub.query, set(total)):
                    del total[docnum]
            if negatives:  # Whoosh scores each negative part of an And as a match of weight 1
                for docnum in total:
                    total[docnum] += len(negatives)
            return _boosted(total, q.boost)
        if isinstance(q, wq.Or):
            out: Scores = {}
            for sub in q.subqueries:
                _add(out, self.scores(sub, within))
            return _boosted(out, q.boost)
        if isinstance(q, wq.AndMaybe):
            out = self.scores(q.a, within)
            if out:
                extra = self.scores(q.b, set(out))
                for docnum, score in extra.items():
                    out[docnum] += score
            return out
        if isinstance(q, Contains):
            ids, weights = self._verified(q, within)
            return dict(zip(ids, weights))
        if isinstance(q, (wq.Not, wq.Every, wq.DateRange)) or q is wq.NullQuery:
            # Constant scores: Whoosh gives these nodes their boost (a Not, nothing).
            value = 0.0 if isinstance(q, wq.Not) or q is wq.NullQuery else float(q.boost)
            return dict.fromkeys(self.docs(q, within), value)
        return self._by_whoosh(q, within, scored=True)

    def _term_scores(self, q: Any, within: set[int] | None) -> Scores:
        found = self.postings(q.fieldname, q.text)
        if found is None:
            return {}
        ids, weights = found
        pairs: Iterable[tuple[int, float]] = zip(ids, weights) if weights is not None else ((d, 1.0) for d in ids)
        if within is not None:
            if weights is None and len(within) < len(ids):
                pairs = ((d, 1.0) for d in within.intersection(ids))
            elif weights is not None and len(within) * _BISECT_RATIO < len(ids):
                pairs = _looked_up(ids, weights, within)
            else:
                pairs = ((d, w) for d, w in pairs if d in within)
        boost = float(q.boost)
        field = self.top.schema[q.fieldname]
        weighting = self.top.weighting
        if not field.scorable:
            return {d: w * boost for d, w in pairs}
        if type(weighting) is not BM25F:
            return self._by_whoosh(q, within, scored=True)
        lengths = self.lengths(q.fieldname)
        norms = self._norms(q.fieldname)
        scale = self.statistics.idf(q.fieldname, q.text) * (weighting.K1 + 1) * boost
        # BM25: idf · tf·(K1+1) / (tf + K1·(1 − B + B·length/average length))
        return {d: scale * w / (w + norms[lengths[d]]) for d, w in pairs}

    # ------------------------------------------------------------------ long posting lists as arrays

    def id_array(self, fieldname: str, text: str) -> Any:
        """The document numbers of a term's posting list as an int64 array (None when
        the segment lacks the term), made once per search."""
        key = (fieldname, text)
        if key not in self._arrays:
            import numpy as np

            found = self.postings(fieldname, text)
            self._arrays[key] = None if found is None else np.asarray(found[0], dtype=np.int64)
        return self._arrays[key]

    def _weight_array(self, fieldname: str, text: str) -> Any:
        """The weights of a term's posting list as a float64 array, or None when all are 1."""
        key = (fieldname, text)
        if key not in self._weights:
            import numpy as np

            found = self.postings(fieldname, text)
            weights = None if found is None else found[1]
            self._weights[key] = None if weights is None else np.asarray(weights, dtype=np.float64)
        return self._weights[key]

    def _weights_at(self, fieldname: str, text: str, at: Any) -> Any:
        """The weights at positions ``at`` (an array) of a term's posting list, as float64,
        or None when all are 1: a few picked from the list as the codec gives it, many
        read from the whole list made an array."""
        found = self.postings(fieldname, text)
        weights = None if found is None else found[1]
        if weights is None:
            return None
        if (fieldname, text) not in self._weights and isinstance(weights, list) and len(at) * 4 < len(weights):
            # (a long list's weights come as array("d"), which numpy reads without a copy)
            import numpy as np

            return np.fromiter(map(weights.__getitem__, at.tolist()), dtype=np.float64, count=len(at))
        return self._weight_array(fieldname, text)[at]

    def holders_of_many(self, q: Any) -> Any:
        """The documents that ``q`` (a term, or a term ANDMAYBE how it ranks) matches,
        deleted ones left out, as a sorted array, when the term's posting list is long
        enough for arrays to pay (:data:`LONG_LIST`); else None."""
        long = self._long_lead(q)
        if long is None:
            return None
        docs = self.id_array(long[0].fieldname, long[0].text)
        return _among(docs, self.deleted, invert=True) if self.deleted else docs

    def _long_lead(self, q: Any) -> tuple[Any, tuple[Any, Any]] | None:
        """The term that leads ``q`` (a term, or a term ANDMAYBE how it ranks) and its
        postings, when its list is long enough for arrays to pay (:data:`LONG_LIST`)."""
        lead = q.a if isinstance(q, wq.AndMaybe) else q
        if not isinstance(lead, wq.Term):
            return None
        found = self.postings(lead.fieldname, lead.text)
        if found is None or len(found[0]) < LONG_LIST:
            return None
        return lead, found

    def _long_list(self, q: Any, within: set[int] | None) -> Any:
        """The documents that :meth:`scores` gives ``q`` (a term, or ``a ANDMAYBE b`` with a
        term ``a``) a score, as a sorted array, when the term's list is long enough for
        arrays to pay and the scores come in document order either way; else None."""
        long = self._long_lead(q)
        if long is None:
            return None
        lead, found = long
        if within is not None and found[1] is None and len(within) < len(found[0]):
            return None  # scored in the order of the set of their intersection (see _term_scores)
        ids = self.id_array(lead.fieldname, lead.text)
        return ids if within is None else _among(ids, within)

    def scores_of(self, q: Any, docs: Any) -> Scores | None:
        """:meth:`scores` of ``q`` limited to ``docs`` (a sorted array of document
        numbers), in document order, computed as arrays: the same float operations in
        the same order as :meth:`scores`, so the same scores to the last bit.  None for
        a node that is not made of terms, ``Or`` and ``AndMaybe``."""
        found = self.array_scores(q, docs)
        if found is None:
            return None
        held, values = found
        return dict(zip(docs[held].tolist(), values[held].tolist()))

    def array_scores(self, q: Any, docs: Any) -> tuple[Any, Any] | None:
        """(which of ``docs`` ``q`` matches, as a boolean array; their scores, 0 for the
        others) for a node made of terms, ``Or`` and ``AndMaybe``; None for another."""
        import numpy as np

        if isinstance(q, wq.Term):
            return self._term_arrays(q, docs)
        if isinstance(q, wq.Or):
            held = np.zeros(len(docs), dtype=bool)
            total = np.zeros(len(docs), dtype=np.float64)
            for sub in q.subqueries:
                found = self.array_scores(sub, docs)
                if found is None:
                    return None
                held |= found[0]
                total = total + found[1]  # (x + 0.0 is x: the documents a part lacks keep their sum)
            boost = float(q.boost)
            return held, (total * boost if boost != 1.0 else total)
        if isinstance(q, wq.AndMaybe):
            a, b = self.array_scores(q.a, docs), self.array_scores(q.b, docs)
            if a is None or b is None:
                return None
            return a[0], a[1] + np.where(a[0], b[1], 0.0)
        return None

    def _term_arrays(self, q: Any, docs: Any) -> tuple[Any, Any] | None:
        import numpy as np

        ids = self.id_array(q.fieldname, q.text)
        if ids is None or not len(ids):
            return np.zeros(len(docs), dtype=bool), np.zeros(len(docs), dtype=np.float64)
        at = np.minimum(np.searchsorted(ids, docs), len(ids) - 1)
        held = ids[at] == docs
        w = self._weights_at(q.fieldname, q.text, at)
        if w is None:
            w = np.ones(len(docs), dtype=np.float64)
        boost = float(q.boost)
        if not self.top.schema[q.fieldname].scorable:
            values = w * boost
        elif type(self.top.weighting) is not BM25F:
            return None
        else:
            weighting = self.top.weighting
            norms = np.asarray(self._norms(q.fieldname), dtype=np.float64)
            lengths = np.frombuffer(self.lengths(q.fieldname), dtype=np.uint8)
            scale = self.statistics.idf(q.fieldname, q.text) * (weighting.K1 + 1) * boost
            values = scale * w / (w + norms[lengths[docs]])
        return held, np.where(held, values, 0.0)

    # ------------------------------------------------------------------ bounds

    def bound(self, q: Any) -> float | None:
        """At most what :meth:`scores` gives any document of this segment for ``q``, from
        the terms' statistics (their largest weight, their shortest field); None for a
        node without such a bound."""
        if isinstance(q, wq.Term):
            btext = q.text.encode("utf-8") if isinstance(q.text, str) else q.text
            if (q.fieldname, btext) not in self.reader:
                return 0.0
            info = self.reader.term_info(q.fieldname, btext)
            most = float(info.max_weight())
            boost = float(q.boost)
            if not self.top.schema[q.fieldname].scorable:
                return most * boost
            weighting = self.top.weighting
            if type(weighting) is not BM25F or most <= 0:
                return None if most > 0 else 0.0
            # The shortest field of a holder has the smallest norm; one length code lower
            # keeps the bound safe from how the shortest length was rounded.
            code = max(0, length_to_byte(info.min_length()) - 1)
            scale = float(self.statistics.idf(q.fieldname, q.text)) * (weighting.K1 + 1) * boost
            return float(scale * most / (most + self._norms(q.fieldname)[code]))
        if isinstance(q, (wq.Or, wq.And)):
            parts = [self.bound(sub) for sub in q.subqueries if not isinstance(sub, wq.Not)]
            if any(part is None for part in parts):
                return None
            negatives = sum(isinstance(sub, wq.Not) for sub in q.subqueries) if isinstance(q, wq.And) else 0
            return (sum(p for p in parts if p is not None) + negatives) * float(q.boost)
        if isinstance(q, wq.AndMaybe):
            a, b = self.bound(q.a), self.bound(q.b)
            return None if a is None or b is None else a + b
        return None

    def essential(self, q: Any, members: set[int]) -> tuple[set[int], float] | None:
        """Split the documents that ``q``, a match ranked by terms (``a ANDMAYBE (t1 OR
        t2 ...)``), matches: the ``members`` that hold a ranking term other than the
        commonest one, and a bound on the score of every other member (the match's
        bound and the commonest term's).  None for another shape, or without bounds.

        This is MaxScore (Turtle and Flood; Lucene's ``MaxScoreBulkScorer``): when the
        documents that hold the rarer terms already give the page a better score than
        that bound, the commonest term need not be scored for anything else."""
        found = self._rarer_terms(q)
        if found is None:
            return None
        rarer, ceiling = found
        held: set[int] = set()
        for term in rarer:
            postings = self.postings(term.fieldname, term.text)
            if postings is not None:
                held |= members.intersection(postings[0])
        return held, ceiling

    def essential_mask(self, q: Any, members: Any) -> tuple[Any, float] | None:
        """:meth:`essential` for ``members`` given as a sorted array: which of them hold
        a rarer ranking term (a boolean array), and the bound on the others' scores."""
        found = self._rarer_terms(q)
        if found is None:
            return None
        import numpy as np

        rarer, ceiling = found
        held = np.zeros(len(members), dtype=bool)
        for term in rarer:
            ids = self.id_array(term.fieldname, term.text)
            if ids is not None and len(members):
                at = np.minimum(np.searchsorted(members, ids), len(members) - 1)
                held[at[members[at] == ids]] = True
        return held, ceiling

    def _rarer_terms(self, q: Any) -> tuple[list[Any], float] | None:
        """The ranking terms of ``q`` (see :meth:`essential`) but the commonest, and the
        bound on the score of a document that holds none of them."""
        if not isinstance(q, wq.AndMaybe) or not isinstance(q.a, wq.Term):
            return None
        terms = q.b.subqueries if isinstance(q.b, wq.Or) else [q.b]
        if len(terms) < 2 or not all(isinstance(t, wq.Term) for t in terms):
            return None
        base = self.bound(q.a)
        dfs = [self._estimate(t) for t in terms]
        common = max(range(len(terms)), key=dfs.__getitem__)
        rest = self.bound(terms[common])
        if base is None or rest is None:
            return None
        rarer = [term for i, term in enumerate(terms) if i != common]
        return rarer, base + rest * float(q.b.boost if isinstance(q.b, wq.Or) else 1.0)

    def lengths(self, fieldname: str) -> bytes:
        """Every document's length in ``fieldname`` as Whoosh's one-byte code."""
        key = ("lengths", fieldname)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = _read_lengths(self.reader, fieldname)
        return found

    def _positives(self, q: Any) -> list[Any]:
        """The parts of an ``And`` that documents must match, the fewest documents first."""
        positives = [sub for sub in q.subqueries if not isinstance(sub, wq.Not)] or [wq.Every()]
        return sorted(positives, key=self._estimate)

    def _estimate(self, q: Any) -> int:
        """At most how many documents ``q`` matches, roughly and cheaply."""
        if isinstance(q, wq.Term):
            return int(self.reader.doc_frequency(q.fieldname, q.text))
        if isinstance(q, wq.And):
            return min((self._estimate(s) for s in q.subqueries if not isinstance(s, wq.Not)), default=0)
        if isinstance(q, wq.Or):
            return sum(self._estimate(s) for s in q.subqueries)
        if isinstance(q, wq.AndMaybe):
            return self._estimate(q.a)
        if isinstance(q, Contains):
            return self._estimate(q.child)
        return int(self.reader.doc_count_all())

    def _norms(self, fieldname: str) -> list[float]:
        """``K1·(1 − B + B·length/average length)`` for each one-byte length code (the
        average is over the whole index, or the whole archive for a shard, so this is
        kept on the searcher)."""
        average = self.statistics.avg_field_length(fieldname) or 1
        cache = reader_cache(self.top.reader())
        key = ("norms", fieldname, average)
        found = cache.get(key)
        if found is None:
            weighting = self.top.weighting
            b = weighting._field_B.get(fieldname, weighting.B)  # noqa: SLF001
            found = cache[key] = [weighting.K1 * ((1 - b) + b * byte_to_length(code) / average) for code in range(256)]
        return found

    def _verified(self, q: Contains, within: set[int] | None) -> tuple[Any, list[float]]:
        candidates = self.docs(q.child, within)
        return q.verify(self.reader, sorted(candidates))

    def _by_whoosh(self, q: Any, within: set[int] | None, *, scored: bool) -> Scores:
        context = self.top.boolean_context() if not scored else None
        matcher = q.matcher(self.leaf, context)
        out: Scores = {}
        while matcher.is_active():
            docnum = matcher.id()
            if within is None or docnum in within:
                out[docnum] = matcher.score() if scored else 0.0
            matcher.next()
        return out


LONG_LIST = 2048  # a posting list at least this long is scored as arrays (shorter: per document)
_BISECT_RATIO = 8  # a posting list this many times longer than the documents asked about is bisected


def _looked_up(ids: Any, weights: Any, within: set[int]) -> list[tuple[int, float]]:
    """(docnum, weight) of the documents of ``within`` in a posting list, in its order,
    each found by bisection (cheaper than reading a list many times longer)."""
    out = []
    n = len(ids)
    for docnum in sorted(within):
        at = bisect_left(ids, docnum)
        if at < n and ids[at] == docnum:
            out.append((docnum, weights[at]))
    return out


def length_of(code: int) -> int:
    """The field length (in words) that Whoosh's one-byte length code stands for."""
    return int(byte_to_length(code))


def _read_lengths(reader: Any, fieldname: str) -> bytes:
    """One byte per document: Whoosh's length code, read from the segment in one piece."""
    count = reader.doc_count_all()
    column = reader._perdoc._cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN)  # noqa: SLF001
    if column is None:
        return bytes(count)
    data = bytes(column._dbfile.get(column._basepos, column._count))  # noqa: SLF001
    return data + bytes(count - len(data))


def _boosted(scores: Scores, boost: float) -> Scores:
    if boost != 1.0:
        for docnum in scores:
            scores[docnum] *= boost
    return scores


def _add(total: Scores, scores: Scores) -> None:
    get = total.get
    for docnum, score in scores.items():
        total[docnum] = get(docnum, 0.0) + score


def _among(ids: Any, numbers: Collection[int], *, invert: bool = False) -> Any:
    """The sorted array ``ids`` kept to those in ``numbers`` (or, with ``invert``, not in it)."""
    import numpy as np

    wanted = np.fromiter(numbers, dtype=np.int64, count=len(numbers))
    return ids[np.isin(ids, wanted, assume_unique=True, invert=invert)]
