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
word (大学生 in 北京大学生命) counts ``inside_word``, a word held in part half.
The sum is multiplied by the share of the query's words the article holds, a
proximity factor (the words it holds close together in one field,
``proximity``) and an exactness factor (every term as typed, ``exact_bonus``).
With ``every_word_first``, articles holding every word in full come before all
others whatever their score (Meilisearch's first rule).

Finding and counting the matches reads posting lists only; the text is read for
the best ``rerank_depth`` of them, whose order it decides.  Every page is cut
from the same order, so pages never overlap.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .compiler import CompiledPlan
from .config import RankingConfig
from .execute import Match, Scores, Segment, length_of
from .fields import BODY, NBODY, NTITLE, TITLE
from .readers import column_reader, term_postings

__all__ = ["RelaxedSearch"]

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
    verbatim: list[Scores]
    full: dict[int, int]  # docnum -> bits of the words it holds in full
    exact: set[int]
    partial: dict[int, int] = field(default_factory=dict)  # docnum -> bits of the words it holds in part
    partials: dict[str, dict[int, int]] = field(default_factory=dict)  # the same, per choice of sub-words
    keywords: list[set[int]] = field(default_factory=list)
    matched: dict[int, float] = field(default_factory=dict)  # docnum -> first-phase score


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
    ) -> None:
        self._searcher = searcher
        self._plan = plan
        self._flt = flt
        self._config = config
        self._sort = sort
        self._half_life_days = half_life_days
        self._is_word = is_word
        self._n = len(plan.concepts)
        self._all = (1 << self._n) - 1
        self._order: list[Item] | None = None
        self._parts: list[_Part] = []
        self._idf: list[float] = []
        self._why: dict[tuple[int, int], dict[str, Any]] = {}
        self._subword_choice: dict[str, list[list[Any]]] = {}

    # ------------------------------------------------------------------ pages

    @property
    def exact_total(self) -> int:
        """How many of the matches hold every term as typed."""
        self._ranked_all()
        return sum(len(part.exact.intersection(part.matched)) for part in self._parts)

    def ranked(
        self, limit: int | None, offset: int, each_segment: Callable[[Any, Scores], None] | None = None
    ) -> tuple[int, list[Match]]:
        """(number of matches, matches ``offset`` to ``offset + limit``)."""
        order = self._ranked_all()
        if each_segment is not None:
            for part in self._parts:
                if part.matched:
                    each_segment(part.segment.reader, part.matched)
        page = order[offset:] if limit is None else order[offset : offset + limit]
        return len(order), [
            Match(score, part.segment.reader, docnum, docnum not in part.exact, self._why.get((part.number, docnum)))
            for part, docnum, score in page
        ]

    def _ranked_all(self) -> list[Item]:
        if self._order is None:
            self._collect()
            self._choose()
            self._order = self._rank()
        return self._order

    # ------------------------------------------------------------------ matching

    def _collect(self) -> None:
        """Per segment, the articles that hold each word in full and each term as typed."""
        plan, searcher = self._plan, self._searcher
        counts = [0] * self._n
        for number, (leaf, base) in enumerate(searcher.leaf_searchers()):
            segment = Segment(searcher, leaf)
            within = segment.docs(self._flt) if self._flt is not None else None
            deleted = segment.deleted
            verbatim: list[Scores] = []
            holders: list[set[int]] = []
            keywords: list[set[int]] = []
            for concept in plan.concepts:
                scores = segment.scores(concept.verbatim, within)
                tagged = segment.docs(concept.keywords, within) if concept.keywords is not None else set()
                near = segment.docs(concept.near, within) if concept.near is not None else set()
                for docnum in deleted.intersection(scores) if deleted else ():
                    del scores[docnum]
                verbatim.append(scores)
                keywords.append(tagged - deleted)
                holders.append((scores.keys() | near | tagged) - deleted)
            exact: set[int] | None = None
            for unit in plan.units:
                # A term as typed (or a synonym of it), or carried whole as a tag, holds all its words.
                if unit.verbatim is None:
                    typed = set(verbatim[unit.concepts[0]])
                else:
                    typed = segment.docs(unit.verbatim, within) - deleted
                exact = typed if exact is None else exact & typed
                tagged = segment.docs(unit.keywords, within) - deleted if unit.keywords is not None else set()
                for i in unit.concepts:
                    holders[i] |= typed | tagged
                    keywords[i] |= tagged
            full: dict[int, int] = {}
            for i, docs in enumerate(holders):
                bit = 1 << i
                for docnum in docs:
                    full[docnum] = full.get(docnum, 0) | bit
                counts[i] += len(docs) if self._flt is None else self._count_everywhere(segment, i)
            self._parts.append(_Part(segment, base, number, verbatim, full, exact or set(), keywords=keywords))
        documents = max(1, searcher.doc_count())
        self._idf = [math.log(1 + (documents - n + 0.5) / (n + 0.5)) for n in counts]

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
            found = sum(self._keep(part, required, every_part) for part in self._parts)
            if found >= cfg.fill:
                return
            if not every_part and any(c.subwords for c in self._plan.concepts):
                every_part = True
            elif required > 1:
                required -= 1
            else:
                return

    def _keep(self, part: _Part, required: int, every_part: bool) -> int:
        held_in_part = self._partial(part, every_part)
        part.partial = held_in_part
        part.matched = {}
        for docnum in part.full.keys() | held_in_part.keys():
            full = part.full.get(docnum, 0)
            held = full | held_in_part.get(docnum, 0)
            if docnum in part.exact or held.bit_count() >= required:
                part.matched[docnum] = self._first_score(part, docnum, full, held)
        return len(part.matched)

    def _subwords(self, every_part: bool) -> list[list[Any]]:
        """Per word, the queries of the dictionary words inside it that count: those nearly
        as rare as the word itself (``subword_idf`` of its idf), or all of them."""
        if every_part:
            return [[q for _, q in c.subwords] for c in self._plan.concepts]
        documents = max(1, self._searcher.doc_count())
        kept: list[list[Any]] = []
        for i, concept in enumerate(self._plan.concepts):
            chosen = []
            for text, q in concept.subwords:
                df = max(self._searcher.doc_frequency(BODY, text), self._searcher.doc_frequency(TITLE, text))
                if math.log(1 + (documents - df + 0.5) / (df + 0.5)) >= self._config.subword_idf * self._idf[i]:
                    chosen.append(q)
            kept.append(chosen)
        return kept

    def _partial(self, part: _Part, every_part: bool) -> dict[int, int]:
        """docnum -> bits of the words the article holds only in part."""
        key = "every" if every_part else "rare"
        found = part.partials.get(key)
        if found is None:
            if key not in self._subword_choice:
                self._subword_choice[key] = self._subwords(every_part)
            within = part.segment.docs(self._flt) if self._flt is not None else None
            found = {}
            for i, queries in enumerate(self._subword_choice[key]):
                for q in queries:
                    for docnum in part.segment.docs(q, within) - part.segment.deleted:
                        if not part.full.get(docnum, 0) >> i & 1:
                            found[docnum] = found.get(docnum, 0) | 1 << i
            part.partials[key] = found
        return found

    def _first_score(self, part: _Part, docnum: int, full: int, held: int) -> float:
        """What orders the matches before any text is read: their words' idf, and their
        scores in the index (title and body words, BM25), for the words held in full."""
        idf, n = self._idf, self._n
        score = 0.0
        for i in range(n):
            if full >> i & 1:
                score += idf[i] * (1.0 + part.verbatim[i].get(docnum, 0.0))
            elif held >> i & 1:
                score += idf[i] * _PART
        return score

    # ------------------------------------------------------------------ ranking

    def _rank(self) -> list[Item]:
        everything = [(part, docnum, score) for part in self._parts for docnum, score in part.matched.items()]
        if self._sort in ("-date", "date"):
            return self._by_date(everything)
        everything.sort(key=self._key, reverse=True)
        depth = self._config.rerank_depth
        head = [(part, docnum, self._score(part, docnum)) for part, docnum, _ in everything[:depth]]
        head.sort(key=self._key, reverse=True)
        order = head + everything[depth:]
        return self._recent(order) if self._sort == "recent" else order

    def _key(self, item: Item) -> tuple[bool, float, int]:
        part, docnum, score = item
        first = self._config.every_word_first and part.full.get(docnum, 0) == self._all
        return (first, score, -(part.base + docnum))

    def _by_date(self, items: list[Item]) -> list[Item]:
        newest = self._sort == "-date"

        def key(item: Item) -> tuple[int, float, int]:
            part, docnum, score = item
            date = part.segment.dates()[docnum]
            if not newest:
                date = -date if date else -_UNDATED_LAST
            return (date, score, -(part.base + docnum))

        return sorted(items, key=key, reverse=True)

    def _recent(self, order: list[Item]) -> list[Item]:
        """Relevance halved for every ``half_life_days`` of age (the score the rank was
        made with: read from the text for the best, from the index for the others)."""
        rate = math.log(2) / (self._half_life_days * 86_400 * 1_000_000)

        def key(item: Item) -> tuple[float, int]:
            part, docnum, score = item
            return ((math.log(score) if score > 0 else -math.inf) + part.segment.dates()[docnum] * rate, -(part.base + docnum))

        return sorted(order, key=key, reverse=True)

    def _score(self, part: _Part, docnum: int) -> float:
        """The article's score, read from its text (see the module docstring)."""
        cfg, plan = self._config, self._plan
        reader = part.segment.reader
        title = column_reader(reader, NTITLE)[docnum].decode("utf-8")
        body = column_reader(reader, NBODY)[docnum].decode("utf-8")
        norms = (self._norm(part.segment, TITLE, docnum), self._norm(part.segment, BODY, docnum))
        full = part.full.get(docnum, 0)
        in_part = part.partial.get(docnum, 0)
        total = 0.0
        held_share = 0.0
        words: dict[str, Any] = {}
        positions: list[list[list[tuple[int, int]]]] = [[], []]  # per field, per word held: (start, end)
        for i, concept in enumerate(plan.concepts):
            whole = bool(full >> i & 1)
            if not whole and not in_part >> i & 1:
                continue
            found = [_occurrences(concept.patterns if whole else concept.subword_patterns, text) for text in (title, body)]
            if whole and not found[0] and not found[1]:  # held through its term as typed, by a synonym
                typed = [p for unit in plan.units if i in unit.concepts for p in unit.patterns]
                found = [_occurrences(typed, text) for text in (title, body)]
            inside = self._inside(part, docnum, concept.text, found, (title, body)) if whole else 0.0
            tagged = docnum in part.keywords[i]
            weight = (1.0 - inside * (1.0 - cfg.inside_word)) * (1.0 if whole else _PART)
            # BM25 per field, each saturating on its own, then weighed (a word in the title
            # counts on top of the body, however often the body repeats it).
            fields = cfg.title_boost * _saturated(len(found[0]) * weight, norms[0]) + _saturated(len(found[1]) * weight, norms[1])
            score = self._idf[i] * (fields + (cfg.keyword_boost if tagged else 0.0))
            total += score
            held_share += 1.0 if whole else _PART
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
        average = self._searcher.avg_field_length(field) or 1.0
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
            postings = term_postings(part.segment.reader, fieldname, word)
            if postings is not None:
                ids, weights = postings
                at = _position(ids, docnum)
                if at is not None:
                    whole += 1.0 if weights is None else weights[at]
        return min(share, max(0.0, 1.0 - whole / occurrences)) if occurrences else share


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
