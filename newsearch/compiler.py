"""A parsed query and a selection → the Whoosh queries that find them in one index.

Each string of the query becomes an exact match (:class:`~newsearch.matching.Contains`
over candidates from the match-unit index, or the unit terms alone where they
already decide), ranked by the index's own words in it; categories and tags
become the terms the index really holds for them (compared case- and
width-insensitively).  What compilation needs to know about an index is a
:class:`Vocabulary`; :class:`IndexVocabulary` answers from a searcher.

Modules that do not face the index test and build queries through the
helpers at the end (:func:`matches_nothing`, :func:`every_article`,
:func:`any_of_terms`) rather than with Whoosh's classes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import permutations
from typing import Any, Protocol

from whoosh import query as wq

from .analysis import PAIR_GAP, keyword_key, longest_words
from .fields import BODY, CATEGORIES, DATE, KEYWORD_FIELDS, KEYWORDS, NBODY, NTITLE, TAGS, TITLE, TUNITS, UNITS
from .matching import Contains
from .query import And, DateRange, Needle, Node, Not, ParsedQuery, Text
from .statistics import Statistics, local_statistics
from .request import Selection
from .synonyms import NO_SYNONYMS, Synonyms
from .understand import Plan

__all__ = [
    "CompiledConcept",
    "CompiledPlan",
    "CompiledUnit",
    "IndexVocabulary",
    "Vocabulary",
    "any_of_terms",
    "compile_filters",
    "compile_plan",
    "compile_query",
    "every_article",
    "keyword_key",
    "matches_everything",
    "matches_nothing",
    "selection_filter",
]


class Vocabulary(Protocol):
    """What query compilation needs to know about one index's terms."""

    def keywords(self, field: str, value: str) -> list[str]:
        """The indexed category/tag terms ``value`` stands for (case- and width-insensitively)."""

    def words(self, text: str) -> list[str]:
        """Words of the index's vocabulary found in normalized ``text``, for scoring."""


class IndexVocabulary:
    """The :class:`Vocabulary` of an index (a searcher's, or with ``statistics``, the
    whole archive's that a shard is part of)."""

    MAX_WORD = 8  # longest word looked up when segmenting a query string
    MAX_TEXT = 64  # query strings are segmented for scoring up to this length

    def __init__(self, searcher: Any, statistics: Statistics | None = None) -> None:
        self._statistics = statistics if statistics is not None else local_statistics(searcher)

    def keywords(self, field: str, value: str) -> list[str]:
        key = keyword_key(value)
        if field == KEYWORDS:  # chosen from normalized text, so stored as keyword_key gives them
            return [key] if self._statistics.has_term(field, key) else []
        return self._statistics.keywords(field, key)

    def has(self, word: str) -> bool:
        """Whether ``word`` is a term of the title or body field."""
        return self._statistics.has_word(word)

    def words(self, text: str) -> list[str]:
        """Greedy longest-first segmentation of ``text`` over the index's own words."""
        return longest_words(text[: self.MAX_TEXT], self.has, longest=self.MAX_WORD)


# At most this many distinct units of one string select candidates; any subset still
# gives every match (verification on the text makes the result exact).
_MAX_CANDIDATE_UNITS = 24


@dataclass(frozen=True)
class _Context:
    vocab: Vocabulary
    title_boost: float
    synonyms: Synonyms


def _needle_query(needle: Needle, field: str | None, ctx: _Context) -> wq.Query:
    # Pairs first (the more selective terms); a unit inside an indexed pair adds nothing.
    # A phrase's neighbouring units may be adjacent or apart: either pair term will do.
    pairs = sorted(needle.pairs)
    phrase_pairs = needle.phrase_pairs
    paired = set("".join(pairs)) | {c for a, b in phrase_pairs for c in (a, b)}
    wanted: list[str | tuple[str, str]] = [*sorted(needle.signed), *pairs, *phrase_pairs]
    wanted += [u for u in dict.fromkeys(needle.units) if u not in paired]
    wanted = wanted[:_MAX_CANDIDATE_UNITS]

    def candidates(field_name: str) -> wq.Query:
        terms = [
            wq.Term(field_name, w) if isinstance(w, str)
            else wq.Or([wq.Term(field_name, w[0] + w[1]), wq.Term(field_name, w[0] + PAIR_GAP + w[1])])
            for w in wanted
        ]
        return terms[0] if len(terms) == 1 else wq.And(terms)

    key = needle.literal if needle.literal is not None else "".join(needle.units)
    words = ctx.vocab.words(key)
    scoring: list[wq.Query] = []
    if needle.exact_by_units and field is None:
        match: wq.Query = candidates(UNITS)
        # Holding the string in the title is a term of its own: rank it like Contains would.
        scoring.append(wq.Term(TUNITS, wanted[0], boost=ctx.title_boost))
    elif needle.exact_by_units and field == TITLE:
        match = candidates(TUNITS)
    else:
        # A string that is an index word is confirmed by that word's postings.
        confirm: tuple[tuple[str, str, float], ...] = ()
        # (A phrase too: the word is its units with nothing between them.)
        if words == [key] and (needle.literal is not None or all(len(u) == 1 for u in needle.units)):
            confirm = {
                None: ((TITLE, key, ctx.title_boost), (BODY, key, 1.0)),
                TITLE: ((TITLE, key, 1.0),),
                BODY: ((BODY, key, 1.0),),
            }[field]
        units_field = TUNITS if field == TITLE else UNITS
        gapped = (units_field, "".join(needle.units), needle.gap_terms) if needle.gap_terms else None
        if field == TITLE:
            match = Contains(candidates(TUNITS), needle.pattern(), ((NTITLE, 1.0),), confirm=confirm, gapped=gapped)
        else:
            columns = {None: ((NTITLE, ctx.title_boost), (NBODY, 1.0)), BODY: ((NBODY, 1.0),)}
            match = Contains(candidates(UNITS), needle.pattern(), columns[field], confirm=confirm, gapped=gapped)
    for word in words:
        if field in (None, TITLE):
            scoring.append(wq.Term(TITLE, word, boost=ctx.title_boost if field is None else 1.0))
        if field in (None, BODY):
            scoring.append(wq.Term(BODY, word))
    if not scoring:
        return match
    return wq.AndMaybe(match, scoring[0] if len(scoring) == 1 else wq.Or(scoring))


def _text_query(node: Text, ctx: _Context) -> wq.Query:
    if node.field in KEYWORD_FIELDS:
        terms = ctx.vocab.keywords(node.field, node.text)
        if not terms:
            return wq.NullQuery
        subs = [wq.Term(node.field, t) for t in terms]
        return subs[0] if len(subs) == 1 else wq.Or(subs)
    needles = Needle.alternatives(node, ctx.synonyms)
    if not needles:
        return wq.NullQuery
    subs = [_needle_query(n, node.field, ctx) for n in needles]
    return subs[0] if len(subs) == 1 else wq.Or(subs)


def _compile(node: Node, ctx: _Context) -> wq.Query:
    if isinstance(node, Text):
        return _text_query(node, ctx)
    if isinstance(node, DateRange):
        return wq.DateRange(DATE, node.start, node.end)
    if isinstance(node, Not):
        return wq.Not(_compile(node.item, ctx))
    subs = [_compile(i, ctx) for i in node.items]
    if isinstance(node, And):
        positives = [s for s in subs if not isinstance(s, wq.Not)]
        if any(s is wq.NullQuery for s in positives):
            return wq.NullQuery
        negatives = [s for s in subs if isinstance(s, wq.Not)]
        if not positives:
            positives = [wq.Every()]
        return wq.And(positives + negatives) if len(positives) + len(negatives) > 1 else positives[0]
    kept = [s for s in subs if s is not wq.NullQuery]
    if not kept:
        return wq.NullQuery
    return kept[0] if len(kept) == 1 else wq.Or(kept)


def compile_query(
    parsed: ParsedQuery,
    *,
    vocab: Vocabulary,
    title_boost: float,
    synonyms: Synonyms = NO_SYNONYMS,
) -> wq.Query:
    """The Whoosh query for a parsed query (``Every`` for an empty one)."""
    if parsed.node is None:
        return wq.NullQuery if parsed.text.strip() else wq.Every()
    q = _compile(parsed.node, _Context(vocab, title_boost, synonyms))
    if isinstance(q, wq.Not):
        return wq.And([wq.Every(), q])
    return q


@dataclass(frozen=True)
class CompiledConcept:
    """A word of a plain query, as queries over the index."""

    text: str
    verbatim: wq.Query
    """Articles whose title or body holds the word as written (or a synonym), scored."""
    near: wq.Query | None
    """Articles that hold its parts close together (网络的安全 for 网络安全), or None."""
    keywords: wq.Query | None
    """Articles that carry it as a tag, category or keyword, or None."""
    patterns: tuple[re.Pattern[str], ...]
    """Where it stands in normalized text: as written, or its parts close together."""
    subwords: tuple[tuple[str, wq.Query], ...]
    """Each dictionary word inside it (锂电 of 锂电池), and the articles that hold it."""
    subword_patterns: tuple[tuple[re.Pattern[str], ...], ...]
    """Per dictionary word inside it, where it stands in normalized text."""


@dataclass(frozen=True)
class CompiledUnit:
    """A term of a plain query as typed, and which concepts carry it."""

    text: str
    concepts: tuple[int, ...]
    verbatim: wq.Query | None
    """Articles that hold the term as typed; None when that is its one concept's ``verbatim``."""
    keywords: wq.Query | None
    """Articles that carry the whole term as a tag, category or keyword, or None."""
    patterns: tuple[re.Pattern[str], ...]
    """Where the term as typed (or a synonym of it) stands in normalized text."""


@dataclass(frozen=True)
class CompiledPlan:
    concepts: tuple[CompiledConcept, ...]
    units: tuple[CompiledUnit, ...]


def compile_plan(
    plan: Plan, *, vocab: Vocabulary, title_boost: float, compound_gap: int, synonyms: Synonyms = NO_SYNONYMS
) -> CompiledPlan:
    """The queries that find each word and each term of a plain query (:mod:`newsearch.ranking`)."""
    ctx = _Context(vocab, title_boost, synonyms)
    concepts: list[CompiledConcept] = []
    for concept in plan.concepts:
        node = Text(concept.text)
        patterns = [needle.pattern() for needle in Needle.alternatives(node, synonyms)]
        near = None
        if concept.parts:
            window = _window_pattern(concept.parts, compound_gap)
            parts = [_text_query(Text(part), ctx) for part in concept.parts]
            near = Contains(wq.And(parts), window, ((NTITLE, title_boost), (NBODY, 1.0)))
            patterns.append(window)
        subwords = tuple((sub, _text_query(Text(sub), ctx)) for sub in concept.subwords)
        concepts.append(
            CompiledConcept(
                concept.text,
                _text_query(node, ctx),
                near,
                _keyword_query(concept.text, vocab),
                tuple(patterns),
                subwords,
                tuple(
                    tuple(needle.pattern() for needle in Needle.alternatives(Text(sub), synonyms)) for sub in concept.subwords
                ),
            )
        )
    number = {c.text: i for i, c in enumerate(concepts)}
    units = tuple(
        CompiledUnit(
            unit.text,
            tuple(number[c.text] for c in unit.concepts),
            None if unit.whole else _text_query(Text(unit.text), ctx),
            _keyword_query(unit.text, vocab) if not unit.whole else None,
            tuple(needle.pattern() for needle in Needle.alternatives(Text(unit.text), synonyms)),
        )
        for unit in plan.units
    )
    return CompiledPlan(tuple(concepts), units)


def _keyword_query(text: str, vocab: Vocabulary) -> wq.Query | None:
    terms = [wq.Term(field, t) for field in (TAGS, CATEGORIES, KEYWORDS) for t in vocab.keywords(field, text)]
    return None if not terms else terms[0] if len(terms) == 1 else wq.Or(terms)


def _window_pattern(parts: tuple[str, ...], gap: int) -> re.Pattern[str]:
    """Every order of ``parts`` with at most ``gap`` characters between them, on one line."""
    between = f"[^\\n]{{0,{gap}}}?"
    orders = permutations(parts) if len(parts) <= 3 else [parts]
    return re.compile("|".join(between.join(map(re.escape, order)) for order in orders))


def compile_filters(
    *,
    categories: Iterable[str] = (),
    tags: Iterable[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    vocab: Vocabulary,
) -> wq.Query | None:
    """A Whoosh filter for the category/tag/date options: any listed category, every listed tag."""
    parts: list[wq.Query] = []
    categories = list(categories)
    cats = [t for c in categories for t in vocab.keywords(CATEGORIES, c)]
    if categories:
        parts.append(wq.Or([wq.Term(CATEGORIES, c) for c in cats]) if cats else wq.NullQuery)
    for tag in tags:
        terms = vocab.keywords(TAGS, tag)
        parts.append(wq.Or([wq.Term(TAGS, t) for t in terms]) if terms else wq.NullQuery)
    if since is not None or until is not None:
        parts.append(wq.DateRange(DATE, since, until))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else wq.And(parts)


def selection_filter(selection: Selection, vocab: Vocabulary) -> wq.Query | None:
    """The filter of a :class:`~newsearch.request.Selection`: None when it selects
    everything, a query that matches nothing when no article can match."""
    return compile_filters(
        categories=selection.category, tags=selection.tags, since=selection.start, until=selection.end, vocab=vocab
    )


def matches_nothing(q: Any) -> bool:
    """Whether a compiled query or filter is known to match no article."""
    return q is wq.NullQuery


def matches_everything(q: Any) -> bool:
    """Whether a compiled query is the one of an empty query (every article, nothing to rank by)."""
    return isinstance(q, wq.Every)


def every_article() -> wq.Query:
    """A query that matches every article."""
    return wq.Every()


def any_of_terms(terms: Iterable[tuple[str, str, float]]) -> wq.Query:
    """A query matching any of (field, term, boost), scoring each term that matches."""
    return wq.Or([wq.Term(field, text, boost=boost) for field, text, boost in terms])
