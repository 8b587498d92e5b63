"""A plain query → the articles that hold enough of what it asks for, best first.

The words of a plain query (:mod:`newsearch.understand`) are looked up one by
one.  An article holds a word *in full* when its title or body holds it as
written (or a synonym), or, for a word made of shorter words, holds those close
together (网络的安全 for 网络安全), or when it carries the word as a tag,
category or keyword; it holds a word *in part* when it holds a dictionary word
inside it (锂电 of 锂电池).

**Which articles match**, as Elasticsearch's ``minimum_should_match`` decides:
those that hold every word of a query of one or two words, and ``min_match``
of the words (rounded down) of a longer one.  A word held in part counts when
the part is nearly as rare as the word (``subword_idf``: 尘肺 for 尘肺病, not 学生
for 大学生).  When that leaves fewer than ``fill`` articles, every part counts,
and then one word fewer is asked for at a time, down to one: a question whose
wording the archive does not use still finds the articles about it.  An article that holds every term as
typed (an *exact* match: what ``exact=True`` returns) always matches; the
others are *related* matches.

**How they rank**, in the spirit of Lucene's BM25F and Meilisearch's rules: by
score, where for each word held BM25 is counted in the title
(×``title_boost``), the body and the tags, categories and keywords
(×``keyword_boost``), each field saturating on its own, with length
normalisation (``length_norm``) so that a passing mention in a long digest counts
less than the word in a short article about it; an occurrence inside a longer
word (大学生 in 北京大学生命) counts ``inside_word``, a word held in part half
the share of it that the parts cover (网络 is half of 网络安全).  The sum is
multiplied by the share of the query's words the article holds, a
proximity factor (the words it holds close together in one field,
``proximity``) and an exactness factor (every term as typed, ``exact_bonus``).
With ``every_word_first``, articles holding every word in full come before all
others whatever their score (Meilisearch's first rule).

Finding and counting the matches reads posting lists only; the text is read for
the best ``rerank_depth`` of them, whose order it decides.  Every page is cut
from the same order, so pages never overlap.

**What a page costs.**  Which articles match is decided with set operations on
posting lists, so ``total``, the facets and near-duplicate collapsing always see
every match: the total is exact, never an estimate or a lower bound.  Scoring is
what is skipped.  For a one-word query by relevance, the matches that hold only the
word's commonest ranking term (usually the body) are scored only when the articles
with a rarer one (title) already give the head better scores than any of them can
reach, from the terms' largest weight and shortest field (MaxScore, as Lucene's
``MaxScoreBulkScorer``); by date, only the articles a page shows, and those dated
the same as its last, are scored.  A page beyond the head scores the rest.  The
order is the one scoring every match gives (``tests/test_ranking.py`` checks it).
A word in many articles of a segment (``execute.LONG_LIST``) keeps them as a sorted
numpy array rather than a set, and is matched, scored and cut by date with array
operations: the same float operations in the same order, so the same scores, order
and ties.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import re
from array import array
from bisect import bisect_left
from itertools import chain, compress
from operator import itemgetter
from collections.abc import Callable, Collection, Iterable, Iterator, Set
from dataclasses import dataclass, field
from typing import Any

from .compiler import CompiledPlan
from .config import RankingConfig
from .execute import Candidate, Match, Scores, Segment, length_of
from .fields import BODY, NBODY, NTITLE, TITLE
from .readers import column_reader, id_keys, reader_cache
from .statistics import Statistics, local_statistics

__all__ = ["Placed", "RelaxedSearch", "merge_candidates"]

_K1 = 1.2
_PART = 0.5  # what a word held only in part counts, against 1
_MAX_POSITIONS = 64  # occurrences of a word kept per field for proximity
_CHECKED = 8  # occurrences of a word checked for standing inside a longer word
_UNDATED_LAST = 2**64

Item = tuple["_Part", int, float]  # (segment's matches, docnum, score)


@dataclass
class _Part:
    """One segment's matches: per word, the articles that hold it and how."""

    segment: Segment
    base: int
    number: int
    within: set[int] | None  # the filter's articles (None: no filter)
    verbatim: list[set[int]]  # per word: the articles whose title or body holds it as written
    holders: list[set[int]]  # per word: the articles that hold it in full
    exact: set[int]
    keywords: list[set[int]]
    scored: dict[int, float] | None  # a one-word query's verbatim articles with their index scores
    partial: list[set[int]] = field(default_factory=list)  # per word: the articles that hold it only in part
    matched: dict[int, float] = field(default_factory=dict)  # docnum -> first-phase score
    # Matches of a one-word query not scored yet: they cannot reach the head (see _first_scores).
    unscored: set[int] = field(default_factory=set)
    _all: Collection[int] | None = None

    def matches(self) -> Collection[int]:
        """Every match of the segment, scored or not (a word in many articles: as a
        sorted array that numpy reads in one piece, see :class:`_Docs`)."""
        if not self.unscored:
            return self.matched
        if self._all is None:
            if isinstance(self.unscored, _Docs):
                self._all = _Docs(_merged(self.unscored.array, _sorted_array(self.matched)))
            else:
                self._all = self.matched.keys() | self.unscored
        return self._all

    @property
    def keys(self) -> Any:
        """Each document's id key: the order among equal scores."""
        return id_keys(self.segment.reader)

    def bits(self, docnum: int, sets: list[set[int]]) -> int:
        return sum(1 << i for i, docs in enumerate(sets) if docnum in docs)


class RelaxedSearch:
    """The matches of one plain query (with an optional filter), ranked once and cut into
    pages by :meth:`ranked` (the signature of :func:`newsearch.execute.search`)."""

    def __init__(
        self,
        searcher: Any,
        plan: CompiledPlan,
        flt: Any,
        config: RankingConfig,
        *,
        sort: str,
        half_life_days: float,
        is_word: Callable[[str], bool],
        statistics: Statistics | None = None,
    ) -> None:
        self._searcher = searcher
        self._plan = plan
        self._flt = flt
        self._config = config
        self._sort = sort
        self._half_life_days = half_life_days
        self._is_word = is_word
        self._statistics = statistics if statistics is not None else local_statistics(searcher)
        # What the counts over the whole archive are counted for (see statistics.total).
        self._signature = _signature(plan, flt)
        self._n = len(plan.concepts)
        self._all = (1 << self._n) - 1
        self._parts: list[_Part] = []
        self._idf: list[float] = []
        self._why: dict[tuple[int, int], dict[str, Any]] = {}
        self._subword_choice: dict[bool, list[list[Any]]] = {}
        self._chosen = False
        self._head: list[Item] = []  # the best, ordered by their text
        self._read: int | None = None  # of the best, how many are read here (None: rerank_depth)
        self._pending: list[Item] = []  # the rest of the best, read when asked (see read_first)
        self._tail: list[Item] | None = None  # the others, ordered by the first phase (when asked for)
        self._in_head: set[tuple[int, int]] = set()
        self._postings: dict[tuple[int, str, str], Any] = {}
        self._averages: dict[str, float] = {}
        self._total = 0
        self._best: list[float] = []  # the best first-phase scores seen, at most rerank_depth (a min-heap)

    # ------------------------------------------------------------------ pages

    def read_first(self, n: int) -> None:
        """Read only the best ``n`` of the ``rerank_depth`` best from their text; the others
        when :meth:`read` asks.  (A shard: the archive's best take about its share of its
        own, and the coordinator asks for the few more it may need.)  Before any page."""
        self._read = n

    def read(self, refs: list[tuple[int, int]]) -> list[tuple[float, dict[str, Any] | None]]:
        """(score read from the text, how it was made) of the matches ``refs`` ((segment
        number, docnum) of :class:`~newsearch.execute.Candidate`)."""
        self._choose_once()
        parts = {part.number: part for part in self._parts}
        out = []
        for number, docnum in refs:
            score = self._score(parts[number], docnum)
            out.append((score, self._why.get((number, docnum))))
        return out

    @property
    def exact_total(self) -> int:
        """How many of the matches hold every term as typed."""
        self._choose_once()
        return sum(_count_in(part.exact, part.matched) + self._exact_unscored(part) for part in self._parts)

    def _exact_unscored(self, part: _Part) -> int:
        if self._n == 1 and part.exact is part.verbatim[0]:  # the term as typed is the word: all of them
            return len(part.unscored)
        return len(part.exact & part.unscored)

    @property
    def scored(self) -> int:
        """How many of the matches have a first-phase score: for a broad word, the matches
        that cannot reach the head are scored only when a page beyond it asks."""
        self._choose_once()
        return sum(len(part.matched) for part in self._parts)

    def ranked(
        self, limit: int | None, offset: int, each_segment: Callable[[Any, Scores], None] | None = None
    ) -> tuple[int, list[Match]]:
        """(number of matches, matches ``offset`` to ``offset + limit``)."""
        self._choose_once()
        if each_segment is not None:
            for part in self._parts:
                if part.matched or part.unscored:
                    each_segment(part.segment.reader, part.matches())  # type: ignore[arg-type]
        end = None if limit is None else offset + limit
        page = self._order(end)[offset:end]
        if self._n == 1 and self._sort != "recent":  # the first-phase scores as they stand for (in head: the text's)
            page = [item if (item[0].number, item[1]) in self._in_head else (item[0], item[1], self._first_phase(item[2])) for item in page]
        return self._total, [
            Match(score, part.segment.reader, docnum, docnum not in part.exact, self._why.get((part.number, docnum)))
            for part, docnum, score in page
        ]

    def candidates(
        self, end: int | None, each_segment: Callable[[Any, Scores], None] | None = None
    ) -> tuple[int, list[Candidate]]:
        """(number of matches, what the first ``end`` of a page of the whole archive may
        take from these matches): for the orders by relevance, the head with the scores
        read from the text and the first phase's best; by date, the first ``end``.
        :func:`merge_candidates` orders several shards' as one index would."""
        self._choose_once()
        if each_segment is not None:
            for part in self._parts:
                if part.matched or part.unscored:
                    each_segment(part.segment.reader, part.matches())  # type: ignore[arg-type]
        if self._sort in ("-date", "date"):
            newest = self._sort == "-date"
            out = []
            for part, docnum, score in self._order(end):
                date = part.segment.dates()[docnum]
                key = date if newest else (-date if date else -_UNDATED_LAST)
                out.append(self._candidate(part, docnum, score, None, (key, score, -part.keys[docnum])))
            return self._total, out
        head = {(part.number, docnum): text for part, docnum, text in self._head}
        if self._sort == "relevance":  # (the head's unread best, if any, come next: no more needed)
            more = [] if end is not None and end <= len(self._head) + len(self._pending) else self._rest()[:end]
        else:  # recent: the best of all by the first phase's scores, head or not (a head
            # that another shard's displaces is ranked by them, and may rank below its own)
            self._complete()
            key = self._recent_key()
            every = ((part, docnum, self._first_phase(score)) for part, docnum, score in self._items())
            wanted = None if end is None else end + len(self._head)
            best = sorted(every, key=key, reverse=True) if wanted is None else heapq.nlargest(wanted, every, key=key)
            more = [(part, docnum, part.matched[docnum]) for part, docnum, _ in best if (part.number, docnum) not in head]
        if self._pending:  # the best not read here: the archive's head may take them
            listed = {(part.number, docnum) for part, docnum, _ in more}
            more = [*more, *(item for item in self._pending if (item[0].number, item[1]) not in listed)]
        out = []
        for part, docnum, _ in [*self._head, *more]:
            score = part.matched[docnum]
            out.append(self._candidate(part, docnum, score, head.get((part.number, docnum)), self._key((part, docnum, score))))
        return self._total, out

    def _candidate(self, part: _Part, docnum: int, score: float, text: float | None, key: tuple[Any, ...]) -> Candidate:
        return Candidate(
            key,
            self._first_phase(score),
            text,
            part.segment.dates()[docnum],
            part.keys[docnum],
            docnum not in part.exact,
            self._why.get((part.number, docnum)) if text is not None else None,
            (part.number, docnum),
        )

    def _choose_once(self) -> None:
        if not self._chosen:
            self._collect()
            self._choose()
            self._head = self._rank_head()
            self._chosen = True

    # ------------------------------------------------------------------ matching

    def _collect(self) -> None:
        """Per segment, the articles that hold each word in full and each term as typed."""
        plan, searcher = self._plan, self._searcher
        counts = [0] * self._n
        for number, (leaf, base) in enumerate(searcher.leaf_searchers()):
            segment = Segment(searcher, leaf, self._statistics)
            within = segment.docs(self._flt) if self._flt is not None else None
            deleted = segment.deleted
            verbatim: list[set[int]] = []
            holders: list[set[int]] = []
            keywords: list[set[int]] = []
            scored: dict[int, float] | None = None
            unscored: set[int] = set()
            for concept in plan.concepts:
                if self._n == 1:  # every article that holds the word is chosen: score them now
                    scored, unscored, written = self._first_scores(segment, concept.verbatim, within)
                else:  # which articles, not yet how well: the chosen ones are scored in _keep
                    written = segment.docs(concept.verbatim, within) - deleted
                tagged = segment.docs(concept.keywords, within) - deleted if concept.keywords is not None else set()
                near = segment.docs(concept.near, within) - deleted if concept.near is not None else set()
                verbatim.append(written)
                keywords.append(tagged)
                holders.append(written | near | tagged)
            exact: set[int] | None = None
            for unit in plan.units:
                # A term as typed (or a synonym of it), or carried whole as a tag, holds all its words.
                if unit.verbatim is None:
                    typed = verbatim[unit.concepts[0]]
                else:
                    typed = segment.docs(unit.verbatim, within) - deleted
                exact = typed if exact is None else exact & typed
                tagged = segment.docs(unit.keywords, within) - deleted if unit.keywords is not None else set()
                for i in unit.concepts:
                    if typed is not verbatim[i]:  # (the holders have their verbatim articles)
                        holders[i] |= typed
                    holders[i] |= tagged
                    keywords[i] |= tagged
            for i, docs in enumerate(holders):
                counts[i] += len(docs) if self._flt is None else self._count_everywhere(segment, i)
            part = _Part(segment, base, number, within, verbatim, holders, exact or set(), keywords, scored)
            part.unscored = unscored
            self._parts.append(part)
        documents = max(1, self._statistics.doc_count())
        counts = [self._statistics.total(("holders", self._signature, i), lambda n=n: n) for i, n in enumerate(counts)]  # type: ignore[misc]
        self._idf = [math.log(1 + (documents - n + 0.5) / (n + 0.5)) for n in counts]

    def _first_scores(
        self, segment: Segment, q: Any, within: set[int] | None
    ) -> tuple[dict[int, float], DocSet, DocSet]:
        """The index's scores of the articles of a segment that hold the one word of the
        query, the holders left unscored, and all the holders.  Those left unscored are those whose score cannot reach the best
        ``rerank_depth`` of the matches seen so far (then only the best are read again
        from their text, and the rest is scored if a later page asks for it).

        Only for the order by relevance (equal scores are ordered by the id keys, so
        which of them are scored first does not matter).  A word in many
        articles is matched and scored as arrays (:meth:`_first_scores_of_many`)."""
        depth = self._config.rerank_depth
        # (every_word_first asks each match whether it holds every word: sets answer that fastest)
        found_many = segment.holders_of_many(q) if within is None and not self._config.every_word_first else None
        many = _Docs(found_many) if found_many is not None else None
        if self._sort in ("-date", "date"):  # scored when a page shows them (see _dated_page)
            members: DocSet = many if many is not None else segment.docs(q, within) - segment.deleted
            return {}, members, members
        if many is not None:
            found = self._first_scores_of_many(segment, q, many)
            if found is not None:
                return found
        if self._sort == "relevance" and not self._config.every_word_first:
            members = segment.docs(q, within) - segment.deleted
            split = segment.essential(q, members) if len(members) > 2 * depth else None
            if split is not None and len(split[0]) * 2 < len(members):
                candidates, ceiling = split
                scores = segment.scores(q, candidates)
                best = self._with_best(scores.values())
                if len(best) == depth and best[0] > ceiling * (1 + 1e-9) + 1e-12:
                    self._best = best
                    return scores, members - scores.keys(), members
        scores = segment.scores(q, within)
        for docnum in segment.deleted.intersection(scores):
            del scores[docnum]
        if self._sort == "relevance":
            self._best = self._with_best(scores.values())
        return scores, set(), set(scores)

    def _first_scores_of_many(
        self, segment: Segment, q: Any, members: _Docs
    ) -> tuple[dict[int, float], DocSet, DocSet] | None:
        """:meth:`_first_scores` of a word in many articles (no filter): the same sets and
        scores, in the same order (document order), from numpy arrays."""
        depth = self._config.rerank_depth
        docs = members.array
        if self._sort == "relevance" and len(docs) > 2 * depth:
            split = segment.essential_mask(q, docs)
            if split is not None and int(split[0].sum()) * 2 < len(docs):
                held, ceiling = split
                candidates = docs[held]
                found = segment.array_scores(q, candidates)
                if found is None:
                    return None
                values = found[1]
                best = self._with_best(_largest(values, depth))
                if len(best) == depth and best[0] > ceiling * (1 + 1e-9) + 1e-12:
                    self._best = best
                    return dict(zip(candidates.tolist(), values.tolist())), _Docs(docs[~held]), members
        found = segment.array_scores(q, docs)
        if found is None:
            return None
        values = found[1]
        if self._sort == "relevance":
            self._best = self._with_best(_largest(values, depth))
        return dict(zip(docs.tolist(), values.tolist())), set(), members

    def _with_best(self, scores: Iterable[float]) -> list[float]:
        """The best ``rerank_depth`` scores of earlier segments' matches and of ``scores``
        (another segment's), as a heap: its first is what the head asks at least."""
        depth = self._config.rerank_depth
        best = heapq.nlargest(depth, [*self._best, *heapq.nlargest(depth, scores)])
        heapq.heapify(best)
        return best

    def _complete(self) -> None:
        """Score the matches left unscored (a page beyond the head asks for every score)."""
        q = self._plan.concepts[0].verbatim
        for part in self._parts:
            if part.unscored:
                unscored = part.unscored
                found = part.segment.scores_of(q, unscored.array) if isinstance(unscored, _Docs) else None
                part.matched.update(found if found is not None else part.segment.scores(q, unscored))
                part.unscored = set()

    def _count_everywhere(self, segment: Segment, i: int) -> int:
        """How many articles of a segment hold word ``i``, whatever the filter (a word's
        weight is the archive's, not the selection's)."""
        concept = self._plan.concepts[i]
        docs = segment.docs(concept.verbatim)
        for extra in (concept.near, concept.keywords):
            if extra is not None:
                docs |= segment.docs(extra)
        return len(docs - segment.deleted)

    def _choose(self) -> None:
        """Keep the articles that hold enough words: ``min_match`` of them, then, while that
        leaves fewer than ``fill``, with every word held in part, then one word fewer at a time."""
        cfg, n = self._config, self._n
        required = n if n <= 2 else max(2, int(cfg.min_match * n))
        every_part = False
        while True:
            self._total = total = sum(self._keep(part, required, every_part) for part in self._parts)
            if every_part not in self._subword_choice:
                self._subword_choice[every_part] = self._subwords(every_part)
            stage = ("chosen", self._signature, required, every_part, repr(self._subword_choice[every_part]))
            if self._statistics.total(stage, lambda: total) >= cfg.fill:
                return
            if not every_part and any(c.subwords for c in self._plan.concepts):
                every_part = True
            elif required > 1:
                required -= 1
            else:
                return

    def _keep(self, part: _Part, required: int, every_part: bool) -> int:
        """Choose one segment's matches (set operations where they can decide) and give
        each its first-phase score."""
        part.partial = self._partial(part, every_part)
        held = [h | p if p else h for h, p in zip(part.holders, part.partial)]
        if len(held) == 1:
            chosen = held[0]  # not changed below (a copy costs a pass over a broad word's matches)
        elif required >= self._n:
            chosen = set.intersection(*held)
        elif required <= 1:
            chosen = set.union(*held)
        else:
            counts: dict[int, int] = {}
            for docs in held:
                for docnum in docs:
                    counts[docnum] = counts.get(docnum, 0) + 1
            chosen = {docnum for docnum, count in counts.items() if count >= required}
        if not (len(held) == 1 and part.exact is part.verbatim[0]) and not part.exact <= chosen:
            chosen = chosen | part.exact
        scores: dict[int, float]
        if part.scored is not None:  # one word: its first phase is kept as s for w·(1 + s) (see _first_phase)
            scores = dict(part.scored)
            in_full, in_part = part.holders[0], part.partial[0]
            # The verbatim articles are scored (or left unscored): the others of the chosen get a constant.
            for docnum in chosen - part.verbatim[0] if len(chosen) > len(part.verbatim[0]) else ():
                scores[docnum] = 0.0 if docnum in in_full else _PART - 1.0 if docnum in in_part else -1.0
            part.matched = scores
            return len(scores) + len(part.unscored)
        scores = {}
        for i, (full, weight) in enumerate(zip(part.holders, self._idf)):
            # The index's scores (words in the title and body, BM25) of the chosen articles only.
            verbatim = part.segment.scores(self._plan.concepts[i].verbatim, chosen & part.verbatim[i])
            if not scores:  # the first word: one C-level pass
                scores = {docnum: weight * (1.0 + score) for docnum, score in verbatim.items()}
            else:
                for docnum, score in verbatim.items():
                    scores[docnum] = scores.get(docnum, 0.0) + weight * (1.0 + score)
            for docnum in (chosen & full) - verbatim.keys():  # held through its parts or tags
                scores[docnum] = scores.get(docnum, 0.0) + weight
            for docnum in chosen & part.partial[i]:
                scores[docnum] = scores.get(docnum, 0.0) + weight * _PART
        for docnum in chosen - scores.keys():
            scores[docnum] = 0.0
        part.matched = scores
        return len(scores)

    def _subwords(self, every_part: bool) -> list[list[Any]]:
        """Per word, the queries of the dictionary words inside it that count: those nearly
        as rare as the word itself (``subword_idf`` of its idf), or all of them."""
        if every_part:
            return [[q for _, q in c.subwords] for c in self._plan.concepts]
        documents = max(1, self._statistics.doc_count())
        kept: list[list[Any]] = []
        for i, concept in enumerate(self._plan.concepts):
            chosen = []
            for text, q in concept.subwords:
                df = max(self._statistics.doc_frequency(BODY, text), self._statistics.doc_frequency(TITLE, text))
                if math.log(1 + (documents - df + 0.5) / (df + 0.5)) >= self._config.subword_idf * self._idf[i]:
                    chosen.append(q)
            kept.append(chosen)
        return kept

    def _partial(self, part: _Part, every_part: bool) -> list[set[int]]:
        """Per word, the articles of a segment that hold it only in part."""
        if every_part not in self._subword_choice:
            self._subword_choice[every_part] = self._subwords(every_part)
        within = part.segment.docs(self._flt) if self._flt is not None and any(self._subword_choice[every_part]) else None
        found: list[set[int]] = []
        for i, queries in enumerate(self._subword_choice[every_part]):
            docs: set[int] = set()
            for q in queries:
                docs |= part.segment.docs(q, within)
            found.append(docs - part.holders[i] - part.segment.deleted)
        return found

    # ------------------------------------------------------------------ ranking

    def _items(self) -> Iterable[Item]:
        return ((part, docnum, score) for part in self._parts for docnum, score in part.matched.items())

    def _rank_head(self) -> list[Item]:
        """The best ``rerank_depth`` matches (by the first phase), ordered by their text
        (for the orders by relevance; none for the orders by date)."""
        if self._sort in ("-date", "date"):
            return []
        depth = self._config.rerank_depth
        if self._config.every_word_first:
            self._complete()
            head = heapq.nlargest(depth, self._items(), key=self._key)
        else:  # the best of each segment by score alone (C-level), then the best of those
            best = [(part, docnum, score) for part in self._parts for docnum, score in _best_of(part.matched, depth)]
            head = heapq.nlargest(depth, best, key=self._key)
        if self._read is not None and self._read < len(head):  # (nlargest: best first)
            head, self._pending = head[: self._read], head[self._read :]
        self._in_head = {(part.number, docnum) for part, docnum, _ in head}
        head = [(part, docnum, self._score(part, docnum)) for part, docnum, _ in head]
        head.sort(key=self._key, reverse=True)
        return head

    def _order(self, end: int | None) -> list[Item]:
        """The matches in order, at least the first ``end`` of them (all when None)."""
        if self._sort == "relevance":
            return self._head if end is not None and end <= len(self._head) else self._head + self._rest()
        if self._sort == "recent":
            self._complete()
            tail = ((part, docnum, self._first_phase(score)) for part, docnum, score in self._outside_head())
            items, key = [*self._head, *tail], self._recent_key()
            return sorted(items, key=key, reverse=True) if end is None else heapq.nlargest(end, items, key=key)
        # By date: tuples that compare by themselves (no key function: C-level comparisons).
        if end is not None and any(part.unscored for part in self._parts):
            best = heapq.nlargest(end, self._dated_page(end))
            return [(part, docnum, score) for _, score, _, part, docnum in best]
        self._complete()
        keyed = self._dated()
        best = sorted(keyed, reverse=True) if end is None else heapq.nlargest(end, keyed)
        return [(part, docnum, score) for _, score, _, part, docnum in best]

    def _first_phase(self, score: float) -> float:
        """The first-phase score of a match: a one-word query keeps the index's score s
        of its articles as they come (no pass to weigh them), and stands for w·(1 + s)."""
        return self._idf[0] * (1.0 + score) if self._n == 1 else score

    def _outside_head(self) -> Iterable[Item]:
        return (item for item in self._items() if (item[0].number, item[1]) not in self._in_head)

    def _rest(self) -> list[Item]:
        """The matches after the head, by their first-phase score (made when a page needs them)."""
        if self._tail is None:
            self._complete()
            self._tail = sorted(self._outside_head(), key=self._key, reverse=True)
        return self._tail

    def _key(self, item: Item) -> tuple[bool, float, int]:
        part, docnum, score = item
        first = self._config.every_word_first and all(docnum in docs for docs in part.holders)
        return (first, score, -part.keys[docnum])

    def _dated(self) -> Iterator[tuple[int, float, int, _Part, int]]:
        """(date key, score, -id key, part, docnum) of every match: larger first
        (newest first, or oldest first with undated articles last)."""
        newest = self._sort == "-date"
        for part in self._parts:
            dates, keys = part.segment.dates(), part.keys
            if newest:
                yield from ((dates[d], s, -keys[d], part, d) for d, s in part.matched.items())
            else:
                yield from (((-dates[d] if dates[d] else -_UNDATED_LAST), s, -keys[d], part, d) for d, s in part.matched.items())

    def _dated_page(self, end: int) -> list[tuple[int, float, int, _Part, int]]:
        """Like :meth:`_dated`, for the matches that the first ``end`` by date are among:
        those dated at least as late (or early) as the ``end``-th, ties included, which
        are then scored (a one-word query's matches are scored only when shown)."""
        newest = self._sort == "-date"
        chosen: list[tuple[_Part, Collection[int]]]
        if any(isinstance(part.unscored, _Docs) for part in self._parts):
            chosen = self._dated_candidates(end)
        else:
            found = []
            for part in self._parts:
                docs = part.matches()
                if docs:
                    found.append((part, docs, part.segment.dates() if newest else _oldest_first(part.segment)))
            best = heapq.nlargest(end, chain.from_iterable(map(keys.__getitem__, docs) for _, docs, keys in found))
            chosen = []
            for part, docs, keys in found:
                if len(best) == end:
                    docs = list(compress(docs, map(best[-1].__le__, map(keys.__getitem__, docs))))
                chosen.append((part, docs))
        out: list[tuple[int, float, int, _Part, int]] = []
        for part, docs in chosen:
            keys = part.segment.dates() if newest else _oldest_first(part.segment)
            missing = part.unscored.intersection(docs)
            if missing:
                part.matched.update(part.segment.scores(self._plan.concepts[0].verbatim, missing))
                part.unscored = part.unscored - missing  # (a new set: it may be the holders)
            ties, matched = part.keys, part.matched
            out.extend((keys[d], matched[d], -ties[d], part, d) for d in docs)
        return out

    def _dated_candidates(self, end: int) -> list[tuple[_Part, Collection[int]]]:
        """The matches of each segment dated at least as late (or early) as the ``end``-th
        of all, as :meth:`_dated_page` chooses them, found with arrays (a word in many
        articles): dates compared as int64, undated articles below every date."""
        import numpy as np

        newest = self._sort == "-date"
        found = []
        for part in self._parts:
            if not part.matched and not part.unscored:
                continue
            docs = _sorted_array(part.matches()) if not isinstance(part.unscored, _Docs) else (
                _merged(part.unscored.array, _sorted_array(part.matched)) if part.matched else part.unscored.array
            )
            dates = part.segment.date_array()[docs]
            keys = dates if newest else np.where(dates != 0, -dates, np.iinfo(np.int64).min)
            found.append((part, docs, keys))
        if sum(len(docs) for _, docs, _ in found) >= end:
            every = np.concatenate([keys for _, _, keys in found])
            least = every[np.argpartition(every, len(every) - end)[len(every) - end]]
            return [(part, docs[keys >= least].tolist()) for part, docs, keys in found]
        return [(part, docs.tolist()) for part, docs, _ in found]

    def _recent_key(self) -> Callable[[Item], tuple[float, int]]:
        """Relevance halved for every ``half_life_days`` of age (the score the rank was
        made with: read from the text for the best, from the index for the others)."""
        rate = math.log(2) / (self._half_life_days * 86_400 * 1_000_000)

        def key(item: Item) -> tuple[float, int]:
            part, docnum, score = item
            return ((math.log(score) if score > 0 else -math.inf) + part.segment.dates()[docnum] * rate, -part.keys[docnum])

        return key

    def _score(self, part: _Part, docnum: int) -> float:
        """The article's score, read from its text (see the module docstring)."""
        cfg, plan = self._config, self._plan
        reader = part.segment.reader
        title = column_reader(reader, NTITLE)[docnum].decode("utf-8")
        body = column_reader(reader, NBODY)[docnum].decode("utf-8")
        norms = (self._norm(part.segment, TITLE, docnum), self._norm(part.segment, BODY, docnum))
        full = part.bits(docnum, part.holders)
        in_part = part.bits(docnum, part.partial)
        total = 0.0
        held_share = 0.0
        words: dict[str, Any] = {}
        positions: list[list[list[tuple[int, int]]]] = [[], []]  # per field, per word held: (start, end)
        for i, concept in enumerate(plan.concepts):
            whole = bool(full >> i & 1)
            if not whole and not in_part >> i & 1:
                continue
            if whole:
                share = 1.0
                found = [_occurrences(concept.patterns, text) for text in (title, body)]
            else:  # counted by the share of the word the parts it holds cover (网络 is half of 网络安全)
                each = [[_occurrences(patterns, text) for text in (title, body)] for patterns in concept.subword_patterns]
                covered: set[int] = set()
                for (sub, _), title_body in zip(concept.subwords, each):
                    if any(title_body):
                        at = concept.text.find(sub)
                        covered.update(range(at, at + len(sub)))
                share = len(covered) / len(concept.text)
                found = [sorted(set().union(*(title_body[k] for title_body in each))) for k in (0, 1)]
            if whole and not found[0] and not found[1]:  # held through its term as typed, by a synonym
                typed = [p for unit in plan.units if i in unit.concepts for p in unit.patterns]
                found = [_occurrences(typed, text) for text in (title, body)]
            inside = self._inside(part, docnum, concept.text, found, (title, body)) if whole else 0.0
            tagged = docnum in part.keywords[i]
            weight = (1.0 - inside * (1.0 - cfg.inside_word)) * (1.0 if whole else _PART * share)
            # BM25 per field, each saturating on its own, then weighed (a word in the title
            # counts on top of the body, however often the body repeats it).
            fields = cfg.title_boost * _saturated(len(found[0]) * weight, norms[0]) + _saturated(len(found[1]) * weight, norms[1])
            score = self._idf[i] * (fields + (cfg.keyword_boost if tagged else 0.0))
            total += score
            held_share += 1.0 if whole else share
            for k in (0, 1):
                if found[k]:
                    positions[k].append(found[k][:_MAX_POSITIONS])
            words[concept.text] = {
                "held": "full" if whole else "part", "title": len(found[0]), "body": len(found[1]),
                "tag": tagged, "inside_words": round(inside, 3), "score": round(score, 4),
            }
        n = self._n
        # How close together the words it holds stand (a word missing is the coverage's business).
        held_words = len(words)
        proximity = 1.0 if n == 1 else max(_closeness(found, held_words, cfg.proximity_chars) for found in positions) if held_words > 1 else 0.0
        exact = docnum in part.exact
        coverage = held_share / n
        final = total * coverage * (1.0 + cfg.proximity * proximity) * (1.0 + (cfg.exact_bonus if exact else 0.0))
        self._why[(part.number, docnum)] = {
            "score": round(final, 4),
            "every_word": full == self._all,
            "coverage": round(coverage, 3),
            "proximity": round(proximity, 3),
            "exact": exact,
            "words": words,
        }
        return final

    def _norm(self, segment: Segment, field: str, docnum: int) -> float:
        """BM25's length normalisation of one article's field: 1 at the index's average length."""
        b = self._config.length_norm
        average = self._averages.get(field)
        if average is None:
            average = self._averages[field] = self._statistics.avg_field_length(field) or 1.0
        return (1.0 - b) + b * length_of(segment.lengths(field)[docnum]) / average

    def _inside(
        self, part: _Part, docnum: int, word: str, found: list[list[tuple[int, int]]], texts: tuple[str, str]
    ) -> float:
        """The share of a word's occurrences that stand inside a longer word: where a
        dictionary word straddles them (北京大学|生命 around 大学生), unless the article's
        own segmentation (its word postings) has the word whole as often."""
        checked = inside = 0
        for k in (0, 1):
            for start, end in found[k]:
                if checked == _CHECKED:
                    break
                checked += 1
                inside += _straddled(texts[k], start, end, self._is_word)
        if not inside:
            return 0.0
        share = inside / checked
        occurrences = len(found[0]) + len(found[1])
        whole = 0.0
        for fieldname in (TITLE, BODY):
            key = (part.number, fieldname, word)
            if key not in self._postings:  # decoded once per search, not once per article
                self._postings[key] = part.segment.postings(fieldname, word)
            postings = self._postings[key]
            if postings is not None:
                ids, weights = postings
                at = _position(ids, docnum)
                if at is not None:
                    whole += 1.0 if weights is None else weights[at]
        return min(share, max(0.0, 1.0 - whole / occurrences)) if occurrences else share


DocSet = Any  # a set of document numbers: a set, or for a word in many articles a _Docs


class _Docs(Set[int]):
    """A segment's document numbers held as a sorted numpy array, used as a frozen set:
    a set of the 80,000 articles that hold a common character costs milliseconds to
    build, which a page of the best of them never needs."""

    __slots__ = ("array",)

    def __init__(self, docs: Any) -> None:
        self.array = docs  # sorted, without repeats (int64)

    def __len__(self) -> int:
        return len(self.array)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return self.array if dtype is None else self.array.astype(dtype)

    def __iter__(self) -> Iterator[int]:
        return iter(self.array.tolist())

    def __contains__(self, docnum: object) -> bool:
        import numpy as np

        docs = self.array
        at = int(np.searchsorted(docs, docnum))  # type: ignore[call-overload]
        return at < len(docs) and int(docs[at]) == docnum

    def intersection(self, other: Iterable[int]) -> set[int]:
        found = _sorted_array(other)
        return set(found[self._holds(found)].tolist())

    def __and__(self, other: Set[Any]) -> _Docs:
        found = _sorted_array(other)
        return _Docs(found[self._holds(found)])

    __rand__ = __and__

    def __or__(self, other: Set[Any]) -> _Docs:
        if not other:
            return self
        found = _sorted_array(other)
        return _Docs(_merged(self.array, found[~self._holds(found)]))

    __ror__ = __or__

    def __sub__(self, other: Set[Any]) -> _Docs:
        import numpy as np

        if not other:
            return self
        found = _sorted_array(other)
        at = np.searchsorted(self.array, found)
        keep = np.ones(len(self.array) + 1, dtype=bool)
        keep[at[self._holds(found)]] = False
        return _Docs(self.array[keep[:-1]])

    def __rsub__(self, other: Set[Any]) -> _Docs:
        found = _sorted_array(other)
        return _Docs(found[~self._holds(found)])

    def _holds(self, docs: Any) -> Any:
        """Which of ``docs`` (an array) are in this set, as a boolean array."""
        import numpy as np

        if not len(self.array):
            return np.zeros(len(docs), dtype=bool)
        at = np.minimum(np.searchsorted(self.array, docs), len(self.array) - 1)
        return self.array[at] == docs


def _count_in(docs: DocSet, among: Collection[int]) -> int:
    """How many of ``among`` are in ``docs``."""
    if isinstance(docs, _Docs) and among:
        import numpy as np

        return int(docs._holds(np.fromiter(among, dtype=np.int64, count=len(among))).sum())  # noqa: SLF001
    return len(docs.intersection(among))


def _merged(first: Any, second: Any) -> Any:
    """Two sorted arrays of document numbers that share none, as one sorted array."""
    import numpy as np

    if not len(second):
        return first
    found = np.concatenate((first, second))
    found.sort(kind="stable")  # (a merge of two sorted runs)
    return found


def _sorted_array(docs: Iterable[int]) -> Any:
    """Document numbers (no repeats) as a sorted int64 array."""
    import numpy as np

    if isinstance(docs, _Docs):
        return docs.array
    found = np.asarray(docs, dtype=np.int64) if isinstance(docs, array) else np.fromiter(docs, dtype=np.int64)
    found.sort()
    return found


Placed = tuple[int, Candidate, float, bool]  # (shard, candidate, score shown, in the head)


def merge_candidates(lists: list[list[Candidate]], *, sort: str, depth: int, end: int | None, half_life_days: float) -> list[Placed]:
    """Several shards' :meth:`RelaxedSearch.candidates` in the order that one index of all
    their articles gives (:meth:`RelaxedSearch._order`), up to ``end``: the head is the
    best ``depth`` of all by the first phase, ordered by the scores read from the text."""
    every = [(shard, c) for shard, found in enumerate(lists) for c in found]
    if sort in ("-date", "date"):
        every.sort(key=lambda item: item[1].key, reverse=True)
        return [(shard, c, c.score, False) for shard, c in every[:end]]
    # Each shard gives at least its own best ``depth``; those of the archive must have
    # been read (see RelaxedSearch.read_first).
    head = heapq.nlargest(depth, every, key=lambda item: item[1].key)
    if any(c.head is None for _shard, c in head):
        raise ValueError("merge_candidates: a match of the head was not read")
    in_head = {(shard, c.ref) for shard, c in head}
    rest = [(shard, c) for shard, c in every if (shard, c.ref) not in in_head]
    if sort == "relevance":
        head.sort(key=lambda item: (item[1].key[0], item[1].head, item[1].key[2]), reverse=True)
        rest.sort(key=lambda item: item[1].key, reverse=True)
        placed = [(shard, c, float(c.head), True) for shard, c in head]  # type: ignore[arg-type]
        return (placed + [(shard, c, c.score, False) for shard, c in rest])[:end]
    rate = math.log(2) / (half_life_days * 86_400 * 1_000_000)
    items = [(shard, c, float(c.head), True) for shard, c in head] + [(shard, c, c.score, False) for shard, c in rest]  # type: ignore[arg-type]

    def recent(item: Placed) -> tuple[float, int]:
        score, c = item[2], item[1]
        return ((math.log(score) if score > 0 else -math.inf) + c.date * rate, -c.tie)

    items.sort(key=recent, reverse=True)
    return items[:end]


def _signature(plan: CompiledPlan, flt: Any) -> str:
    """A digest of what a query's counts are made of: the same on every shard that runs it."""
    return hashlib.blake2b(repr((plan, flt)).encode("utf-8"), digest_size=12).hexdigest()


def _best_of(scores: dict[int, float], n: int) -> list[tuple[int, float]]:
    """The ``n`` best of a segment's scores, and any others equal to the ``n``-th (which
    of them comes first is for the id keys to decide)."""
    best = heapq.nlargest(n + 1, scores.items(), key=itemgetter(1))
    if len(best) <= n or best[n][1] < best[n - 1][1]:
        return best[:n]
    least = best[n - 1][1]
    return [(docnum, score) for docnum, score in scores.items() if score >= least]


def _largest(values: Any, n: int) -> list[float]:
    """The ``n`` largest of an array of floats (ties included as often as they occur), in no order."""
    import numpy as np

    if len(values) <= n:
        return values.tolist()  # type: ignore[no-any-return]
    return values[np.argpartition(values, len(values) - n)[len(values) - n :]].tolist()  # type: ignore[no-any-return]


def _oldest_first(segment: Segment) -> list[int]:
    """Each document's key for the order oldest first: larger for older, undated last."""
    cache = reader_cache(segment.reader)
    found: list[int] | None = cache.get("oldest_first")
    if found is None:
        found = cache["oldest_first"] = [-v if v else -_UNDATED_LAST for v in segment.dates()]
    return found


def _saturated(tf: float, norm: float) -> float:
    """BM25's term-frequency part: 0 for no occurrence, rising to K1 + 1 with many."""
    return tf * (_K1 + 1) / (tf + _K1 * norm) if tf else 0.0


def _position(ids: Any, docnum: int) -> int | None:
    at = bisect_left(ids, docnum)
    return at if at < len(ids) and ids[at] == docnum else None


def _occurrences(patterns: Iterable[re.Pattern[str]], text: str) -> list[tuple[int, int]]:
    """(start, end) of every match of any pattern in ``text``, in order."""
    if not text:
        return []
    return sorted({m.span() for pattern in patterns for m in pattern.finditer(text) if m.end() > m.start()})


def _straddled(text: str, start: int, end: int, is_word: Callable[[str], bool]) -> bool:
    """Whether a dictionary word runs across the start or the end of ``text[start:end]``."""
    for i in range(max(0, start - 3), start):
        for j in range(start + 1, min(end, i + 5) + 1):
            if is_word(text[i:j]):
                return True
    for j in range(end + 1, min(len(text), end + 3) + 1):
        for i in range(max(start, j - 5), end):
            if is_word(text[i:j]):
                return True
    return False


def _closeness(occurrences: list[list[tuple[int, int]]], asked: int, scale: float) -> float:
    """How close together the query's words stand in one field: 1 when they are
    adjacent, falling with the characters between them in the shortest stretch of
    text that holds one occurrence of each; 0 when the field lacks some of them."""
    if len(occurrences) < asked:
        return 0.0
    events = sorted((start, end, k) for k, found in enumerate(occurrences) for start, end in found)
    last: dict[int, tuple[int, int]] = {}
    best = math.inf
    for start, end, k in events:
        last[k] = (start, end)
        if len(last) == asked:
            first = min(s for s, _ in last.values())
            covered = sum(e - s for s, e in last.values())
            best = min(best, max(0, max(e for _, e in last.values()) - first - covered))
    return 1.0 / (1.0 + best / scale) if best != math.inf else 0.0
